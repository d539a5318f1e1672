#!/usr/bin/env bash
# fuzz.sh GO FUZZTIME pkg:FuzzName...
#
# Runs each fuzz target for FUZZTIME. A finding fails the run with the
# engine's output (Go writes the failing input to
# <pkg>/testdata/fuzz/<FuzzName>/); so does any failure this script does not
# recognise. Go's fuzzing engine also fails now and then
# at the end of -fuzztime with a bare "context deadline exceeded" and no
# input written (golang/go#51484); then the target's corpus is replayed as
# a plain test, and only a failure of that replay fails the run.
set -uo pipefail
go_cmd=$1 fuzztime=$2
shift 2
out=$(mktemp)
trap 'rm -f "$out"' EXIT
for t in "$@"; do
	pkg=${t%%:*} fn=${t#*:}
	echo ">> fuzz $pkg $fn ($fuzztime)"
	if "$go_cmd" test -run '^$' -fuzz "^$fn\$" -fuzztime "$fuzztime" -fuzzminimizetime 1s "./$pkg" >"$out" 2>&1; then
		continue
	fi
	if grep -q 'Failing input written to' "$out" || ! grep -q 'context deadline exceeded' "$out"; then
		cat "$out"
		exit 1
	fi
	echo ">> $fn: the fuzzing engine stopped with 'context deadline exceeded' and wrote no input; replaying the corpus"
	grep -v '^fuzz: elapsed' "$out" | tail -5
	"$go_cmd" test -count=1 -run "^$fn\$" "./$pkg" || exit 1
done
