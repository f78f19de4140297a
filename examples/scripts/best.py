#!/usr/bin/env python3
"""best.py: `-> reduce script best(models=[...])` picks the best of the
scores it receives as its input, in the order of the models named.
"""
import json
import sys

req = json.load(sys.stdin)
scores, models = req["input"], req["kwargs"]["models"]
if len(scores) != len(models):
    sys.exit(f"best: {len(scores)} scores for {len(models)} models")
best = max(range(len(scores)), key=lambda i: scores[i])
print(f"best: {models[best]} with {scores[best]:.4f}", file=sys.stderr)
json.dump({"best": models[best], "score": scores[best],
           "scores": dict(zip(models, scores))}, sys.stdout)
