#!/bin/sh
# restart_fake.sh DIR NAME: (re)starts the fake service NAME the way the test
# wrote it in DIR/NAME.cmd (a command line of the test's own, never alert
# data), in a session of its own so that it outlives this hook, and records
# its pid in DIR/NAME.pid. The remediation hook of the e2e test and the demo.
dir=$1
name=$2
if [ -f "$dir/$name.pid" ]; then kill "$(cat "$dir/$name.pid")" 2>/dev/null; fi
# shellcheck disable=SC2046
setsid $(cat "$dir/$name.cmd") > "$dir/$name.log" 2>&1 < /dev/null &
echo $! > "$dir/$name.pid"
echo "restarted $name (pid $!)"
