# The omp model kind's bridge to scikit-learn. It reads one JSON request on
# stdin and writes one JSON reply on stdout; every failure is a reply with a
# one-line "error" (and "missing" when a module cannot be imported), so the
# Go side never has to show a traceback.
import sys

# Run with -c, Python puts the working directory first on sys.path: a
# numpy.py or sklearn.py in the directory a worker runs in must not shadow
# the real modules.
if sys.path and sys.path[0] == "":
    del sys.path[0]

import base64
import importlib
import json
import pickle
import warnings


def reply(obj, code=0):
    try:
        text = json.dumps(obj, allow_nan=False)
    except ValueError:
        obj = {"error": "the estimator returned a value that is not a finite number"}
        text, code = json.dumps(obj), 1
    sys.stdout.write(text)
    sys.stdout.flush()
    sys.exit(code)


def one_line(e):
    msg = str(e).strip().splitlines()
    return type(e).__name__ + (": " + msg[0] if msg else "")


def load_class(path):
    module, _, name = path.rpartition(".")
    if not module:
        reply({"error": "class %r is not a dotted path such as sklearn.linear_model.Ridge" % path}, 1)
    try:
        mod = importlib.import_module(module)
    except ImportError as e:
        reply({"error": "cannot import module %s for class %s (%s)" % (module, path, one_line(e))}, 1)
    cls = getattr(mod, name, None)
    if cls is None:
        reply({"error": "module %s has no class %s" % (module, name)}, 1)
    return cls


def fitted_attributes(est):
    out = {}
    for attr in ("classes_", "coef_", "intercept_", "cluster_centers_", "n_features_in_",
                 "feature_importances_", "mean_", "scale_", "components_", "explained_variance_ratio_",
                 "inertia_", "n_iter_"):
        if not hasattr(est, attr):
            continue
        v = getattr(est, attr)
        v = v.tolist() if hasattr(v, "tolist") else v
        try:
            json.dumps(v, allow_nan=False)
        except (TypeError, ValueError):
            continue
        out[attr] = v
    return out


def metric_of(est):
    from sklearn.base import is_classifier, is_regressor
    if is_classifier(est):
        return "accuracy"
    if is_regressor(est):
        return "r2"
    return "score"


def main():
    req = json.load(sys.stdin)
    try:
        import numpy as np
    except ImportError as e:
        reply({"error": "cannot import numpy (%s)" % one_line(e), "missing": "numpy"}, 3)
    try:
        import sklearn
    except ImportError as e:
        reply({"error": "cannot import sklearn (%s)" % one_line(e), "missing": "sklearn"}, 3)

    action = req["action"]
    X = np.asarray(req["X"], dtype=float)
    y = req.get("Y")
    if y is not None:
        y = np.asarray(y, dtype=float)
    out = {"sklearn_version": sklearn.__version__, "python": sys.version.split()[0]}
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        try:
            if action == "fit":
                cls = load_class(req["class"])
                est = cls(**(req.get("params") or {}))
                if y is None:
                    est.fit(X)
                else:
                    est.fit(X, y)
                out["pickle"] = base64.b64encode(pickle.dumps(est)).decode("ascii")
                out["fitted"] = fitted_attributes(est)
                out["metric"] = metric_of(est)
                if hasattr(est, "score"):
                    out["score"] = float(est.score(X) if y is None else est.score(X, y))
                out["supervised"] = y is not None
            else:
                est = pickle.loads(base64.b64decode(req["pickle"]))
                if action == "predict":
                    out["predictions"] = np.asarray(est.predict(X), dtype=float).ravel().tolist()
                elif action == "score":
                    if not hasattr(est, "score"):
                        reply({"error": "%s has no score method" % type(est).__name__}, 1)
                    out["metric"] = metric_of(est)
                    out["score"] = float(est.score(X) if y is None else est.score(X, y))
                elif action == "transform":
                    if not hasattr(est, "transform"):
                        reply({"error": "%s has no transform method" % type(est).__name__}, 1)
                    t = est.transform(X)
                    t = t.toarray() if hasattr(t, "toarray") else t
                    out["rows"] = np.asarray(t, dtype=float).reshape(X.shape[0], -1).tolist()
                else:
                    reply({"error": "unknown action %r" % action}, 1)
        except SystemExit:
            raise
        except Exception as e:
            reply({"error": one_line(e)}, 1)
    out["warnings"] = sorted({one_line(w.message) if isinstance(w.message, Exception) else str(w.message)
                              for w in caught})
    reply(out)


main()
