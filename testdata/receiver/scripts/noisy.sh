#!/bin/sh
# Prints far more than the journal keeps.
i=0
while [ $i -lt 2000 ]; do echo "line $i of a very chatty hook output"; i=$((i+1)); done
