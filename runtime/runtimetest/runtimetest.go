// Package runtimetest is the conformance suite of the runtime: every Bus
// passes it, the embedded bus always and the AMQP bus against a real
// RabbitMQ, the way Watermill's pubsub/tests check every Pub/Sub. It runs real
// workers and the real scheduler; faults (lost and duplicated messages, a
// worker that dies after its claim) are injected by wrapping the bus's
// publisher, never by replacing the bus.
package runtimetest

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"strings"
	"sync"
	"testing"
	"testing/synctest"
	"time"

	"github.com/ThreeDotsLabs/watermill/message"

	"github.com/ompdev/omp/compiler"
	"github.com/ompdev/omp/plugins/echo"
	"github.com/ompdev/omp/runtime"
)

// Features adapts the suite to a bus and an executor.
type Features struct {
	// NewExecutor returns the executor the workers use. It must serve the
	// kind echo as plugins/echo defines it (sleep, log, fail,
	// fail_attempts, permanent). Default: plugins/echo in this process.
	NewExecutor func(t *testing.T) runtime.Executor
	// IsInfra is given to the workers.
	IsInfra func(error) bool
	// Slow multiplies the suite's short timings (leases, dispatch
	// timeouts) for a bus with more latency than a channel; default 1.
	Slow float64
	// Bubble runs each test in a testing/synctest bubble, whose clock
	// moves only when every goroutine in it waits: leases, backoffs and
	// timeouts then take no wall time and cannot race a busy machine.
	// Only for a bus and an executor that live wholly in this process (no
	// network, no plugin processes); newBus is called inside the bubble.
	Bubble bool
}

// Run runs the suite. newBus returns a fresh bus per test; the suite closes
// it when the test ends.
func Run(t *testing.T, f Features, newBus func(t *testing.T) runtime.Bus) {
	if f.NewExecutor == nil {
		f.NewExecutor = func(*testing.T) runtime.Executor { return runtime.KindExecutor(echo.Kind{}) }
	}
	if f.Slow == 0 {
		f.Slow = 1
	}
	for _, tc := range tests {
		test := func(t *testing.T) {
			bus := newBus(t)
			t.Cleanup(func() { bus.Close() })
			tc.fn(t, &env{t: t, f: f, bus: bus, exec: f.NewExecutor(t)})
		}
		t.Run(tc.name, func(t *testing.T) {
			if f.Bubble {
				synctest.Test(t, test)
			} else {
				test(t)
			}
		})
	}
}

var tests = []struct {
	name string
	fn   func(t *testing.T, e *env)
}{
	{"Sequence", testSequence},
	{"ParallelOrder", testParallelOrder},
	{"FanOut", testFanOut},
	{"Reducers", testReducers},
	{"RefsInArgs", testRefsInArgs},
	{"RetryThenSuccess", testRetryThenSuccess},
	{"RetriesExhausted", testRetriesExhausted},
	{"PermanentNotRetried", testPermanentNotRetried},
	{"Timeout", testTimeout},
	{"FailFast", testFailFast},
	{"KeepGoing", testKeepGoing},
	{"Cancel", testCancel},
	{"DuplicateEvents", testDuplicateEvents},
	{"LeaseRenewed", testLeaseRenewed},
	{"LapsedLease", testLapsedLease},
	{"LostMessage", testLostMessage},
	{"QueuedNotRepublished", testQueuedNotRepublished},
	{"MaxDeliveries", testMaxDeliveries},
	{"NoWorkerWarning", testNoWorkerWarning},
	{"Labels", testLabels},
	{"Heartbeats", testHeartbeats},
	{"PingAnswered", testPingAnswered},
	{"ReleaseOnShutdown", testReleaseOnShutdown},
	{"DuplicateDelivery", testDuplicateDelivery},
	{"ResyncAfterLostEvents", testResyncAfterLostEvents},
	{"Chain", testChain},
	{"ChainReleasedOnShutdown", testChainReleasedOnShutdown},
}

type env struct {
	t    *testing.T
	f    Features
	bus  runtime.Bus
	exec runtime.Executor
}

func (e *env) slow(d time.Duration) time.Duration { return time.Duration(float64(d) * e.f.Slow) }

// sub runs fn as the subtest name; in a bubble, where t.Run cannot be
// called, in line, naming the case if it fails.
func (e *env) sub(t *testing.T, name string, fn func(t *testing.T)) {
	if !e.f.Bubble {
		t.Run(name, fn)
		return
	}
	failed := t.Failed()
	fn(t)
	if !failed && t.Failed() {
		t.Logf("the errors above are of case %s", name)
	}
}

// worker starts a worker serving DefaultLabel unless changed; the returned
// stop ends it (also at the end of the test).
func (e *env) worker(name string, change func(*runtime.WorkerConfig)) (stop func()) {
	e.t.Helper()
	cfg := runtime.WorkerConfig{
		Name:              name,
		Labels:            []string{compiler.DefaultLabel},
		Concurrency:       4,
		Bus:               e.bus,
		Executor:          e.exec,
		HeartbeatInterval: e.slow(30 * time.Millisecond),
		GracePeriod:       2 * time.Second,
		IsInfra:           e.f.IsInfra,
	}
	if change != nil {
		change(&cfg)
	}
	_, stop = Serve(e.t, cfg)
	return stop
}

// run runs g with cfg (Bus defaults to the env's) and fails the test on an
// error of Run.
func (e *env) run(ctx context.Context, g *Graph, cfg runtime.Config) *runtime.Report {
	e.t.Helper()
	if cfg.Bus == nil {
		cfg.Bus = e.bus
	}
	ctx, cancel := context.WithTimeout(ctx, 60*time.Second)
	defer cancel()
	rep, err := runtime.Run(ctx, g.G, cfg)
	if err != nil {
		e.t.Fatalf("Run: %v", err)
	}
	return rep
}

// recorder is a Listener that keeps every update.
type recorder struct {
	mu      sync.Mutex
	updates []runtime.Update
	on      func(runtime.Update)
}

func (r *recorder) Notify(u runtime.Update) {
	r.mu.Lock()
	c := u
	if u.Task != nil {
		tr := *u.Task
		c.Task = &tr
	}
	r.updates = append(r.updates, c)
	r.mu.Unlock()
	if r.on != nil {
		r.on(u)
	}
}

func (r *recorder) states(id string, st runtime.State) []runtime.Update {
	r.mu.Lock()
	defer r.mu.Unlock()
	var out []runtime.Update
	for _, u := range r.updates {
		if u.Type == runtime.UpdateState && u.Task != nil && u.Task.ID == id && u.State == st {
			out = append(out, u)
		}
	}
	return out
}

func task(t *testing.T, rep *runtime.Report, id string) *runtime.TaskReport {
	t.Helper()
	for _, tr := range rep.Tasks {
		if tr.ID == id {
			return tr
		}
	}
	t.Fatalf("no task %s in report", id)
	return nil
}

// wantTask checks a task's state and, if not empty, its error.
func wantTask(t *testing.T, rep *runtime.Report, id string, st runtime.State, errText string) *runtime.TaskReport {
	t.Helper()
	tr := task(t, rep, id)
	if tr.State != st || (errText != "" && tr.Error != errText) {
		t.Errorf("task %s: state %s, error %q; want %s, %q", id, tr.State, tr.Error, st, errText)
	}
	return tr
}

func wantStatus(t *testing.T, rep *runtime.Report, st runtime.State) {
	t.Helper()
	if rep.Status != st {
		var b strings.Builder
		for _, tr := range rep.Tasks {
			fmt.Fprintf(&b, "\n  %s %s %s %q", tr.ID, tr.Name, tr.State, tr.Error)
		}
		t.Errorf("status %s, want %s; tasks:%s", rep.Status, st, b.String())
	}
}

// wantResults compares the run's results with JSON documents.
func wantResults(t *testing.T, rep *runtime.Report, want ...string) {
	t.Helper()
	got := make([]string, len(rep.Results))
	for i, r := range rep.Results {
		got[i] = compact(t, r)
	}
	for i := range want {
		want[i] = compact(t, json.RawMessage(want[i]))
	}
	if strings.Join(got, "\n") != strings.Join(want, "\n") {
		t.Errorf("results:\n  %s\nwant:\n  %s", strings.Join(got, "\n  "), strings.Join(want, "\n  "))
	}
}

func compact(t *testing.T, r json.RawMessage) string {
	t.Helper()
	var b bytes.Buffer
	if err := json.Compact(&b, r); err != nil {
		t.Fatalf("invalid JSON %q: %v", r, err)
	}
	return b.String()
}

// faulty wraps a bus so that fault decides, per published message, how many
// copies go out: 0 drops it, 2 duplicates it.
type faulty struct {
	runtime.Bus
	fault func(topic string, msg *message.Message) int
}

func (b faulty) Publisher() message.Publisher {
	return faultyPublisher{b.Bus.Publisher(), b.fault}
}

type faultyPublisher struct {
	message.Publisher
	fault func(topic string, msg *message.Message) int
}

func (p faultyPublisher) Publish(topic string, msgs ...*message.Message) error {
	var out []*message.Message
	for _, m := range msgs {
		for i := range p.fault(topic, m) {
			if i == 0 {
				out = append(out, m)
			} else {
				out = append(out, message.NewMessage(m.UUID+"-dup"+fmt.Sprint(i), m.Payload))
			}
		}
	}
	if len(out) == 0 {
		return nil
	}
	return p.Publisher.Publish(topic, out...)
}

// Close leaves the bus's publisher open: it is shared.
func (p faultyPublisher) Close() error { return nil }

// taskLog counts the task messages a runner publishes, per task.
type taskLog struct {
	mu         sync.Mutex
	dispatches map[string]int
}

func (l *taskLog) record(topic string, msg *message.Message) *runtime.TaskMessage {
	if _, ok := runtime.LabelOf(topic); !ok {
		return nil
	}
	m, err := runtime.DecodeTask(msg)
	if err != nil {
		return nil
	}
	l.mu.Lock()
	if l.dispatches == nil {
		l.dispatches = map[string]int{}
	}
	l.dispatches[m.TaskID]++
	l.mu.Unlock()
	return m
}

func (l *taskLog) count(id string) int {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.dispatches[id]
}

func isEvent(topic string) bool { return strings.HasPrefix(topic, runtime.EventTopic("")) }
