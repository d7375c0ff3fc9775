#!/bin/sh
echo "greetings from the nil plugin"
