#!/bin/sh
[ "$1" = --quiet ] || echo bye
