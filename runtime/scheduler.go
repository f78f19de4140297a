package runtime

import (
	"container/heap"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"slices"
	"strconv"
	"time"

	"github.com/ThreeDotsLabs/watermill/message"

	"github.com/ompdev/omp/compiler"
)

// scheduler is one run. All its state belongs to the goroutine of run: events
// arrive on channels and are handled one at a time, so there are no locks and
// Listener calls are never concurrent.
type scheduler struct {
	g   *compiler.Graph
	cfg *Config
	pub message.Publisher
	// clock is time.Now; the scheduler's tests set their own, and drive it
	// with events and times instead of a bus and timers.
	clock  func() time.Time
	tasks  []*task
	byID   map[string]*task
	counts Counts
	// remaining counts the tasks not yet done; the run ends at zero.
	remaining int
	// inflight holds the dispatched tasks, claimed or not, that are not
	// done: the only ones the periodic check looks at.
	inflight map[*task]struct{}
	ready    []*task
	// backlog[head:] are ready tasks waiting for room under MaxInFlight.
	backlog []*task
	head    int
	outbox  []outgoing
	retries retryHeap
	labels  map[string]*labelState
	workers map[string]*workerSeen
	lim     limits

	failed    bool  // a task failed for good
	stopping  bool  // start nothing more: failed fast or cancelled
	cancelled bool  // ctx was cancelled
	infraErr  error // the first infrastructure error
}

type task struct {
	n          *compiler.Node
	rep        *TaskReport
	label      string
	waiting    int // dependencies that have not succeeded yet
	dependents []*task
	state      State
	attempt    int
	// lost counts the attempts whose worker died: they are attempts, but
	// not failures, so they spend no retries.
	lost     int
	dispatch int
	// claimed: a worker sent STARTED for the current dispatch.
	claimed      bool
	dispatchedAt time.Time
	lastSeen     time.Time
	msg          *TaskMessage
	result       json.RawMessage
	// nextSeq is the Seq of the current dispatch's next event; early
	// holds its events that overtook an earlier one, in Seq order, since
	// earlyAt.
	nextSeq  int
	early    []*Event
	earlyAt  time.Time
	delivery string // the delivery whose events are put in order
}

type outgoing struct {
	topic string
	msgs  []*message.Message
}

type labelState struct {
	// lastClaim is when a worker last sent an event of a task of the
	// label: its queue was being consumed then.
	lastClaim time.Time
	warned    bool
	// inflight counts the label's tasks in scheduler.inflight;
	// backlog[head:] are its ready tasks waiting for room under
	// MaxInFlight.
	inflight int
	backlog  []*task
	head     int
}

type workerSeen struct {
	hb   *Heartbeat
	seen time.Time
}

func newScheduler(g *compiler.Graph, cfg *Config) (*scheduler, error) {
	if g == nil {
		return nil, errors.New("runtime: nil graph")
	}
	s := &scheduler{
		g:        g,
		cfg:      cfg,
		pub:      cfg.Bus.Publisher(),
		clock:    time.Now,
		tasks:    make([]*task, len(g.Nodes)),
		byID:     make(map[string]*task, len(g.Nodes)),
		inflight: map[*task]struct{}{},
		labels:   map[string]*labelState{},
		workers:  map[string]*workerSeen{},
	}
	var errs []error
	for i, n := range g.Nodes {
		t := &task{n: n, state: Pending, rep: &TaskReport{
			ID: n.ID, Kind: n.Kind, Name: n.Name, Action: n.Action,
			State: Pending, Pos: n.Pos.String(),
		}}
		switch n.Op {
		case compiler.OpTask:
			t.label = n.Label
			if t.label == "" {
				t.label = DefaultLabel
			}
			t.rep.Label = t.label
			if s.labels[t.label] == nil {
				s.labels[t.label] = &labelState{}
			}
		case compiler.OpReduce:
			t.rep.Kind, t.rep.Action = "reduce", n.Reducer
			if _, ok := reducers[n.Reducer]; !ok {
				errs = append(errs, fmt.Errorf("%s: unknown reducer %q", n.Pos, n.Reducer))
			}
		default:
			errs = append(errs, fmt.Errorf("%s: node %s: unknown op %q", n.Pos, n.ID, n.Op))
		}
		if s.byID[n.ID] != nil {
			errs = append(errs, fmt.Errorf("%s: duplicate node id %s", n.Pos, n.ID))
		}
		s.tasks[i], s.byID[n.ID] = t, t
	}
	for _, t := range s.tasks {
		// Deps should hold every input already; a graph from elsewhere may
		// not, so add the missing ones (with a set: a reduce node over a
		// parallel block has thousands).
		deps := t.n.Deps
		if len(t.n.Inputs) > 0 {
			have := make(map[string]bool, len(deps))
			for _, id := range deps {
				have[id] = true
			}
			for _, in := range t.n.Inputs {
				if !have[in] {
					have[in] = true
					deps = append(slices.Clip(deps), in)
				}
			}
		}
		for _, id := range deps {
			d := s.byID[id]
			if d == nil {
				errs = append(errs, fmt.Errorf("%s: node %s depends on unknown node %s", t.n.Pos, t.n.ID, id))
				continue
			}
			d.dependents = append(d.dependents, t)
			t.waiting++
		}
	}
	for _, o := range g.Outputs {
		if s.byID[o.Node] == nil {
			errs = append(errs, fmt.Errorf("%s: output of unknown node %s", o.Pos, o.Node))
		}
	}
	if err := errors.Join(errs...); err != nil {
		return nil, fmt.Errorf("runtime: invalid graph: %w", err)
	}
	s.counts = Counts{Total: len(s.tasks), Pending: len(s.tasks)}
	s.remaining = len(s.tasks)
	return s, nil
}

func (s *scheduler) run(ctx context.Context) (*Report, error) {
	start := s.clock()
	labels := make([]string, 0, len(s.labels))
	for l := range s.labels {
		labels = append(labels, l)
	}
	slices.Sort(labels)
	if err := s.cfg.Bus.Prepare(ctx, s.cfg.RunID, labels); err != nil {
		return nil, &InfraError{fmt.Errorf("prepare run %s: %w", s.cfg.RunID, err)}
	}
	// The subscriptions outlive ctx: after a cancellation the run still
	// hears its running attempts stop.
	subCtx, endSubs := context.WithCancel(context.WithoutCancel(ctx))
	defer endSubs()
	events, err := s.cfg.Bus.Events().Subscribe(subCtx, EventTopic(s.cfg.RunID))
	if err != nil {
		return nil, &InfraError{fmt.Errorf("subscribe to events of run %s: %w", s.cfg.RunID, err)}
	}
	beats, err := s.cfg.Bus.Fanout().Subscribe(subCtx, WorkersTopic)
	if err != nil {
		return nil, &InfraError{fmt.Errorf("subscribe to %s: %w", WorkersTopic, err)}
	}

	s.begin(start)
	done := ctx.Done()
	if ctx.Err() != nil {
		// Cancelled before it began: dispatch nothing.
		done = nil
		s.cancelWith(reasonInterrupted)
	}
	var timeout <-chan time.Time
	if t := s.runTimer(); t != nil {
		defer t.Stop()
		timeout = t.C
	}
	s.step()

	tick := time.NewTicker(s.checkInterval())
	defer tick.Stop()
	retryTimer := time.NewTimer(time.Hour)
	retryTimer.Stop()
	defer retryTimer.Stop()
	retryArmed := time.Time{}
	var grace <-chan time.Time

	for s.remaining > 0 {
		// Arm the retry timer for the earliest retry, once per change.
		if len(s.retries) > 0 && !retryArmed.Equal(s.retries[0].due) {
			retryArmed = s.retries[0].due
			retryTimer.Reset(time.Until(retryArmed))
		}
		select {
		case msg, ok := <-events:
			if !ok {
				s.abort(errors.New("event subscription ended"))
				break
			}
			ev, err := eventOf(msg)
			msg.Ack()
			if err == nil {
				s.event(ev, s.clock())
			}
		case msg, ok := <-beats:
			if !ok {
				beats = nil
				break
			}
			hb, err := DecodeHeartbeat(msg)
			msg.Ack()
			if err == nil {
				s.heartbeat(hb, s.clock())
			}
		case now := <-retryTimer.C:
			retryArmed = time.Time{}
			s.fireRetries(now)
		case now := <-tick.C:
			s.check(now)
		case <-done:
			done, timeout = nil, nil
			s.cancelWith(reasonInterrupted)
			grace = time.After(s.cfg.CancelGrace)
		case <-timeout:
			done, timeout = nil, nil
			s.cancelWith(reasonTimeout(s.cfg.Timeout))
			grace = time.After(s.cfg.CancelGrace)
		case <-grace:
			s.graceOver()
		}
		s.step()
	}
	return s.report(start), s.err()
}

// begin starts the run at start: every label counts as heard from then,
// the workers are asked who serves what, and the tasks without
// dependencies are ready (the next step dispatches them).
func (s *scheduler) begin(start time.Time) {
	for _, l := range s.labels {
		l.lastClaim = start
	}
	// Whoever serves a label answers at once, not within a heartbeat
	// interval: the no-worker warning and lost-message detection need it.
	s.ping(start)
	for _, t := range s.tasks {
		if t.waiting == 0 {
			s.ready = append(s.ready, t)
		}
	}
}

// event handles an event message, a BATCH one event at a time.
func (s *scheduler) event(ev *Event, now time.Time) {
	if ev.Type == EventBatch {
		for _, e := range ev.Events {
			s.handle(e, now)
		}
		return
	}
	s.handle(ev, now)
}

// heartbeat records a worker's heartbeat; a stopping worker is forgotten.
func (s *scheduler) heartbeat(hb *Heartbeat, now time.Time) {
	if hb.Stopping {
		delete(s.workers, hb.Worker)
		return
	}
	s.workers[hb.Worker] = &workerSeen{hb: hb, seen: now}
}

// graceOver ends a cancelled run whose running attempts did not report
// within CancelGrace that they stopped.
func (s *scheduler) graceOver() {
	for _, t := range s.tasks {
		if !t.state.Done() {
			s.finish(t, Cancelled, nil, s.cancelReason()+" (did not stop within "+s.cfg.CancelGrace.String()+")")
		}
	}
}

func (s *scheduler) checkInterval() time.Duration {
	d := min(s.cfg.LeaseInterval, s.cfg.DispatchTimeout, s.cfg.NoWorkerWarning) / 4
	if s.cfg.NoWorkerTimeout > 0 {
		d = min(d, s.cfg.NoWorkerTimeout/8)
	}
	return max(d, 5*time.Millisecond)
}

func (s *scheduler) err() error {
	if s.infraErr != nil {
		return &InfraError{s.infraErr}
	}
	return nil
}

// step computes every ready reduce node, dispatches ready tasks as far as
// MaxInFlight allows, then publishes what that produced.
func (s *scheduler) step() {
	for {
		for i := 0; i < len(s.ready); i++ {
			t := s.ready[i]
			if s.stopping || t.state != Pending {
				continue
			}
			if t.n.Op == compiler.OpReduce {
				s.reduce(t)
			} else {
				l := s.labels[t.label]
				l.backlog = append(l.backlog, t)
			}
		}
		s.ready = s.ready[:0]
		for _, l := range s.labels {
			for l.head < len(l.backlog) && len(s.ready) == 0 &&
				(s.cfg.MaxInFlight < 0 || l.inflight < s.cfg.MaxInFlight) {
				t := l.backlog[l.head]
				l.backlog[l.head] = nil
				l.head++
				if !s.stopping && t.state == Pending {
					s.dispatch(t)
				}
			}
			if l.head == len(l.backlog) {
				l.backlog, l.head = l.backlog[:0], 0
			}
		}
		if len(s.ready) == 0 {
			break
		}
	}
	s.flush()
}

func (s *scheduler) addInflight(t *task) {
	if _, ok := s.inflight[t]; !ok {
		s.inflight[t] = struct{}{}
		s.labels[t.label].inflight++
	}
}

func (s *scheduler) dropInflight(t *task) {
	if _, ok := s.inflight[t]; ok {
		delete(s.inflight, t)
		s.labels[t.label].inflight--
	}
}

func (s *scheduler) reduce(t *task) {
	inputs := make([]json.RawMessage, len(t.n.Inputs))
	for i, id := range t.n.Inputs {
		inputs[i] = s.byID[id].result
	}
	t.rep.Started = s.clock()
	res, err := reduce(t.n.Reducer, t.n.Spread, inputs)
	t.attempt, t.rep.Attempts = 1, 1
	if err != nil {
		s.finish(t, Failure, nil, err.Error())
		return
	}
	s.finish(t, Success, res, "")
}

func (s *scheduler) dispatch(t *task) {
	n := t.n
	m := &TaskMessage{
		RunID: s.cfg.RunID, TaskID: n.ID,
		Kind: n.Kind, Name: n.Name, Action: n.Action,
		Label: t.label,
		Options: Options{
			Retries: n.Opts.Retries,
			Timeout: Duration(n.Opts.Timeout),
			Backoff: Duration(n.Opts.Backoff),
		},
		Store:         s.cfg.Store,
		ReplyTo:       EventTopic(s.cfg.RunID),
		LeaseInterval: Duration(s.cfg.LeaseInterval),
		ClaimWithin:   Duration(min(maxClaimWithin, s.cfg.LeaseInterval/4, s.cfg.DispatchTimeout/4)),
	}
	var err error
	if len(n.Args) > 0 {
		m.Args = make([]json.RawMessage, len(n.Args))
		for i, a := range n.Args {
			if m.Args[i], err = s.appendValue(nil, a); err != nil {
				s.finish(t, Failure, nil, fmt.Sprintf("argument %d: %v", i+1, err))
				return
			}
		}
	}
	if len(n.Kwargs) > 0 {
		m.Kwargs = make(map[string]json.RawMessage, len(n.Kwargs))
		for k, a := range n.Kwargs {
			if m.Kwargs[k], err = s.appendValue(nil, a); err != nil {
				s.finish(t, Failure, nil, fmt.Sprintf("argument %s: %v", k, err))
				return
			}
		}
	}
	if len(n.Inputs) == 1 {
		m.Input = s.byID[n.Inputs[0]].result
	}
	t.msg = m
	t.attempt = 1
	t.dispatch = 0
	s.publish(t, s.clock())
}

// publish sends the task's message for its next dispatch.
func (s *scheduler) publish(t *task, now time.Time) {
	t.dispatch++
	t.msg.Attempt, t.msg.Dispatch = t.attempt, t.dispatch
	msg, err := EncodeTask(t.msg)
	if err != nil {
		s.finish(t, Failure, nil, fmt.Sprintf("encode task message: %v", err))
		return
	}
	sent := *t.msg // t.msg changes with the next dispatch
	withDecoded(msg, &sent)
	t.claimed = false
	t.nextSeq, t.early, t.delivery = 1, nil, ""
	t.dispatchedAt, t.lastSeen = now, now
	s.addInflight(t)
	topic := TaskTopic(t.label)
	if k := len(s.outbox) - 1; k >= 0 && s.outbox[k].topic == topic {
		s.outbox[k].msgs = append(s.outbox[k].msgs, msg)
	} else {
		s.outbox = append(s.outbox, outgoing{topic, []*message.Message{msg}})
	}
}

func (s *scheduler) flush() {
	for _, o := range s.outbox {
		if err := s.pub.Publish(o.topic, o.msgs...); err != nil {
			s.outbox = s.outbox[:0]
			s.abort(fmt.Errorf("publish to %s: %w", o.topic, err))
			return
		}
	}
	s.outbox = s.outbox[:0]
}

// handle applies one event. Events of a done task, of another attempt than
// the current one, or repeated, change nothing.
func (s *scheduler) handle(ev *Event, now time.Time) {
	if ev.RunID != s.cfg.RunID {
		return
	}
	if ev.Type == EventLease {
		for _, l := range ev.Leases {
			if t := s.byID[l.TaskID]; t != nil && !t.state.Done() && t.attempt == l.Attempt {
				t.lastSeen = now
				s.labels[t.label].lastClaim = now
			}
		}
		return
	}
	t := s.byID[ev.TaskID]
	if t == nil || t.n.Op != compiler.OpTask || t.state.Done() || t.state == Retry || ev.Attempt != t.attempt {
		return
	}
	t.lastSeen = now
	if t.delivery == "" && ev.Dispatch == t.dispatch {
		t.delivery = ev.Delivery
	}
	if ev.Seq == 0 || ev.Dispatch != t.dispatch || ev.Delivery != t.delivery {
		// Unnumbered, from a dispatch the runner gave up on whose worker
		// lives after all, or from a second delivery of the message:
		// nothing to order it with.
		s.apply(t, ev, now)
		return
	}
	switch {
	case ev.Seq < t.nextSeq:
		return // a repeat
	case ev.Seq > t.nextSeq:
		i, found := slices.BinarySearchFunc(t.early, ev.Seq, func(e *Event, seq int) int { return e.Seq - seq })
		if !found {
			if len(t.early) == 0 {
				t.earlyAt = now
			}
			t.early = slices.Insert(t.early, i, ev)
		}
		return
	}
	t.nextSeq++
	s.apply(t, ev, now)
	for len(t.early) > 0 && t.early[0].Seq == t.nextSeq && !t.state.Done() {
		e := t.early[0]
		t.early = t.early[1:]
		t.nextSeq++
		s.apply(t, e, now)
	}
	if len(t.early) == 0 {
		t.early = nil
	}
}

// skipGap applies the events held behind one that never came.
func (s *scheduler) skipGap(t *task, now time.Time) {
	early := t.early
	t.early = nil
	for _, e := range early {
		if t.state.Done() || e.Dispatch != t.dispatch {
			return
		}
		t.nextSeq = e.Seq + 1
		s.apply(t, e, now)
	}
}

// apply applies an event of the task's current attempt.
func (s *scheduler) apply(t *task, ev *Event, now time.Time) {
	// Any word from a worker shows the label's queue is being served; a
	// quick task's outcome is its only word.
	if l := s.labels[t.label]; l != nil {
		l.lastClaim, l.warned = now, false
	}
	if t.rep.Started.IsZero() && !ev.Started.IsZero() && (ev.Type == EventResult || ev.Type == EventFailure) {
		// The outcome overtook the claim.
		t.rep.Started = ev.Started
		if ev.Started.After(now) { // another machine's clock
			t.rep.Started = now
		}
	}
	switch ev.Type {
	case EventStarted:
		if t.claimed {
			return
		}
		t.claimed = true
		t.rep.Worker = ev.Worker
		if t.state != Started {
			if t.rep.Started.IsZero() {
				t.rep.Started = now
			}
			t.rep.Attempts = t.attempt
			s.setState(t, Started)
			s.notify(Update{Type: UpdateState, Task: t.rep, Node: t.n, State: Started})
		}
	case EventLog:
		t.rep.Log = append(t.rep.Log, ev.Line)
		if len(t.rep.Log) >= 2*LogTail {
			t.rep.Log = append(t.rep.Log[:0:0], t.rep.Log[len(t.rep.Log)-LogTail:]...)
		}
		s.notify(Update{Type: UpdateLog, Task: t.rep, Node: t.n, State: t.state, Line: ev.Line})
	case EventMetric:
		if ev.Metric != nil {
			t.rep.Metrics = append(t.rep.Metrics, *ev.Metric)
			s.notify(Update{Type: UpdateMetric, Task: t.rep, Node: t.n, State: t.state, Metric: *ev.Metric})
		}
	case EventProgress:
		if ev.Progress != nil {
			s.notify(Update{Type: UpdateProgress, Task: t.rep, Node: t.n, State: t.state, Progress: *ev.Progress})
		}
	case EventResult:
		if t.rep.Worker == "" {
			t.rep.Worker = ev.Worker
		}
		res := ev.Result
		if len(res) == 0 {
			res = json.RawMessage("null")
		}
		s.finish(t, Success, res, "")
	case EventFailure:
		if t.rep.Worker == "" {
			t.rep.Worker = ev.Worker
		}
		s.fail(t, ev, now)
	case EventRelease:
		if t.claimed && ev.Dispatch == t.dispatch {
			s.redispatch(t, now)
		}
	}
}

func (s *scheduler) fail(t *task, ev *Event, now time.Time) {
	if ev.Cancelled {
		s.finish(t, Cancelled, nil, s.cancelReason())
		return
	}
	if ev.Infra && s.infraErr == nil {
		s.infraErr = fmt.Errorf("%s %s (%s): %s", t.n.Kind, t.n.Name, t.n.Pos, ev.Error)
	}
	failures := t.attempt - t.lost
	if ev.Permanent || ev.Infra || s.stopping || failures > t.n.Opts.Retries {
		s.finish(t, Failure, nil, ev.Error)
		return
	}
	wait := backoff(t.n.Opts.Backoff, failures, s.cfg.MaxBackoff)
	t.rep.Error = ev.Error
	t.claimed = false
	s.dropInflight(t)
	s.setState(t, Retry)
	heap.Push(&s.retries, retryEntry{due: now.Add(wait), t: t, attempt: t.attempt})
	s.notify(Update{Type: UpdateState, Task: t.rep, Node: t.n, State: Retry, Message: ev.Error, Backoff: wait})
}

// backoff is the wait before attempt+1: base doubled per failed attempt,
// capped.
func backoff(base time.Duration, attempt int, limit time.Duration) time.Duration {
	if base <= 0 {
		return 0
	}
	d := base
	for i := 1; i < attempt && d < limit; i++ {
		d *= 2
	}
	return min(d, limit)
}

func (s *scheduler) fireRetries(now time.Time) {
	for len(s.retries) > 0 && !s.retries[0].due.After(now) {
		e := heap.Pop(&s.retries).(retryEntry)
		t := e.t
		if t.state != Retry || t.attempt != e.attempt || s.stopping {
			continue
		}
		t.attempt++
		t.dispatch = 0
		t.rep.Attempts = t.attempt
		s.setState(t, Pending)
		s.publish(t, now)
	}
}

// redispatch publishes the current attempt again after its message or its
// worker was lost, up to MaxDeliveries.
func (s *scheduler) redispatch(t *task, now time.Time) {
	if t.dispatch >= s.cfg.MaxDeliveries {
		s.finish(t, Failure, nil, fmt.Sprintf("delivered %d times without a result", t.dispatch))
		return
	}
	s.publish(t, now)
}

// workerLost runs a task again whose claim lapsed: its worker died mid-way,
// so the work starts over as a new attempt (a script sees the next
// OMP_ATTEMPT), announced as such. The dispatches still count towards
// MaxDeliveries: a task that kills every worker it runs on fails.
func (s *scheduler) workerLost(t *task, now time.Time) {
	if t.dispatch >= s.cfg.MaxDeliveries {
		s.redispatch(t, now)
		return
	}
	why := "its worker was lost"
	if t.rep.Worker != "" {
		why = "worker " + t.rep.Worker + " lost"
	}
	t.attempt++
	t.lost++
	t.rep.Attempts = t.attempt
	t.rep.Worker = ""
	s.setState(t, Pending)
	s.notify(Update{Type: UpdateState, Task: t.rep, Node: t.n, State: Pending, Message: why})
	s.publish(t, now)
}

// maxClaimWithin bounds TaskMessage.ClaimWithin. It is short: until its
// claim the runner cannot tell a running task from a queued one, which
// matters when a run fails fast (running tasks finish, queued ones are
// cancelled).
const maxClaimWithin = 10 * time.Millisecond

// gapLimit bounds how long events wait for one that overtook them.
const gapLimit = 500 * time.Millisecond

// check looks for lost messages, lapsed leases and labels nobody serves.
func (s *scheduler) check(now time.Time) {
	lapse := 3 * s.cfg.LeaseInterval
	type waiting struct {
		oldest time.Time
		n      int
	}
	var unclaimed map[string]*waiting
	running := map[string]bool{}
	for t := range s.inflight {
		if len(t.early) > 0 && now.Sub(t.earlyAt) > gapLimit {
			// An event was lost: go on without it.
			s.skipGap(t, now)
			if t.state.Done() {
				continue
			}
		}
		if t.claimed {
			if now.Sub(t.lastSeen) > lapse {
				s.workerLost(t, now)
			} else {
				running[t.label] = true
			}
			continue
		}
		l := s.labels[t.label]
		if now.Sub(t.dispatchedAt) > s.cfg.DispatchTimeout && now.Sub(l.lastClaim) > s.cfg.DispatchTimeout && s.hasRoom(t.label, now) {
			s.redispatch(t, now)
			continue
		}
		if unclaimed == nil {
			unclaimed = map[string]*waiting{}
		}
		w := unclaimed[t.label]
		if w == nil {
			w = &waiting{oldest: t.dispatchedAt}
			unclaimed[t.label] = w
		}
		w.n++
		if t.dispatchedAt.Before(w.oldest) {
			w.oldest = t.dispatchedAt
		}
	}
	for label, w := range unclaimed {
		l := s.labels[label]
		if l.warned || running[label] || now.Sub(w.oldest) < s.cfg.NoWorkerWarning ||
			now.Sub(l.lastClaim) < s.cfg.NoWorkerWarning || s.served(label, now) {
			continue
		}
		l.warned = true
		waiting := "1 task waits"
		if w.n != 1 {
			waiting = fmt.Sprintf("%d tasks wait", w.n)
		}
		s.notify(Update{Type: UpdateWarning, Message: fmt.Sprintf("no worker serves label %s (%s)", label, waiting)})
	}
	s.failUnserved(now)
	s.flush()
}

// alive reports whether a worker's heartbeat is recent.
func (s *scheduler) alive(w *workerSeen, now time.Time) bool {
	iv := max(time.Duration(w.hb.Interval), time.Millisecond)
	return now.Sub(w.seen) <= 3*iv
}

func (s *scheduler) served(label string, now time.Time) bool {
	for _, w := range s.workers {
		if s.alive(w, now) && w.hb.Serves(label) {
			return true
		}
	}
	return false
}

// hasRoom reports whether a live worker of label announced a free slot: only
// then does an unclaimed task count as lost rather than queued.
func (s *scheduler) hasRoom(label string, now time.Time) bool {
	for _, w := range s.workers {
		if s.alive(w, now) && w.hb.Serves(label) && len(w.hb.Running) < w.hb.Concurrency {
			return true
		}
	}
	return false
}

// finish ends a task and cascades: dependents of a success may become
// ready; dependents of anything else can never run.
func (s *scheduler) finish(t *task, st State, result json.RawMessage, errMsg string) {
	if t.state.Done() {
		return
	}
	now := s.clock()
	s.dropInflight(t)
	t.claimed = false
	t.result = result
	t.rep.Finished = now
	if !t.rep.Started.IsZero() {
		t.rep.Duration = now.Sub(t.rep.Started).Seconds()
	}
	if t.rep.Attempts == 0 {
		t.rep.Attempts = t.attempt
	}
	t.rep.Error = errMsg
	s.remaining--
	s.setState(t, st)
	s.notify(Update{Type: UpdateState, Task: t.rep, Node: t.n, State: st, Message: errMsg})
	switch st {
	case Success:
		for _, d := range t.dependents {
			d.waiting--
			if d.waiting == 0 && !s.stopping {
				s.ready = append(s.ready, d)
			}
		}
	case Failure:
		s.failed = true
		if !s.cfg.KeepGoing {
			s.failFast(t)
		}
		s.cancelDependents(t)
	default:
		s.cancelDependents(t)
	}
}

func (s *scheduler) cancelDependents(t *task) {
	for _, d := range t.dependents {
		if !d.state.Done() {
			s.finish(d, Cancelled, nil, reasonOf(t))
		}
	}
}

// failFast stops the run after failed's failure: nothing new starts,
// queued tasks are dropped (DRAIN), claimed ones finish.
func (s *scheduler) failFast(failed *task) {
	if s.stopping {
		return
	}
	s.stopping = true
	s.lim.drain = reasonFailed(failed.n.ID)
	s.control(ControlDrain)
	s.cancelUnclaimed(s.lim.drain)
}

// cancel handles ctx's cancellation or the run's timeout (see cancelWith):
// running attempts are cancelled too.
func (s *scheduler) cancel() {
	s.cancelled = true
	s.stopping = true
	s.control(ControlCancel)
	s.cancelUnclaimed(s.cancelReason())
}

// abort ends the run on an infrastructure error.
func (s *scheduler) abort(err error) {
	if s.infraErr == nil {
		s.infraErr = err
	}
	s.stopping = true
	s.control(ControlCancel)
	for _, t := range s.tasks {
		if !t.state.Done() {
			s.finish(t, Cancelled, nil, err.Error())
		}
	}
}

func (s *scheduler) cancelUnclaimed(msg string) {
	for _, t := range s.tasks {
		if !t.state.Done() && !t.claimed {
			s.finish(t, Cancelled, nil, msg)
		}
	}
}

func (s *scheduler) control(typ ControlType) {
	msg, err := EncodeControl(&Control{Type: typ, RunID: s.cfg.RunID, Time: s.clock()})
	if err == nil {
		err = s.pub.Publish(ControlTopic, msg)
	}
	if err != nil && s.infraErr == nil {
		s.infraErr = fmt.Errorf("publish %s: %w", typ, err)
	}
}

func (s *scheduler) setState(t *task, st State) {
	s.count(t.state, -1)
	s.count(st, +1)
	t.state = st
	t.rep.State = st
}

func (s *scheduler) count(st State, d int) {
	switch st {
	case Pending, Retry:
		s.counts.Pending += d
	case Started:
		s.counts.Running += d
	case Success:
		s.counts.Succeeded += d
	case Failure:
		s.counts.Failed += d
	case Cancelled:
		s.counts.Cancelled += d
	}
}

func (s *scheduler) notify(u Update) {
	u.Time = s.clock()
	u.Counts = s.counts
	s.cfg.Listener.Notify(u)
}

func (s *scheduler) report(start time.Time) *Report {
	now := s.clock()
	r := &Report{
		RunID:    s.cfg.RunID,
		Status:   Success,
		Results:  make([]json.RawMessage, len(s.g.Outputs)),
		Tasks:    make([]*TaskReport, len(s.tasks)),
		Started:  start,
		Finished: now,
		Duration: now.Sub(start).Seconds(),
	}
	switch {
	case s.cancelled:
		r.Status = Cancelled
	case s.failed || s.infraErr != nil:
		r.Status = Failure
	}
	for i, o := range s.g.Outputs {
		r.Results[i] = json.RawMessage("null")
		if t := s.byID[o.Node]; t.state == Success && len(t.result) > 0 {
			r.Results[i] = t.result
		}
	}
	for i, t := range s.tasks {
		if len(t.rep.Log) > LogTail {
			t.rep.Log = t.rep.Log[len(t.rep.Log)-LogTail:]
		}
		r.Tasks[i] = t.rep
	}
	return r
}

// appendValue appends the JSON of an argument value, with each Ref replaced
// by the result of the node it names. A float keeps its fraction (2.0), so
// that a kind sees a float where the source has one.
func (s *scheduler) appendValue(b []byte, v any) ([]byte, error) {
	switch v := v.(type) {
	case nil:
		return append(b, "null"...), nil
	case compiler.Ref:
		return s.appendResult(b, v.Node)
	case *compiler.Ref:
		return s.appendResult(b, v.Node)
	case bool:
		return strconv.AppendBool(b, v), nil
	case int64:
		return strconv.AppendInt(b, v, 10), nil
	case int:
		return strconv.AppendInt(b, int64(v), 10), nil
	case json.RawMessage:
		return append(b, v...), nil
	case []any:
		b = append(b, '[')
		for i, e := range v {
			if i > 0 {
				b = append(b, ',')
			}
			var err error
			if b, err = s.appendValue(b, e); err != nil {
				return nil, err
			}
		}
		return append(b, ']'), nil
	case float64:
		return compiler.AppendFloat(b, v)
	case map[string]any:
		// Only a compiler.Ref is a reference: a literal map is data, whatever
		// its keys, and goes to the task as written.
		keys := make([]string, 0, len(v))
		for k := range v {
			keys = append(keys, k)
		}
		slices.Sort(keys)
		b = append(b, '{')
		for i, k := range keys {
			if i > 0 {
				b = append(b, ',')
			}
			kb, _ := json.Marshal(k)
			b = append(append(b, kb...), ':')
			var err error
			if b, err = s.appendValue(b, v[k]); err != nil {
				return nil, err
			}
		}
		return append(b, '}'), nil
	default:
		j, err := json.Marshal(v)
		if err != nil {
			return nil, err
		}
		return append(b, j...), nil
	}
}

func (s *scheduler) appendResult(b []byte, id string) ([]byte, error) {
	t := s.byID[id]
	if t == nil || t.state != Success {
		return nil, fmt.Errorf("reference to %s, which has no result", id)
	}
	if len(t.result) == 0 {
		return append(b, "null"...), nil
	}
	return append(b, t.result...), nil
}

type retryEntry struct {
	due     time.Time
	t       *task
	attempt int
}

// retryHeap orders pending retries by due time, so one timer serves all.
type retryHeap []retryEntry

func (h retryHeap) Len() int           { return len(h) }
func (h retryHeap) Less(i, j int) bool { return h[i].due.Before(h[j].due) }
func (h retryHeap) Swap(i, j int)      { h[i], h[j] = h[j], h[i] }
func (h *retryHeap) Push(x any)        { *h = append(*h, x.(retryEntry)) }
func (h *retryHeap) Pop() any {
	old := *h
	e := old[len(old)-1]
	*h = old[:len(old)-1]
	return e
}
