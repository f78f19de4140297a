"""The omp module that a notebook run by omp can import.

    import omp
    omp.log("loaded", len(rows), "rows")
    omp.log_metric("accuracy", 0.93)
    omp.log_metric("loss", 0.2, step=3)

Logs and metrics go to the task's Emitter: each call appends one JSON line to
the file named by $OMP_EVENTS, which omp reads while the notebook runs (the
notebook's own stdout is left alone). Outside omp, where $OMP_EVENTS is not
set, log prints to stderr and log_metric does nothing, so a notebook that uses
omp still runs in Jupyter.
"""

import json
import math
import os
import sys
import threading

__all__ = ["log", "log_metric"]

_lock = threading.Lock()


def _emit(event):
    path = os.environ.get("OMP_EVENTS")
    if not path:
        return False
    line = json.dumps(event, allow_nan=False) + "\n"
    with _lock:
        # One write of one line in append mode: the runner and a kernel may
        # both append, and a line must never interleave with another.
        with open(path, "a", encoding="utf-8") as f:
            f.write(line)
    return True


def log(*parts):
    """Send one log line (the parts joined by spaces) to the task's log."""
    line = " ".join(str(p) for p in parts)
    for ln in line.splitlines() or [""]:
        if not _emit({"type": "log", "line": ln}):
            print(ln, file=sys.stderr)


def log_metric(name, value, step=None):
    """Record a metric of the task: a name, a number and an optional step."""
    if not isinstance(name, str) or not name:
        raise ValueError("omp.log_metric: name must be a non-empty string")
    try:
        value = float(value)
    except (TypeError, ValueError):
        raise TypeError("omp.log_metric: value must be a number, not %s" % type(value).__name__) from None
    if math.isnan(value) or math.isinf(value):
        raise ValueError("omp.log_metric: value must be finite, not %r" % value)
    if step is not None:
        if isinstance(step, bool) or int(step) != step:
            raise TypeError("omp.log_metric: step must be an integer")
        step = int(step)
    _emit({"type": "metric", "name": name, "value": value, "step": step})


def _progress(done, total):
    _emit({"type": "progress", "done": done, "total": total})


def _write_result(ns, path):
    """Write the notebook variable `result` as JSON to path: {"result": ...}.

    A result that is missing or not JSON-serialisable is written as null, with
    a note that says why, so that the task still succeeds.
    """
    out = {"result": None}
    if "result" in ns:
        value = ns["result"]
        try:
            json.dumps(value, allow_nan=False)
            out["result"] = value
        except (TypeError, ValueError) as e:
            out["note"] = "the notebook's result (%s) is not JSON-serialisable: %s" % (type(value).__name__, e)
    with open(path, "w", encoding="utf-8") as f:
        json.dump(out, f, allow_nan=False)
