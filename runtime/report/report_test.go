package report

import (
	"bytes"
	"encoding/xml"
	"flag"
	"os"
	"path/filepath"
	"sync"
	"testing"
	"time"

	"github.com/ompdev/omp/compiler"
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
	if s.Tests != 5 || s.Failures != 1 || s.Skipped != 3 {
		t.Errorf("tests, failures, skipped = %d, %d, %d; want 5, 1, 3", s.Tests, s.Failures, s.Skipped)
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
	c.Notify(runtime.Update{Type: runtime.UpdateState, State: runtime.Retry, Task: &runtime.TaskReport{Kind: "job", Name: "myjob3", Attempts: 1}, Node: node, Message: "exit status 1", Backoff: 2 * time.Second})
	c.Notify(runtime.Update{Type: runtime.UpdateState, State: runtime.Failure, Task: r.Tasks[1], Node: node})
	c.Notify(runtime.Update{Type: runtime.UpdateState, State: runtime.Cancelled, Task: r.Tasks[2]})
	c.Notify(runtime.Update{Type: runtime.UpdateState, State: runtime.Started, Task: r.Tasks[3]})
	c.Notify(runtime.Update{Type: runtime.UpdateWarning, Message: "no worker serves label gpu"})
	c.Done()
	want := `▸ script prep
  script prep | reading raw.csv
✓ script prep (400ms)
↻ job myjob3(3, k="v"): attempt 1 failed: exit status 1; retrying in 2s
✗ job myjob3(3, k="v"): exit status 1
    Traceback: <boom> & "quoted"
! no worker serves label gpu
`
	if got := buf.String(); got != want {
		t.Errorf("console printed\n%s\nwant\n%s", got, want)
	}
	if got, want := Summary(r), "run run-1 FAILURE: 1 succeeded, 1 failed, 3 cancelled (1.5s)"; got != want {
		t.Errorf("Summary = %q, want %q", got, want)
	}
}

func TestConsoleLive(t *testing.T) {
	var buf bytes.Buffer
	c := NewConsole(&buf, true)
	task := &runtime.TaskReport{Kind: "echo", Name: "a", Duration: 0.001}
	c.Notify(runtime.Update{Type: runtime.UpdateState, State: runtime.Success, Task: task, Counts: runtime.Counts{Total: 3, Succeeded: 1, Pending: 2}})
	c.Done()
	want := "✓ echo a (1ms)\n\r\x1b[K[1/3] 0 running, 2 pending\r\x1b[K"
	if got := buf.String(); got != want {
		t.Errorf("live console printed %q, want %q", got, want)
	}
}

// syncBuffer is a bytes.Buffer safe to read while the console's flush timer
// writes to it.
type syncBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (s *syncBuffer) Write(p []byte) (int, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.Write(p)
}

func (s *syncBuffer) String() string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.String()
}

// TestConsoleFlushes checks that a line does not wait in the buffer for the
// next one: a task that starts and then runs for an hour must show at once.
func TestConsoleFlushes(t *testing.T) {
	var buf syncBuffer
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
