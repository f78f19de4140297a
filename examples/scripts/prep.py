#!/usr/bin/env python3
"""prep.py: `script prep(n)` returns the numbers 1..n as a list (default 5).

Shows the whole script protocol: arguments on stdin, a log line on stderr,
a metric in $OMP_METRICS and the result as JSON in $OMP_RESULT.
"""
import json
import os
import sys

req = json.load(sys.stdin)
args = req["args"]
n = int(args[0]) if args else int(req["kwargs"].get("n", 5))
rows = list(range(1, n + 1))
print(f"prepared {n} rows", file=sys.stderr)
with open(os.environ["OMP_METRICS"], "a") as m:
    m.write(json.dumps({"name": "rows", "value": n, "step": 0}) + "\n")
with open(os.environ["OMP_RESULT"], "w") as f:
    json.dump(rows, f)
