#!/usr/bin/env python3
"""square.py: `script square(x)` returns x*x; without an argument it squares
its input, or each number of a list input. The result is JSON on stdout."""
import json
import sys

req = json.load(sys.stdin)
x = req["args"][0] if req["args"] else req["input"]
if isinstance(x, list):
    print(json.dumps([v * v for v in x]))
else:
    print(json.dumps(x * x))
