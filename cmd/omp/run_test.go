package main

import (
	"bytes"
	"context"
	"encoding/json"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	"go.uber.org/goleak"

	"github.com/ompdev/omp/internal/testbin"
)

// writeFiles lays out a pipeline and its store in a temporary directory.
func writeFiles(t *testing.T, files map[string]string) string {
	t.Helper()
	dir := t.TempDir()
	for name, body := range files {
		path := filepath.Join(dir, name)
		if err := os.MkdirAll(filepath.Dir(path), 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(path, []byte(body), 0o755); err != nil {
			t.Fatal(err)
		}
	}
	return dir
}

// TestRunCancel cancels a run, as Ctrl-C does, while a script and its own
// child are running: omp exits 130 with every unfinished task CANCELLED,
// and neither the plugin processes, nor the script, nor its child survive,
// nor does any goroutine.
func TestRunCancel(t *testing.T) {
	defer goleak.VerifyNone(t, goleak.IgnoreCurrent())
	dir := writeFiles(t, map[string]string{
		"p.omp": "echo first(1) -> script sleepy() -> echo after()\n",
		// The script starts a grandchild and records both pids.
		"scripts/sleepy.sh": "sleep 300 &\necho $$ $! > \"$OMP_STORE/pids\"\nwait\n",
	})
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	go func() {
		// Cancel once the script has started its grandchild, or after 30s:
		// the run must end either way, and the test then fails.
		defer cancel()
		for deadline := time.Now().Add(30 * time.Second); ; {
			if b, err := os.ReadFile(filepath.Join(dir, "pids")); err == nil && strings.Count(string(b), " ") == 1 {
				return
			}
			if time.Now().After(deadline) {
				t.Error("the script did not write its and its grandchild's pids within 30s")
				return
			}
			select {
			case <-ctx.Done():
				return
			case <-time.After(10 * time.Millisecond):
			}
		}
	}()
	var out, errOut bytes.Buffer
	code := execute(ctx, &streams{in: strings.NewReader(""), out: &out, err: &errOut}, []string{"run", "--json", filepath.Join(dir, "p.omp")})
	if code != ExitCancelled {
		t.Fatalf("exit code %d, want %d; stderr:\n%s", code, ExitCancelled, errOut.String())
	}
	var r struct {
		Status string `json:"status"`
		Tasks  []struct {
			Name, State string
		} `json:"tasks"`
	}
	if err := json.Unmarshal(out.Bytes(), &r); err != nil {
		t.Fatalf("--json printed invalid JSON: %v\n%s", err, out.String())
	}
	if r.Status != "CANCELLED" {
		t.Errorf("status %s, want CANCELLED", r.Status)
	}
	for _, task := range r.Tasks {
		want := "CANCELLED"
		if task.Name == "first" {
			want = "SUCCESS"
		}
		if task.State != want {
			t.Errorf("task %s is %s, want %s", task.Name, task.State, want)
		}
	}
	b, err := os.ReadFile(filepath.Join(dir, "pids"))
	if err != nil {
		t.Fatal(err)
	}
	for _, f := range strings.Fields(string(b)) {
		pid, _ := strconv.Atoi(f)
		if testbin.Alive(pid) {
			t.Errorf("process %d outlived the cancelled run", pid)
			syscall.Kill(pid, syscall.SIGKILL)
		}
	}
	if kids := children(t); len(kids) > 0 {
		t.Errorf("child processes left after the run: %v", kids)
	}
}

// children lists the live processes whose parent is this test process.
func children(t *testing.T) []string {
	t.Helper()
	// Processes are reaped asynchronously by exec.Cmd.Wait: give it a
	// moment.
	deadline := time.Now().Add(2 * time.Second)
	for {
		kids := testbin.Children(os.Getpid())
		if len(kids) == 0 || time.Now().After(deadline) {
			return kids
		}
		time.Sleep(20 * time.Millisecond)
	}
}

// TestRunLeavesNothing runs a pipeline to the end and checks that no plugin
// process and no goroutine outlives it.
func TestRunLeavesNothing(t *testing.T) {
	defer goleak.VerifyNone(t, goleak.IgnoreCurrent())
	dir := writeFiles(t, map[string]string{
		"p.omp":          "parallel < echo a(1), echo b(2), script s() > -> reduce collect\n",
		"scripts/s.sh":   "echo 3\n",
		"unused/keep.md": "",
	})
	var out, errOut bytes.Buffer
	code := execute(context.Background(), &streams{in: strings.NewReader(""), out: &out, err: &errOut}, []string{"run", filepath.Join(dir, "p.omp")})
	if code != ExitOK {
		t.Fatalf("exit code %d; stderr:\n%s", code, errOut.String())
	}
	if got := out.String(); got != "[1,2,3]\n" {
		t.Errorf("stdout %q, want [1,2,3]", got)
	}
	if kids := children(t); len(kids) > 0 {
		t.Errorf("child processes left after the run: %v", kids)
	}
}
