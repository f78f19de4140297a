#!/bin/sh
# slow.sh: sleeps for a minute in a child process, to try timeouts and
# Ctrl-C: cancelling the task kills the script's whole process group.
echo "sleeping" >&2
sleep 60
echo "woke up"
