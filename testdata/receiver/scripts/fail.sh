#!/bin/sh
# Fails the way a broken hook does: a message on stderr and exit status 3.
echo "docker: Error response from daemon: No such container: api_key_service" >&2
exit 3
