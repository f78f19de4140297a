// Package job is the task kind `job` (alias `notebook`): `job NAME(args)`
// executes the Jupyter notebook jobs/NAME.ipynb of the run's store with Python
// and saves the executed notebook as results/NAME_<UTC timestamp>.ipynb.
//
// Parameters go in the papermill way: the keyword arguments become
// assignments in a new cell inserted after the cell tagged "parameters" (at
// the top when no cell is tagged), next to `args` (the positional arguments)
// and `input` (the upstream result). The task's result is
//
//	{"notebook": "results/NAME_<timestamp>.ipynb", "result": <the notebook's variable result, or null>}
//
// The notebook runs under Jupyter's nbclient with an ipykernel kernel when
// the Python can import them, else under a runner that omp carries embedded
// in its binary (python/runner.py), which executes the code cells in one
// namespace and records outputs as nbformat 4 does. Both take the same
// parameters and give the same result shape. Inside the notebook, `import
// omp` gives omp.log and omp.log_metric, which reach the task's Emitter
// through a file that this package reads while the notebook runs.
//
// The Python is Kind.Python, else $OMP_PYTHON, else python3 on PATH. The
// Python process and its kernel die with the task: a cancelled task kills
// them, and they get SIGKILL when omp itself dies.
package job

import (
	"bytes"
	"context"
	_ "embed"
	"encoding/json"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"time"

	"github.com/ompdev/omp/plugins/internal/linewriter"
	"github.com/ompdev/omp/plugins/internal/procgroup"
	"github.com/ompdev/omp/plugins/sdk"
	"github.com/ompdev/omp/store"
)

//go:embed python/runner.py
var runnerPy []byte

//go:embed python/omp.py
var ompPy []byte

// Kind is the job kind. The zero value takes its settings from the
// environment; the fields override it (tests use them).
type Kind struct {
	// Python is the interpreter: a path or a name looked up on PATH. Empty
	// means $OMP_PYTHON, else python3.
	Python string
	// Engine is "auto" (nbclient when importable, else the built-in runner),
	// "nbclient" or "builtin". Empty means $OMP_JOB_ENGINE, else auto.
	Engine string
}

var _ sdk.Kind = Kind{}

// Result is a job task's result.
type Result struct {
	// Notebook is the store name of the executed notebook.
	Notebook string `json:"notebook"`
	// Result is the notebook's variable `result` when it is set and
	// JSON-serialisable, else null.
	Result json.RawMessage `json:"result"`
}

// Describe declares the kind and its one action.
func (Kind) Describe() sdk.KindSpec {
	return sdk.KindSpec{
		Name:        "job",
		Aliases:     []string{"notebook"},
		Description: "Runs the Jupyter notebook jobs/NAME.ipynb with Python and saves the executed copy in results/",
		Actions: []sdk.ActionSpec{{
			Name:      "run",
			MinArgs:   0,
			MaxArgs:   -1,
			Args:      []string{"args..."},
			AnyKwargs: true,
			Reads:     []sdk.Read{{Object: "jobs/{name}.ipynb"}},
			Doc:       "Executes the notebook; positional arguments are `args`, keyword arguments are variables set after the `parameters` cell, the upstream result is `input`.",
		}},
	}
}

// toldFallback holds the runs (by id) whose log already says that their
// notebooks run without Jupyter, and how to change that: a plugin process
// serves every notebook of a run on its worker, and one such line per run is
// advice where one per notebook is noise.
var toldFallback sync.Map

// fallbackLine is the log line of a run's first notebook that runs on the
// built-in runner because the Python cannot import Jupyter's modules.
func fallbackLine(python string, missing []string) string {
	return fmt.Sprintf("engine: omp's built-in runner, as %s cannot import %s; "+
		"set OMP_PYTHON to a Python that can, to run notebooks under Jupyter's nbclient",
		python, strings.Join(missing, ", "))
}

// Run executes the notebook of t.Name.
func (k Kind) Run(ctx context.Context, t sdk.Task, e sdk.Emitter) (any, error) {
	if t.Action != "run" && t.Action != "" {
		return nil, sdk.Permanent(fmt.Errorf("unknown action %q (a job has only run)", t.Action))
	}
	nbName := "jobs/" + t.Name + ".ipynb"
	if err := store.CheckName(nbName); err != nil {
		return nil, sdk.Permanent(err)
	}
	params, err := parameters(t)
	if err != nil {
		return nil, sdk.Permanent(err)
	}
	py, err := k.python()
	if err != nil {
		return nil, sdk.Permanent(err)
	}
	engine, err := k.engine()
	if err != nil {
		return nil, sdk.Permanent(err)
	}

	st, err := store.Open(ctx, t.Store)
	if err != nil {
		return nil, err
	}
	defer st.Close()
	src, err := st.Get(ctx, nbName)
	if errors.Is(err, store.ErrNotFound) {
		return nil, sdk.Permanent(err)
	} else if err != nil {
		return nil, err
	}

	dir, err := os.MkdirTemp("", "omp-job-")
	if err != nil {
		return nil, err
	}
	defer os.RemoveAll(dir)
	p := paths{
		runner: filepath.Join(dir, "runner.py"),
		lib:    filepath.Join(dir, "lib"),
		in:     filepath.Join(dir, "in.ipynb"),
		out:    filepath.Join(dir, "out.ipynb"),
		params: filepath.Join(dir, "params.json"),
		status: filepath.Join(dir, "status.json"),
		events: filepath.Join(dir, "events.jsonl"),
	}
	if err := p.write(src, params); err != nil {
		return nil, err
	}

	// A local store is the notebook's working directory, so that it can
	// open datasets/... by relative path, as it would in Jupyter.
	cwd := dir
	if d, ok := st.Dir(); ok {
		cwd = d
	}
	runErr := k.execute(ctx, t, e, py, engine, cwd, nbName, p)
	if ctx.Err() != nil {
		return nil, ctx.Err()
	}
	if runErr != nil {
		return nil, runErr
	}

	var s status
	if data, err := os.ReadFile(p.status); err != nil {
		return nil, fmt.Errorf("the notebook runner left no status: %w", err)
	} else if err := json.Unmarshal(data, &s); err != nil {
		return nil, fmt.Errorf("the notebook runner's status: %w", err)
	}
	if s.Fatal != "" {
		return nil, sdk.Permanent(errors.New(s.Fatal))
	}

	saved, err := save(ctx, st, t.Name, p.out)
	if err != nil {
		return nil, fmt.Errorf("saving the executed notebook: %w", err)
	}
	if !s.OK {
		where := "the injected parameters cell"
		if s.Cell != nil {
			where = fmt.Sprintf("cell %d of %s", *s.Cell, nbName)
		}
		return nil, fmt.Errorf("%s raised %s (partly executed notebook saved as %s)", where, s.Error, saved)
	}
	e.Log("executed notebook saved as " + saved)
	if s.Note != "" {
		e.Log(s.Note + "; the task's result is null")
	}
	res := s.Result
	if len(res) == 0 {
		res = json.RawMessage("null")
	}
	return Result{Notebook: saved, Result: res}, nil
}

// status is what the runner writes when it is done (see python/runner.py).
type status struct {
	Engine string          `json:"engine"`
	OK     bool            `json:"ok"`
	Result json.RawMessage `json:"result"`
	Note   string          `json:"note"`
	Cell   *int            `json:"cell"`
	Error  string          `json:"error"`
	Fatal  string          `json:"fatal"`
}

// paths are the files of one run of the runner, all in one temporary
// directory.
type paths struct {
	runner, lib, in, out, params, status, events string
}

func (p paths) write(nb, params []byte) error {
	if err := os.Mkdir(p.lib, 0o755); err != nil {
		return err
	}
	for _, f := range []struct {
		name string
		data []byte
	}{
		{p.runner, runnerPy},
		{filepath.Join(p.lib, "omp.py"), ompPy},
		{p.in, nb},
		{p.params, params},
		{p.events, nil},
	} {
		if err := os.WriteFile(f.name, f.data, 0o644); err != nil {
			return err
		}
	}
	return nil
}

var identifier = regexp.MustCompile(`^[A-Za-z_][A-Za-z0-9_]*$`)

// parameters encodes what the runner injects: args, kwargs and input.
func parameters(t sdk.Task) ([]byte, error) {
	for name := range t.Kwargs {
		if !identifier.MatchString(name) {
			return nil, fmt.Errorf("keyword argument %q is not a Python variable name", name)
		}
		if name == "args" || name == "input" {
			return nil, fmt.Errorf("keyword argument %s would hide the notebook's %s; use another name", name, name)
		}
	}
	args := t.Args
	if args == nil {
		args = []json.RawMessage{}
	}
	kwargs := t.Kwargs
	if kwargs == nil {
		kwargs = map[string]json.RawMessage{}
	}
	input := t.Input
	if len(input) == 0 {
		input = json.RawMessage("null")
	}
	data, err := json.Marshal(map[string]any{"args": args, "kwargs": kwargs, "input": input})
	if err != nil {
		return nil, fmt.Errorf("arguments: %w", err)
	}
	return data, nil
}

// python finds the interpreter to run.
func (k Kind) python() (string, error) {
	py, from := k.Python, "the configured Python"
	if py == "" {
		py, from = os.Getenv("OMP_PYTHON"), "OMP_PYTHON="+os.Getenv("OMP_PYTHON")
	}
	if py == "" {
		path, err := exec.LookPath("python3")
		if err != nil {
			return "", errors.New("python3 not found on PATH: install Python 3 or set OMP_PYTHON to an interpreter")
		}
		return path, nil
	}
	path, err := exec.LookPath(py)
	if err != nil {
		var ee *exec.Error
		if errors.As(err, &ee) {
			err = ee.Err
		}
		var pe *fs.PathError
		if errors.As(err, &pe) {
			err = pe.Err
		}
		return "", fmt.Errorf("%s: %v", from, err)
	}
	return path, nil
}

func (k Kind) engine() (string, error) {
	eng, from := k.Engine, "engine"
	if eng == "" {
		eng, from = os.Getenv("OMP_JOB_ENGINE"), "OMP_JOB_ENGINE"
	}
	switch eng {
	case "":
		return "auto", nil
	case "auto", "nbclient", "builtin":
		return eng, nil
	}
	return "", fmt.Errorf("%s=%s: want auto, nbclient or builtin", from, eng)
}

// execute runs the runner and waits for it, feeding its events and its
// output to e. It returns an error only when the runner itself failed.
func (k Kind) execute(ctx context.Context, t sdk.Task, e sdk.Emitter, py, engine, cwd, nbName string, p paths) error {
	ev, err := openEvents(p.events, e, t.RunID)
	if err != nil {
		return err
	}
	defer ev.close()

	cmd := exec.CommandContext(ctx, py, p.runner, engine, p.in, p.out, p.params, p.status)
	cmd.Dir = cwd
	cmd.Env = append(os.Environ(),
		"OMP_RUN_ID="+t.RunID,
		"OMP_TASK_ID="+t.TaskID,
		"OMP_ATTEMPT="+strconv.Itoa(t.Attempt),
		"OMP_STORE="+t.Store,
		"OMP_EVENTS="+p.events,
		"OMP_JOB_NOTEBOOK="+nbName,
		"PYTHONPATH="+joinPath(p.lib, os.Getenv("PYTHONPATH")),
		"PYTHONUNBUFFERED=1",
		"PYTHONDONTWRITEBYTECODE=1",
	)
	procgroup.Set(cmd, func() {
		// Jupyter starts the kernel in a session of its own, outside the
		// runner's group: kill it by the pid the runner reported.
		ev.poll()
		if pid := ev.kernelPID(); pid > 0 {
			_ = procgroup.Kill(pid)
			_ = syscall.Kill(pid, syscall.SIGKILL)
		}
	})
	cmd.WaitDelay = 5 * time.Second
	out := newRunnerLog(e)
	cmd.Stdout, cmd.Stderr = out, out

	if err := cmd.Start(); err != nil {
		return fmt.Errorf("starting %s: %w", py, err)
	}
	stop := make(chan struct{})
	var wg sync.WaitGroup
	wg.Add(1)
	go func() {
		defer wg.Done()
		tick := time.NewTicker(50 * time.Millisecond)
		defer tick.Stop()
		for {
			select {
			case <-stop:
				return
			case <-tick.C:
				ev.poll()
			}
		}
	}()
	err = cmd.Wait()
	close(stop)
	wg.Wait()
	ev.poll()
	out.Flush()
	if err != nil && ctx.Err() == nil {
		msg := fmt.Sprintf("the notebook runner (%s) failed: %v", py, err)
		if cell, ok := ev.running(nbName); ok {
			// A cell that calls os._exit, or a crash in an extension
			// module, ends the Python that runs it.
			msg = fmt.Sprintf("%s ended the notebook's Python (%s): %v", cell, py, err)
		}
		if last := out.last(); last != "" {
			msg += ": " + last
		}
		return errors.New(msg)
	}
	return nil
}

func joinPath(dir, rest string) string {
	if rest == "" {
		return dir
	}
	return dir + string(os.PathListSeparator) + rest
}

// save stores the executed notebook under a name no other run has taken.
func save(ctx context.Context, st *store.Store, name, path string) (string, error) {
	data, err := os.ReadFile(path)
	if err != nil {
		return "", err
	}
	for {
		saved := "results/" + name + "_" + time.Now().UTC().Format("20060102T150405.000000Z") + ".ipynb"
		exists, err := st.Exists(ctx, saved)
		if err != nil {
			return "", err
		}
		if !exists {
			return saved, st.Put(ctx, saved, data)
		}
		time.Sleep(time.Microsecond)
	}
}

// events reads the lines that the runner and the omp module append to the
// events file and passes them on to the Emitter.
type events struct {
	mu     sync.Mutex
	f      *os.File
	e      sdk.Emitter
	runID  string
	buf    []byte
	kernel int
	// cell is the notebook's cell that runs now, once one does (nil for
	// the injected parameters cell).
	cell    *int
	started bool
}

type event struct {
	Type  string  `json:"type"`
	Line  string  `json:"line"`
	Name  string  `json:"name"`
	Value float64 `json:"value"`
	Step  *int    `json:"step"`
	Done  int     `json:"done"`
	Total int     `json:"total"`
	PID   int     `json:"pid"`
	Cell  *int    `json:"cell"`
	// Python and Missing are those of a fallback to the built-in runner.
	Python  string   `json:"python"`
	Missing []string `json:"missing"`
}

func openEvents(path string, e sdk.Emitter, runID string) (*events, error) {
	f, err := os.Open(path)
	if err != nil {
		return nil, err
	}
	return &events{f: f, e: e, runID: runID}, nil
}

func (ev *events) close() { ev.f.Close() }

// running describes the cell that ran last, for a runner that died in it.
func (ev *events) running(nbName string) (string, bool) {
	ev.mu.Lock()
	defer ev.mu.Unlock()
	switch {
	case !ev.started:
		return "", false
	case ev.cell == nil:
		return "the injected parameters cell", true
	}
	return fmt.Sprintf("cell %d of %s", *ev.cell, nbName), true
}

func (ev *events) kernelPID() int {
	ev.mu.Lock()
	defer ev.mu.Unlock()
	return ev.kernel
}

// poll passes on every complete line written since the last poll.
func (ev *events) poll() {
	ev.mu.Lock()
	defer ev.mu.Unlock()
	var chunk [32 << 10]byte
	for {
		n, err := ev.f.Read(chunk[:])
		ev.buf = append(ev.buf, chunk[:n]...)
		if n == 0 || err != nil {
			break
		}
	}
	for {
		i := bytes.IndexByte(ev.buf, '\n')
		if i < 0 {
			break
		}
		ev.handle(ev.buf[:i])
		ev.buf = ev.buf[i+1:]
	}
}

func (ev *events) handle(line []byte) {
	var m event
	if err := json.Unmarshal(line, &m); err != nil {
		ev.e.Log("omp: unreadable event from the notebook: " + string(line))
		return
	}
	switch m.Type {
	case "log":
		ev.e.Log(m.Line)
	case "metric":
		step := 0
		if m.Step != nil {
			step = *m.Step
		}
		ev.e.Metric(m.Name, m.Value, step)
	case "progress":
		ev.e.Progress(m.Done, m.Total)
	case "fallback":
		if _, told := toldFallback.LoadOrStore(ev.runID, true); !told {
			ev.e.Log(fallbackLine(m.Python, m.Missing))
		}
	case "kernel":
		ev.kernel = m.PID
	case "cell":
		ev.cell, ev.started = m.Cell, true
	}
}

// runnerLog turns the runner's output into log lines and keeps the last ones
// that are not blank, which explain a runner that failed.
type runnerLog struct {
	linewriter.Writer
	tail linewriter.Tail
}

func newRunnerLog(e sdk.Emitter) *runnerLog {
	l := &runnerLog{tail: linewriter.Tail{Max: 10}}
	l.Line = func(s string) {
		s = strings.TrimRight(s, "\r")
		e.Log(s)
		if strings.TrimSpace(s) != "" {
			l.tail.Add(s)
		}
	}
	return l
}

// last is the last line that is not blank, or "".
func (l *runnerLog) last() string {
	lines := l.tail.Lines()
	if len(lines) == 0 {
		return ""
	}
	return lines[len(lines)-1]
}
