#!/bin/sh
# Records that it started, then works for $2 seconds: a receiver restarted
# in the meantime must not run it again.
echo started >> "$1"
sleep "$2"
echo finished >> "$1"
