// Package script is the built-in kind `script`: `script NAME(args)` runs the
// executable scripts/NAME (or the one file scripts/NAME.*) under the store
// root. The protocol, which scripts and tests rely on:
//
//   - stdin is {"args": [...], "kwargs": {...}, "input": <upstream result or null>};
//   - the environment adds OMP_RUN_ID, OMP_TASK_ID, OMP_ATTEMPT (1-based),
//     OMP_STORE, OMP_RESULT (a file path) and OMP_METRICS (a file path);
//   - the working directory is the store root (for a bucket store, a scratch
//     directory the script was fetched to);
//   - the result is the JSON the script wrote to $OMP_RESULT, else stdout
//     parsed as JSON, else stdout as a string without its trailing newline
//     (null when stdout is empty);
//   - each line of stderr is a log line of the task; an exit status other
//     than 0 fails the task with an error that names the status and carries
//     the last stderr lines;
//   - each line of $OMP_METRICS is {"name": ..., "value": ..., "step": ...}
//     and becomes a metric of the task, read while the script runs;
//   - a file that is not executable runs with an interpreter chosen by its
//     extension: .py with $OMP_PYTHON or python3, .sh with sh (a bucket keeps
//     no executable bit: there a file without such an extension runs by its
//     #! line).
//
// A script runs in a process group of its own, which is killed when the task
// is cancelled and when the script exits, so neither the script nor anything
// it started outlives the task.
package script

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"time"

	"github.com/ompdev/omp/plugins/internal/linewriter"
	"github.com/ompdev/omp/plugins/internal/procgroup"
	"github.com/ompdev/omp/plugins/sdk"
	"github.com/ompdev/omp/store"
)

// StderrTail is how many of the last stderr lines a failure carries.
const StderrTail = 10

// Kind is the script kind.
type Kind struct{}

var _ sdk.Kind = Kind{}

func (Kind) Describe() sdk.KindSpec {
	return sdk.KindSpec{
		Name:        "script",
		Description: "runs scripts/NAME from the store with the JSON protocol",
		Actions: []sdk.ActionSpec{{
			Name:      "run",
			MinArgs:   0,
			MaxArgs:   -1,
			AnyKwargs: true,
			Doc:       "run the script with the arguments on stdin",
			Reads:     []sdk.Read{{Object: "scripts/{name}*"}},
		}},
	}
}

func (Kind) Run(ctx context.Context, t sdk.Task, e sdk.Emitter) (any, error) {
	if t.Action != "run" && t.Action != "" {
		return nil, sdk.Permanent(fmt.Errorf("script has no action %q", t.Action))
	}
	if t.Name == "" || filepath.IsAbs(t.Name) || !filepath.IsLocal(t.Name) {
		return nil, sdk.Permanent(fmt.Errorf("script name %q is outside the store", t.Name))
	}
	st, err := store.Open(ctx, t.Store)
	if err != nil {
		return nil, err
	}
	defer st.Close()
	return runFrom(ctx, st, t, e)
}

func runFrom(ctx context.Context, st *store.Store, t sdk.Task, e sdk.Emitter) (any, error) {
	sc, err := locate(ctx, st, t.Store, t.Name)
	if err != nil {
		return nil, err
	}
	defer sc.cleanup()
	return run(ctx, t, e, sc)
}

// located is a script ready to run.
type located struct {
	argv    []string // the command that runs it
	dir     string   // its working directory
	store   string   // $OMP_STORE
	cleanup func()
}

// locate finds the script called name in the store. It is the one place that
// knows how a store lays out its scripts. A script in a local store runs in
// place, in the store's root; one in a bucket is fetched to a scratch
// directory, which is its working directory.
func locate(ctx context.Context, st *store.Store, loc, name string) (*located, error) {
	if root, ok := st.Dir(); ok {
		argv, err := resolveDir(ctx, st, root, name)
		if err != nil {
			return nil, sdk.Permanent(err)
		}
		return &located{argv: argv, dir: root, store: root, cleanup: func() {}}, nil
	}
	prefix := "scripts/" + filepath.ToSlash(name)
	objs, err := st.List(ctx, prefix)
	if err != nil {
		return nil, fmt.Errorf("script %s: %w", name, err)
	}
	var found []string
	for _, o := range objs {
		if o.Name == prefix {
			// As in a directory, scripts/NAME wins over scripts/NAME.*.
			found = []string{o.Name}
			break
		}
		if ext, ok := strings.CutPrefix(o.Name, prefix+"."); ok && !strings.Contains(ext, "/") {
			found = append(found, o.Name)
		}
	}
	switch len(found) {
	case 0:
		return nil, sdk.Permanent(fmt.Errorf("script %s not found: no %s or %s.* in %s", name, prefix, prefix, st.Location()))
	case 1:
	default:
		return nil, sdk.Permanent(fmt.Errorf("script %s is ambiguous: %s", name, strings.Join(found, ", ")))
	}
	tmp, err := os.MkdirTemp("", "omp-script-fetch-")
	if err != nil {
		return nil, err
	}
	cleanup := func() { os.RemoveAll(tmp) }
	path := filepath.Join(tmp, filepath.FromSlash(found[0]))
	if err := os.MkdirAll(filepath.Dir(path), 0o755); err != nil {
		cleanup()
		return nil, err
	}
	if err := st.Fetch(ctx, found[0], path); err != nil {
		cleanup()
		return nil, fmt.Errorf("script %s: %w", name, err)
	}
	// A bucket keeps no executable bit: the extension decides, and a
	// script without one runs by its #! line.
	argv := interpreter(path)
	if argv == nil {
		if err := os.Chmod(path, 0o755); err != nil {
			cleanup()
			return nil, err
		}
		argv = []string{path}
	}
	return &located{argv: argv, dir: tmp, store: loc, cleanup: cleanup}, nil
}

// resolveDir finds the script called name in the local store root. The
// script runs by its path, which the kernel resolves, so the store checks
// first that no symbolic link leads that path outside it.
func resolveDir(ctx context.Context, st *store.Store, root, name string) ([]string, error) {
	dir := filepath.Join(root, "scripts")
	path := filepath.Join(dir, name)
	fi, err := os.Stat(path)
	if err != nil || fi.IsDir() {
		matches, _ := filepath.Glob(filepath.Join(dir, globEscape(name)+".*"))
		var files []string
		for _, m := range matches {
			if fi, err := os.Stat(m); err == nil && !fi.IsDir() {
				files = append(files, m)
			}
		}
		switch len(files) {
		case 0:
			return nil, fmt.Errorf("script %s not found: no scripts/%s or scripts/%s.* in %s", name, name, name, root)
		case 1:
			path = files[0]
			fi, _ = os.Stat(path)
		default:
			rel := make([]string, len(files))
			for i, f := range files {
				rel[i] = "scripts/" + filepath.Base(f)
			}
			return nil, fmt.Errorf("script %s is ambiguous: %s", name, strings.Join(rel, ", "))
		}
	}
	rel, err := filepath.Rel(root, path)
	if err != nil {
		return nil, err
	}
	if _, err := st.Exists(ctx, filepath.ToSlash(rel)); err != nil {
		return nil, fmt.Errorf("script %s: %w", name, err)
	}
	// An executable file runs by itself, unless it has no #! line and an
	// extension omp knows: exec would fail with "exec format error" where a
	// shell would have run it with sh, and so does omp.
	argv := interpreter(path)
	if fi.Mode()&0o111 != 0 && (argv == nil || hasShebang(path)) {
		return []string{path}, nil
	}
	if argv != nil {
		return argv, nil
	}
	return nil, fmt.Errorf("script %s: %s is not executable (chmod +x it, or name it .py or .sh)", name, path)
}

// interpreter returns the command that runs the script at path by its
// extension, or nil for an extension omp does not know.
func interpreter(path string) []string {
	switch filepath.Ext(path) {
	case ".py":
		py := os.Getenv("OMP_PYTHON")
		if py == "" {
			py = "python3"
		}
		return []string{py, path}
	case ".sh":
		return []string{"sh", path}
	}
	return nil
}

// hasShebang reports whether the file at path starts with "#!".
func hasShebang(path string) bool {
	f, err := os.Open(path)
	if err != nil {
		return false
	}
	defer f.Close()
	var b [2]byte
	n, _ := io.ReadFull(f, b[:])
	return n == 2 && string(b[:]) == "#!"
}

func globEscape(s string) string {
	r := strings.NewReplacer(`*`, `\*`, `?`, `\?`, `[`, `\[`, `\`, `\\`)
	return r.Replace(s)
}

func run(ctx context.Context, t sdk.Task, e sdk.Emitter, sc *located) (any, error) {
	stdin, err := json.Marshal(struct {
		Args   []json.RawMessage          `json:"args"`
		Kwargs map[string]json.RawMessage `json:"kwargs"`
		Input  json.RawMessage            `json:"input"`
	}{nonNil(t.Args), nonNilMap(t.Kwargs), orNull(t.Input)})
	if err != nil {
		return nil, sdk.Permanent(fmt.Errorf("script %s: arguments: %w", t.Name, err))
	}

	tmp, err := os.MkdirTemp("", "omp-script-")
	if err != nil {
		return nil, err
	}
	defer os.RemoveAll(tmp)
	resultPath := filepath.Join(tmp, "result.json")
	metricsPath := filepath.Join(tmp, "metrics.jsonl")
	// The metrics file exists from the start so a script may append to it
	// with >>, and the tailer need not wait for it.
	if err := os.WriteFile(metricsPath, nil, 0o600); err != nil {
		return nil, err
	}

	cmd := exec.CommandContext(ctx, sc.argv[0], sc.argv[1:]...)
	cmd.Dir = sc.dir
	cmd.Env = append(os.Environ(),
		"OMP_RUN_ID="+t.RunID,
		"OMP_TASK_ID="+t.TaskID,
		"OMP_ATTEMPT="+strconv.Itoa(max(t.Attempt, 1)),
		"OMP_STORE="+sc.store,
		"OMP_RESULT="+resultPath,
		"OMP_METRICS="+metricsPath,
	)
	cmd.Stdin = bytes.NewReader(stdin)
	var stdout bytes.Buffer
	cmd.Stdout = &stdout
	stderr := newStderrLog(e)
	cmd.Stderr = stderr
	procgroup.Set(cmd, nil)
	// A grandchild left running may hold stdout or stderr open after the
	// script exits; don't wait for it longer than this.
	cmd.WaitDelay = 500 * time.Millisecond
	if err := cmd.Start(); err != nil {
		return nil, fmt.Errorf("script %s: %w", t.Name, err)
	}

	metrics := &metricsTail{path: metricsPath, e: e}
	metricsStop := make(chan struct{})
	metricsDone := make(chan struct{})
	go func() {
		defer close(metricsDone)
		tick := time.NewTicker(200 * time.Millisecond)
		defer tick.Stop()
		for {
			select {
			case <-metricsStop:
				return
			case <-tick.C:
				metrics.poll(false)
			}
		}
	}()

	waitErr := cmd.Wait()
	// The task is over when the script exits: whatever it left running in
	// its group goes too.
	_ = procgroup.Kill(cmd.Process.Pid)
	stderr.Flush()
	close(metricsStop)
	<-metricsDone
	metrics.poll(true)

	if ctx.Err() != nil {
		return nil, ctx.Err()
	}
	if errors.Is(waitErr, exec.ErrWaitDelay) && cmd.ProcessState.Success() {
		// The script succeeded; a grandchild kept its output open.
		waitErr = nil
	}
	if waitErr != nil {
		var ee *exec.ExitError
		if errors.As(waitErr, &ee) {
			msg := ee.ProcessState.String()
			if lines := stderr.tail.Lines(); len(lines) > 0 {
				msg += ": " + strings.Join(lines, "\n")
			}
			return nil, errors.New(msg)
		}
		return nil, fmt.Errorf("script %s: %w", t.Name, waitErr)
	}

	if data, err := os.ReadFile(resultPath); err == nil && len(bytes.TrimSpace(data)) > 0 {
		if !json.Valid(data) {
			return nil, fmt.Errorf("script %s wrote a result to $OMP_RESULT that is not JSON", t.Name)
		}
		return json.RawMessage(bytes.TrimSpace(data)), nil
	} else if err != nil && !errors.Is(err, fs.ErrNotExist) {
		return nil, fmt.Errorf("script %s: reading $OMP_RESULT: %w", t.Name, err)
	}
	out := stdout.Bytes()
	if trimmed := bytes.TrimSpace(out); len(trimmed) == 0 {
		if len(out) == 0 {
			return nil, nil
		}
	} else if json.Valid(trimmed) {
		return json.RawMessage(trimmed), nil
	}
	s := strings.TrimSuffix(string(out), "\n")
	s = strings.TrimSuffix(s, "\r")
	return s, nil
}

func nonNil(a []json.RawMessage) []json.RawMessage {
	if a == nil {
		return []json.RawMessage{}
	}
	return a
}

func nonNilMap(m map[string]json.RawMessage) map[string]json.RawMessage {
	if m == nil {
		return map[string]json.RawMessage{}
	}
	return m
}

func orNull(v json.RawMessage) json.RawMessage {
	if len(v) == 0 {
		return json.RawMessage("null")
	}
	return v
}

// stderrLog turns the script's stderr into log lines and keeps the last ones
// for the error.
type stderrLog struct {
	linewriter.Writer
	tail linewriter.Tail
}

func newStderrLog(e sdk.Emitter) *stderrLog {
	l := &stderrLog{tail: linewriter.Tail{Max: StderrTail}}
	// A line without an end is kept for the next write, within bounds.
	l.Max = 64 * 1024
	l.Line = func(s string) {
		s = strings.TrimSuffix(s, "\r")
		l.tail.Add(s)
		e.Log(s)
	}
	return l
}

// metricsTail reads the complete lines appended to the metrics file since the
// last poll and emits them.
type metricsTail struct {
	path    string
	e       sdk.Emitter
	off     int64
	partial []byte
}

func (m *metricsTail) poll(final bool) {
	f, err := os.Open(m.path)
	if err != nil {
		return
	}
	defer f.Close()
	if _, err := f.Seek(m.off, io.SeekStart); err != nil {
		return
	}
	data, err := io.ReadAll(f)
	if err != nil {
		return
	}
	m.off += int64(len(data))
	data = append(m.partial, data...)
	m.partial = nil
	for len(data) > 0 {
		i := bytes.IndexByte(data, '\n')
		if i < 0 {
			if !final {
				m.partial = append([]byte(nil), data...)
				return
			}
			i = len(data)
		}
		m.emit(data[:i])
		data = data[min(i+1, len(data)):]
	}
}

func (m *metricsTail) emit(line []byte) {
	line = bytes.TrimSpace(line)
	if len(line) == 0 {
		return
	}
	var v struct {
		Name  string   `json:"name"`
		Value *float64 `json:"value"`
		Step  int      `json:"step"`
	}
	if err := json.Unmarshal(line, &v); err != nil || v.Name == "" || v.Value == nil {
		m.e.Log(fmt.Sprintf("omp: ignored metrics line %q: want {\"name\": ..., \"value\": ..., \"step\": ...}", line))
		return
	}
	m.e.Metric(v.Name, *v.Value, v.Step)
}
