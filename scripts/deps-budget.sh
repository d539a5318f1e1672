#!/bin/sh
# deps-budget.sh fails when a binary links more than its budget of packages,
# or a library it must not link (docs/design.md, "Receiver": the local structs
# and the one /metrics handler).
set -eu
GO=${GO:-go}
status=0

count() { "$GO" list -deps "./cmd/$1" | wc -l | tr -d ' '; }
links() { "$GO" list -deps "./cmd/$1" | grep -E "$2" || true; }

check_budget() { # binary budget
	n=$(count "$1")
	echo ">> $1 links $n packages (budget $2)"
	if [ "$n" -gt "$2" ]; then
		echo "$1 links $n packages, more than its budget of $2" >&2
		status=1
	fi
}

check_absent() { # binary pattern
	found=$(links "$1" "$2")
	if [ -n "$found" ]; then
		echo "$1 must not link: $found" >&2
		status=1
	fi
}

check_budget selfheal_receiver 360
for b in selfheal_receiver selfheal_exporter selfhealctl; do
	check_absent "$b" '^github.com/go-openapi/'
done
check_absent selfhealctl '^go.etcd.io/bbolt$|^github.com/redis/go-redis/'
exit $status
