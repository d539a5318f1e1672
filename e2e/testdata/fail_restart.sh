#!/bin/sh
# fail_restart.sh: a restart hook that cannot restart anything.
echo "supervisorctl: ic-server: ERROR (spawn error)" >&2
exit 1
