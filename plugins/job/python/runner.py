"""omp's notebook runner, embedded in the omp binary and run by the job kind.

    python runner.py ENGINE NOTEBOOK_IN NOTEBOOK_OUT PARAMS_JSON STATUS_OUT

ENGINE is auto, nbclient or builtin. auto uses Jupyter's nbclient with an
ipykernel kernel when this Python can import them, else the built-in engine:
it executes the code cells in one namespace and records each cell's stdout,
stderr and last-expression value as nbformat-4 outputs. Both engines inject
the parameters the same way, write the executed notebook (partly executed
when a cell raises) to NOTEBOOK_OUT and the outcome to STATUS_OUT:

    {"engine": "...", "ok": true, "result": <JSON>, "note": "..."}
    {"engine": "...", "ok": false, "cell": N, "error": "ExcName: message"}
    {"ok": false, "fatal": "one-line message"}

N is the index of the failing cell in NOTEBOOK_IN (null for the injected
parameters cell). The module omp (omp.py next to this file's lib/ directory,
on PYTHONPATH) carries logs, metrics and progress to the job kind.
"""

import ast
import builtins
import importlib.util
import inspect
import json
import keyword
import linecache
import os
import sys
import traceback
import types

KERNEL_NAME = "omp-python3"


class Fatal(Exception):
    """A problem that stops the run before any cell executes."""


def main(argv):
    if len(argv) != 6:
        print("usage: runner.py ENGINE NOTEBOOK_IN NOTEBOOK_OUT PARAMS_JSON STATUS_OUT", file=sys.stderr)
        return 2
    engine, nb_in, nb_out, params_path, status_path = argv[1:]
    try:
        status = run(engine, nb_in, nb_out, params_path)
    except Fatal as e:
        status = {"ok": False, "fatal": str(e)}
    except Exception as e:  # a bug here, not in the notebook
        traceback.print_exc()
        status = {"ok": False, "fatal": "notebook runner: %s: %s" % (type(e).__name__, e)}
    with open(status_path, "w", encoding="utf-8") as f:
        json.dump(status, f)
    return 0


def run(engine, nb_in, nb_out, params_path):
    with open(params_path, encoding="utf-8") as f:
        params = json.load(f)
    for name in params.get("kwargs", {}):
        if not name.isidentifier() or keyword.iskeyword(name):
            raise Fatal("keyword argument %r is not a Python variable name" % name)

    fallback = False
    if engine == "auto":
        engine = "nbclient" if missing_modules() == [] else "builtin"
        fallback = engine == "builtin"
    elif engine == "nbclient":
        missing = missing_modules()
        if missing:
            raise Fatal("%s cannot import %s (Debian: apt-get install %s)" % (
                sys.executable, ", ".join(missing), " ".join("python3-" + m for m in missing)))
    elif engine != "builtin":
        raise Fatal("unknown notebook engine %r (want auto, nbclient or builtin)" % engine)

    import omp
    if engine == "nbclient":
        omp._emit({"type": "log", "line": "engine: nbclient with an ipykernel kernel on %s" % sys.executable})
    elif fallback:
        # The job kind words it and says it once per run, not per notebook.
        omp._emit({"type": "fallback", "python": sys.executable, "missing": missing_modules()})
    else:
        omp._emit({"type": "log", "line": "engine: omp's built-in runner"})
    nb = load(nb_in, engine)
    node = None
    if engine == "nbclient":
        import nbformat
        node = nbformat.from_dict
    origin = inject_parameters(nb, params, node)
    cwd = os.getcwd()
    if engine == "nbclient":
        status = run_nbclient(nb, cwd, nb_out, origin)
    else:
        status = run_builtin(nb, nb_out, origin)
    status["engine"] = engine
    if "cell" in status:
        status["cell"] = origin[status["cell"]]
    return status


def missing_modules():
    return [m for m in ("nbclient", "nbformat", "ipykernel") if importlib.util.find_spec(m) is None]


def load(path, engine):
    try:
        with open(path, encoding="utf-8") as f:
            text = f.read()
        if engine == "nbclient":
            import nbformat
            return nbformat.reads(text, as_version=4)
        nb = json.loads(text)
    except Fatal:
        raise
    except Exception as e:
        raise Fatal("%s is not a Jupyter notebook: %s" % (display_name(), (str(e).splitlines() or [""])[0])) from None
    if not isinstance(nb, dict) or not isinstance(nb.get("cells"), list):
        raise Fatal("%s is not a Jupyter notebook: it has no cells" % display_name())
    if nb.get("nbformat") != 4:
        raise Fatal("%s is an nbformat %s notebook: the built-in runner runs nbformat 4 "
                    "(save it with a current Jupyter)" % (display_name(), nb.get("nbformat")))
    return nb


def display_name():
    """The notebook's name in the store, for messages."""
    return os.environ.get("OMP_JOB_NOTEBOOK") or sys.argv[2]


def source_of(cell):
    src = cell.get("source", "")
    return "".join(src) if isinstance(src, list) else src


def tags_of(cell):
    return cell.get("metadata", {}).get("tags", [])


def inject_parameters(nb, params, node=None):
    """Insert the parameters cell the way papermill does.

    It goes after the first cell tagged "parameters", or at the top when no
    cell is tagged; cells injected by an earlier run are dropped. Returns, for
    each cell of the new list, its index in the original notebook (None for
    the injected cell).
    """
    lines = ["# Parameters", "args = " + repr(params.get("args", [])), "input = " + repr(params.get("input"))]
    for name, value in params.get("kwargs", {}).items():
        lines.append("%s = %r" % (name, value))
    new = {
        "cell_type": "code",
        "execution_count": None,
        "metadata": {"tags": ["injected-parameters"]},
        "outputs": [],
        "source": "\n".join(lines) + "\n",
    }
    if (nb.get("nbformat"), nb.get("nbformat_minor", 0)) >= (4, 5):
        new["id"] = "omp-parameters-" + os.urandom(4).hex()
    kept = [(i, c) for i, c in enumerate(nb["cells"]) if "injected-parameters" not in tags_of(c)]
    at = 0
    for k, (_, c) in enumerate(kept):
        if "parameters" in tags_of(c):
            at = k + 1
            break
    origin = [i for i, _ in kept]
    cells = [c for _, c in kept]
    if node is not None:
        new = node(new)
    cells.insert(at, new)
    origin.insert(at, None)
    nb["cells"] = cells
    return origin


def write(nb, path):
    with open(path, "w", encoding="utf-8") as f:
        json.dump(nb, f, indent=1, ensure_ascii=False)
        f.write("\n")


# The built-in engine.

class Stream:
    """A text stream that records what a cell writes as stream outputs.

    Consecutive writes to one stream are merged into one output, as Jupyter
    does, and stdout and stderr interleave in the order they were written.
    """

    def __init__(self, name, outputs):
        self.name = name
        self.outputs = outputs
        self.encoding = "utf-8"

    def write(self, s):
        if not isinstance(s, str):
            raise TypeError("write() argument must be str, not %s" % type(s).__name__)
        if s:
            last = self.outputs[-1] if self.outputs else None
            if last is not None and last["output_type"] == "stream" and last["name"] == self.name:
                last["text"] += s
            else:
                self.outputs.append({"output_type": "stream", "name": self.name, "text": s})
        return len(s)

    def writelines(self, lines):
        for s in lines:
            self.write(s)

    def flush(self):
        pass

    def isatty(self):
        return False

    def writable(self):
        return True


def mime_bundle(value):
    data = {"text/plain": repr(value)}
    html = getattr(value, "_repr_html_", None)
    if callable(html):
        try:
            h = html()
            if isinstance(h, str):
                data["text/html"] = h
        except Exception:
            pass
    return data


def magic_line(source):
    for n, line in enumerate(source.splitlines(), 1):
        s = line.lstrip()
        if s.startswith("%") or s.startswith("!"):
            return n, s
    return None


def run_builtin(nb, nb_out, origin):
    import omp

    main_mod = types.ModuleType("__main__")
    main_mod.__dict__["__builtins__"] = builtins
    ns = main_mod.__dict__
    outputs_ref = []

    def display(*objs, **_):
        for obj in objs:
            outputs_ref[0].append({"output_type": "display_data", "data": mime_bundle(obj), "metadata": {}})

    ns["display"] = display
    sys.modules["__main__"] = main_mod
    real_out, real_err = sys.stdout, sys.stderr
    code_cells = [i for i, c in enumerate(nb["cells"]) if c.get("cell_type") == "code"]
    count = 0
    status = {"ok": True}
    for done, i in enumerate(code_cells, 1):
        cell = nb["cells"][i]
        source = source_of(cell)
        omp._emit({"type": "cell", "cell": origin[i]})
        count += 1
        outputs = []
        outputs_ref[:] = [outputs]
        cell["outputs"] = outputs
        cell["execution_count"] = count
        err = None
        sys.stdout, sys.stderr = Stream("stdout", outputs), Stream("stderr", outputs)
        try:
            err = exec_cell(ns, source, count, outputs)
        finally:
            sys.stdout, sys.stderr = real_out, real_err
        omp._progress(done, len(code_cells))
        if err is not None:
            status = {"ok": False, "cell": i, "error": err}
            break
    if status["ok"]:
        path = nb_out + ".result"
        omp._write_result(ns, path)
        with open(path, encoding="utf-8") as f:
            status.update(json.load(f))
    write(nb, nb_out)
    return status


def exec_cell(ns, source, count, outputs):
    """Executes one cell; returns "ExcName: message" if it raised."""
    filename = "<cell %d>" % count
    linecache.cache[filename] = (len(source), None, source.splitlines(True), filename)
    try:
        try:
            tree = ast.parse(source, filename=filename)
        except SyntaxError:
            magic = magic_line(source)
            if magic is not None:
                raise SyntaxError("line %d: %s: IPython magics and shell escapes need a Jupyter kernel "
                                  "(install nbclient and ipykernel for this Python)" % magic) from None
            raise
        last = None
        if tree.body and isinstance(tree.body[-1], ast.Expr):
            last = ast.Expression(tree.body.pop().value)
        run_code(compile(tree, filename, "exec", flags=TOP_LEVEL_AWAIT), ns)
        if last is not None:
            value = run_code(compile(last, filename, "eval", flags=TOP_LEVEL_AWAIT), ns)
            if value is not None:
                ns["_"] = value
                outputs.append({"output_type": "execute_result", "execution_count": count,
                                "data": mime_bundle(value), "metadata": {}})
    except BaseException as e:
        if isinstance(e, KeyboardInterrupt):
            raise
        tb = e.__traceback__
        # Start the traceback in the cell: drop this runner's frames and
        # asyncio's, as Jupyter does.
        t = tb
        while t is not None and not t.tb_frame.f_code.co_filename.startswith("<cell "):
            t = t.tb_next
        lines = traceback.format_exception(type(e), e, t if t is not None else None)
        outputs.append({"output_type": "error", "ename": type(e).__name__, "evalue": str(e),
                        "traceback": [ln.rstrip("\n") for ln in lines]})
        return exc_line(type(e).__name__, str(e))
    return None


# Cells may use await at the top level, as they can in Jupyter.
TOP_LEVEL_AWAIT = getattr(ast, "PyCF_ALLOW_TOP_LEVEL_AWAIT", 0)
_loop = None


def run_code(code, ns):
    """Runs compiled cell code, driving it on an event loop if it awaits."""
    global _loop
    value = eval(code, ns)
    if code.co_flags & inspect.CO_COROUTINE:
        if _loop is None:
            import asyncio
            _loop = asyncio.new_event_loop()
        value = _loop.run_until_complete(value)
    return value


def exc_line(ename, evalue):
    evalue = evalue.strip().splitlines()[0] if evalue.strip() else ""
    return "%s: %s" % (ename, evalue) if evalue else ename


# The nbclient engine.

# Run in the kernel before the notebook: the kernel dies with its parent (this
# runner), which itself dies with omp, so no kernel outlives a killed omp.
BIND_KERNEL = """\
def __omp_bind():
    import ctypes, os, signal
    try:
        ctypes.CDLL(None, use_errno=True).prctl(1, signal.SIGKILL)  # PR_SET_PDEATHSIG
    except Exception:
        return
    if os.getppid() != int(os.environ.get("OMP_RUNNER_PID", "0")):
        os._exit(1)
__omp_bind()
del __omp_bind
"""


def kernel_spec_dir():
    """Writes a kernel spec that runs ipykernel on this very Python.

    Jupyter's "python3" kernel may be installed for another interpreter; a
    spec of our own, found through JUPYTER_PATH, makes the kernel use the
    Python that omp was told to use.
    """
    base = os.path.join(os.path.dirname(os.path.abspath(sys.argv[2])), "jupyter")
    d = os.path.join(base, "kernels", KERNEL_NAME)
    os.makedirs(d, exist_ok=True)
    with open(os.path.join(d, "kernel.json"), "w", encoding="utf-8") as f:
        json.dump({"argv": [sys.executable, "-m", "ipykernel_launcher", "-f", "{connection_file}"],
                   "display_name": "Python 3 (omp)", "language": "python"}, f)
    return base


def run_nbclient(nb, cwd, nb_out, origin):
    import omp

    os.environ["JUPYTER_PATH"] = kernel_spec_dir() + os.pathsep + os.environ.get("JUPYTER_PATH", "")
    os.environ["OMP_RUNNER_PID"] = str(os.getpid())
    # ipykernel's debugger warns about frozen modules on every start.
    os.environ.setdefault("PYDEVD_DISABLE_FILE_VALIDATION", "1")
    import nbformat
    from nbclient import NotebookClient
    from nbclient.exceptions import CellExecutionError, DeadKernelError

    from jupyter_client.manager import KernelManager
    # Unix sockets in this task's own directory, not TCP ports: the ports
    # jupyter_client picks free and releases race with other kernels
    # starting at the same moment (ZMQError: Address already in use).
    km = KernelManager(kernel_name=KERNEL_NAME, transport="ipc",
                       ip=os.path.join(os.path.dirname(os.path.abspath(sys.argv[2])), "kernel"))
    client = NotebookClient(nb, km=km, timeout=None, kernel_name=KERNEL_NAME,
                            resources={"metadata": {"path": cwd}})
    code_cells = [i for i, c in enumerate(nb.cells) if c.cell_type == "code"]
    status = {"ok": True}
    with client.setup_kernel():
        proc = getattr(getattr(client.km, "provisioner", None), "process", None)
        if proc is not None:
            omp._emit({"type": "kernel", "pid": proc.pid})
        hidden(client, BIND_KERNEL)
        for done, i in enumerate(code_cells, 1):
            omp._emit({"type": "cell", "cell": origin[i]})
            try:
                client.execute_cell(nb.cells[i], i)
            except CellExecutionError as e:
                status = {"ok": False, "cell": i, "error": exc_line(e.ename, e.evalue)}
                break
            except DeadKernelError:
                status = {"ok": False, "cell": i, "error": "DeadKernelError: the kernel died while it ran the cell"}
                break
            finally:
                omp._progress(done, len(code_cells))
        if status["ok"]:
            path = nb_out + ".result"
            hidden(client, "__import__('omp')._write_result(globals(), %r)" % path)
            with open(path, encoding="utf-8") as f:
                status.update(json.load(f))
    write(nbformat.from_dict(nb), nb_out)
    return status


def hidden(client, code):
    """Executes code in the kernel without adding a cell to the notebook."""
    import nbformat
    cell = nbformat.v4.new_code_cell(code)
    # nbclient stores the executed cell at its index: lend it one, take it back.
    client.nb.cells.append(cell)
    try:
        client.execute_cell(cell, len(client.nb.cells) - 1, store_history=False)
    finally:
        client.nb.cells.pop()


if __name__ == "__main__":
    sys.exit(main(sys.argv))
