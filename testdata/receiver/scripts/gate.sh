#!/bin/sh
# Records that it started, then waits until the file named by $2 exists:
# tests hold remediations running for as long as they need.
echo started >> "$1"
while [ ! -e "$2" ]; do sleep 0.05; done
echo finished >> "$1"
