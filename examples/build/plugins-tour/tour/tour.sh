#!/bin/sh
cat "${SNAP:-$(dirname "$0")/..}/share/tour/report.txt"
