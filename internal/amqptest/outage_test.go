package amqptest_test

import (
	"context"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	amqp "github.com/rabbitmq/amqp091-go"

	"github.com/ompdev/omp/compiler"
	"github.com/ompdev/omp/internal/amqptest"
	"github.com/ompdev/omp/runtime"
	"github.com/ompdev/omp/runtime/amqpbus"
	"github.com/ompdev/omp/runtime/runtimetest"
)

// heldListener passes updates on, except while held: then the run's
// scheduler stops in the middle of an update, as a runner that lags behind
// does, and the workers' events wait in its event queue.
type heldListener struct {
	next runtime.Listener
	mu   sync.RWMutex
}

func (h *heldListener) Notify(u runtime.Update) {
	h.mu.RLock()
	defer h.mu.RUnlock()
	h.next.Notify(u)
}

// The scenario of the broker-restart issue: one worker with four slots, 60
// tasks of 0.3 s, and RabbitMQ away for 5 s, while the events of a dozen
// results wait in the run's event queue (its runner lags behind): the
// broker loses them, being transient. The worker sends them again once its
// connection is back, so the run goes on at once (before, it waited for the
// tasks' leases to lapse, 30 s, and ran them again): it completes with the
// exact result, each task run once, within 5 s of the broker's return plus
// the time of the tasks left.
func TestBrokerOutageResynchronises(t *testing.T) {
	url := amqptest.DisruptVHost(t)
	w := startWorker(t, url, "steady", "--concurrency", "4")

	const n, sleep = 60, 300 * time.Millisecond
	g, ids := numbers(n, sleep.String())
	var seen successes
	held := &heldListener{next: &seen}
	done := make(chan *runtime.Report, 1)
	go func() {
		// The runtime's defaults: a 10 s lease, 30 s to claim a task.
		done <- run(t, g, runtime.Config{Bus: runner(t, url), Listener: held})
	}()
	w.waitRecords(t, 12, 30*time.Second, "end", "outcome", runtime.EventResult)
	held.mu.Lock()
	w.waitRecords(t, 24, 30*time.Second, "end", "outcome", runtime.EventResult)
	before := w.ended()

	t0 := time.Now()
	start := amqptest.StopBroker(t)
	t1 := time.Now()
	time.Sleep(5 * time.Second)
	t2 := time.Now()
	start()
	back := time.Now()
	held.mu.Unlock()
	// rabbitmqctl takes its time to stop and start the broker on a busy
	// machine: that is not the run's.
	ctl := t1.Sub(t0) + back.Sub(t2)
	t.Logf("broker stopped after %d results; stop_app took %s, start_app %s",
		before, t1.Sub(t0).Round(time.Millisecond), back.Sub(t2).Round(time.Millisecond))

	var rep *runtime.Report
	select {
	case rep = <-done:
	case <-time.After(90 * time.Second):
		t.Fatal("the run did not complete within 90s of the broker's return")
	}
	recovery := time.Since(back)
	wantNumbers(t, rep, n)
	for _, id := range ids {
		if seen.n[id] != 1 {
			t.Errorf("task %s reported SUCCESS %d times, want once", id, seen.n[id])
		}
	}
	// The worker logs an attempt's end once the broker has confirmed its
	// outcome, which can be after the runner got it and the run ended.
	w.waitRecords(t, n, 10*time.Second, "end", "outcome", runtime.EventResult)
	if r := w.ended(); r != n {
		t.Errorf("the worker ran %d tasks to the end, want %d (none twice):\n%s", r, n, w.stderr)
	}
	left := time.Duration(n-before) * sleep / 4
	total := time.Duration(rep.Duration*float64(time.Second)) - ctl
	t.Logf("the run took %.1fs, %s less rabbitmqctl's time; it ended %s after the broker's return, with %s of tasks left",
		rep.Duration, total.Round(100*time.Millisecond), recovery.Round(100*time.Millisecond), left)
	if recovery > 5*time.Second+left {
		t.Errorf("the run ended %s after the broker's return, want within 5s plus %s of tasks", recovery.Round(100*time.Millisecond), left)
	}
	if total > 15*time.Second {
		t.Errorf("the run took %s besides rabbitmqctl's time, want within 15s", total.Round(100*time.Millisecond))
	}
}

// A run cancelled right after a broker restart, while its task's process
// runs on a worker: the CANCEL reaches the worker, whose control queue died
// with the broker, and the process is killed.
func TestCancelAfterBrokerRestart(t *testing.T) {
	url := amqptest.DisruptVHost(t)
	store := t.TempDir()
	if err := os.MkdirAll(filepath.Join(store, "scripts"), 0o755); err != nil {
		t.Fatal(err)
	}
	hang := "#!/bin/sh\necho $$ > \"$OMP_STORE/pid\"\nexec sleep 120\n"
	if err := os.WriteFile(filepath.Join(store, "scripts", "hang.sh"), []byte(hang), 0o755); err != nil {
		t.Fatal(err)
	}
	w := startWorker(t, url, "w", "--concurrency", "1")

	g := runtimetest.NewGraph()
	g.G.Nodes = append(g.G.Nodes, &compiler.Node{ID: "n0", Op: compiler.OpTask, Kind: "script", Name: "hang", Action: "run",
		Pos: compiler.Pos{File: "test.omp", Line: 1, Column: 1}})
	g.Out("n0")
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	type result struct {
		rep *runtime.Report
		err error
	}
	done := make(chan result, 1)
	go func() {
		rep, err := runtime.Run(ctx, g.G, runtime.Config{Bus: runner(t, url), Store: store})
		done <- result{rep, err}
	}()

	var pid int
	for deadline := time.Now().Add(30 * time.Second); pid == 0; time.Sleep(20 * time.Millisecond) {
		if time.Now().After(deadline) {
			t.Fatalf("the task did not start within 30s:\n%s", w.stderr)
		}
		b, err := os.ReadFile(filepath.Join(store, "pid"))
		if err == nil && strings.HasSuffix(string(b), "\n") {
			pid, _ = strconv.Atoi(strings.TrimSpace(string(b)))
		}
	}
	start := amqptest.StopBroker(t)
	time.Sleep(2 * time.Second)
	start()
	cancel()

	var r result
	select {
	case r = <-done:
	case <-time.After(60 * time.Second):
		t.Fatal("the cancelled run did not end within 60s")
	}
	if r.err != nil || r.rep.Status != runtime.Cancelled {
		t.Fatalf("Run: %v, status %v; want CANCELLED", r.err, r.rep)
	}
	for deadline := time.Now().Add(15 * time.Second); ; time.Sleep(50 * time.Millisecond) {
		if err := syscall.Kill(pid, 0); errors.Is(err, syscall.ESRCH) {
			break
		}
		if time.Now().After(deadline) {
			syscall.Kill(pid, syscall.SIGKILL)
			t.Fatalf("the task's process %d still runs 15s after the run was cancelled:\n%s", pid, w.stderr)
		}
	}
	w.waitRecords(t, 1, 10*time.Second, "end", "error", "cancelled")
}

// A run started while the broker is away waits for it (saying so) and runs
// once it is back; with a --broker-timeout that passes first, it exits 3
// with one line that says why.
func TestRunStartedDuringOutage(t *testing.T) {
	url := amqptest.DisruptVHost(t)
	dir := t.TempDir()
	file := filepath.Join(dir, "sum.omp")
	if err := os.WriteFile(file, []byte("parallel < echo \"e{i}\"(i) for i in 1..5 > -> reduce sum\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	env := append(os.Environ(), "OMP_PLUGIN_PATH=")
	start := amqptest.StopBroker(t)

	t.Run("gives up", func(t *testing.T) {
		cmd := exec.Command(ompBin, "run", "--broker", url, "--broker-timeout", "2s", file)
		cmd.Env = env
		began := time.Now()
		_, stderr, err := runWithin(time.Minute, cmd)
		took := time.Since(began)
		var ee *exec.ExitError
		if !errors.As(err, &ee) || ee.ExitCode() != 3 {
			t.Errorf("exit %v, want status 3\n%s", err, stderr)
		}
		if took < 2*time.Second || took > 15*time.Second {
			t.Errorf("took %s, want about 2s", took.Round(time.Millisecond))
		}
		hp := amqpbus.HostPort(url)
		refused := fmt.Sprintf("cannot connect to broker %s: dial tcp %s: connect: connection refused", hp, hp)
		want := "omp: " + refused + "; waiting up to 2s for it\nomp: " + refused + " (gave up after 2s)\n"
		if stderr != want {
			t.Errorf("stderr:\n%s\nwant:\n%s", stderr, want)
		}
	})

	t.Run("waits", func(t *testing.T) {
		cmd := exec.Command(ompBin, "run", "--broker", url, file)
		cmd.Env = env
		p := startProc(t, "run", "omp run", cmd)
		p.waitFor(t, "waiting up to 1m0s for it", 15*time.Second)
		start()
		startWorker(t, url, "late", "--concurrency", "2")
		select {
		case <-p.done:
		case <-time.After(60 * time.Second):
			t.Fatalf("the run did not end within 60s of the broker's return:\n%s", p.stderr)
		}
		if p.err != nil || !strings.Contains(p.stderr.String(), "\n15\n") {
			t.Errorf("omp run: %v, want status 0 and the result 15:\n%s", p.err, p.stderr)
		}
	})
}

// A broker that comes back without its state (a new node, a lost disk):
// every queue and exchange is gone when the connections drop. The runner and
// the worker declare again what they use as they reconnect (the task queue,
// the dead-letter queue, the control and workers exchanges and their
// subscriptions' queues), and the next run goes through them. Closing the
// connections of the test's vhost stands in for the restart, so that no one
// else's broker stops.
func TestTopologyDeclaredAgainOnReconnect(t *testing.T) {
	url := amqptest.VHost(t)
	w := startWorker(t, url, "w", "--concurrency", "2")
	bus := runner(t, url)
	g, _ := numbers(3, "1ms")
	wantNumbers(t, run(t, g, runtime.Config{Bus: bus}), 3)

	vhost := url[strings.LastIndex(url, "/")+1:]
	admin, err := amqp.Dial(url)
	if err != nil {
		t.Fatal(err)
	}
	ch, err := admin.Channel()
	if err != nil {
		t.Fatal(err)
	}
	for _, q := range []string{"omp.tasks.default", "omp.dead"} {
		if _, err := ch.QueueDelete(q, false, false, false); err != nil {
			t.Fatal(err)
		}
	}
	for _, x := range []string{"omp.dead", "omp.control", "omp.workers"} {
		if err := ch.ExchangeDelete(x, false, false); err != nil {
			t.Fatal(err)
		}
	}
	amqptest.Ctl(t, "close_all_connections", "--vhost", vhost, "test: the broker lost its state")
	w.waitRecords(t, 1, 30*time.Second, "broker connection back")

	admin, err = amqp.Dial(url)
	if err != nil {
		t.Fatal(err)
	}
	defer admin.Close()
	for deadline := time.Now().Add(20 * time.Second); ; time.Sleep(50 * time.Millisecond) {
		var missing []string
		for _, q := range []string{"omp.tasks.default", "omp.dead"} {
			ch, err := admin.Channel()
			if err != nil {
				t.Fatal(err)
			}
			if _, err := ch.QueueDeclarePassive(q, true, false, false, false, nil); err != nil {
				missing = append(missing, "queue "+q)
			} else {
				ch.Close()
			}
		}
		for _, x := range []string{"omp.dead", "omp.control", "omp.workers"} {
			ch, err := admin.Channel()
			if err != nil {
				t.Fatal(err)
			}
			if err := ch.ExchangeDeclarePassive(x, "fanout", true, false, false, false, nil); err != nil && !strings.Contains(err.Error(), "PRECONDITION_FAILED") {
				missing = append(missing, "exchange "+x)
			} else {
				ch.Close()
			}
		}
		if len(missing) == 0 {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("not declared again within 20s of the reconnect: %s", strings.Join(missing, ", "))
		}
	}
	g, _ = numbers(5, "1ms")
	wantNumbers(t, run(t, g, runtime.Config{Bus: bus}), 5)
	askWorkers(t, url, func(live []listedWorker) bool { return len(live) == 1 && live[0].Name == "w" }, "w")
}
