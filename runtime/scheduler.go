package runtime

import (
	"container/heap"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"slices"
	"time"

	"github.com/ThreeDotsLabs/watermill/message"

	"github.com/ompdev/omp/compiler"
	"github.com/ompdev/omp/plugins/sdk"
	"github.com/ompdev/omp/runtime/cachekey"
)

// scheduler is one run. All its state belongs to the goroutine of run: events
// arrive on channels and are handled one at a time, so there are no locks and
// Listener calls are never concurrent.
type scheduler struct {
	// ctx is the run's context, for the calls that compute cache keys.
	ctx context.Context
	g   *compiler.Graph
	cfg *Config
	pub message.Publisher
	// clock is time.Now; the scheduler's tests set their own, and drive it
	// with events and times instead of a bus and timers.
	clock  func() time.Time
	tasks  []*task
	byID   map[string]*task
	counts Counts
	// sharedDigests are the cache key digests that the tasks share.
	sharedDigests cachekey.Shared
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

	failed    bool      // a task failed for good
	stopping  bool      // start nothing more: failed fast or cancelled
	cancelled bool      // ctx was cancelled
	infraErr  error     // the first infrastructure error
	reminded  time.Time // when CANCEL was last sent again (remindCancel)
}

// task is one node of the run. A run holds one per node until it ends, so
// what only a dispatch needs is in its flight, which lives as long as the
// dispatch: a run of 100,000 tasks holds 100,000 tasks, and a few thousand
// flights. The node's label and state are its report's.
type task struct {
	n          *compiler.Node
	rep        *TaskReport
	waiting    int // dependencies that have not succeeded yet
	dependents []*task
	attempt    int
	// lost counts the attempts whose worker died: they are attempts, but
	// not failures, so they spend no retries.
	lost     int
	dispatch int
	msg      *TaskMessage
	result   json.RawMessage
	// digest is the digest of result, with Config.Cache.
	digest string
	// next is the task whose message rides in this one's
	// (TaskMessage.Then), while it is chained: this task's worker goes on
	// with it, so once this one succeeds the runner marks it dispatched
	// instead of publishing it.
	next    *task
	chained bool
	// fl is the current dispatch's, from dispatched until the task is
	// done; a chained task's holds the events that came ahead.
	fl *flight
}

// flight is the state of a task's current dispatch.
type flight struct {
	// claimed: a worker sent STARTED for the dispatch.
	claimed      bool
	dispatchedAt time.Time
	lastSeen     time.Time
	// nextSeq is the Seq of the dispatch's next event; early holds its
	// events that overtook an earlier one, in Seq order, since earlyAt.
	nextSeq  int
	early    []*Event
	earlyAt  time.Time
	delivery string // the delivery whose events are put in order
	// ahead are the events of a chained task that came before the
	// outcome of its predecessor; follow applies them.
	ahead []*Event
	// holder is the worker that a chained task was dispatched to along
	// with its predecessor: if that worker is lost or releases the task
	// before claiming it, it is dispatched again at once.
	holder string
}

// flight returns t's flight, which a task about to be dispatched or
// chained may not have yet.
func (t *task) flight() *flight {
	if t.fl == nil {
		t.fl = &flight{}
	}
	return t.fl
}

// claimed reports whether a worker sent STARTED for t's current dispatch.
func (t *task) claimed() bool { return t.fl != nil && t.fl.claimed }

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

func (s *scheduler) run(ctx context.Context) (*Report, error) {
	s.ctx = ctx
	start := s.clock()
	labels := make([]string, 0, len(s.labels))
	for l := range s.labels {
		labels = append(labels, l)
	}
	slices.Sort(labels)
	if err := s.cfg.Bus.Prepare(ctx, s.cfg.RunID, labels); err != nil {
		return nil, sdk.Infra(fmt.Errorf("prepare run %s: %w", s.cfg.RunID, err))
	}
	// The subscriptions outlive ctx: after a cancellation the run still
	// hears its running attempts stop.
	subCtx, endSubs := context.WithCancel(context.WithoutCancel(ctx))
	defer endSubs()
	events, err := s.cfg.Bus.Events().Subscribe(subCtx, EventTopic(s.cfg.RunID))
	if err != nil {
		return nil, sdk.Infra(fmt.Errorf("subscribe to events of run %s: %w", s.cfg.RunID, err))
	}
	beats, err := s.cfg.Bus.Fanout().Subscribe(subCtx, WorkersTopic)
	if err != nil {
		return nil, sdk.Infra(fmt.Errorf("subscribe to %s: %w", WorkersTopic, err))
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
			if !s.receive(msg, ok) {
				break
			}
			// Take what else has arrived before the step publishes:
			// one publish (and one wait for its confirms) then
			// dispatches the tasks that all of them made ready.
			s.drain(events)
		case msg, ok := <-beats:
			if !ok {
				beats = nil
				break
			}
			if msg.Metadata.Get(ResubscribedMeta) != "" {
				msg.Ack()
				s.resubscribed(s.clock())
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

// receive applies one message of the event subscription; ok false means the
// subscription ended, which aborts the run. It reports whether the
// subscription is still open.
func (s *scheduler) receive(msg *message.Message, ok bool) bool {
	if !ok {
		s.abort(errors.New("event subscription ended"))
		return false
	}
	ev, err := eventOf(msg)
	msg.Ack()
	if err == nil {
		s.event(ev, s.clock())
	}
	return true
}

// maxDrain bounds the events taken in one step, so that the run's timers
// and heartbeats are not starved by a steady stream of events.
const maxDrain = 1000

// drain applies the events that are waiting, without waiting for more.
func (s *scheduler) drain(events <-chan *message.Message) {
	for range maxDrain {
		select {
		case msg, ok := <-events:
			if !s.receive(msg, ok) {
				return
			}
		default:
			return
		}
	}
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

// graceOver ends a cancelled run whose running attempts did not report
// within CancelGrace that they stopped.
func (s *scheduler) graceOver() {
	for _, t := range s.tasks {
		if !t.rep.State.Done() {
			s.finish(t, Cancelled, nil, s.cancelReason()+" (did not stop within "+s.cfg.CancelGrace.String()+")")
		}
	}
}

func (s *scheduler) err() error {
	if s.infraErr != nil {
		return sdk.Infra(s.infraErr)
	}
	return nil
}

// step computes every ready reduce node, dispatches ready tasks as far as
// MaxInFlight allows, then publishes what that produced.
func (s *scheduler) step() {
	for {
		for i := 0; i < len(s.ready); i++ {
			t := s.ready[i]
			if s.stopping || t.rep.State != Pending {
				continue
			}
			if t.n.Op == compiler.OpReduce {
				s.reduce(t)
			} else {
				l := s.labels[t.rep.Label]
				l.backlog = append(l.backlog, t)
			}
		}
		s.ready = s.ready[:0]
		for _, l := range s.labels {
			if !s.refillDue(l) {
				continue
			}
			for l.head < len(l.backlog) && len(s.ready) == 0 &&
				(s.cfg.MaxInFlight < 0 || l.inflight < s.cfg.MaxInFlight) {
				t := l.backlog[l.head]
				l.backlog[l.head] = nil
				l.head++
				if !s.stopping && t.rep.State == Pending {
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

// refillDue tells whether l's backlog may be dispatched now: when none of
// l's tasks is in flight, else once the room under MaxInFlight is at least
// refillOf(MaxInFlight), or all the backlog if less. A run held back by
// MaxInFlight would otherwise publish a task or two for every few results,
// each an AMQP message of its own; a refill of many goes in packs. The
// queue holds the rest of the window meanwhile, so no worker waits for it.
func (s *scheduler) refillDue(l *labelState) bool {
	if s.cfg.MaxInFlight < 0 || l.inflight == 0 {
		return true
	}
	free := s.cfg.MaxInFlight - l.inflight
	return free >= min(len(l.backlog)-l.head, refillOf(s.cfg.MaxInFlight))
}

// refillOf is the least room refillDue waits for under a MaxInFlight of n.
func refillOf(n int) int { return max(1, n/8) }

func (s *scheduler) addInflight(t *task) {
	if _, ok := s.inflight[t]; !ok {
		s.inflight[t] = struct{}{}
		s.labels[t.rep.Label].inflight++
	}
}

func (s *scheduler) dropInflight(t *task) {
	if _, ok := s.inflight[t]; ok {
		delete(s.inflight, t)
		s.labels[t.rep.Label].inflight--
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
	m, err := s.message(t)
	if err != nil {
		s.finish(t, Failure, nil, err.Error())
		return
	}
	if s.cached(t, m) {
		return
	}
	t.msg = m
	t.attempt = 1
	t.dispatch = 0
	s.chain(t)
	s.publish(t, s.clock())
}

// message makes the message of t's first attempt; it fails when an
// argument cannot be computed.
func (s *scheduler) message(t *task) (*TaskMessage, error) {
	n := t.n
	m := &TaskMessage{
		RunID: s.cfg.RunID, TaskID: n.ID,
		Kind: n.Kind, Name: n.Name, Action: n.Action,
		Label: t.rep.Label,
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
				return nil, fmt.Errorf("argument %d: %w", i+1, err)
			}
		}
	}
	if len(n.Kwargs) > 0 {
		m.Kwargs = make(map[string]json.RawMessage, len(n.Kwargs))
		for k, a := range n.Kwargs {
			if m.Kwargs[k], err = s.appendValue(nil, a); err != nil {
				return nil, fmt.Errorf("argument %s: %w", k, err)
			}
		}
	}
	if len(n.Inputs) == 1 {
		m.Input = s.byID[n.Inputs[0]].result
	}
	return m, nil
}

// publish sends the task's message for its next dispatch. A message
// published again carries no chain: the runner dispatches the followers
// itself.
func (s *scheduler) publish(t *task, now time.Time) {
	if t.dispatch > 0 || t.attempt > 1 {
		s.unchain(t)
	}
	t.dispatch++
	t.msg.Attempt, t.msg.Dispatch = t.attempt, t.dispatch
	msg, err := encodeFor(s.pub, func() (*message.Message, error) { return EncodeTask(t.msg) })
	if err != nil {
		s.finish(t, Failure, nil, fmt.Sprintf("encode task message: %v", err))
		return
	}
	sent := *t.msg // t.msg changes with the next dispatch
	withDecoded(msg, &sent)
	s.dispatched(t, now, "")
	topic := TaskTopic(t.rep.Label)
	if k := len(s.outbox) - 1; k >= 0 && s.outbox[k].topic == topic {
		s.outbox[k].msgs = append(s.outbox[k].msgs, msg)
	} else {
		s.outbox = append(s.outbox, outgoing{topic, []*message.Message{msg}})
	}
}

// dispatched records that t's current dispatch is on its way: through the
// bus, or with holder, the worker that runs it after its predecessor.
func (s *scheduler) dispatched(t *task, now time.Time, holder string) {
	t.fl = &flight{nextSeq: 1, dispatchedAt: now, lastSeen: now, holder: holder}
	s.addInflight(t)
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

// apply applies an event of the task's current attempt.
func (s *scheduler) apply(t *task, ev *Event, now time.Time) {
	// Any word from a worker shows the label's queue is being served; a
	// quick task's outcome is its only word.
	if l := s.labels[t.rep.Label]; l != nil {
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
		if t.claimed() {
			return
		}
		t.flight().claimed = true
		t.rep.Worker = ev.Worker
		if t.rep.State != Started {
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
		s.notify(Update{Type: UpdateLog, Task: t.rep, Node: t.n, State: t.rep.State, Line: ev.Line})
	case EventMetric:
		if ev.Metric != nil {
			t.rep.Metrics = append(t.rep.Metrics, *ev.Metric)
			s.notify(Update{Type: UpdateMetric, Task: t.rep, Node: t.n, State: t.rep.State, Metric: *ev.Metric})
		}
	case EventProgress:
		if ev.Progress != nil {
			s.notify(Update{Type: UpdateProgress, Task: t.rep, Node: t.n, State: t.rep.State, Progress: *ev.Progress})
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
		if (t.claimed() || t.fl != nil && t.fl.holder != "" && t.fl.holder == ev.Worker) && ev.Dispatch == t.dispatch {
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
	if t.fl != nil {
		t.fl.claimed = false
	}
	s.dropInflight(t)
	s.setState(t, Retry)
	heap.Push(&s.retries, retryEntry{due: now.Add(wait), t: t, attempt: t.attempt})
	s.notify(Update{Type: UpdateState, Task: t.rep, Node: t.n, State: Retry, Message: ev.Error, Backoff: wait})
}

// finish ends a task and cascades: dependents of a success may become
// ready; dependents of anything else can never run.
func (s *scheduler) finish(t *task, st State, result json.RawMessage, errMsg string) {
	if t.rep.State.Done() {
		return
	}
	now := s.clock()
	s.dropInflight(t)
	// A task that is done is never dispatched again: its message and its
	// flight would only hold memory until the run ends.
	t.msg, t.fl, t.chained = nil, nil, false
	t.result = result
	t.rep.Finished = now
	if !t.rep.Started.IsZero() {
		t.rep.Duration = now.Sub(t.rep.Started).Seconds()
	}
	if t.rep.Attempts == 0 {
		t.rep.Attempts = t.attempt
	}
	t.rep.Error = errMsg
	if st.Succeeded() && s.cfg.Cache != nil {
		if t.digest == "" {
			t.digest = cachekey.Digest(result)
		}
		t.rep.ResultDigest = t.digest
	}
	s.remaining--
	s.setState(t, st)
	s.notify(Update{Type: UpdateState, Task: t.rep, Node: t.n, State: st, Message: errMsg, Result: result})
	if k := t.rep.CacheKey; k != nil && s.cfg.Cache.DigestsOnly {
		// A Listener may still hold k: it is replaced, never changed.
		t.rep.CacheKey = &cachekey.Key{Digest: k.Digest}
	}
	switch st {
	case Success, Cached:
		for _, d := range t.dependents {
			d.waiting--
			switch {
			case d.waiting > 0 || s.stopping:
			case d.chained && t.next == d:
				s.follow(t, d, now)
			default:
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
		if !d.rep.State.Done() {
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
		if !t.rep.State.Done() {
			s.finish(t, Cancelled, nil, err.Error())
		}
	}
}

func (s *scheduler) cancelUnclaimed(msg string) {
	for _, t := range s.tasks {
		if !t.rep.State.Done() && !t.claimed() {
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
	s.count(t.rep.State, -1)
	s.count(st, +1)
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
	case Cached:
		s.counts.Succeeded += d
		s.counts.Cached += d
	case Failure:
		s.counts.Failed += d
	case Cancelled:
		s.counts.Cancelled += d
	}
}

func (s *scheduler) notify(u Update) {
	u.Time = s.clock()
	u.RunID = s.cfg.RunID
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
		if t := s.byID[o.Node]; t.rep.State.Succeeded() && len(t.result) > 0 {
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
