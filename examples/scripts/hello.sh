#!/bin/sh
# hello.sh: `script hello("name")` returns "hello, name" (the plain stdout
# form of the script protocol); without an argument, "hello, world".
stdin=$(cat)
name=$(printf '%s' "$stdin" | sed -n 's/.*"args": *\[ *"\([^"]*\)".*/\1/p')
echo "task $OMP_TASK_ID (attempt $OMP_ATTEMPT) says hello" >&2
echo "hello, ${name:-world}"
