#!/bin/sh
# Appends each argument after the first on a line of its own to the file
# named by the first, then the alert's name from the environment: tests read
# back exactly what the receiver passed.
out="$1"; shift
for a in "$@"; do printf 'arg:%s\n' "$a" >> "$out"; done
printf 'env:%s %s %s\n' "$SELFHEAL_ALERTNAME" "$SELFHEAL_STATUS" "$SELFHEAL_LABEL_INSTANCE" >> "$out"
echo "recorded $#"
