package report

import (
	"bytes"
	"context"
	"encoding/xml"
	"flag"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/ompdev/omp/compiler"
	"github.com/ompdev/omp/internal/testbin"
	"github.com/ompdev/omp/lang"
	"github.com/ompdev/omp/plugins/builtin"
	"github.com/ompdev/omp/plugins/echo"
	"github.com/ompdev/omp/runtime"
)

var update = flag.Bool("update", false, "rewrite the golden files in testdata")

func golden(t *testing.T, name string, got []byte) {
	t.Helper()
	path := filepath.Join("testdata", name)
	if *update {
		if err := os.WriteFile(path, got, 0o644); err != nil {
			t.Fatal(err)
		}
		return
	}
	want, err := os.ReadFile(path)
	if err != nil {
		t.Fatalf("%v (run with -update to create it)", err)
	}
	if !bytes.Equal(got, want) {
		t.Errorf("%s differs (run with -update to accept):\n--- got\n%s\n--- want\n%s", name, got, want)
	}
}

// compile compiles src with the built-in kinds.
func compile(t testing.TB, src string) *compiler.Graph {
	t.Helper()
	f, err := lang.Parse("p.omp", []byte(src))
	if err != nil {
		t.Fatal(err)
	}
	g, err := compiler.Compile(f, compiler.Config{Registry: builtin.Registry()})
	if err != nil {
		t.Fatal(err)
	}
	return g
}

// embedded starts an embedded bus and a worker of the echo kind.
func embedded(t testing.TB) runtime.Bus {
	bus := runtime.NewEmbeddedBus(runtime.EmbeddedConfig{})
	w, err := runtime.NewWorker(runtime.WorkerConfig{Name: "embedded", Labels: []string{runtime.AnyLabel}, Concurrency: 8, Bus: bus, Executor: runtime.KindExecutor(echo.Kind{})})
	if err != nil {
		t.Fatal(err)
	}
	ctx, stop := context.WithCancel(context.Background())
	served := make(chan error, 1)
	go func() { served <- w.Serve(ctx) }()
	t.Cleanup(func() { stop(); <-served; bus.Close() })
	return bus
}

func sampleReport() *runtime.Report {
	start := time.Date(2026, 11, 25, 9, 0, 0, 0, time.UTC)
	return &runtime.Report{
		RunID:    "run-1",
		Status:   runtime.Failure,
		Started:  start,
		Finished: start.Add(1500 * time.Millisecond),
		Duration: 1.5,
		Tasks: []*runtime.TaskReport{
			{ID: "s1", Kind: "script", Name: "prep", Action: "run", State: runtime.Success, Attempts: 1, Duration: 0.4, Pos: "p.omp:1:1", Log: []string{"reading raw.csv"}},
			{ID: "s2", Kind: "job", Name: "myjob3", Action: "run", State: runtime.Failure, Attempts: 2, Duration: 0.9, Pos: "p.omp:2:12",
				Error: "exit status 1\nTraceback: <boom> & \"quoted\"", Log: []string{"step 1", "step 2"}},
			{ID: "s3", Kind: "model", Name: "m1", Action: "fit", State: runtime.Cancelled, Pos: "p.omp:3:1", Error: "cancelled: the run failed fast"},
			{ID: "s4", Kind: "reduce", Action: "collect", State: runtime.Cancelled, Pos: "p.omp:3:20"},
			{ID: "s5", Kind: "reduce", Action: "collect", State: runtime.Cancelled, Pos: "p.omp:4:20"},
			{ID: "s6", Kind: "echo", Name: "e", Action: "run", State: runtime.Cached, Pos: "p.omp:5:1"},
		},
	}
}

func TestWriteJUnit(t *testing.T) {
	var buf bytes.Buffer
	if err := WriteJUnit(&buf, "p.omp", sampleReport()); err != nil {
		t.Fatal(err)
	}
	golden(t, "junit.xml", buf.Bytes())

	// Whatever the golden file says, the document must parse back with
	// the counts and the failure a CI system reads.
	var doc junitSuites
	if err := xml.Unmarshal(buf.Bytes(), &doc); err != nil {
		t.Fatalf("not valid XML: %v", err)
	}
	s := doc.Suites[0]
	if s.Tests != 6 || s.Failures != 1 || s.Skipped != 3 {
		t.Errorf("tests, failures, skipped = %d, %d, %d; want 6, 1, 3", s.Tests, s.Failures, s.Skipped)
	}
	if c := s.Cases[5]; c.Failure != nil || c.Skipped != nil || c.Props == nil || len(c.Props.Property) != 1 || c.Props.Property[0] != (junitProperty{"cached", "true"}) {
		t.Errorf("a cached task's case = %+v, want a passed test with the property cached", c)
	}
	f := s.Cases[1].Failure
	if f == nil || f.Message != "exit status 1" {
		t.Fatalf("failure of job myjob3 = %+v", f)
	}
	if want := "exit status 1\nTraceback: <boom> & \"quoted\"\n\nlog:\nstep 1\nstep 2"; f.Text != want {
		t.Errorf("failure text = %q, want %q", f.Text, want)
	}
	if c := s.Cases[1]; c.File != "p.omp" || c.Line != "2" || c.Name != "job myjob3" || c.Classname != "job" {
		t.Errorf("case = %+v", c)
	}
	if a, b := s.Cases[3].Name, s.Cases[4].Name; a != "reduce collect [s4]" || b != "reduce collect [s5]" {
		t.Errorf("repeated titles named %q and %q, want them told apart by id", a, b)
	}
}

func TestConsolePlain(t *testing.T) {
	r := sampleReport()
	node := &compiler.Node{Op: compiler.OpTask, Kind: "job", Name: "myjob3", Args: []any{int64(3)}, Kwargs: map[string]any{"k": "v"}}
	var buf bytes.Buffer
	c := NewConsole(&buf, false)
	c.Notify(runtime.Update{Type: runtime.UpdateState, State: runtime.Started, Task: r.Tasks[0]})
	c.Notify(runtime.Update{Type: runtime.UpdateLog, Task: r.Tasks[0], Line: "reading raw.csv"})
	c.Notify(runtime.Update{Type: runtime.UpdateState, State: runtime.Success, Task: r.Tasks[0]})
	c.Notify(runtime.Update{Type: runtime.UpdateState, State: runtime.Started, Task: &runtime.TaskReport{ID: "s2", Kind: "job", Name: "myjob3", Attempts: 1}, Node: node})
	c.Notify(runtime.Update{Type: runtime.UpdateState, State: runtime.Retry, Task: &runtime.TaskReport{ID: "s2", Kind: "job", Name: "myjob3", Attempts: 1}, Node: node, Message: "exit status 1", Backoff: 2 * time.Second})
	c.Notify(runtime.Update{Type: runtime.UpdateState, State: runtime.Started, Task: r.Tasks[1], Node: node})
	c.Notify(runtime.Update{Type: runtime.UpdateState, State: runtime.Failure, Task: r.Tasks[1], Node: node})
	c.Notify(runtime.Update{Type: runtime.UpdateState, State: runtime.Cancelled, Task: r.Tasks[2]})
	c.Notify(runtime.Update{Type: runtime.UpdateState, State: runtime.Started, Task: r.Tasks[3]})
	c.Notify(runtime.Update{Type: runtime.UpdateWarning, Message: "no worker serves label gpu"})
	c.Notify(runtime.Update{Type: runtime.UpdateState, State: runtime.Cached, Task: r.Tasks[5]})
	c.Done()
	want := `▸ script prep[s1]
  script prep[s1] | reading raw.csv
✓ script prep[s1] (400ms)
▸ job myjob3(3, k="v")[s2]
↻ job myjob3(3, k="v")[s2]: attempt 1 failed, retrying in 2s: exit status 1
▸ job myjob3(3, k="v")[s2]
✗ job myjob3(3, k="v")[s2]: exit status 1
    Traceback: <boom> & "quoted"
! no worker serves label gpu
✓ echo e[s6] (cached)
`
	if got := buf.String(); got != want {
		t.Errorf("console printed\n%s\nwant\n%s", got, want)
	}
	if got, want := Summary(r), "run run-1 FAILURE: 1 succeeded, 1 cached, 1 failed, 3 cancelled (1.5s)"; got != want {
		t.Errorf("Summary = %q, want %q", got, want)
	}
}

// TestConsoleQuiet checks that --progress=quiet prints the failures and
// nothing else.
func TestConsoleQuiet(t *testing.T) {
	var buf bytes.Buffer
	c := NewConsole(&buf, true)
	ok := &runtime.TaskReport{ID: "s1", Kind: "echo", Name: "a", Duration: 0.001}
	bad := &runtime.TaskReport{ID: "s2", Kind: "script", Name: "b", Error: "exit status 1\nboom"}
	c.Notify(runtime.Update{Type: runtime.UpdateState, State: runtime.Started, Task: ok})
	c.Notify(runtime.Update{Type: runtime.UpdateLog, Task: ok, Line: "hello"})
	c.Notify(runtime.Update{Type: runtime.UpdateState, State: runtime.Success, Task: ok})
	c.Notify(runtime.Update{Type: runtime.UpdateState, State: runtime.Retry, Task: bad, Message: "exit status 1"})
	c.Notify(runtime.Update{Type: runtime.UpdateWarning, Message: "no worker serves label gpu"})
	c.Notify(runtime.Update{Type: runtime.UpdateState, State: runtime.Failure, Task: bad})
	c.Done()
	want := "✗ script b[s2]: exit status 1\n    boom\n"
	if got := buf.String(); got != want {
		t.Errorf("quiet console printed %q, want %q", got, want)
	}
}

// TestConsoleFlushes checks that a line does not wait in the buffer for the
// next one: a task that starts and then runs for an hour must show at once.
func TestConsoleFlushes(t *testing.T) {
	var buf testbin.Buffer
	c := NewConsole(&buf, false)
	c.Notify(runtime.Update{Type: runtime.UpdateState, State: runtime.Started, Task: &runtime.TaskReport{Kind: "script", Name: "long"}})
	deadline := time.Now().Add(2 * time.Second)
	for buf.String() == "" && time.Now().Before(deadline) {
		time.Sleep(5 * time.Millisecond)
	}
	if got := buf.String(); got != "▸ script long\n" {
		t.Errorf("printed %q before Done, want the start line", got)
	}
	c.Done()
}

// TestConsoleStates checks the lines of state changes that are not the
// plain STARTED, SUCCESS sequence.
func TestConsoleStates(t *testing.T) {
	at := time.Date(2026, 11, 25, 9, 0, 0, 0, time.UTC)
	node := &compiler.Node{Op: compiler.OpTask, Kind: "script", Name: "x", Args: []any{int64(1)}}
	// task returns the report of script x(1) as it stands in one update.
	task := func(attempts int, worker string) *runtime.TaskReport {
		return &runtime.TaskReport{ID: "s1", Kind: "script", Name: "x", Attempts: attempts, Worker: worker, Started: at, Duration: 0.002, Error: "exit status 1"}
	}
	state := func(st runtime.State, tr *runtime.TaskReport) runtime.Update {
		return runtime.Update{Type: runtime.UpdateState, State: st, Task: tr, Node: node}
	}
	for _, tc := range []struct {
		name    string
		updates []runtime.Update
		want    string
	}{{
		// A task done within its claim window sends no STARTED: its
		// start line comes with its outcome.
		name:    "quick success",
		updates: []runtime.Update{state(runtime.Success, task(1, "w1"))},
		want:    "▸ script x(1)[s1] on w1\n✓ script x(1)[s1] (2ms)\n",
	}, {
		name: "quick failures",
		updates: []runtime.Update{
			{Type: runtime.UpdateState, State: runtime.Retry, Task: task(1, ""), Node: node, Message: "exit status 1", Backoff: time.Second},
			state(runtime.Failure, task(2, "")),
		},
		want: "▸ script x(1)[s1]\n↻ script x(1)[s1]: attempt 1 failed, retrying in 1s: exit status 1\n▸ script x(1)[s1]\n✗ script x(1)[s1]: exit status 1\n",
	}, {
		name:    "claimed, then done: one start line",
		updates: []runtime.Update{state(runtime.Started, task(1, "")), state(runtime.Success, task(1, ""))},
		want:    "▸ script x(1)[s1]\n✓ script x(1)[s1] (2ms)\n",
	}, {
		name:    "never ran",
		updates: []runtime.Update{state(runtime.Failure, &runtime.TaskReport{ID: "s1", Kind: "script", Name: "x", Error: "no worker serves label gpu"})},
		want:    "✗ script x(1)[s1]: no worker serves label gpu\n",
	}, {
		// A script's error ends with its last stderr lines, the last
		// one without a newline: the notice must not run into it.
		name: "retry after stderr",
		updates: []runtime.Update{
			state(runtime.Started, task(1, "")),
			{Type: runtime.UpdateLog, Task: task(1, ""), Node: node, Line: "first"},
			{Type: runtime.UpdateLog, Task: task(1, ""), Node: node, Line: "last, no newline"},
			{Type: runtime.UpdateState, State: runtime.Retry, Task: task(1, ""), Node: node, Message: "exit status 3: first\nlast, no newline", Backoff: 10 * time.Millisecond},
		},
		want: "▸ script x(1)[s1]\n  script x(1)[s1] | first\n  script x(1)[s1] | last, no newline\n" +
			"↻ script x(1)[s1]: attempt 1 failed, retrying in 10ms: exit status 3: first\n    last, no newline\n",
	}, {
		// Its worker died: the task runs again, as a new attempt, with
		// a start line of its own.
		name: "worker lost",
		updates: []runtime.Update{
			state(runtime.Started, task(1, "w1")),
			{Type: runtime.UpdateState, State: runtime.Pending, Task: task(2, ""), Node: node, Message: "worker w1 lost"},
			state(runtime.Success, task(2, "w2")),
		},
		want: "▸ script x(1)[s1] on w1\n↻ script x(1)[s1]: worker w1 lost, running again (attempt 2)\n▸ script x(1)[s1] on w2\n✓ script x(1)[s1] (2ms)\n",
	}} {
		t.Run(tc.name, func(t *testing.T) {
			var buf bytes.Buffer
			c := NewConsole(&buf, false)
			for _, u := range tc.updates {
				c.Notify(u)
			}
			c.Done()
			if got := buf.String(); got != tc.want {
				t.Errorf("console printed\n%s\nwant\n%s", got, tc.want)
			}
		})
	}
}

// TestConsoleRun runs quick tasks for real, on the embedded bus and the echo
// kind: every task has its start line, every time, an argument that refers
// to a let shows the let's name, and a comprehension's member its loop value.
func TestConsoleRun(t *testing.T) {
	g := compile(t, "let first = echo a(1)\nparallel < echo q([i, first]) for i in 1..10 > -> reduce collect\n")
	bus := embedded(t)
	ctx := context.Background()
	for range 3 {
		var buf bytes.Buffer
		c := NewConsole(&buf, false)
		c.Graph(g)
		rep, err := runtime.Run(ctx, g, runtime.Config{Bus: bus, Listener: c})
		c.Done()
		if err != nil || rep.Status != runtime.Success {
			t.Fatalf("run: %v, %v\n%s", rep, err, buf.String())
		}
		out := buf.String()
		for i := 1; i <= 10; i++ {
			task := fmt.Sprintf("echo q([%d,first])[i=%d]", i, i)
			if n := strings.Count(out, "▸ "+task+"\n"); n != 1 {
				t.Errorf("%d start lines of %s, want 1:\n%s", n, task, out)
			}
		}
		if n := strings.Count(out, "▸ "); n != 11 {
			t.Errorf("%d start lines, want 11 (the reduce has none):\n%s", n, out)
		}
	}
}
