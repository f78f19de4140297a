package runtime

import (
	"encoding/json"
	"fmt"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/ThreeDotsLabs/watermill/message"

	"github.com/ompdev/omp/compiler"
)

// The scheduler's table tests drive it as its run loop does, one input at a
// time followed by a step, but with the inputs and their times given by the
// test: no bus, no goroutine, no timer. What it publishes is recorded as
// one line per message: "LABEL ID#ATTEMPT.DISPATCH" for a task (with its
// arguments and timeout when it has them) and the type for a control
// message.

// recordPub is the scheduler's publisher in these tests.
type recordPub struct{ lines []string }

func (p *recordPub) Publish(topic string, msgs ...*message.Message) error {
	for _, msg := range msgs {
		if label, ok := LabelOf(topic); ok {
			m, err := DecodeTask(msg)
			if err != nil {
				return err
			}
			line := fmt.Sprintf("%s %s#%d.%d", label, m.TaskID, m.Attempt, m.Dispatch)
			for _, a := range m.Args {
				line += " " + string(a)
			}
			if m.Options.Timeout > 0 {
				line += " timeout=" + m.Options.Timeout.std().String()
			}
			if len(m.Then) > 0 {
				var ids []string
				for _, f := range m.Then {
					ids = append(ids, f.TaskID)
				}
				line += " then=" + strings.Join(ids, ",")
			}
			p.lines = append(p.lines, line)
			continue
		}
		if topic != ControlTopic {
			return fmt.Errorf("publish to unexpected topic %s", topic)
		}
		c, err := DecodeControl(msg)
		if err != nil {
			return err
		}
		p.lines = append(p.lines, string(c.Type))
	}
	return nil
}

func (p *recordPub) Close() error { return nil }

func (p *recordPub) take() []string {
	l := p.lines
	p.lines = nil
	return l
}

// pubBus gives the scheduler its publisher; nothing else of a Bus is used
// outside the run loop.
type pubBus struct {
	Bus
	pub message.Publisher
}

func (b pubBus) Publisher() message.Publisher { return b.pub }

// schedHarness is a scheduler whose clock is the test's.
type schedHarness struct {
	t     *testing.T
	s     *scheduler
	start time.Time
	now   time.Time
	pub   *recordPub
	// updates are the Listener's updates, one line each (see line).
	updates []string
}

func newHarness(t *testing.T, g *compiler.Graph, cfg Config) *schedHarness {
	t.Helper()
	h := &schedHarness{t: t, pub: &recordPub{}, start: time.Date(2026, 1, 2, 3, 4, 5, 0, time.UTC)}
	h.now = h.start
	cfg.RunID = "r1"
	cfg.Bus = pubBus{pub: h.pub}
	cfg.Listener = ListenerFunc(func(u Update) { h.updates = append(h.updates, updateLine(u)) })
	cfg.setDefaults()
	if err := cfg.Validate(); err != nil {
		t.Fatal(err)
	}
	s, err := newScheduler(g, &cfg)
	if err != nil {
		t.Fatal(err)
	}
	s.clock = func() time.Time { return h.now }
	h.s = s
	s.begin(h.start)
	s.step()
	return h
}

// updateLine is an update as the tests compare it.
func updateLine(u Update) string {
	if u.Type == UpdateWarning {
		return "warning: " + u.Message
	}
	if u.Type != UpdateState {
		return fmt.Sprintf("%s update %d", u.Task.ID, u.Type)
	}
	line := fmt.Sprintf("%s %s %d", u.Task.ID, u.State, u.Task.Attempts)
	if u.Message != "" {
		line += ": " + u.Message
	}
	if u.State == Retry {
		line += " (backoff " + u.Backoff.String() + ")"
	}
	return line
}

// An input is what the run loop would hear, handled at the step's time.
type input func(h *schedHarness)

// event is an event a worker sent, with the run's id, worker w1 and
// delivery d1 unless set.
func event(e Event) input {
	return func(h *schedHarness) {
		if e.RunID == "" {
			e.RunID = h.s.cfg.RunID
		}
		if e.Worker == "" && e.Type != EventLease {
			e.Worker = "w1"
		}
		if e.Delivery == "" && e.Type != EventLease {
			e.Delivery = "d1"
		}
		h.s.event(&e, h.now)
	}
}

func started(id string, attempt, dispatch, seq int) input {
	return event(Event{Type: EventStarted, TaskID: id, Attempt: attempt, Dispatch: dispatch, Seq: seq})
}

func result(id string, attempt, dispatch, seq int, res string) input {
	return event(Event{Type: EventResult, TaskID: id, Attempt: attempt, Dispatch: dispatch, Seq: seq, Result: json.RawMessage(res)})
}

func failure(id string, attempt, dispatch, seq int, msg string) input {
	return event(Event{Type: EventFailure, TaskID: id, Attempt: attempt, Dispatch: dispatch, Seq: seq, Error: msg})
}

func logLine(id string, attempt, dispatch, seq int, line string) input {
	return event(Event{Type: EventLog, TaskID: id, Attempt: attempt, Dispatch: dispatch, Seq: seq, Line: line})
}

func lease(id string, attempt int) input {
	return event(Event{Type: EventLease, Leases: []Lease{{TaskID: id, Attempt: attempt}}})
}

// beat is a heartbeat of a worker with a 1s interval.
func beat(worker string, concurrency int, labels ...string) input {
	return func(h *schedHarness) {
		h.s.heartbeat(&Heartbeat{Worker: worker, Labels: labels, Concurrency: concurrency, Interval: Duration(time.Second)}, h.now)
	}
}

// chainBeat is the heartbeat of a worker that runs chains.
func chainBeat(worker string, labels ...string) input {
	return func(h *schedHarness) {
		h.s.heartbeat(&Heartbeat{Worker: worker, Labels: labels, Concurrency: 1, Interval: Duration(time.Second), Chains: true}, h.now)
	}
}

// check is a tick of the periodic check; retries the retry timer firing;
// interrupt ctx's cancellation; timeout the end of Config.Timeout; grace
// the end of CancelGrace after either.
func check() input     { return func(h *schedHarness) { h.s.check(h.now) } }
func retries() input   { return func(h *schedHarness) { h.s.fireRetries(h.now) } }
func interrupt() input { return func(h *schedHarness) { h.s.cancelWith(reasonInterrupted) } }
func runTimeout() input {
	return func(h *schedHarness) { h.s.cancelWith(reasonTimeout(h.s.cfg.Timeout)) }
}
func graceOver() input { return func(h *schedHarness) { h.s.graceOver() } }

// in is one input at a time since the run's start, and what the scheduler
// published while handling it.
type in struct {
	at  time.Duration
	do  input
	pub []string
}

type taskWant struct {
	state    State
	attempts int
	err      string
	log      []string
}

type schedCase struct {
	name  string
	nodes []*compiler.Node
	cfg   Config
	// start is what the run published as it began.
	start  []string
	inputs []in
	tasks  map[string]taskWant
	status State
	// updates, when set, are every update of the run in order.
	updates []string
	// results, when set, are the report's results.
	results []string
	// unordered: the tasks of several labels are published in no set
	// order (the labels are a map), so compare each input's messages as a
	// set.
	unordered bool
}

// node is a task of kind echo, or a reduce node when its Reducer is set.
func node(id string, opts ...func(*compiler.Node)) *compiler.Node {
	n := &compiler.Node{ID: id, Op: compiler.OpTask, Kind: "echo", Name: id, Action: "run",
		Pos: compiler.Pos{File: "t.omp", Line: 1, Column: 1}}
	for _, o := range opts {
		o(n)
	}
	return n
}

func after(ids ...string) func(*compiler.Node) {
	return func(n *compiler.Node) { n.Deps = append(n.Deps, ids...) }
}

func retry(n int, backoff time.Duration) func(*compiler.Node) {
	return func(nd *compiler.Node) { nd.Opts.Retries, nd.Opts.Backoff = n, backoff }
}

// from makes id's result the node's input (a -> b).
func from(id string) func(*compiler.Node) {
	return func(n *compiler.Node) { n.Inputs, n.Deps = append(n.Inputs, id), append(n.Deps, id) }
}

func label(l string) func(*compiler.Node) { return func(n *compiler.Node) { n.Label = l } }

func ms(n int) time.Duration  { return time.Duration(n) * time.Millisecond }
func sec(n int) time.Duration { return time.Duration(n) * time.Second }

func runSchedCase(t *testing.T, c schedCase) {
	g := &compiler.Graph{File: "t.omp", Nodes: c.nodes}
	for _, n := range c.nodes {
		g.Outputs = append(g.Outputs, compiler.Output{Node: n.ID, Pos: n.Pos})
	}
	h := newHarness(t, g, c.cfg)
	same := func(got, want []string) bool {
		if c.unordered {
			got, want = slices.Sorted(slices.Values(got)), slices.Sorted(slices.Values(want))
		}
		return slices.Equal(got, want)
	}
	if got := h.pub.take(); !same(got, c.start) {
		t.Errorf("at start: published %q, want %q", got, c.start)
	}
	last := time.Duration(0)
	for i, step := range c.inputs {
		if step.at < last {
			t.Fatalf("input %d: at %s, before the one before it", i, step.at)
		}
		last = step.at
		h.now = h.start.Add(step.at)
		step.do(h)
		h.s.step()
		if got := h.pub.take(); !same(got, step.pub) {
			t.Errorf("input %d at %s: published %q, want %q", i, step.at, got, step.pub)
		}
	}
	rep := h.s.report(h.start)
	for _, tr := range rep.Tasks {
		w, ok := c.tasks[tr.ID]
		if !ok {
			t.Errorf("task %s: no expectation (it is %s after %d attempts)", tr.ID, tr.State, tr.Attempts)
			continue
		}
		if tr.State != w.state || tr.Attempts != w.attempts || tr.Error != w.err {
			t.Errorf("task %s: %s after %d attempts, error %q; want %s after %d, error %q",
				tr.ID, tr.State, tr.Attempts, tr.Error, w.state, w.attempts, w.err)
		}
		if w.log != nil && !slices.Equal(tr.Log, w.log) {
			t.Errorf("task %s: log %q, want %q", tr.ID, tr.Log, w.log)
		}
	}
	done := true
	for _, w := range c.tasks {
		done = done && w.state.Done()
	}
	if done != (h.s.remaining == 0) {
		t.Errorf("%d tasks remain, want the run to end: %v", h.s.remaining, done)
	}
	if done && rep.Status != c.status {
		t.Errorf("status %s, want %s", rep.Status, c.status)
	}
	if c.results != nil {
		var got []string
		for _, r := range rep.Results {
			got = append(got, string(r))
		}
		if !slices.Equal(got, c.results) {
			t.Errorf("results %q, want %q", got, c.results)
		}
	}
	if c.updates != nil && !slices.Equal(h.updates, c.updates) {
		t.Errorf("updates:\n\t%s\nwant:\n\t%s", strings.Join(h.updates, "\n\t"), strings.Join(c.updates, "\n\t"))
	}
}

func TestSchedulerRetries(t *testing.T) {
	for _, c := range []schedCase{{
		// The wait before attempt n+1 is the backoff doubled n-1 times,
		// capped by MaxBackoff: 1s, 2s, then 3s.
		name:  "backoff doubles up to the cap",
		nodes: []*compiler.Node{node("a", retry(4, sec(1)))},
		cfg:   Config{MaxBackoff: sec(3)},
		start: []string{"PING", "default a#1.1"},
		inputs: []in{
			{0, started("a", 1, 1, 1), nil},
			{0, failure("a", 1, 1, 2, "boom"), nil},
			{ms(999), retries(), nil},
			{sec(1), retries(), []string{"default a#2.1"}},
			{sec(1), failure("a", 2, 1, 1, "boom"), nil},
			{ms(2999), retries(), nil},
			{sec(3), retries(), []string{"default a#3.1"}},
			{sec(3), failure("a", 3, 1, 1, "boom"), nil},
			{ms(5999), retries(), nil},
			{sec(6), retries(), []string{"default a#4.1"}},
			{sec(6), failure("a", 4, 1, 1, "boom"), nil},
			{sec(9), retries(), []string{"default a#5.1"}},
			// Retries spent: the fifth failure is final and fails fast.
			{sec(9), failure("a", 5, 1, 1, "boom 5"), []string{"DRAIN"}},
		},
		tasks:  map[string]taskWant{"a": {Failure, 5, "boom 5", nil}},
		status: Failure,
		updates: []string{
			"a STARTED 1",
			"a RETRY 1: boom (backoff 1s)",
			"a RETRY 2: boom (backoff 2s)",
			"a RETRY 3: boom (backoff 3s)",
			"a RETRY 4: boom (backoff 3s)",
			"a FAILURE 5: boom 5",
		},
	}, {
		name:  "retry then success",
		nodes: []*compiler.Node{node("a", retry(2, 0)), node("b", after("a"))},
		start: []string{"PING", "default a#1.1"},
		inputs: []in{
			{0, failure("a", 1, 1, 1, "flaky"), nil},
			// No backoff: due at once.
			{0, retries(), []string{"default a#2.1"}},
			// The first attempt's late events change nothing.
			{ms(1), result("a", 1, 1, 2, "1"), nil},
			{ms(2), result("a", 2, 1, 1, "2"), []string{"default b#1.1"}},
			{ms(3), result("b", 1, 1, 1, "3"), nil},
		},
		tasks:  map[string]taskWant{"a": {Success, 2, "", nil}, "b": {Success, 1, "", nil}},
		status: Success,
	}, {
		name:  "permanent failure spends no retry",
		nodes: []*compiler.Node{node("a", retry(3, sec(1)))},
		start: []string{"PING", "default a#1.1"},
		inputs: []in{
			{0, event(Event{Type: EventFailure, TaskID: "a", Attempt: 1, Dispatch: 1, Seq: 1, Error: "bad input", Permanent: true}), []string{"DRAIN"}},
			{sec(5), retries(), nil},
		},
		tasks:  map[string]taskWant{"a": {Failure, 1, "bad input", nil}},
		status: Failure,
	}, {
		// The timeout option travels with every attempt; the worker
		// enforces it, and an attempt that timed out is retried as any
		// failed one.
		name:  "attempt timeout is retried",
		nodes: []*compiler.Node{node("a", retry(1, ms(10)), func(n *compiler.Node) { n.Opts.Timeout = sec(2) })},
		start: []string{"PING", "default a#1.1 timeout=2s"},
		inputs: []in{
			{0, started("a", 1, 1, 1), nil},
			{sec(2), failure("a", 1, 1, 2, "timed out after 2s"), nil},
			{sec(2) + ms(10), retries(), []string{"default a#2.1 timeout=2s"}},
			{sec(4) + ms(10), failure("a", 2, 1, 1, "timed out after 2s"), []string{"DRAIN"}},
		},
		tasks:   map[string]taskWant{"a": {Failure, 2, "timed out after 2s", nil}},
		status:  Failure,
		updates: []string{"a STARTED 1", "a RETRY 1: timed out after 2s (backoff 10ms)", "a FAILURE 2: timed out after 2s"},
	}} {
		t.Run(c.name, func(t *testing.T) { runSchedCase(t, c) })
	}
}

func TestSchedulerLeases(t *testing.T) {
	// LeaseInterval is 10s: a claim lapses after 30s without word.
	for _, c := range []schedCase{{
		name:  "a lease keeps the claim",
		nodes: []*compiler.Node{node("a")},
		start: []string{"PING", "default a#1.1"},
		inputs: []in{
			{0, started("a", 1, 1, 1), nil},
			{sec(20), lease("a", 1), nil},
			{sec(50), check(), nil},
			{sec(51), result("a", 1, 1, 2, "7"), nil},
		},
		tasks:  map[string]taskWant{"a": {Success, 1, "", nil}},
		status: Success,
	}, {
		// Its worker died: the task runs again as attempt 2, which spends
		// no retry (retries 0), and the dead worker's late events are
		// ignored.
		name:  "a lapsed lease is a new attempt",
		nodes: []*compiler.Node{node("a")},
		start: []string{"PING", "default a#1.1"},
		inputs: []in{
			{0, started("a", 1, 1, 1), nil},
			{sec(10), lease("a", 1), nil},
			{sec(40), check(), nil},
			{sec(40) + 1, check(), []string{"default a#2.2"}},
			{sec(41), result("a", 1, 1, 2, "1"), nil},
			{sec(42), event(Event{Type: EventStarted, TaskID: "a", Attempt: 2, Dispatch: 2, Seq: 1, Worker: "w2"}), nil},
			{sec(43), event(Event{Type: EventResult, TaskID: "a", Attempt: 2, Dispatch: 2, Seq: 2, Worker: "w2", Result: json.RawMessage("2")}), nil},
		},
		tasks:   map[string]taskWant{"a": {Success, 2, "", nil}},
		status:  Success,
		updates: []string{"a STARTED 1", "a PENDING 2: worker w1 lost", "a STARTED 2", "a SUCCESS 2"},
	}, {
		// Attempt 1's worker died, attempt 2 failed: that is the first
		// failure, so retries 1 allows attempt 3, after the backoff of a
		// first failure.
		name:  "a lost worker spends no retry",
		nodes: []*compiler.Node{node("a", retry(1, sec(1)))},
		start: []string{"PING", "default a#1.1"},
		inputs: []in{
			{0, started("a", 1, 1, 1), nil},
			{sec(31), check(), []string{"default a#2.2"}},
			{sec(32), started("a", 2, 2, 1), nil},
			{sec(33), failure("a", 2, 2, 2, "boom"), nil},
			{sec(34), retries(), []string{"default a#3.1"}},
			{sec(35), result("a", 3, 1, 1, "3"), nil},
		},
		tasks:  map[string]taskWant{"a": {Success, 3, "", nil}},
		status: Success,
		updates: []string{"a STARTED 1", "a PENDING 2: worker w1 lost", "a STARTED 2",
			"a RETRY 2: boom (backoff 1s)", "a SUCCESS 3"},
	}, {
		name:  "a task that loses every worker fails after MaxDeliveries",
		nodes: []*compiler.Node{node("a")},
		cfg:   Config{MaxDeliveries: 2},
		start: []string{"PING", "default a#1.1"},
		inputs: []in{
			{0, started("a", 1, 1, 1), nil},
			{sec(31), check(), []string{"default a#2.2"}},
			{sec(31), started("a", 2, 2, 1), nil},
			{sec(62), check(), []string{"DRAIN"}},
		},
		tasks:  map[string]taskWant{"a": {Failure, 2, "delivered 2 times without a result", nil}},
		status: Failure,
	}, {
		// An unclaimed message is lost only when a live worker of its
		// label has room and claims nothing for DispatchTimeout (30s); it
		// goes again as the same attempt.
		name:  "a lost message is published again",
		nodes: []*compiler.Node{node("a")},
		start: []string{"PING", "default a#1.1"},
		inputs: []in{
			{sec(31), check(), nil}, // no worker known: queued, not lost
			{sec(31), beat("w1", 1, "default"), nil},
			{sec(31), check(), []string{"default a#1.2"}},
			{sec(32), result("a", 1, 2, 1, "1"), nil},
		},
		tasks:  map[string]taskWant{"a": {Success, 1, "", nil}},
		status: Success,
	}} {
		t.Run(c.name, func(t *testing.T) { runSchedCase(t, c) })
	}
}

func TestSchedulerStops(t *testing.T) {
	for _, c := range []schedCase{{
		// a fails: the queued b, the waiting c and the retrying r are
		// cancelled for it, DRAIN tells the workers, and the running d
		// finishes.
		name: "fail fast",
		nodes: []*compiler.Node{
			node("a"), node("b"), node("c", after("a")), node("d"), node("r", retry(2, sec(10))),
		},
		start: []string{"PING", "default a#1.1", "default b#1.1", "default d#1.1", "default r#1.1"},
		inputs: []in{
			{0, started("a", 1, 1, 1), nil},
			{0, started("d", 1, 1, 1), nil},
			{0, failure("r", 1, 1, 1, "flaky"), nil},
			{sec(1), failure("a", 1, 1, 2, "boom"), []string{"DRAIN"}},
			{sec(11), retries(), nil},
			{sec(12), result("d", 1, 1, 2, "4"), nil},
		},
		tasks: map[string]taskWant{
			"a": {Failure, 1, "boom", nil},
			"b": {Cancelled, 1, "cancelled: a failed", nil},
			"c": {Cancelled, 0, "cancelled: a failed", nil},
			"d": {Success, 1, "", nil},
			"r": {Cancelled, 1, "cancelled: a failed", nil},
		},
		status: Failure,
	}, {
		// What does not depend on a runs on; what does is cancelled,
		// naming the failure at the root of its chain.
		name:  "keep going",
		nodes: []*compiler.Node{node("a"), node("b"), node("c", after("a")), node("d", after("c"))},
		cfg:   Config{KeepGoing: true},
		start: []string{"PING", "default a#1.1", "default b#1.1"},
		inputs: []in{
			{0, failure("a", 1, 1, 1, "boom"), nil},
			{sec(1), result("b", 1, 1, 1, "2"), nil},
		},
		tasks: map[string]taskWant{
			"a": {Failure, 1, "boom", nil},
			"b": {Success, 1, "", nil},
			"c": {Cancelled, 0, "cancelled: a failed", nil},
			"d": {Cancelled, 0, "cancelled: a failed", nil},
		},
		status: Failure,
	}, {
		// ctx is cancelled: CANCEL stops the running a, whose worker
		// answers; the queued b and the waiting c never ran.
		name:  "interrupted",
		nodes: []*compiler.Node{node("a"), node("b"), node("c", after("a"))},
		start: []string{"PING", "default a#1.1", "default b#1.1"},
		inputs: []in{
			{0, started("a", 1, 1, 1), nil},
			{sec(1), interrupt(), []string{"CANCEL"}},
			{sec(1), event(Event{Type: EventFailure, TaskID: "a", Attempt: 1, Dispatch: 1, Seq: 2, Error: "cancelled", Cancelled: true}), nil},
		},
		tasks: map[string]taskWant{
			"a": {Cancelled, 1, "cancelled: interrupted", nil},
			"b": {Cancelled, 1, "cancelled: interrupted", nil},
			"c": {Cancelled, 0, "cancelled: interrupted", nil},
		},
		status: Cancelled,
	}, {
		// The run's timeout cancels it; a running attempt that never
		// answers is cancelled when CancelGrace ends. A later
		// interruption does not change the reason.
		name:  "run timeout",
		nodes: []*compiler.Node{node("a"), node("b")},
		cfg:   Config{Timeout: time.Minute},
		start: []string{"PING", "default a#1.1", "default b#1.1"},
		inputs: []in{
			{0, started("a", 1, 1, 1), nil},
			{sec(60), runTimeout(), []string{"CANCEL"}},
			{sec(61), interrupt(), nil},
			{sec(65), graceOver(), nil},
		},
		tasks: map[string]taskWant{
			"a": {Cancelled, 1, "cancelled: run timeout 1m0s exceeded (did not stop within 5s)", nil},
			"b": {Cancelled, 1, "cancelled: run timeout 1m0s exceeded", nil},
		},
		status: Cancelled,
	}, {
		// A run that failed fast and is then interrupted: the tasks the
		// drain cancelled keep its reason, the running one gets the
		// interruption's.
		name:  "interrupted after failing fast",
		nodes: []*compiler.Node{node("a"), node("b"), node("d")},
		start: []string{"PING", "default a#1.1", "default b#1.1", "default d#1.1"},
		inputs: []in{
			{0, started("d", 1, 1, 1), nil},
			{0, failure("a", 1, 1, 1, "boom"), []string{"DRAIN"}},
			{sec(1), interrupt(), []string{"CANCEL"}},
			{sec(1), event(Event{Type: EventFailure, TaskID: "d", Attempt: 1, Dispatch: 1, Seq: 2, Error: "cancelled", Cancelled: true}), nil},
		},
		tasks: map[string]taskWant{
			"a": {Failure, 1, "boom", nil},
			"b": {Cancelled, 1, "cancelled: a failed", nil},
			"d": {Cancelled, 1, "cancelled: interrupted", nil},
		},
		status: Cancelled,
	}} {
		t.Run(c.name, func(t *testing.T) { runSchedCase(t, c) })
	}
}

func TestSchedulerNoWorker(t *testing.T) {
	// NoWorkerTimeout 10s: the runner pings every 2s while a label goes
	// unserved, and fails its waiting tasks after 10s of silence that
	// followed a ping.
	for _, c := range []schedCase{{
		name:      "per label",
		nodes:     []*compiler.Node{node("a", label("gpu")), node("b")},
		cfg:       Config{NoWorkerTimeout: sec(10), KeepGoing: true},
		start:     []string{"PING", "default b#1.1", "gpu a#1.1"},
		unordered: true,
		inputs: []in{
			{0, beat("w1", 1, "default"), nil},
			{sec(1), check(), nil}, // gpu unserved since 1s
			{sec(2), check(), []string{"PING"}},
			{sec(2), started("b", 1, 1, 1), nil},
			{sec(10), check(), []string{"PING"}},
			{sec(11), check(), nil},
			{sec(12), result("b", 1, 1, 2, "1"), nil},
		},
		tasks: map[string]taskWant{
			"a": {Failure, 1, "no worker serves label gpu", nil},
			"b": {Success, 1, "", nil},
		},
		status: Failure,
		updates: []string{
			"b STARTED 1",
			"warning: no worker serves label gpu (1 task waits)",
			"a FAILURE 1: no worker serves label gpu",
			"b SUCCESS 1",
		},
	}, {
		// Found unserved at 1s, with no ping since: the timeout waits for
		// an unanswered ping (12s) and half a ping interval more.
		name:  "only after an unanswered ping",
		nodes: []*compiler.Node{node("a", label("gpu"))},
		cfg:   Config{NoWorkerTimeout: sec(10), NoWorkerWarning: time.Hour},
		start: []string{"PING", "gpu a#1.1"},
		inputs: []in{
			{sec(1), check(), nil},
			{sec(12), check(), []string{"PING"}},
			{sec(12) + ms(999), check(), nil},
			{sec(13), check(), []string{"DRAIN"}},
		},
		tasks:  map[string]taskWant{"a": {Failure, 1, "no worker serves label gpu", nil}},
		status: Failure,
	}, {
		// A busy worker still serves its label; a worker's word (here a
		// lease) counts as serving even without a heartbeat.
		name:  "a worker heard of serves its label",
		nodes: []*compiler.Node{node("a", label("gpu")), node("b", label("gpu"))},
		cfg:   Config{NoWorkerTimeout: sec(10), NoWorkerWarning: time.Hour, MaxInFlight: 1},
		start: []string{"PING", "gpu a#1.1"},
		inputs: []in{
			{sec(1), started("a", 1, 1, 1), nil},
			{sec(2), check(), nil},
			{sec(9), lease("a", 1), nil},
			{sec(20), check(), nil},
			{sec(21), result("a", 1, 1, 2, "1"), []string{"gpu b#1.1"}},
			{sec(22), result("b", 1, 1, 1, "2"), nil},
		},
		tasks:  map[string]taskWant{"a": {Success, 1, "", nil}, "b": {Success, 1, "", nil}},
		status: Success,
	}, {
		name:  "zero waits forever",
		nodes: []*compiler.Node{node("a", label("gpu"))},
		cfg:   Config{NoWorkerWarning: time.Hour},
		start: []string{"PING", "gpu a#1.1"},
		inputs: []in{
			{sec(1), check(), nil},
			{time.Hour - 1, check(), nil},
		},
		tasks: map[string]taskWant{"a": {Pending, 0, "", nil}},
	}} {
		t.Run(c.name, func(t *testing.T) { runSchedCase(t, c) })
	}
}

func TestSchedulerEventOrder(t *testing.T) {
	for _, c := range []schedCase{{
		// Events that overtook an earlier one wait for it; repeats are
		// dropped; a BATCH is its events in order.
		name:  "reordered and repeated",
		nodes: []*compiler.Node{node("a")},
		start: []string{"PING", "default a#1.1"},
		inputs: []in{
			{0, logLine("a", 1, 1, 2, "two"), nil},
			{0, started("a", 1, 1, 1), nil},
			{0, logLine("a", 1, 1, 2, "two again"), nil},
			{0, result("a", 1, 1, 5, "1"), nil},
			{0, event(Event{Type: EventBatch, Events: []*Event{
				{Type: EventLog, RunID: "r1", TaskID: "a", Attempt: 1, Dispatch: 1, Delivery: "d1", Seq: 4, Line: "four"},
				{Type: EventLog, RunID: "r1", TaskID: "a", Attempt: 1, Dispatch: 1, Delivery: "d1", Seq: 3, Line: "three"},
			}}), nil},
		},
		tasks:   map[string]taskWant{"a": {Success, 1, "", []string{"two", "three", "four"}}},
		status:  Success,
		updates: []string{"a STARTED 1", "a update 1", "a update 1", "a update 1", "a SUCCESS 1"},
	}, {
		// Seq 2 never comes: after gapLimit (500ms) the runner goes on
		// without it.
		name:  "a lost event is skipped",
		nodes: []*compiler.Node{node("a")},
		start: []string{"PING", "default a#1.1"},
		inputs: []in{
			{0, started("a", 1, 1, 1), nil},
			{sec(1), logLine("a", 1, 1, 3, "three"), nil},
			{sec(1), result("a", 1, 1, 4, "1"), nil},
			{sec(1) + gapLimit, check(), nil},
			{sec(1) + gapLimit + 1, check(), nil},
		},
		tasks:  map[string]taskWant{"a": {Success, 1, "", []string{"three"}}},
		status: Success,
	}, {
		// A second delivery of the same message has nothing to be ordered
		// with: its events apply as they come.
		name:  "a second delivery",
		nodes: []*compiler.Node{node("a")},
		start: []string{"PING", "default a#1.1"},
		inputs: []in{
			{0, started("a", 1, 1, 1), nil},
			{0, event(Event{Type: EventResult, TaskID: "a", Attempt: 1, Dispatch: 1, Seq: 3, Delivery: "d2", Result: json.RawMessage("1")}), nil},
		},
		tasks:  map[string]taskWant{"a": {Success, 1, "", nil}},
		status: Success,
	}, {
		// The outcome overtook the claim: it waits for it, and only then
		// do the dependents run.
		name:  "a result that overtook its claim",
		nodes: []*compiler.Node{node("a"), node("b", after("a"))},
		start: []string{"PING", "default a#1.1"},
		inputs: []in{
			{sec(1), result("a", 1, 1, 2, "1"), nil},
			{sec(1), started("a", 1, 1, 1), []string{"default b#1.1"}},
			{sec(2), event(Event{Type: EventResult, TaskID: "b", Attempt: 1, Dispatch: 1, Seq: 1, Result: json.RawMessage("2")}), nil},
		},
		tasks:  map[string]taskWant{"a": {Success, 1, "", nil}, "b": {Success, 1, "", nil}},
		status: Success,
	}} {
		t.Run(c.name, func(t *testing.T) { runSchedCase(t, c) })
	}
}

func TestSchedulerArguments(t *testing.T) {
	ref := func(n *compiler.Node) {
		n.Args = compiler.Values{compiler.Ref{Node: "a"}, []any{compiler.Ref{Node: "a"}, 2.0}, map[string]any{"$ref": "a"}}
		n.Deps = []string{"a"}
	}
	runSchedCase(t, schedCase{
		// A reference becomes its node's result; a float keeps its
		// fraction; a literal map shaped like a reference is data. The
		// reduce node is computed by the runner, without publishing.
		nodes: []*compiler.Node{
			node("a"), node("b", ref),
			{ID: "s", Op: compiler.OpReduce, Reducer: "sum", Inputs: []string{"a", "b"}},
		},
		start: []string{"PING", "default a#1.1"},
		inputs: []in{
			{0, result("a", 1, 1, 1, "1"), []string{`default b#1.1 1 [1,2.0] {"$ref":"a"}`}},
			{0, result("b", 1, 1, 1, "3"), nil},
		},
		tasks: map[string]taskWant{
			"a": {Success, 1, "", nil}, "b": {Success, 1, "", nil}, "s": {Success, 1, "", nil},
		},
		status:  Success,
		results: []string{"1", "3", "4"},
	})
}

// A Listener hears each node's result with its change to SUCCESS, a reduce
// node's too, and no result with any other change: the run history keeps
// results from these updates alone.
func TestUpdateResult(t *testing.T) {
	g := &compiler.Graph{File: "t.omp", Nodes: []*compiler.Node{
		node("a"), node("b"),
		{ID: "s", Op: compiler.OpReduce, Reducer: "sum", Inputs: []string{"a", "b"}},
	}}
	var got []string
	h := newHarness(t, g, Config{})
	h.s.cfg.Listener = ListenerFunc(func(u Update) {
		if u.Type == UpdateState {
			got = append(got, fmt.Sprintf("%s %s %s", u.Task.ID, u.State, u.Result))
		}
	})
	for _, do := range []input{started("a", 1, 1, 1), result("a", 1, 1, 2, "1"), result("b", 1, 1, 1, "3")} {
		do(h)
		h.s.step()
	}
	want := []string{"a STARTED ", "a SUCCESS 1", "b SUCCESS 3", "s SUCCESS 4"}
	if !slices.Equal(got, want) {
		t.Errorf("updates %q, want %q", got, want)
	}
}

func TestSchedulerChains(t *testing.T) {
	// a -> b -> c -> d: a goes out before any heartbeat, so alone; by its
	// result a worker that runs chains is known.
	chain4 := func(opts ...func(*compiler.Node)) []*compiler.Node {
		return []*compiler.Node{node("a"), node("b", from("a")), node("c", append(opts, from("b"))...), node("d", from("c"))}
	}
	// chained is what follows a's result: b goes out with c and d.
	chained := func(rest ...in) []in {
		return append([]in{
			{0, chainBeat("w1", "default"), nil},
			{ms(1), result("a", 1, 1, 1, "1"), []string{"default b#1.1 then=c,d"}},
		}, rest...)
	}
	all := func(st State, n int) map[string]taskWant {
		return map[string]taskWant{"a": {st, n, "", nil}, "b": {st, n, "", nil}, "c": {st, n, "", nil}, "d": {st, n, "", nil}}
	}
	for _, c := range []schedCase{{
		name:  "a chain rides in one message",
		nodes: chain4(),
		start: []string{"PING", "default a#1.1"},
		inputs: chained(
			in{ms(2), result("b", 1, 1, 1, "2"), nil},
			in{ms(3), result("c", 1, 1, 1, "3"), nil},
			in{ms(4), result("d", 1, 1, 1, "4"), nil},
		),
		tasks:   all(Success, 1),
		status:  Success,
		results: []string{"1", "2", "3", "4"},
	}, {
		name:  "no chain for a worker that does not run them",
		nodes: chain4(),
		start: []string{"PING", "default a#1.1"},
		inputs: []in{
			{0, beat("w1", 1, "default"), nil},
			{ms(1), result("a", 1, 1, 1, "1"), []string{"default b#1.1"}},
			{ms(2), result("b", 1, 1, 1, "2"), []string{"default c#1.1"}},
			{ms(3), result("c", 1, 1, 1, "3"), []string{"default d#1.1"}},
			{ms(4), result("d", 1, 1, 1, "4"), nil},
		},
		tasks:  all(Success, 1),
		status: Success,
	}, {
		name:  "no chain while one worker of the label does not run them",
		nodes: chain4(),
		start: []string{"PING", "default a#1.1"},
		inputs: []in{
			{0, chainBeat("w1", "default"), nil},
			{0, beat("w2", 1, "default"), nil},
			{ms(1), result("a", 1, 1, 1, "1"), []string{"default b#1.1"}},
		},
		tasks: map[string]taskWant{"a": {Success, 1, "", nil}, "b": {Pending, 0, "", nil},
			"c": {Pending, 0, "", nil}, "d": {Pending, 0, "", nil}},
	}, {
		name:  "a chain ends at another label",
		nodes: chain4(label("gpu")),
		start: []string{"PING", "default a#1.1"},
		inputs: []in{
			{0, chainBeat("w1", "default", "gpu"), nil},
			{ms(1), result("a", 1, 1, 1, "1"), []string{"default b#1.1"}},
			{ms(2), result("b", 1, 1, 1, "2"), []string{"gpu c#1.1"}},
			{ms(3), result("c", 1, 1, 1, "3"), []string{"default d#1.1"}},
			{ms(4), result("d", 1, 1, 1, "4"), nil},
		},
		tasks:  all(Success, 1),
		status: Success,
	}, {
		// The bus may deliver a follower's events before its
		// predecessor's outcome, which dispatches the follower.
		name:  "a follower's events may come first",
		nodes: chain4(),
		start: []string{"PING", "default a#1.1"},
		inputs: chained(
			in{ms(2), logLine("c", 1, 1, 1, "hello"), nil},
			in{ms(2), result("d", 1, 1, 1, "4"), nil},
			in{ms(3), result("c", 1, 1, 2, "3"), nil},
			in{ms(4), result("b", 1, 1, 1, "2"), nil},
		),
		tasks: map[string]taskWant{"a": {Success, 1, "", nil}, "b": {Success, 1, "", nil},
			"c": {Success, 1, "", []string{"hello"}}, "d": {Success, 1, "", nil}},
		status:  Success,
		results: []string{"1", "2", "3", "4"},
	}, {
		// c's retry goes out alone, and d, no longer chained, by the
		// runner once c succeeded.
		name:  "a follower that fails is retried alone",
		nodes: chain4(retry(1, sec(1))),
		start: []string{"PING", "default a#1.1"},
		inputs: chained(
			in{ms(2), result("b", 1, 1, 1, "2"), nil},
			in{ms(3), failure("c", 1, 1, 1, "boom"), nil},
			in{sec(1) + ms(3), retries(), []string{"default c#2.1"}},
			in{sec(2), result("c", 2, 1, 1, "3"), []string{"default d#1.1"}},
			in{sec(2), result("d", 1, 1, 1, "4"), nil},
		),
		tasks: map[string]taskWant{"a": {Success, 1, "", nil}, "b": {Success, 1, "", nil},
			"c": {Success, 2, "", nil}, "d": {Success, 1, "", nil}},
		status: Success,
	}, {
		// Heartbeats come every second: three missed and w1 is lost,
		// and with it c, which nobody else has the message of.
		name:  "a follower whose worker is lost is published",
		nodes: chain4(),
		start: []string{"PING", "default a#1.1"},
		inputs: chained(
			in{ms(2), result("b", 1, 1, 1, "2"), nil},
			in{sec(2), check(), nil},
			in{sec(4), check(), []string{"default c#1.2"}},
			in{sec(5), event(Event{Type: EventResult, TaskID: "c", Attempt: 1, Dispatch: 2, Seq: 1, Worker: "w2", Result: json.RawMessage("3")}),
				[]string{"default d#1.1"}},
			in{sec(5), event(Event{Type: EventResult, TaskID: "d", Attempt: 1, Dispatch: 1, Seq: 1, Worker: "w2", Result: json.RawMessage("4")}), nil},
		),
		tasks:  all(Success, 1),
		status: Success,
	}, {
		// b's message was lost: published again, it carries no chain, and
		// c heads a chain of its own.
		name:  "a chain's head published again carries none",
		nodes: chain4(),
		start: []string{"PING", "default a#1.1"},
		inputs: chained(
			in{sec(31), chainBeat("w1", "default"), nil},
			in{sec(31), check(), []string{"default b#1.2"}},
			in{sec(32), result("b", 1, 2, 1, "2"), []string{"default c#1.1 then=d"}},
			in{sec(32), result("c", 1, 1, 1, "3"), nil},
			in{sec(32), result("d", 1, 1, 1, "4"), nil},
		),
		tasks:  all(Success, 1),
		status: Success,
	}, {
		// b failed for good: c, which rode with it, is cancelled, and
		// what a second delivery of b's chain says of c changes nothing.
		name:  "a follower of a failed task is cancelled",
		nodes: chain4(),
		start: []string{"PING", "default a#1.1"},
		inputs: chained(
			in{ms(2), event(Event{Type: EventFailure, TaskID: "b", Attempt: 1, Dispatch: 1, Seq: 1, Error: "boom", Permanent: true}), []string{"DRAIN"}},
			in{ms(3), event(Event{Type: EventResult, TaskID: "c", Attempt: 1, Dispatch: 1, Seq: 1, Delivery: "d2", Result: json.RawMessage("3")}), nil},
		),
		tasks: map[string]taskWant{"a": {Success, 1, "", nil}, "b": {Failure, 1, "boom", nil},
			"c": {Cancelled, 0, "cancelled: b failed", nil}, "d": {Cancelled, 0, "cancelled: b failed", nil}},
		status: Failure,
	}, {
		// A worker that stops releases the follower it will not run.
		name:  "a released follower is published",
		nodes: chain4(),
		start: []string{"PING", "default a#1.1"},
		inputs: chained(
			in{ms(2), result("b", 1, 1, 1, "2"), nil},
			in{ms(3), event(Event{Type: EventRelease, TaskID: "c", Attempt: 1, Dispatch: 1, Seq: 1, Delivery: "d2"}), []string{"default c#1.2"}},
		),
		tasks: map[string]taskWant{"a": {Success, 1, "", nil}, "b": {Success, 1, "", nil},
			"c": {Pending, 0, "", nil}, "d": {Pending, 0, "", nil}},
	}} {
		t.Run(c.name, func(t *testing.T) { runSchedCase(t, c) })
	}
}

// TestSchedulerChainLength: a chain longer than maxChain goes on in the next
// message the runner publishes.
func TestSchedulerChainLength(t *testing.T) {
	n := 2*maxChain + 4
	nodes := []*compiler.Node{node("t0")}
	for i := 1; i < n; i++ {
		nodes = append(nodes, node(fmt.Sprintf("t%d", i), from(fmt.Sprintf("t%d", i-1))))
	}
	g := &compiler.Graph{File: "t.omp", Nodes: nodes, Outputs: []compiler.Output{{Node: nodes[n-1].ID}}}
	h := newHarness(t, g, Config{})
	h.pub.take()
	chainBeat("w1", "default")(h)
	var heads []string
	for i := range n {
		result(fmt.Sprintf("t%d", i), 1, 1, 1, "1")(h)
		h.s.step()
		for _, l := range h.pub.take() {
			head, then, _ := strings.Cut(strings.TrimPrefix(l, "default "), " then=")
			followers := 0
			if then != "" {
				followers = strings.Count(then, ",") + 1
			}
			heads = append(heads, fmt.Sprintf("%s+%d", head, followers))
		}
	}
	// t0 went before any heartbeat: alone.
	want := []string{fmt.Sprintf("t1#1.1+%d", maxChain), fmt.Sprintf("t%d#1.1+%d", maxChain+2, maxChain), fmt.Sprintf("t%d#1.1+0", n-1)}
	if !slices.Equal(heads, want) || h.s.remaining != 0 {
		t.Errorf("heads %q, want %q; %d tasks remain", heads, want, h.s.remaining)
	}
}
