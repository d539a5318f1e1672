#!/bin/sh
# Starts a child that would outlive its parent, records the child's pid in
# $1, and hangs: a timeout must kill both.
sleep 300 &
echo $! > "$1"
sleep 300
