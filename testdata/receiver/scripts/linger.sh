#!/bin/sh
# Prints, then leaves a process behind in a new session that keeps the
# output open for a minute, and exits 0 at once: the step must still end,
# with the output printed so far.
echo "restarted"
setsid sleep 60 &
echo $! > "$1"
exit 0
