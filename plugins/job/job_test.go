package job

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/ompdev/omp/internal/testbin"
	"github.com/ompdev/omp/plugins/sdk"
	"github.com/ompdev/omp/plugins/sdk/sdktest"
)

// engines are the ways a notebook runs: the built-in runner on both Pythons
// of this machine, and nbclient where it can be imported.
func engines(t testing.TB) []struct {
	name string
	kind Kind
} {
	t.Helper()
	nbPython := os.Getenv("OMP_PYTHON")
	if nbPython == "" {
		nbPython = "/usr/bin/python3"
	}
	es := []struct {
		name string
		kind Kind
	}{
		{"builtin-path-python3", Kind{Python: "python3", Engine: "builtin"}},
		{"builtin-" + strings.ReplaceAll(strings.Trim(nbPython, "/"), "/", "-"), Kind{Python: nbPython, Engine: "builtin"}},
	}
	if out, err := exec.Command(nbPython, "-c", "import nbclient, nbformat, ipykernel").CombinedOutput(); err != nil {
		if os.Getenv("CI") != "" {
			t.Fatalf("CI is set but %s cannot import nbclient, nbformat, ipykernel (apt-get install python3-nbclient python3-ipykernel python3-nbformat): %s", nbPython, lastLine(string(out)))
		}
		t.Logf("skipping the nbclient engine: %s cannot import nbclient, nbformat, ipykernel (set OMP_PYTHON to a Python that can)", nbPython)
		return es
	}
	return append(es, struct {
		name string
		kind Kind
	}{"nbclient", Kind{Python: nbPython, Engine: "nbclient"}})
}

func lastLine(s string) string {
	lines := strings.Split(strings.TrimSpace(s), "\n")
	return lines[len(lines)-1]
}

// newStore returns a store directory holding the test notebooks in jobs/.
func newStore(t *testing.T) string {
	t.Helper()
	dir := t.TempDir()
	if err := os.Mkdir(filepath.Join(dir, "jobs"), 0o755); err != nil {
		t.Fatal(err)
	}
	files, err := filepath.Glob("testdata/*.ipynb")
	if err != nil || len(files) == 0 {
		t.Fatalf("no test notebooks: %v", err)
	}
	for _, f := range files {
		data, err := os.ReadFile(f)
		if err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(filepath.Join(dir, "jobs", filepath.Base(f)), data, 0o644); err != nil {
			t.Fatal(err)
		}
	}
	return dir
}

func raw(s string) json.RawMessage { return json.RawMessage(s) }

// notebook is the part of a saved notebook that the tests look at.
type notebook struct {
	Cells []struct {
		CellType       string          `json:"cell_type"`
		Source         json.RawMessage `json:"source"`
		ExecutionCount *int            `json:"execution_count"`
		Metadata       struct {
			Tags []string `json:"tags"`
		} `json:"metadata"`
		Outputs []struct {
			OutputType string          `json:"output_type"`
			Name       string          `json:"name"`
			Text       json.RawMessage `json:"text"`
			Data       map[string]any  `json:"data"`
			Ename      string          `json:"ename"`
			Evalue     string          `json:"evalue"`
		} `json:"outputs"`
	} `json:"cells"`
	NBFormat int `json:"nbformat"`
}

// text joins nbformat's multiline strings, which are a string or a list.
func text(t *testing.T, m json.RawMessage) string {
	t.Helper()
	if len(m) == 0 {
		return ""
	}
	var s string
	if json.Unmarshal(m, &s) == nil {
		return s
	}
	var parts []string
	if err := json.Unmarshal(m, &parts); err != nil {
		t.Fatalf("not an nbformat string: %s", m)
	}
	return strings.Join(parts, "")
}

func readNotebook(t *testing.T, storeDir, name string) notebook {
	t.Helper()
	data, err := os.ReadFile(filepath.Join(storeDir, filepath.FromSlash(name)))
	if err != nil {
		t.Fatalf("the executed notebook: %v", err)
	}
	var nb notebook
	if err := json.Unmarshal(data, &nb); err != nil {
		t.Fatalf("the executed notebook is not JSON: %v", err)
	}
	if nb.NBFormat != 4 {
		t.Fatalf("nbformat = %d, want 4", nb.NBFormat)
	}
	if py := validator(); py != "" {
		path := filepath.Join(storeDir, filepath.FromSlash(name))
		out, err := exec.Command(py, "-c", validate, path).CombinedOutput()
		if err != nil {
			t.Errorf("the executed notebook does not validate against nbformat's schema: %s", lastLine(string(out)))
		}
	}
	return nb
}

const validate = `
import sys, nbformat
try:
    nbformat.validate(nbformat.read(sys.argv[1], as_version=4))
except Exception as e:
    sys.exit(str(e).splitlines()[0])
`

// validator returns a Python that can import nbformat, to validate the
// notebooks that the tests produce, or "" when there is none.
var validator = sync.OnceValue(func() string {
	py := os.Getenv("OMP_PYTHON")
	if py == "" {
		py = "/usr/bin/python3"
	}
	if exec.Command(py, "-c", "import nbformat").Run() != nil {
		return ""
	}
	return py
})

// streams returns a cell's stream outputs by stream name. Jupyter may order
// stdout and stderr either way, so tests compare them per stream.
func streams(t *testing.T, nb notebook, cell int) map[string]string {
	t.Helper()
	got := map[string]string{}
	for _, o := range nb.Cells[cell].Outputs {
		if o.OutputType == "stream" {
			got[o.Name] += text(t, o.Text)
		}
	}
	return got
}

var savedName = regexp.MustCompile(`^results/(.+)_\d{8}T\d{6}\.\d{6}Z\.ipynb$`)

func runJob(t *testing.T, k Kind, task sdk.Task) (Result, *sdktest.Recorder, error) {
	t.Helper()
	rec := &sdktest.Recorder{}
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	if task.Action == "" {
		task.Action = "run"
	}
	task.Kind = "job"
	res, err := k.Run(ctx, task, rec)
	if err != nil {
		return Result{}, rec, err
	}
	r, ok := res.(Result)
	if !ok {
		t.Fatalf("result is %T, want Result", res)
	}
	return r, rec, nil
}

func TestParameters(t *testing.T) {
	for _, eng := range engines(t) {
		t.Run(eng.name, func(t *testing.T) {
			dir := newStore(t)
			res, rec, err := runJob(t, eng.kind, sdk.Task{
				Name:   "params",
				Store:  dir,
				Args:   []json.RawMessage{raw(`1`), raw(`"two"`)},
				Kwargs: map[string]json.RawMessage{"alpha": raw(`0.5`)},
				Input:  raw(`{"a": [1, null, true]}`),
			})
			if err != nil {
				t.Fatal(err)
			}
			if m := savedName.FindStringSubmatch(res.Notebook); m == nil || m[1] != "params" {
				t.Errorf("notebook = %q, want results/params_<UTC timestamp>.ipynb", res.Notebook)
			}
			const want = `{"alpha":0.5,"name":"world","args":[1,"two"],"input":{"a":[1,null,true]}}`
			if got := compact(t, res.Result); got != want {
				t.Errorf("result = %s, want %s", got, want)
			}

			nb := readNotebook(t, dir, res.Notebook)
			if len(nb.Cells) != 7 {
				t.Fatalf("executed notebook has %d cells, want 7 (6 and the injected one)", len(nb.Cells))
			}
			inj := nb.Cells[2]
			wantSrc := "# Parameters\nargs = [1, 'two']\ninput = {'a': [1, None, True]}\nalpha = 0.5\n"
			if got := text(t, inj.Source); got != wantSrc {
				t.Errorf("injected cell after the parameters cell =\n%s\nwant\n%s", got, wantSrc)
			}
			if len(inj.Metadata.Tags) != 1 || inj.Metadata.Tags[0] != "injected-parameters" {
				t.Errorf("injected cell tags = %q", inj.Metadata.Tags)
			}
			// print("hello", name) then alpha * 2
			c := nb.Cells[3]
			if c.ExecutionCount == nil || *c.ExecutionCount != 3 {
				t.Errorf("cell 3 execution_count = %v, want 3", c.ExecutionCount)
			}
			if got := streams(t, nb, 3); got["stdout"] != "hello world\n" || got["stderr"] != "" {
				t.Errorf("cell 3 streams = %q", got)
			}
			last := c.Outputs[len(c.Outputs)-1]
			if last.OutputType != "execute_result" || last.Data["text/plain"] != "1.0" {
				t.Errorf("cell 3 last output = %s %v, want execute_result 1.0", last.OutputType, last.Data)
			}
			if got := streams(t, nb, 5); got["stdout"] != "done\n" || got["stderr"] != "careful\n" {
				t.Errorf("cell 5 streams = %q, want stdout done, stderr careful", got)
			}

			if !contains(rec.Logs(), "alpha is 0.5") {
				t.Errorf("logs = %q, want the notebook's omp.log line", rec.Logs())
			}
			if got := strings.Join(rec.Metrics(), " "); got != "accuracy=0.93@0 loss=0.5@2" {
				t.Errorf("metrics = %s, want accuracy=0.93@0 loss=0.5@2", got)
			}
			if n := len(rec.ProgressReports()); n == 0 || rec.ProgressReports()[n-1] != "6/6" {
				t.Errorf("progress = %q, want it to end at 6/6", rec.ProgressReports())
			}
		})
	}
}

func compact(t *testing.T, m json.RawMessage) string {
	t.Helper()
	var b bytes.Buffer
	if err := json.Compact(&b, m); err != nil {
		t.Fatalf("not JSON: %s", m)
	}
	return b.String()
}

func contains(list []string, s string) bool {
	for _, x := range list {
		if x == s {
			return true
		}
	}
	return false
}

func TestUntagged(t *testing.T) {
	for _, eng := range engines(t) {
		t.Run(eng.name, func(t *testing.T) {
			dir := newStore(t)
			res, _, err := runJob(t, eng.kind, sdk.Task{
				Name:   "untagged",
				Store:  dir,
				Args:   []json.RawMessage{raw(`1`), raw(`2`), raw(`3`)},
				Kwargs: map[string]json.RawMessage{"scale": raw(`10`)},
				Input:  raw(`4`),
			})
			if err != nil {
				t.Fatal(err)
			}
			if got := compact(t, res.Result); got != "[10,100]" {
				t.Errorf("result = %s, want [10,100]", got)
			}
			nb := readNotebook(t, dir, res.Notebook)
			if got := text(t, nb.Cells[0].Source); !strings.HasPrefix(got, "# Parameters\n") {
				t.Errorf("cell 0 = %q, want the injected parameters at the top", got)
			}
			out := nb.Cells[1].Outputs
			if len(out) != 1 || out[0].OutputType != "execute_result" || out[0].Data["text/plain"] != "10" {
				t.Errorf("cell 1 outputs = %+v, want one execute_result 10", out)
			}
		})
	}
}

func TestRaisingCell(t *testing.T) {
	for _, eng := range engines(t) {
		t.Run(eng.name, func(t *testing.T) {
			dir := newStore(t)
			_, _, err := runJob(t, eng.kind, sdk.Task{Name: "fail", Store: dir})
			if err == nil {
				t.Fatal("a raising cell succeeded")
			}
			re := regexp.MustCompile(`^cell 2 of jobs/fail\.ipynb raised ZeroDivisionError: division by zero \(partly executed notebook saved as (results/fail_\S+\.ipynb)\)$`)
			m := re.FindStringSubmatch(err.Error())
			if m == nil {
				t.Fatalf("error = %q, want it to name cell 2, the exception and the saved notebook", err)
			}
			if sdk.IsPermanent(err) {
				t.Error("a raising cell is marked permanent; retries= must be able to rerun it")
			}
			nb := readNotebook(t, dir, m[1])
			// Saved cell 3 is the notebook's cell 2 (the parameters came first).
			c := nb.Cells[3]
			if got := streams(t, nb, 3); got["stdout"] != "before\n" {
				t.Errorf("failing cell streams = %q, want before", got)
			}
			last := c.Outputs[len(c.Outputs)-1]
			if last.OutputType != "error" || last.Ename != "ZeroDivisionError" || last.Evalue != "division by zero" {
				t.Errorf("failing cell's last output = %+v, want the error", last)
			}
			if after := nb.Cells[4]; after.ExecutionCount != nil || len(after.Outputs) != 0 {
				t.Errorf("the cell after the failure ran: %+v", after)
			}
		})
	}
}

func TestResultNotJSON(t *testing.T) {
	for _, eng := range engines(t) {
		t.Run(eng.name, func(t *testing.T) {
			res, rec, err := runJob(t, eng.kind, sdk.Task{Name: "opaque", Store: newStore(t)})
			if err != nil {
				t.Fatal(err)
			}
			if string(res.Result) != "null" {
				t.Errorf("result = %s, want null", res.Result)
			}
			data, _ := json.Marshal(res)
			if !regexp.MustCompile(`^\{"notebook":"results/opaque_[0-9T.]+Z\.ipynb","result":null\}$`).Match(data) {
				t.Errorf("result JSON = %s", data)
			}
			want := "the notebook's result (object) is not JSON-serialisable: Object of type object is not JSON serializable; the task's result is null"
			if !contains(rec.Logs(), want) {
				t.Errorf("logs = %q, want %q", rec.Logs(), want)
			}
		})
	}
}

func TestErrors(t *testing.T) {
	pathPython, err := exec.LookPath("python3")
	if err != nil {
		if os.Getenv("CI") != "" {
			t.Fatal("no python3 on PATH, and CI is set: the notebook tests must run there")
		}
		t.Skip("no python3 on PATH")
	}
	lacksNbclient := exec.Command(pathPython, "-c", "import nbclient").Run() != nil
	dir := newStore(t)
	if err := os.WriteFile(filepath.Join(dir, "jobs", "broken.ipynb"), []byte("{\"cells\": ["), 0o644); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(dir, "jobs", "old.ipynb"), []byte(`{"nbformat": 3, "worksheets": [], "cells": []}`), 0o644); err != nil {
		t.Fatal(err)
	}
	tests := []struct {
		name      string
		kind      Kind
		env       map[string]string
		task      sdk.Task
		want      string // a regular expression for the whole message
		permanent bool
		skip      bool
	}{
		{
			name: "missing notebook", kind: Kind{Engine: "builtin"},
			task: sdk.Task{Name: "nope"},
			want: `^.*jobs/nope\.ipynb.*not found.*$`, permanent: true,
		},
		{
			name: "name escapes the store", kind: Kind{Engine: "builtin"},
			task: sdk.Task{Name: "../etc/passwd"},
			want: `^"jobs/\.\./etc/passwd\.ipynb": name escapes the store$`, permanent: true,
		},
		{
			name: "unknown action", kind: Kind{Engine: "builtin"},
			task: sdk.Task{Name: "params", Action: "fit"},
			want: `^unknown action "fit" \(a job has only run\)$`, permanent: true,
		},
		{
			name: "kwarg that is not a variable", kind: Kind{Engine: "builtin"},
			task: sdk.Task{Name: "params", Kwargs: map[string]json.RawMessage{"learning-rate": raw(`1`)}},
			want: `^keyword argument "learning-rate" is not a Python variable name$`, permanent: true,
		},
		{
			name: "kwarg that hides input", kind: Kind{Engine: "builtin"},
			task: sdk.Task{Name: "params", Kwargs: map[string]json.RawMessage{"input": raw(`1`)}},
			want: `^keyword argument input would hide the notebook's input; use another name$`, permanent: true,
		},
		{
			name: "OMP_PYTHON missing", env: map[string]string{"OMP_PYTHON": "/nonexistent/python3"},
			task: sdk.Task{Name: "params"},
			want: `^OMP_PYTHON=/nonexistent/python3: no such file or directory$`, permanent: true,
		},
		{
			name: "no python3 on PATH", env: map[string]string{"OMP_PYTHON": "", "PATH": t.TempDir()},
			task: sdk.Task{Name: "params"},
			want: `^python3 not found on PATH: install Python 3 or set OMP_PYTHON to an interpreter$`, permanent: true,
		},
		{
			name: "bad engine", env: map[string]string{"OMP_JOB_ENGINE": "papermill"},
			task: sdk.Task{Name: "params"},
			want: `^OMP_JOB_ENGINE=papermill: want auto, nbclient or builtin$`, permanent: true,
		},
		{
			name: "nbclient not importable", kind: Kind{Python: pathPython, Engine: "nbclient"},
			task:      sdk.Task{Name: "params"},
			want:      `^/\S+ cannot import nbclient, nbformat, ipykernel \(Debian: apt-get install python3-nbclient python3-nbformat python3-ipykernel\)$`,
			permanent: true, skip: !lacksNbclient,
		},
		{
			name: "not a notebook", kind: Kind{Engine: "builtin"},
			task: sdk.Task{Name: "broken"},
			want: `^jobs/broken\.ipynb is not a Jupyter notebook: .+$`, permanent: true,
		},
		{
			name: "nbformat 3", kind: Kind{Engine: "builtin"},
			task: sdk.Task{Name: "old"},
			want: `^jobs/old\.ipynb is an nbformat 3 notebook: the built-in runner runs nbformat 4 \(save it with a current Jupyter\)$`, permanent: true,
		},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			if tc.skip {
				t.Skipf("%s can import nbclient", pathPython)
			}
			for k, v := range tc.env {
				t.Setenv(k, v)
			}
			tc.task.Store = dir
			_, _, err := runJob(t, tc.kind, tc.task)
			if err == nil {
				t.Fatal("no error")
			}
			if !regexp.MustCompile(tc.want).MatchString(err.Error()) {
				t.Errorf("error = %q\nwant match %s", err, tc.want)
			}
			if strings.Contains(err.Error(), "Traceback") || strings.Contains(err.Error(), "\n") {
				t.Errorf("error is not one line: %q", err)
			}
			if got := sdk.IsPermanent(err); got != tc.permanent {
				t.Errorf("permanent = %v, want %v", got, tc.permanent)
			}
		})
	}
}

// TestCancel cancels a notebook stuck in a cell and checks that the process
// running the cell (the runner, or nbclient's kernel) is gone.
func TestCancel(t *testing.T) {
	for _, eng := range engines(t) {
		t.Run(eng.name, func(t *testing.T) {
			dir := newStore(t)
			ctx, cancel := context.WithCancel(context.Background())
			defer cancel()
			pids := make(chan int, 1)
			rec := &sdktest.Recorder{OnLog: func(line string) {
				if p, ok := strings.CutPrefix(line, "sleeping in pid "); ok {
					n, _ := strconv.Atoi(p)
					pids <- n
				}
			}}
			done := make(chan error, 1)
			go func() {
				_, err := eng.kind.Run(ctx, sdk.Task{Kind: "job", Name: "sleep", Action: "run", Store: dir}, rec)
				done <- err
			}()
			var pid int
			select {
			case pid = <-pids:
			case err := <-done:
				t.Fatalf("the notebook ended before it was cancelled: %v", err)
			case <-time.After(time.Minute):
				t.Fatal("the notebook never started its sleeping cell")
			}
			cancel()
			select {
			case err := <-done:
				if !errors.Is(err, context.Canceled) {
					t.Errorf("error = %v, want context.Canceled", err)
				}
			case <-time.After(10 * time.Second):
				t.Fatal("Run did not return within 10s of the cancellation")
			}
			if !testbin.Exits(pid, 5*time.Second) {
				t.Fatalf("process %d that ran the cell is still alive after the cancellation", pid)
			}
		})
	}
}

// TestKernelDiesWithOmp kills the process running the job kind (as a crash
// or kill -9 of omp would) and checks that the notebook's kernel goes too.
func TestKernelDiesWithOmp(t *testing.T) {
	es := engines(t)
	eng := es[len(es)-1]
	if eng.name != "nbclient" {
		t.Skip("no nbclient engine here; the built-in runner is covered by Pdeathsig alone")
	}
	dir := newStore(t)
	cmd := exec.Command(os.Args[0], "-test.run=^TestHelperProcess$")
	cmd.Env = append(os.Environ(), "OMP_JOB_HELPER_STORE="+dir, "OMP_JOB_HELPER_PYTHON="+eng.kind.Python)
	out, err := cmd.StdoutPipe()
	if err != nil {
		t.Fatal(err)
	}
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	defer cmd.Process.Kill()
	pids := make(chan int, 1)
	go func() {
		var buf [4096]byte
		var acc string
		for {
			n, err := out.Read(buf[:])
			acc += string(buf[:n])
			if m := regexp.MustCompile(`sleeping in pid (\d+)\n`).FindStringSubmatch(acc); m != nil {
				p, _ := strconv.Atoi(m[1])
				pids <- p
				return
			}
			if err != nil {
				close(pids)
				return
			}
		}
	}()
	var pid int
	select {
	case p, ok := <-pids:
		if !ok {
			t.Fatal("the helper ended before the notebook's sleeping cell")
		}
		pid = p
	case <-time.After(time.Minute):
		t.Fatal("the notebook never reached its sleeping cell")
	}
	if err := cmd.Process.Kill(); err != nil {
		t.Fatal(err)
	}
	_ = cmd.Wait()
	if !testbin.Exits(pid, 5*time.Second) {
		_ = syscall.Kill(pid, syscall.SIGKILL)
		t.Fatalf("kernel %d outlived the killed omp by 5s", pid)
	}
}

// TestHelperProcess is the omp that TestKernelDiesWithOmp kills.
func TestHelperProcess(t *testing.T) {
	dir := os.Getenv("OMP_JOB_HELPER_STORE")
	if dir == "" {
		t.Skip("helper for TestKernelDiesWithOmp")
	}
	rec := &sdktest.Recorder{OnLog: func(line string) { os.Stdout.WriteString(line + "\n") }}
	k := Kind{Python: os.Getenv("OMP_JOB_HELPER_PYTHON"), Engine: "nbclient"}
	_, err := k.Run(context.Background(), sdk.Task{Kind: "job", Name: "sleep", Action: "run", Store: dir}, rec)
	t.Fatalf("the helper's job ended instead of being killed: %v", err)
}

// TestExampleJobs runs the notebooks of examples/jobs as the examples call
// them, on a copy of the examples' store.
func TestExampleJobs(t *testing.T) {
	src := filepath.Join("..", "..", "examples", "jobs")
	dir := t.TempDir()
	if err := os.CopyFS(filepath.Join(dir, "jobs"), os.DirFS(src)); err != nil {
		t.Fatal(err)
	}
	tests := []struct {
		name   string
		args   []json.RawMessage
		kwargs map[string]json.RawMessage
		input  json.RawMessage
		want   string
	}{
		{"myjob1", []json.RawMessage{raw(`1`)}, nil, nil, `{"job":"myjob1","x":1,"scaled":10}`},
		{"myjob1", []json.RawMessage{raw(`3`)}, map[string]json.RawMessage{"scale": raw(`100`)}, nil, `{"job":"myjob1","x":3,"scaled":300}`},
		{"myjob1", nil, map[string]json.RawMessage{"scale": raw(`3`)}, raw(`5`), `{"job":"myjob1","x":5,"scaled":15}`},
		{"report", nil, map[string]json.RawMessage{"region": raw(`"apac"`), "months": raw(`6`)}, nil,
			`{"region":"apac","months":6,"total":544.15,"best_month":6}`},
		{"myjob", []json.RawMessage{raw(`7`)}, nil, nil, `{"i":7,"square":49}`},
		{"report", nil, nil, nil, `{"region":"emea","months":12,"total":1910.05,"best_month":12}`},
	}
	for _, eng := range engines(t) {
		for _, tc := range tests {
			t.Run(eng.name+"/"+tc.name, func(t *testing.T) {
				res, _, err := runJob(t, eng.kind, sdk.Task{Name: tc.name, Store: dir, Args: tc.args, Kwargs: tc.kwargs, Input: tc.input})
				if err != nil {
					t.Fatal(err)
				}
				if got := compact(t, res.Result); got != tc.want {
					t.Errorf("result = %s, want %s", got, tc.want)
				}
			})
		}
	}
}

// TestFileURLStore runs a notebook from a store given as a file:// URL, as a
// worker on another machine gets it, and finds the result in that store.
func TestFileURLStore(t *testing.T) {
	dir := newStore(t)
	res, _, err := runJob(t, Kind{Engine: "builtin"}, sdk.Task{Name: "untagged", Store: "file://" + filepath.ToSlash(dir),
		Args: []json.RawMessage{raw(`2`)}, Kwargs: map[string]json.RawMessage{"scale": raw(`3`)}})
	if err != nil {
		t.Fatal(err)
	}
	if got := compact(t, res.Result); got != "[2,6]" {
		t.Errorf("result = %s, want [2,6]", got)
	}
	readNotebook(t, dir, res.Notebook)
}

// TestBuiltinRejectsMagics checks that an IPython magic, which only a
// Jupyter kernel understands, fails its cell with a message that says so.
func TestBuiltinRejectsMagics(t *testing.T) {
	_, _, err := runJob(t, Kind{Engine: "builtin"}, sdk.Task{Name: "magic", Store: newStore(t)})
	want := regexp.MustCompile(`^cell 1 of jobs/magic\.ipynb raised SyntaxError: line 1: %matplotlib inline: IPython magics and shell escapes need a Jupyter kernel \(install nbclient and ipykernel for this Python\) \(partly executed notebook saved as results/magic_\S+\.ipynb\)$`)
	if err == nil || !want.MatchString(err.Error()) {
		t.Fatalf("error = %v\nwant match %s", err, want)
	}
}

// BenchmarkRun measures one job task end to end: store read, Python start,
// parameters, execution, the executed notebook written back.
func BenchmarkRun(b *testing.B) {
	for _, eng := range engines(b) {
		b.Run(eng.name, func(b *testing.B) {
			dir := b.TempDir()
			if err := os.CopyFS(filepath.Join(dir, "jobs"), os.DirFS("testdata")); err != nil {
				b.Fatal(err)
			}
			task := sdk.Task{Kind: "job", Name: "untagged", Action: "run", Store: dir,
				Args: []json.RawMessage{raw(`1`)}, Kwargs: map[string]json.RawMessage{"scale": raw(`2`)}}
			for b.Loop() {
				if _, err := eng.kind.Run(context.Background(), task, &sdktest.Recorder{}); err != nil {
					b.Fatal(err)
				}
			}
		})
	}
}

// TestWorkingDirectory checks that a notebook runs in its local store, so
// that it opens datasets/... by relative path as it would in Jupyter.
func TestWorkingDirectory(t *testing.T) {
	for _, eng := range engines(t) {
		t.Run(eng.name, func(t *testing.T) {
			dir := newStore(t)
			if err := os.Mkdir(filepath.Join(dir, "datasets"), 0o755); err != nil {
				t.Fatal(err)
			}
			if err := os.WriteFile(filepath.Join(dir, "datasets", "numbers.txt"), []byte("1\n2\n39\n"), 0o644); err != nil {
				t.Fatal(err)
			}
			res, _, err := runJob(t, eng.kind, sdk.Task{Name: "cwd", Store: dir})
			if err != nil {
				t.Fatal(err)
			}
			if string(res.Result) != "42" {
				t.Errorf("result = %s, want 42", res.Result)
			}
		})
	}
}

// TestPythonDiesInCell ends the Python process from inside a cell: the
// built-in runner dies with it, a kernel dies under nbclient. Either way the
// error names the cell.
func TestPythonDiesInCell(t *testing.T) {
	for _, eng := range engines(t) {
		t.Run(eng.name, func(t *testing.T) {
			_, _, err := runJob(t, eng.kind, sdk.Task{Name: "die", Store: newStore(t)})
			want := `^cell 1 of jobs/die\.ipynb ended the notebook's Python \(\S+\): exit status 3$`
			if eng.name == "nbclient" {
				want = `^cell 1 of jobs/die\.ipynb raised DeadKernelError: the kernel died while it ran the cell \(partly executed notebook saved as results/die_\S+\.ipynb\)$`
			}
			if err == nil || !regexp.MustCompile(want).MatchString(err.Error()) {
				t.Fatalf("error = %v\nwant match %s", err, want)
			}
		})
	}
}

// TestTopLevelAwait runs cells that await at the top level, as Jupyter
// allows, and a string whose lines look like magics but are not.
func TestTopLevelAwait(t *testing.T) {
	for _, eng := range engines(t) {
		t.Run(eng.name, func(t *testing.T) {
			res, _, err := runJob(t, eng.kind, sdk.Task{Name: "await", Store: newStore(t)})
			if err != nil {
				t.Fatal(err)
			}
			if got := compact(t, res.Result); got != `{"value":42,"last":84}` {
				t.Errorf("result = %s, want {\"value\":42,\"last\":84}", got)
			}
		})
	}
}
