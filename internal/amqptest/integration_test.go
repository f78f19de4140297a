package amqptest_test

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	amqp "github.com/rabbitmq/amqp091-go"

	"github.com/ompdev/omp/internal/amqptest"
	"github.com/ompdev/omp/internal/testbin"
	"github.com/ompdev/omp/runtime"
	"github.com/ompdev/omp/runtime/amqpbus"
	ompreport "github.com/ompdev/omp/runtime/report"
	"github.com/ompdev/omp/runtime/runtimetest"
)

// ompBin is the omp binary the tests start workers from, built once.
var ompBin string

func TestMain(m *testing.M) {
	os.Exit(testbin.Main(m, func(dir string) []testbin.Target {
		ompBin = filepath.Join(dir, "omp")
		return []testbin.Target{{Pkg: "github.com/ompdev/omp/cmd/omp", Out: ompBin}}
	}, nil))
}

// proc is an `omp worker` process.
type proc struct {
	name   string
	cmd    *exec.Cmd
	stderr *testbin.Buffer
	done   chan struct{}
	err    error
}

// startWorker starts `omp worker` with args, in the test's directory and
// environment without third-party plugins, and waits until it serves.
func startWorker(t *testing.T, url, name string, args ...string) *proc {
	t.Helper()
	return startWorkerIn(t, "", append(os.Environ(), "OMP_PLUGIN_PATH="), url, name, args...)
}

// waitFor waits until the worker's stderr contains text.
func (p *proc) waitFor(t *testing.T, text string, d time.Duration) {
	t.Helper()
	p.waitCount(t, text, 1, d)
}

// waitCount waits until the worker's stderr contains text n times, and
// fails t if the worker exits first or d passes.
func (p *proc) waitCount(t *testing.T, text string, n int, d time.Duration) {
	t.Helper()
	p.waitUntil(t, fmt.Sprintf("%q", text), n, d, func() int { return p.count(text) })
}

// waitRecords waits until the worker has logged n records with message
// msg and the attributes kv, as records takes them.
func (p *proc) waitRecords(t *testing.T, n int, d time.Duration, msg string, kv ...any) {
	t.Helper()
	what := fmt.Sprintf("%q records with %v", msg, kv)
	p.waitUntil(t, what, n, d, func() int { return len(p.records(msg, kv...)) })
}

// waitUntil waits until count says n, and fails t if the process exits
// first or d passes.
func (p *proc) waitUntil(t *testing.T, what string, n int, d time.Duration, count func() int) {
	t.Helper()
	deadline := time.Now().Add(d)
	for count() < n {
		select {
		case <-p.done:
			t.Fatalf("%s exited (%v) with %d of %d %s:\n%s", p.name, p.err, count(), n, what, p.stderr)
		default:
		}
		if time.Now().After(deadline) {
			t.Fatalf("%s: %d of %d %s within %s:\n%s", p.name, count(), n, what, d, p.stderr)
		}
		time.Sleep(20 * time.Millisecond)
	}
}

func (p *proc) count(text string) int { return strings.Count(p.stderr.String(), text) }

// records returns the records that a worker started with --log-format json
// logged with message msg (any if "") and the attributes kv (key, value, key,
// value...), each value compared by its text. Each line of its stderr must
// be a JSON object: anything else is a record nobody could index.
func (p *proc) records(msg string, kv ...any) []map[string]any {
	var out []map[string]any
	for line := range strings.Lines(p.stderr.String()) {
		if !strings.HasSuffix(line, "\n") {
			break // still being written
		}
		var r map[string]any
		if err := json.Unmarshal([]byte(line), &r); err != nil {
			r = map[string]any{"msg": "NOT JSON", "line": line}
		}
		if msg != "" && r["msg"] != msg {
			continue
		}
		match := true
		for i := 0; i+1 < len(kv); i += 2 {
			if fmt.Sprint(r[fmt.Sprint(kv[i])]) != fmt.Sprint(kv[i+1]) {
				match = false
			}
		}
		if match {
			out = append(out, r)
		}
	}
	return out
}

// started and ended count a worker's "start" and successful "end" records.
// term sends the worker SIGTERM and fails t unless it exits with status 0
// within d.
func (p *proc) term(t *testing.T, d time.Duration) {
	t.Helper()
	p.cmd.Process.Signal(syscall.SIGTERM)
	select {
	case <-p.done:
	case <-time.After(d):
		t.Fatalf("worker %s did not exit within %s of SIGTERM", p.name, d)
	}
	if p.err != nil {
		t.Fatalf("worker %s exited with %v, want status 0:\n%s", p.name, p.err, p.stderr)
	}
}

func (p *proc) started() int { return len(p.records("start")) }
func (p *proc) ended() int   { return len(p.records("end", "outcome", runtime.EventResult)) }

// runner opens a bus on url for a run in this process, as `omp run
// --broker` does.
func runner(t *testing.T, url string) *amqpbus.Bus {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 15*time.Second)
	defer cancel()
	b, err := amqpbus.New(ctx, amqpbus.Config{URL: url, Name: "test runner"})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { b.Close() })
	return b
}

// successes counts, per task, how often the run reported it SUCCESS.
type successes struct {
	mu sync.Mutex
	n  map[string]int
}

func (s *successes) Notify(u runtime.Update) {
	if u.Type != runtime.UpdateState || u.State != runtime.Success || u.Task == nil {
		return
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.n == nil {
		s.n = map[string]int{}
	}
	s.n[u.Task.ID]++
}

func run(t *testing.T, g *runtimetest.Graph, cfg runtime.Config) *runtime.Report {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 120*time.Second)
	defer cancel()
	rep, err := runtime.Run(ctx, g.G, cfg)
	if err != nil {
		t.Fatalf("Run: %v", err)
	}
	if rep.Status != runtime.Success {
		var b strings.Builder
		for _, tr := range rep.Tasks {
			if tr.State != runtime.Success {
				fmt.Fprintf(&b, "\n  %s %s %s %q", tr.ID, tr.Name, tr.State, tr.Error)
			}
		}
		t.Fatalf("status %s, want SUCCESS:%s", rep.Status, b.String())
	}
	return rep
}

// numbers builds n echo tasks returning 0..n-1 (each sleeping sleep), all
// gathered by one collect.
func numbers(n int, sleep string, opts ...runtimetest.TaskOpt) (*runtimetest.Graph, []string) {
	g := runtimetest.NewGraph()
	ids := make([]string, n)
	for i := range n {
		o := append([]runtimetest.TaskOpt{runtimetest.Kw("sleep", sleep)}, opts...)
		ids[i] = g.Echo(fmt.Sprint("e", i), []any{int64(i)}, o...)
	}
	g.Out(g.Reduce("collect", false, ids...))
	return g, ids
}

// wantNumbers checks the collected result is exactly 0..n-1: nothing lost,
// nothing twice.
func wantNumbers(t *testing.T, rep *runtime.Report, n int) {
	t.Helper()
	var got []int
	if err := json.Unmarshal(rep.Results[0], &got); err != nil {
		t.Fatalf("result %s: %v", rep.Results[0], err)
	}
	want := make([]int, n)
	for i := range want {
		want[i] = i
	}
	if !slices.Equal(got, want) {
		t.Fatalf("collected %v, want 0..%d", got, n-1)
	}
}

func taskByName(rep *runtime.Report, name string) *runtime.TaskReport {
	for _, tr := range rep.Tasks {
		if tr.Name == name {
			return tr
		}
	}
	return nil
}

// Two workers with different labels: each task runs on the worker of its
// label, and omp workers lists both.
func TestWorkersServeTheirLabels(t *testing.T) {
	url := amqptest.VHost(t)
	startWorker(t, url, "wcpu", "--labels", "cpu", "--concurrency", "2")
	startWorker(t, url, "wgpu", "--labels", "gpu,big", "--concurrency", "1")

	g := runtimetest.NewGraph()
	var ids []string
	for i, l := range []string{"cpu", "gpu", "big", "cpu", "gpu"} {
		ids = append(ids, g.Echo(fmt.Sprint("t", i), []any{l}, runtimetest.Label(l)))
	}
	g.Out(g.Reduce("collect", false, ids...))
	rep := run(t, g, runtime.Config{Bus: runner(t, url)})
	if got := string(rep.Results[0]); got != `["cpu","gpu","big","cpu","gpu"]` {
		t.Errorf("result %s", got)
	}
	for i, l := range []string{"cpu", "gpu", "big", "cpu", "gpu"} {
		want := map[string]string{"cpu": "wcpu", "gpu": "wgpu", "big": "wgpu"}[l]
		if tr := taskByName(rep, fmt.Sprint("t", i)); tr == nil || tr.Worker != want {
			t.Errorf("task t%d (@%s) ran on %v, want %s", i, l, tr, want)
		}
	}

	host, _ := os.Hostname()
	want := fmt.Sprintf("[{wcpu [cpu] %s 2 []} {wgpu [gpu big] %s 1 []}]", host, host)
	askWorkers(t, url, func(live []listedWorker) bool { return fmt.Sprint(live) == want }, want)
}

// listedWorker is what a test checks of `omp workers --json`.
type listedWorker struct {
	Name        string   `json:"name"`
	Labels      []string `json:"labels"`
	Host        string   `json:"host"`
	Concurrency int      `json:"concurrency"`
	Running     []string `json:"running"`
}

// askWorkers runs `omp workers --json` until ok accepts what it lists, for
// up to 15 seconds. One ask should do; a busy machine may need another, and
// the log says so.
func askWorkers(t *testing.T, url string, ok func([]listedWorker) bool, want string) {
	t.Helper()
	var live []listedWorker
	for ask, deadline := 1, time.Now().Add(15*time.Second); time.Now().Before(deadline); ask++ {
		out, err := exec.Command(ompBin, "workers", "--broker", url, "--json", "--wait", "1s").Output()
		if err != nil {
			t.Fatalf("omp workers: %v", err)
		}
		live = nil
		if err := json.Unmarshal(out, &live); err != nil {
			t.Fatalf("omp workers --json: %v\n%s", err, out)
		}
		if ok(live) {
			if ask > 1 {
				t.Logf("omp workers listed them at the %d. ask", ask)
			}
			return
		}
	}
	t.Errorf("omp workers --json:\n got %v\nwant %s", live, want)
}

// A worker killed with SIGKILL in the middle of a run of 240 tasks: the
// tasks it had claimed are dispatched again when their leases lapse, those
// it held unacknowledged are redelivered by RabbitMQ, and the run succeeds
// with every result exactly once.
func TestKilledWorkerLosesNothing(t *testing.T) {
	url := amqptest.VHost(t)
	a := startWorker(t, url, "victim", "--concurrency", "4")
	startWorker(t, url, "survivor", "--concurrency", "4")

	// Each task outlasts the claim window (maxClaimWithin, 10ms) many times
	// over, even on a loaded machine, so the victim claims what it runs and
	// its log shows when it is mid-task; a task that ends within the window
	// is never claimed and logs no "start".
	const n = 240
	g, ids := numbers(n, "150ms")
	var seen successes
	var out testbin.Buffer
	console := ompreport.NewConsole(&out, false)
	console.Graph(g.G)
	done := make(chan *runtime.Report, 1)
	go func() {
		done <- run(t, g, runtime.Config{
			Bus: runner(t, url), Listener: runtime.ListenerFunc(func(u runtime.Update) { seen.Notify(u); console.Notify(u) }),
			LeaseInterval: 300 * time.Millisecond, DispatchTimeout: 3 * time.Second,
		})
	}()
	a.waitRecords(t, 1, 30*time.Second, "start")
	// Kill it with tasks running, after it has done some.
	deadline := time.Now().Add(60 * time.Second)
	for a.started() < 20 || a.started() <= a.ended() {
		if time.Now().After(deadline) {
			t.Fatalf("victim did not start 20 tasks and run one within 60s:\n%s", a.stderr)
		}
		time.Sleep(time.Millisecond)
	}
	a.cmd.Process.Kill()
	<-a.done
	started := a.started()
	finished := a.ended()
	if started <= finished {
		t.Errorf("victim had no task running when killed (started %d, finished %d)", started, finished)
	}
	rep := <-done
	wantNumbers(t, rep, n)
	for _, id := range ids {
		if seen.n[id] != 1 {
			t.Errorf("task %s reported SUCCESS %d times, want once", id, seen.n[id])
		}
	}
	byWorker := map[string]int{}
	for _, tr := range rep.Tasks {
		if tr.Kind == "echo" {
			byWorker[tr.Worker]++
		}
	}
	if byWorker["victim"] == 0 || byWorker["survivor"] == 0 || byWorker["victim"]+byWorker["survivor"] != n {
		t.Errorf("tasks per worker: %v", byWorker)
	}
	// The tasks the victim was running ran again on the survivor, as their
	// second attempt, and the console said so, once for each.
	console.Done()
	lost := 0
	for _, tr := range rep.Tasks {
		if tr.Kind != "echo" {
			continue
		}
		line := fmt.Sprintf("↻ echo %s(%s, sleep=\"150ms\")[%s]: worker victim lost, running again (attempt 2)\n", tr.Name, strings.TrimPrefix(tr.Name, "e"), tr.ID)
		switch n := strings.Count(out.String(), line); {
		case tr.Attempts == 2 && tr.Worker == "survivor" && n == 1:
			lost++
		case tr.Attempts != 1 || n != 0:
			t.Errorf("task %s: %d attempts, ran on %s, %d lines %q", tr.ID, tr.Attempts, tr.Worker, n, line)
		}
	}
	// Its log lags behind it, so it tells only that some task was running;
	// --concurrency 4 bounds how many.
	if lost == 0 || lost > 4 {
		t.Errorf("%d tasks ran again after the victim died, want 1 to 4", lost)
	}
	t.Logf("victim started %d tasks and finished %d before SIGKILL; tasks per worker in the report: %v", started, finished, byWorker)
}

// SIGTERM: the worker takes no new task, finishes its running ones, exits
// 0; past --grace it hands them back and another worker runs them.
func TestWorkerSIGTERM(t *testing.T) {
	t.Run("finishes", func(t *testing.T) {
		url := amqptest.VHost(t)
		a := startWorker(t, url, "leaver", "--concurrency", "2", "--grace", "20s")
		g, _ := numbers(6, "1s")
		done := make(chan *runtime.Report, 1)
		go func() { done <- run(t, g, runtime.Config{Bus: runner(t, url)}) }()
		a.waitRecords(t, 2, 30*time.Second, "start")
		a.term(t, 15*time.Second)
		if s, r := a.started(), a.ended(); s != 2 || r != 2 {
			t.Errorf("leaver started %d and finished %d tasks, want 2 and 2:\n%s", s, r, a.stderr)
		}
		startWorker(t, url, "stayer", "--concurrency", "4")
		rep := <-done
		wantNumbers(t, rep, 6)
		if w := map[string]int{}; true {
			for _, tr := range rep.Tasks {
				if tr.Kind == "echo" {
					w[tr.Worker]++
				}
			}
			if w["leaver"] != 2 || w["stayer"] != 4 {
				t.Errorf("tasks per worker %v, want leaver 2, stayer 4", w)
			}
		}
	})
	t.Run("grace over", func(t *testing.T) {
		url := amqptest.VHost(t)
		a := startWorker(t, url, "leaver", "--concurrency", "1", "--grace", "300ms")
		g, _ := numbers(1, "3s")
		done := make(chan *runtime.Report, 1)
		go func() { done <- run(t, g, runtime.Config{Bus: runner(t, url)}) }()
		a.waitRecords(t, 1, 15*time.Second, "start")
		a.term(t, 10*time.Second)
		startWorker(t, url, "stayer", "--concurrency", "1")
		rep := <-done
		wantNumbers(t, rep, 1)
		if w := rep.Tasks[0].Worker; w != "stayer" {
			t.Errorf("task ran on %s, want stayer (leaver released it)", w)
		}
	})
}

// A run cancelled while no worker listens leaves its tasks in the queue: a
// worker that starts later drops them instead of running them for nobody,
// and serves the next run as usual.
func TestLateWorkerDropsTasksOfAnEndedRun(t *testing.T) {
	url := amqptest.VHost(t)
	conn, err := amqp.Dial(url)
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close()
	queued := func() int {
		ch, err := conn.Channel()
		if err != nil {
			t.Fatal(err)
		}
		defer ch.Close()
		q, err := ch.QueueDeclarePassive("omp.tasks.default", true, false, false, false, nil)
		if err != nil {
			return -1 // not declared yet
		}
		return q.Messages
	}

	g, _ := numbers(5, "1ms")
	ctx, cancel := context.WithCancel(context.Background())
	go func() {
		// Cancel once the run's tasks wait in the queue, or after 30s:
		// the run must end either way, and the test then fails.
		defer cancel()
		for deadline := time.Now().Add(30 * time.Second); queued() < 5; time.Sleep(10 * time.Millisecond) {
			if time.Now().After(deadline) {
				t.Errorf("%d of the run's 5 tasks queued within 30s", queued())
				return
			}
		}
	}()
	rep, err := runtime.Run(ctx, g.G, runtime.Config{Bus: runner(t, url)})
	if err != nil || rep.Status != runtime.Cancelled {
		t.Fatalf("Run: %v, status %v; want CANCELLED", err, rep)
	}

	// The runner deletes the run's event queue as its subscription ends
	// (and omp run waits for that before it exits).
	for deadline := time.Now().Add(10 * time.Second); ; time.Sleep(20 * time.Millisecond) {
		ch, err := conn.Channel()
		if err != nil {
			t.Fatal(err)
		}
		if _, err := ch.QueueDeclarePassive("omp.events."+rep.RunID, true, false, false, false, nil); err != nil {
			break
		}
		ch.Close()
		if time.Now().After(deadline) {
			t.Fatal("the run's event queue outlived the run by 10s")
		}
	}
	w := startWorker(t, url, "late")
	w.waitRecords(t, 1, 15*time.Second, "Dropping the tasks of run "+rep.RunID+": its runner is gone", "component", "broker")
	for deadline := time.Now().Add(10 * time.Second); queued() != 0; time.Sleep(20 * time.Millisecond) {
		if time.Now().After(deadline) {
			t.Fatalf("%d tasks still queued", queued())
		}
	}
	if n := w.started(); n != 0 {
		t.Errorf("the late worker started %d tasks of the cancelled run:\n%s", n, w.stderr)
	}
	g, _ = numbers(3, "1ms")
	wantNumbers(t, run(t, g, runtime.Config{Bus: runner(t, url)}), 3)
}

// An unreachable broker: exit 3 within 10s, one line naming host:port and
// never the password.
func TestUnreachableBroker(t *testing.T) {
	for _, args := range [][]string{
		{"worker", "--broker", "amqp://omp:s3cret@127.0.0.1:1/"},
		{"workers", "--broker", "amqp://omp:s3cret@127.0.0.1:1/"},
	} {
		t.Run(args[0], func(t *testing.T) {
			start := time.Now()
			cmd := exec.Command(ompBin, args...)
			var stderr bytes.Buffer
			cmd.Stderr = &stderr
			err := cmd.Run()
			if d := time.Since(start); d > 10*time.Second {
				t.Errorf("took %s, want under 10s", d)
			}
			if ee, ok := err.(*exec.ExitError); !ok || ee.ExitCode() != 3 {
				t.Errorf("exit %v, want status 3", err)
			}
			want := "omp: cannot connect to broker 127.0.0.1:1: dial tcp 127.0.0.1:1: connect: connection refused\n"
			if stderr.String() != want {
				t.Errorf("stderr %q, want %q", stderr.String(), want)
			}
		})
	}
}

// examples/models.omp, whose fits are labelled gpu, through `omp run
// --broker` with a worker for gpu and one for the default label: the
// run succeeds and each task runs on the worker of its label.
func TestExampleOnLabelledWorkers(t *testing.T) {
	url := amqptest.VHost(t)
	store := t.TempDir()
	// The run writes fitted models into its store: work on a copy.
	if err := os.CopyFS(store, os.DirFS("../../examples")); err != nil {
		t.Fatal(err)
	}
	startWorker(t, url, "wgpu", "--labels", "gpu", "--concurrency", "2")
	startWorker(t, url, "wdefault", "--concurrency", "2")

	cmd := exec.Command(ompBin, "run", "--broker", url, "--json", filepath.Join(store, "models.omp"))
	cmd.Env = append(os.Environ(), "OMP_PLUGIN_PATH=")
	var stderr bytes.Buffer
	cmd.Stderr = &stderr
	out, err := cmd.Output()
	if err != nil {
		t.Fatalf("omp run: %v\n%s", err, stderr.String())
	}
	var rep runtime.Report
	if err := json.Unmarshal(out, &rep); err != nil {
		t.Fatalf("omp run --json: %v\n%s", err, out)
	}
	if rep.Status != runtime.Success {
		t.Fatalf("status %s:\n%s", rep.Status, stderr.String())
	}
	ran := 0
	for _, tr := range rep.Tasks {
		if tr.Kind == "reduce" {
			continue
		}
		ran++
		want := "wdefault"
		if tr.Label == "gpu" {
			want = "wgpu"
		}
		if tr.Worker != want {
			t.Errorf("%s %s.%s @%s ran on %q, want %s", tr.Kind, tr.Name, tr.Action, tr.Label, tr.Worker, want)
		}
	}
	if ran == 0 {
		t.Error("the report has no task")
	}
}
