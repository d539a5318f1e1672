#!/bin/sh
# Writes the SELFHEAL_ variables it was given, one per line, to $1.
env | grep '^SELFHEAL_' | sort > "$1"
