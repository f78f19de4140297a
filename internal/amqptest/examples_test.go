package amqptest_test

import (
	"bytes"
	"encoding/json"
	"fmt"
	"maps"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/ompdev/omp/internal/amqptest"
	"github.com/ompdev/omp/internal/testbin"
)

// systemPython is the Python that Debian's python3-nbclient, -ipykernel and
// -nbformat serve; python3 on PATH may be another one that lacks them.
const systemPython = "/usr/bin/python3"

var nbclientOnce = sync.OnceValue(func() bool {
	return exec.Command(systemPython, "-c", "import nbclient, ipykernel, nbformat").Run() == nil
})

// taskEnv is the environment of every omp process of these tests: no
// third-party plugins, and the Python that has nbclient when there is one,
// so that the embedded run and the workers execute notebooks alike.
func taskEnv(extra ...string) []string {
	env := append(os.Environ(), "OMP_PLUGIN_PATH=", "OMP_STORE=", "OMP_BROKER=")
	if nbclientOnce() {
		env = append(env, "OMP_PYTHON="+systemPython)
	}
	return append(env, extra...)
}

// freshExamples copies examples/ into a temporary directory without what
// earlier runs left in it (results/, fitted model versions), so a run writes
// nothing into the repository and starts from what git tracks.
func freshExamples(t *testing.T) string {
	t.Helper()
	dir := t.TempDir()
	if err := os.CopyFS(dir, os.DirFS("../../examples")); err != nil {
		t.Fatal(err)
	}
	for _, made := range []string{"results", ".omp"} { // what runs of the examples wrote
		if err := os.RemoveAll(filepath.Join(dir, made)); err != nil {
			t.Fatal(err)
		}
	}
	versions, err := os.ReadDir(filepath.Join(dir, "models"))
	if err != nil {
		t.Fatal(err)
	}
	for _, e := range versions {
		if e.IsDir() {
			if err := os.RemoveAll(filepath.Join(dir, "models", e.Name())); err != nil {
				t.Fatal(err)
			}
		}
	}
	return dir
}

// startWorkerIn is startWorker for a worker with a working directory and
// environment of its own.
func startWorkerIn(t *testing.T, dir string, env []string, url, name string, args ...string) *proc {
	t.Helper()
	args = append([]string{"worker", "--broker", url, "--name", name, "--heartbeat", "300ms", "--log-format", "json"}, args...)
	cmd := exec.Command(ompBin, args...)
	cmd.Dir = dir
	cmd.Env = env
	p := startProc(t, name, "worker "+name, cmd)
	p.waitRecords(t, 1, 15*time.Second, "serving", "worker", name)
	return p
}

// startProc starts cmd, what it writes kept in the returned proc, and kills
// it when t ends; if t failed, that output is logged under title.
func startProc(t *testing.T, name, title string, cmd *exec.Cmd) *proc {
	t.Helper()
	p := &proc{name: name, cmd: cmd, stderr: &testbin.Buffer{}, done: make(chan struct{})}
	cmd.Stdout, cmd.Stderr = p.stderr, p.stderr
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	go func() { p.err = cmd.Wait(); close(p.done) }()
	t.Cleanup(func() {
		cmd.Process.Kill()
		<-p.done
		if t.Failed() {
			t.Logf("%s:\n%s", title, p.stderr)
		}
	})
	return p
}

// omp runs omp with args in dir, killing it after two minutes, and returns
// its stdout and stderr and, unless it exited 0, an error that shows both.
func omp(dir string, env []string, args ...string) (stdout, stderr string, err error) {
	cmd := exec.Command(ompBin, args...)
	cmd.Dir, cmd.Env = dir, env
	stdout, stderr, err = runWithin(2*time.Minute, cmd)
	if err != nil {
		err = fmt.Errorf("omp %s (in %s): %w\nstdout:\n%s\nstderr:\n%s", strings.Join(args, " "), dir, err, stdout, stderr)
	}
	return stdout, stderr, err
}

// runWithin runs cmd, killing it after d, and returns its output.
func runWithin(d time.Duration, cmd *exec.Cmd) (stdout, stderr string, err error) {
	var out, errb bytes.Buffer
	cmd.Stdout, cmd.Stderr = &out, &errb
	if err := cmd.Start(); err != nil {
		return "", "", err
	}
	timer := time.AfterFunc(d, func() { cmd.Process.Kill() })
	err = cmd.Wait()
	timer.Stop()
	return out.String(), errb.String(), err
}

// ompRun is omp for the test's goroutine: it fails t on an error.
func ompRun(t *testing.T, dir string, env []string, args ...string) (stdout, stderr string) {
	t.Helper()
	stdout, stderr, err := omp(dir, env, args...)
	if err != nil {
		t.Fatal(err)
	}
	return stdout, stderr
}

// graphNode is what these tests read of a node of `omp graph --format json`.
type graphNode struct {
	ID    string `json:"id"`
	Op    string `json:"op"`
	Kind  string `json:"kind"`
	Name  string `json:"name"`
	Label string `json:"label"`
}

// graphTasks returns the task nodes of the example's graph, as omp run
// compiles it.
func graphTasks(t *testing.T, dir, file string) []graphNode {
	t.Helper()
	out, _ := ompRun(t, dir, taskEnv(), "graph", "--format", "json", file)
	var g struct {
		Nodes []graphNode `json:"nodes"`
	}
	if err := json.Unmarshal([]byte(out), &g); err != nil {
		t.Fatalf("omp graph --format json %s: %v\n%s", file, err, out)
	}
	var tasks []graphNode
	for _, n := range g.Nodes {
		if n.Op == "task" {
			tasks = append(tasks, n)
		}
	}
	return tasks
}

var (
	// notebookStamp is the UTC timestamp of an executed notebook's name,
	// results/NAME_<timestamp>.ipynb: it differs from run to run.
	notebookStamp = regexp.MustCompile(`_\d{8}T\d{6}(\.\d{1,9})?Z\.ipynb"`)
	// modelVersion is a fitted model's version id, a timestamp and a
	// random suffix: it differs from run to run.
	modelVersion = regexp.MustCompile(`"version":"\d{8}T\d{6}(\.\d{1,9})?Z-[0-9a-f]+"`)
)

// normalise replaces in a run's stdout the values that legitimately differ
// between two runs of one pipeline, and nothing else.
func normalise(stdout string) string {
	s := notebookStamp.ReplaceAllString(stdout, `_<timestamp>.ipynb"`)
	return modelVersion.ReplaceAllString(s, `"version":"<version>"`)
}

// report is what these tests read of `omp run --json`.
type report struct {
	Status  string            `json:"status"`
	Results []json.RawMessage `json:"results"`
	Tasks   []struct {
		ID     string   `json:"id"`
		Kind   string   `json:"kind"`
		Name   string   `json:"name"`
		Action string   `json:"action"`
		Label  string   `json:"label"`
		Worker string   `json:"worker"`
		Log    []string `json:"log"`
	} `json:"tasks"`
}

func decodeReport(t *testing.T, stdout, stderr string) *report {
	t.Helper()
	var rep report
	if err := json.Unmarshal([]byte(stdout), &rep); err != nil {
		t.Fatalf("omp run --json: %v\n%s", err, stdout)
	}
	if rep.Status != "SUCCESS" {
		t.Fatalf("status %s\n%s", rep.Status, stderr)
	}
	return &rep
}

// Every example runs over RabbitMQ, served by omp worker processes that
// cover the labels the examples use, and prints what it prints when run
// embedded; each task runs on a worker of its label.
func TestExamplesOverBroker(t *testing.T) {
	// [^.]: not .omp/, the run history that running the examples makes.
	files, err := filepath.Glob("../../examples/[^.]*.omp")
	if err != nil || len(files) == 0 {
		t.Fatalf("no examples/*.omp (%v)", err)
	}
	probe := freshExamples(t)
	tasks := map[string][]graphNode{}
	labels := map[string]bool{"default": true}
	for _, f := range files {
		name := filepath.Base(f)
		tasks[name] = graphTasks(t, probe, name)
		for _, n := range tasks[name] {
			labels[n.Label] = true
		}
	}
	// Two workers, default with every other label and the rest: a task
	// that reaches the wrong worker's queue shows in the routing check.
	var others []string
	for l := range labels {
		if l != "default" {
			others = append(others, l)
		}
	}
	slices.Sort(others)
	serves := map[string]string{"default": "wa"}
	labelsOf := map[string][]string{"wa": {"default"}}
	for i, l := range others {
		w := []string{"wa", "wb"}[i%2]
		serves[l] = w
		labelsOf[w] = append(labelsOf[w], l)
	}

	url := amqptest.VHost(t)
	workerDir := t.TempDir()
	for _, name := range []string{"wa", "wb"} {
		if len(labelsOf[name]) > 0 {
			startWorkerIn(t, workerDir, taskEnv(), url, name,
				"--labels", strings.Join(labelsOf[name], ","), "--concurrency", "4")
		}
	}
	t.Logf("labels used by the examples: %v; workers: %v", slices.Sorted(maps.Keys(labels)), labelsOf)

	for _, f := range files {
		name := filepath.Base(f)
		t.Run(strings.TrimSuffix(name, ".omp"), func(t *testing.T) {
			embedded := freshExamples(t)
			brokered := freshExamples(t)
			want, _ := ompRun(t, embedded, taskEnv(), "run", name)
			// --json, for the worker of each task; its results are the lines
			// that omp run prints without it.
			out, stderr := ompRun(t, brokered, taskEnv(), "run", "--broker", url, "--json", name)
			if strings.TrimSpace(want) == "" {
				t.Fatalf("the embedded run printed nothing")
			}
			rep := decodeReport(t, out, stderr)
			var got strings.Builder
			for _, r := range rep.Results {
				if len(r) == 0 {
					r = json.RawMessage("null")
				}
				var line bytes.Buffer
				if err := json.Compact(&line, r); err != nil {
					t.Fatalf("result %s: %v", r, err)
				}
				got.WriteString(line.String() + "\n")
			}
			if normalise(got.String()) != normalise(want) {
				t.Errorf("over the broker the results are\n%s\nembedded\n%s", got.String(), want)
			}

			worker := map[string]string{}
			for _, tr := range rep.Tasks {
				worker[tr.ID] = tr.Worker
			}
			for _, n := range tasks[name] {
				if w := worker[n.ID]; w != serves[n.Label] {
					t.Errorf("task %s (%s %s @%s) ran on %q, want %s", n.ID, n.Kind, n.Name, n.Label, w, serves[n.Label])
				}
			}
		})
	}
}

// A worker whose working directory has nothing to do with the run, given
// the run's store by URL, runs its notebook, model and script tasks: the
// executed notebook and the fitted model versions land in that store, and
// nothing in the worker's directory. The store and the broker are all
// they share. Once per notebook engine the worker can have.
func TestWorkerInAnotherDirectory(t *testing.T) {
	// The first line a notebook's log has from each engine.
	engineLog := map[string]string{"builtin": "engine: omp's built-in runner", "nbclient": "engine: nbclient"}
	engines := []string{"builtin"}
	if nbclientOnce() {
		engines = append(engines, "nbclient")
	} else if os.Getenv("CI") != "" {
		t.Errorf("%s cannot import nbclient, ipykernel and nbformat: .ci/run should have installed them", systemPython)
	} else {
		t.Logf("%s cannot import nbclient, ipykernel and nbformat: only the built-in notebook runner is tested", systemPython)
	}
	for _, engine := range engines {
		t.Run(engine, func(t *testing.T) {
			url := amqptest.VHost(t)
			store := freshExamples(t)
			elsewhere := t.TempDir()
			name := "far-" + engine
			startWorkerIn(t, elsewhere, taskEnv("OMP_JOB_ENGINE="+engine), url, name,
				"--labels", "default,cpu,gpu", "--concurrency", "4", "--store", "file://"+store)

			for _, example := range []string{"card.omp", "ml.omp"} {
				// The runner has no notebook engine to offer: it runs no task.
				out, stderr := ompRun(t, store, taskEnv(), "run", "--broker", url, "--json", example)
				rep := decodeReport(t, out, stderr)
				kinds := map[string]int{}
				for _, tr := range rep.Tasks {
					if tr.Kind == "reduce" {
						continue
					}
					kinds[tr.Kind]++
					if tr.Worker != name {
						t.Errorf("%s: task %s (%s %s.%s) ran on %q, want %s", example, tr.ID, tr.Kind, tr.Name, tr.Action, tr.Worker, name)
					}
					if tr.Kind == "job" && !slices.ContainsFunc(tr.Log, func(l string) bool { return strings.HasPrefix(l, engineLog[engine]) }) {
						t.Errorf("%s: task %s did not run with the %s engine; its log:\n%s", example, tr.ID, engine, strings.Join(tr.Log, "\n"))
					}
				}

				switch example {
				case "card.omp":
					if kinds["job"] != 1 {
						t.Fatalf("card.omp ran %v, want one job", kinds)
					}
					checkNotebook(t, store, rep.Results[0])
				case "ml.omp":
					if kinds["model"] != 4 || kinds["script"] != 2 {
						t.Fatalf("ml.omp ran %v, want 4 model and 2 script tasks", kinds)
					}
					checkBest(t, store, rep.Results[1])
				}
			}

			left, err := os.ReadDir(elsewhere)
			if err != nil {
				t.Fatal(err)
			}
			if len(left) > 0 {
				var names []string
				for _, e := range left {
					names = append(names, e.Name())
				}
				t.Errorf("the worker wrote %v into its working directory", names)
			}
		})
	}
}

// checkNotebook checks card.omp's result, [{"notebook": NAME, "result":
// ...}], names an executed notebook that is in the store.
func checkNotebook(t *testing.T, store string, result json.RawMessage) {
	t.Helper()
	var res []struct {
		Notebook string          `json:"notebook"`
		Result   json.RawMessage `json:"result"`
	}
	if err := json.Unmarshal(result, &res); err != nil || len(res) != 1 {
		t.Fatalf("card.omp's result %s: want a list of one notebook result (%v)", result, err)
	}
	var got bytes.Buffer
	json.Compact(&got, res[0].Result)
	if want := `{"job":"myjob1","x":1,"scaled":10}`; got.String() != want {
		t.Errorf("the notebook's result is %s, want %s", got.String(), want)
	}
	if !strings.HasPrefix(res[0].Notebook, "results/myjob1_") || !strings.HasSuffix(res[0].Notebook, ".ipynb") {
		t.Fatalf("the executed notebook is named %q, want results/myjob1_<timestamp>.ipynb", res[0].Notebook)
	}
	data, err := os.ReadFile(filepath.Join(store, res[0].Notebook))
	if err != nil {
		t.Fatalf("the executed notebook is not in the shared store: %v", err)
	}
	var nb struct {
		NBFormat int `json:"nbformat"`
		Cells    []struct {
			CellType string            `json:"cell_type"`
			Outputs  []json.RawMessage `json:"outputs"`
		} `json:"cells"`
	}
	if err := json.Unmarshal(data, &nb); err != nil {
		t.Fatalf("%s: %v", res[0].Notebook, err)
	}
	outputs := 0
	for _, c := range nb.Cells {
		outputs += len(c.Outputs)
	}
	if nb.NBFormat != 4 || outputs == 0 {
		t.Errorf("%s: nbformat %d with %d outputs, want an executed nbformat 4 notebook", res[0].Notebook, nb.NBFormat, outputs)
	}
}

// checkBest checks that ml.omp's fits stored one version of each model in
// the store, fitted on the data the run prepared there, and that the best
// score the run reports is one of theirs.
func checkBest(t *testing.T, store string, result json.RawMessage) {
	t.Helper()
	var best struct {
		Best   string             `json:"best"`
		Scores map[string]float64 `json:"scores"`
	}
	if err := json.Unmarshal(result, &best); err != nil {
		t.Fatalf("ml.omp's result %s: %v", result, err)
	}
	for _, model := range []string{"linreg", "ridge"} {
		versions, err := filepath.Glob(filepath.Join(store, "models", model, "*.json"))
		if err != nil || len(versions) != 1 {
			t.Errorf("models/%s/ in the shared store holds %d versions, want the one the run fitted", model, len(versions))
			continue
		}
		data, err := os.ReadFile(versions[0])
		if err != nil {
			t.Fatal(err)
		}
		var v struct {
			Model   string `json:"model"`
			Version string `json:"version"`
			Data    []struct {
				Source string `json:"source"`
			} `json:"data"`
		}
		if err := json.Unmarshal(data, &v); err != nil {
			t.Fatalf("%s: %v", versions[0], err)
		}
		file := strings.TrimPrefix(versions[0], store+"/")
		if v.Model != model || v.Version+".json" != filepath.Base(versions[0]) {
			t.Errorf("%s is model %q version %q", file, v.Model, v.Version)
		}
		var sources []string
		for _, d := range v.Data {
			sources = append(sources, d.Source)
		}
		if want := []string{"datasets/ml-train-X.csv", "datasets/ml-train-Y.csv"}; !slices.Equal(sources, want) {
			t.Errorf("%s was fitted on %v, want %v", file, sources, want)
		}
		if _, ok := best.Scores[model]; !ok {
			t.Errorf("ml.omp's result %s has no score for %s", result, model)
		}
	}
	if _, ok := best.Scores[best.Best]; !ok {
		t.Errorf("ml.omp's best %q is not among its scores %v", best.Best, best.Scores)
	}
}
