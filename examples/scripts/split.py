#!/usr/bin/env python3
"""split.py: `script split(source="houses", target="price", test=0.25)`
splits datasets/SOURCE.csv into training and test sets for a target column:
datasets/ml-train-X.csv, ml-train-Y.csv, ml-test-X.csv and ml-test-Y.csv.

Every 1/test-th row goes to the test set, so the split is the same on every
run. Returns the names and row counts of what it wrote.
"""
import csv
import json
import os
import sys

req = json.load(sys.stdin)
kw = req["kwargs"]
source, target = kw.get("source", "houses"), kw.get("target", "price")
every = max(2, round(1 / float(kw.get("test", 0.25))))
store = os.environ["OMP_STORE"]
datasets = os.path.join(store, "datasets")

with open(os.path.join(datasets, source + ".csv"), newline="") as f:
    rows = list(csv.DictReader(f))
if not rows or target not in rows[0]:
    sys.exit(f"split: datasets/{source}.csv has no column {target!r}")
# The other label columns would leak the answer: keep the features only.
features = [c for c in rows[0] if c not in ("price", "rent")]

parts = {"train": [], "test": []}
for i, row in enumerate(rows):
    parts["test" if i % every == every - 1 else "train"].append(row)


def write(name, columns, part):
    # Write beside the final file and rename, so a reader never sees half.
    path = os.path.join(datasets, name + ".csv")
    with open(path + ".tmp", "w", newline="") as f:
        w = csv.writer(f)
        w.writerow(columns)
        for row in part:
            w.writerow([row[c] for c in columns])
    os.replace(path + ".tmp", path)


for part, chosen in parts.items():
    write(f"ml-{part}-X", features, chosen)
    write(f"ml-{part}-Y", [target], chosen)
print(f"split {len(rows)} rows of {source}: {len(parts['train'])} train, "
      f"{len(parts['test'])} test", file=sys.stderr)
json.dump({"train": len(parts["train"]), "test": len(parts["test"]),
           "features": features, "target": target}, sys.stdout)
