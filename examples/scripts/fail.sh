#!/bin/sh
# fail.sh: always fails, the way a real script does: a few lines on stderr,
# then exit status 1. The task's error names the status and carries them.
echo "loading data" >&2
echo "error: column 'price' not found" >&2
exit 1
