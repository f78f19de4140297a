#!/usr/bin/env python3
"""prepare.py: `script prepare(source="raw.csv")` splits a raw table in
datasets/ into the features X.csv and the target Y.csv (its last column),
dropping rows with an empty cell. Returns what it wrote.
"""
import csv
import json
import os
import sys

req = json.load(sys.stdin)
source = req["kwargs"].get("source", "raw.csv")
datasets = os.path.join(os.environ["OMP_STORE"], "datasets")

with open(os.path.join(datasets, source), newline="") as f:
    header, *rows = list(csv.reader(f))
kept = [r for r in rows if all(cell.strip() for cell in r)]


def write(name, columns, pick):
    # Write beside the final file and rename, so a reader never sees half.
    path = os.path.join(datasets, name)
    with open(path + ".tmp", "w", newline="") as f:
        w = csv.writer(f)
        w.writerow(columns)
        w.writerows(pick(r) for r in kept)
    os.replace(path + ".tmp", path)


write("X.csv", header[:-1], lambda r: r[:-1])
write("Y.csv", header[-1:], lambda r: r[-1:])
print(f"prepared {len(kept)} of {len(rows)} rows of {source}", file=sys.stderr)
json.dump({"rows": len(kept), "dropped": len(rows) - len(kept),
           "X": header[:-1], "Y": header[-1]}, sys.stdout)
