#!/bin/sh
# Starts a child that would outlive the hook and the receiver, writes its
# pid to the file named by $1, and works for a long time.
sleep 300 &
echo $! > "$1"
sleep 300
