#!/bin/sh
# slow_restart.sh DIR NAME SECONDS: records that it started, takes SECONDS,
# then restarts NAME. The receiver is killed in the middle in the test.
echo started >> "$1/$2.hook"
sleep "$3"
echo finished >> "$1/$2.hook"
exec "$(dirname "$0")/restart_fake.sh" "$1" "$2"
