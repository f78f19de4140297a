package runtime

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"strconv"
	"sync"
	"sync/atomic"
	"time"

	"github.com/ThreeDotsLabs/watermill/message"

	"github.com/ompdev/omp/plugins/sdk"
)

// Worker consumes the task messages of its labels and runs them through its
// Executor, reporting on each task's event topic.
type Worker struct {
	cfg     WorkerConfig
	handler Handler
	pub     message.Publisher
	host    string

	mu      sync.Mutex
	running map[jobKey]*job
	// runs remembers runs that were cancelled or drained, so that their
	// queued tasks are dropped when they come up.
	runs map[string]runMark
	// kick wakes the lease loop when a task with a shorter lease interval
	// than any before starts.
	kick     chan struct{}
	minLease time.Duration
	wakeAt   time.Time // when the lease loop wakes next
	out      *outbox
	// deliveries numbers the task messages this worker took.
	deliveries atomic.Uint64
}

type jobKey struct{ run, task string }

type job struct {
	m      *TaskMessage
	msg    *message.Message
	cancel context.CancelCauseFunc
	// delivery tells this delivery's events from those of another worker
	// that got the same message.
	delivery string
	seq      atomic.Int64
	// Guarded by Worker.mu: lastLease is the last renewal; settled means
	// the task message was acked or nacked, by the claim or, for a task
	// done before claimDue, with the outcome.
	lastLease time.Time
	claimDue  time.Time
	settled   bool
}

type runMark struct {
	typ  ControlType
	when time.Time
}

// Causes of a job's cancellation, told apart after the handler returns.
var (
	errRunCancelled = errors.New("run cancelled")
	errReleased     = errors.New("worker stopping: task released")
)

// NewWorker returns a worker; it does nothing until Serve.
func NewWorker(cfg WorkerConfig) (*Worker, error) {
	cfg.setDefaults()
	if err := cfg.Validate(); err != nil {
		return nil, err
	}
	host, _ := os.Hostname()
	w := &Worker{
		cfg:     cfg,
		pub:     cfg.Bus.Publisher(),
		host:    host,
		running: map[jobKey]*job{},
		runs:    map[string]runMark{},
		kick:    make(chan struct{}, 1),
	}
	w.out = newOutbox(w)
	h := w.execute
	// Recover is innermost so that a panic is a plain task failure that the
	// timeout middleware and the user's middleware see like any other.
	h = Recover(h)
	h = Timeout(h)
	for i := len(cfg.Middleware) - 1; i >= 0; i-- {
		h = cfg.Middleware[i](h)
	}
	w.handler = h
	return w, nil
}

// Name is the worker's name, as events and reports show it.
func (w *Worker) Name() string { return w.cfg.Name }

// Serve takes and runs tasks until ctx is done. Then it stops taking tasks,
// lets the running ones finish within GracePeriod (past it, cancels them and
// releases them to their runners), announces that it stops, and returns nil.
// It returns an error only when it cannot subscribe to the bus.
func (w *Worker) Serve(ctx context.Context) error {
	// life outlives ctx: running tasks, leases and control messages go on
	// during the grace period.
	life, endLife := context.WithCancel(context.WithoutCancel(ctx))
	defer endLife()
	var loops sync.WaitGroup
	defer loops.Wait()

	ctl, err := w.cfg.Bus.Fanout().Subscribe(life, ControlTopic)
	if err != nil {
		return fmt.Errorf("worker %s: subscribe %s: %w", w.cfg.Name, ControlTopic, err)
	}
	loops.Add(1)
	go func() { defer loops.Done(); w.controlLoop(ctl) }()

	takeCtx, stopTaking := context.WithCancel(ctx)
	defer stopTaking()
	var subs []<-chan *message.Message
	for _, l := range w.cfg.Labels {
		ch, err := w.cfg.Bus.Tasks().Subscribe(takeCtx, TaskTopic(l))
		if err != nil {
			stopTaking()
			endLife()
			return fmt.Errorf("worker %s: subscribe %s: %w", w.cfg.Name, TaskTopic(l), err)
		}
		subs = append(subs, ch)
	}

	loops.Add(2)
	go func() { defer loops.Done(); w.heartbeatLoop(life) }()
	go func() { defer loops.Done(); w.leaseLoop(life) }()

	// Tasks run on at most Concurrency runner goroutines that live as long
	// as the takers, each taking one task after another, instead of a
	// goroutine per task: a task's call path (gRPC to the plugin) is deep,
	// and a fresh goroutine per task spent about a tenth of the worker's
	// CPU growing and copying its stack.
	work := make(chan *message.Message)
	slots := make(chan struct{}, w.cfg.Concurrency) // one per runner
	var jobs, takers sync.WaitGroup
	runner := func(msg *message.Message) {
		defer jobs.Done()
		for ok := true; ok; msg, ok = <-work {
			if msg.Context().Err() != nil {
				// The bus took the message back while it waited for a
				// runner (AMQP: held past its hold limit or its channel
				// died): someone else may run it now.
				msg.Nack()
				continue
			}
			w.handle(life, msg)
		}
	}
	for _, ch := range subs {
		takers.Add(1)
		go func() {
			defer takers.Done()
			for msg := range ch {
				if ctx.Err() != nil {
					msg.Nack()
					continue
				}
				// Wait for a runner only with a message in hand: a taker
				// that held one while waiting would starve other labels.
				// An idle runner goes first; a new one starts only when
				// none is idle and there is room for it.
				select {
				case work <- msg:
					continue
				default:
				}
				select {
				case work <- msg:
				case slots <- struct{}{}:
					jobs.Add(1)
					go runner(msg)
				case <-ctx.Done():
					msg.Nack()
				}
			}
		}()
	}
	takers.Wait() // the subscriptions end with ctx
	close(work)

	done := make(chan struct{})
	go func() { jobs.Wait(); close(done) }()
	grace := time.NewTimer(w.cfg.GracePeriod)
	select {
	case <-done:
		grace.Stop()
	case <-grace.C:
		w.mu.Lock()
		for _, j := range w.running {
			j.cancel(errReleased)
		}
		w.mu.Unlock()
		<-done
	}
	w.publishHeartbeat(true)
	endLife()
	return nil
}

// handle runs one task message: claim, ack, run, report.
func (w *Worker) handle(life context.Context, msg *message.Message) {
	m, err := taskOf(msg)
	if err != nil {
		// A message nobody can read would come back forever: drop it.
		w.cfg.Logf("worker %s: dropping task message: %v", w.cfg.Name, err)
		msg.Ack()
		return
	}
	w.mu.Lock()
	mark, marked := w.runs[m.RunID]
	w.mu.Unlock()
	if marked {
		// The run failed fast or was cancelled: its runner has already
		// marked the task CANCELLED and waits for nothing.
		w.cfg.Logf("worker %s: dropping %s of %s run %s", w.cfg.Name, m.TaskID, mark.typ, m.RunID)
		msg.Ack()
		return
	}
	if m.ReplyTo == "" {
		m.ReplyTo = EventTopic(m.RunID)
	}

	ctx, cancel := context.WithCancelCause(life)
	defer cancel(nil)
	key := jobKey{m.RunID, m.TaskID}
	now := time.Now()
	j := &job{m: m, msg: msg, cancel: cancel, lastLease: now,
		delivery: w.cfg.Name + "/" + strconv.FormatUint(w.deliveries.Add(1), 36)}
	claimNow := m.ClaimWithin <= 0
	if !claimNow {
		j.claimDue = now.Add(m.ClaimWithin.std())
	}
	w.mu.Lock()
	w.running[key] = j
	lease := time.Duration(m.LeaseInterval)
	kick := lease > 0 && (w.minLease == 0 || lease < w.minLease)
	if kick {
		w.minLease = lease
	}
	kick = kick || (!claimNow && j.claimDue.Before(w.wakeAt))
	if claimNow {
		j.settled = true
	}
	w.mu.Unlock()
	if kick {
		select {
		case w.kick <- struct{}{}:
		default:
		}
	}
	defer func() {
		w.mu.Lock()
		delete(w.running, key)
		w.mu.Unlock()
	}()

	if claimNow && !w.claim(j, int(j.seq.Add(1))) {
		return
	}

	began := now
	res, err := w.handler(ctx, m, emitter{w, j})
	cause := context.Cause(ctx)
	var ev Event
	switch {
	case errors.Is(cause, errReleased):
		ev = Event{Type: EventRelease}
	case errors.Is(cause, errRunCancelled):
		ev = Event{Type: EventFailure, Error: "cancelled", Cancelled: true}
	case err == nil && len(res) == 0:
		ev = Event{Type: EventResult, Result: json.RawMessage("null")}
	case err == nil && !json.Valid(res):
		// It could not even be sent: fail the task, not the delivery.
		ev = Event{Type: EventFailure, Error: fmt.Sprintf("%s %s: result is not valid JSON", m.Kind, m.Name), Permanent: true}
	case err == nil:
		ev = Event{Type: EventResult, Result: res}
	default:
		infra := w.cfg.IsInfra(err)
		ev = Event{Type: EventFailure, Error: err.Error(), Permanent: infra || sdk.IsPermanent(err), Infra: infra}
	}
	w.mu.Lock()
	settled := j.settled
	j.settled = true
	w.mu.Unlock()
	if !settled && ev.Type == EventRelease {
		// Never claimed: give the message back to the bus as it came.
		msg.Nack()
		return
	}
	ev.Started = began
	ev.Seq = int(j.seq.Add(1))
	err = w.emit(j, &ev, true)
	if !settled {
		// Done before its claim was due: the outcome is the claim.
		if err == nil {
			msg.Ack()
		} else {
			msg.Nack()
		}
	}
	// Every end line names the run, task and attempt, also for a task so
	// quick that it never sent a claim (and so never logged a start line).
	switch {
	case err != nil:
		// A claimed task's lease ends with this attempt, so the runner
		// dispatches it again: nothing is lost, the work is repeated.
		w.cfg.Logf("worker %s: report %s: %v", w.cfg.Name, taskRef(m), err)
	case ev.Type == EventFailure:
		w.cfg.Logf("worker %s: FAILURE %s: %s", w.cfg.Name, taskRef(m), ev.Error)
	default:
		w.cfg.Logf("worker %s: %s %s", w.cfg.Name, ev.Type, taskRef(m))
	}
}

// taskRef names an attempt in the worker's log.
func taskRef(m *TaskMessage) string {
	return fmt.Sprintf("%s %s.%s (run %s, task %s, attempt %d)", m.Kind, m.Name, m.Action, m.RunID, m.TaskID, m.Attempt)
}

// claim sends STARTED for a job (already marked settled) and then acks its
// message, so the runner tracks the task before the bus forgets it. If the
// claim cannot be sent, the message is nacked for the bus to deliver again.
func (w *Worker) claim(j *job, seq int) bool {
	if err := w.emit(j, &Event{Type: EventStarted, Seq: seq}, true); err != nil {
		w.cfg.Logf("worker %s: claim %s: %v", w.cfg.Name, j.m.TaskID, err)
		j.msg.Nack()
		return false
	}
	j.msg.Ack()
	w.cfg.Logf("worker %s: start %s", w.cfg.Name, taskRef(j.m))
	return true
}

// execute is the innermost handler: it hands the task to the Executor.
func (w *Worker) execute(ctx context.Context, m *TaskMessage, e sdk.Emitter) (json.RawMessage, error) {
	store := m.Store
	if w.cfg.Store != "" {
		store = w.cfg.Store
	}
	t := sdk.Task{
		RunID:   m.RunID,
		TaskID:  m.TaskID,
		Attempt: m.Attempt,
		Kind:    m.Kind,
		Name:    m.Name,
		Action:  m.Action,
		Args:    m.Args,
		Kwargs:  m.Kwargs,
		Input:   m.Input,
		Label:   m.Label,
		Store:   store,
	}
	if dl, ok := ctx.Deadline(); ok {
		t.Deadline = dl
	}
	return w.cfg.Executor.Run(ctx, t, e)
}

// emit sends an event of j's attempt on its reply topic. With wait it
// returns once the event was published (or failed to be); without, it
// returns at once and a failure is only logged.
func (w *Worker) emit(j *job, e *Event, wait bool) error {
	m := j.m
	e.RunID, e.TaskID, e.Attempt, e.Dispatch = m.RunID, m.TaskID, m.Attempt, m.Dispatch
	e.Worker, e.Delivery = w.cfg.Name, j.delivery
	e.Time = time.Now()
	return w.out.send(m.ReplyTo, e, wait)
}

// outbox publishes events in batches by group commit: the sender that finds
// no publication under way publishes at once, and whoever sends meanwhile
// joins the next batch, which that sender publishes too. So an idle worker
// sends each event without delay or hand-off, and a worker with many tasks
// finishing at once sends one message per reply topic, not one per event.
type outbox struct {
	w        *Worker
	mu       sync.Mutex
	next     map[string]*batch // by topic
	flushing bool
}

type batch struct {
	events  []*Event
	waiters []chan error
}

func newOutbox(w *Worker) *outbox {
	return &outbox{w: w, next: map[string]*batch{}}
}

func (o *outbox) send(topic string, e *Event, wait bool) error {
	var done chan error
	if wait {
		done = make(chan error, 1)
	}
	o.mu.Lock()
	b := o.next[topic]
	if b == nil {
		b = &batch{}
		o.next[topic] = b
	}
	b.events = append(b.events, e)
	if done != nil {
		b.waiters = append(b.waiters, done)
	}
	if o.flushing {
		o.mu.Unlock()
		if done == nil {
			return nil
		}
		return <-done
	}
	o.flushing = true
	for {
		next := o.next
		if len(next) == 0 {
			o.flushing = false
			o.mu.Unlock()
			break
		}
		o.next = map[string]*batch{}
		o.mu.Unlock()
		o.publish(next)
		o.mu.Lock()
	}
	if done == nil {
		return nil
	}
	return <-done
}

func (o *outbox) publish(next map[string]*batch) {
	for topic, b := range next {
		e := b.events[0]
		if len(b.events) > 1 {
			e = &Event{Type: EventBatch, RunID: e.RunID, Worker: o.w.cfg.Name, Time: time.Now(), Events: b.events}
		}
		msg, err := EncodeEvent(e)
		if err == nil {
			withDecoded(msg, e)
			err = o.w.pub.Publish(topic, msg)
		}
		if err != nil && len(b.waiters) == 0 {
			o.w.cfg.Logf("worker %s: lost %d events: %v", o.w.cfg.Name, len(b.events), err)
		}
		for _, c := range b.waiters {
			c <- err
		}
	}
}

// emitter sends a running task's logs, metrics and progress as events.
type emitter struct {
	w *Worker
	j *job
}

func (e emitter) Log(line string) {
	e.send(&Event{Type: EventLog, Line: line})
}

func (e emitter) Metric(name string, value float64, step int) {
	e.send(&Event{Type: EventMetric, Metric: &Metric{Name: name, Value: value, Step: step}})
}

func (e emitter) Progress(done, total int) {
	e.send(&Event{Type: EventProgress, Progress: &Progress{Done: done, Total: total}})
}

func (e emitter) send(ev *Event) {
	ev.Seq = int(e.j.seq.Add(1))
	e.w.emit(e.j, ev, false)
}

// controlLoop applies runners' Control messages.
func (w *Worker) controlLoop(ch <-chan *message.Message) {
	for msg := range ch {
		c, err := DecodeControl(msg)
		msg.Ack()
		if err != nil {
			w.cfg.Logf("worker %s: %v", w.cfg.Name, err)
			continue
		}
		if c.Type == ControlPing {
			w.publishHeartbeat(false)
			continue
		}
		if c.Type != ControlCancel && c.Type != ControlDrain {
			continue // from a newer runner: not for this worker
		}
		now := time.Now()
		w.mu.Lock()
		// Forget runs long over, so the map stays small on a worker that
		// lives for months.
		for id, mk := range w.runs {
			if now.Sub(mk.when) > time.Hour {
				delete(w.runs, id)
			}
		}
		w.runs[c.RunID] = runMark{typ: c.Type, when: now}
		if c.Type == ControlCancel {
			for k, j := range w.running {
				if k.run == c.RunID {
					j.cancel(errRunCancelled)
				}
			}
		}
		w.mu.Unlock()
	}
}

// leaseLoop renews the claims of running tasks, batched into one LEASE event
// per run, so that a thousand running tasks cost one timer, not a thousand.
func (w *Worker) leaseLoop(life context.Context) {
	timer := time.NewTimer(time.Second)
	defer timer.Stop()
	for {
		select {
		case <-life.Done():
			return
		case <-w.kick:
		case <-timer.C:
		}
		now := time.Now()
		next := time.Second
		batches := map[string]*Event{}
		type claim struct {
			j   *job
			seq int
		}
		var claims []claim
		w.mu.Lock()
		for _, j := range w.running {
			if !j.settled {
				if j.claimDue.After(now) {
					next = min(next, j.claimDue.Sub(now))
					continue
				}
				// Still running at its claim time: claim it now, with
				// the sequence number taken under the lock so the
				// outcome numbers after it.
				j.settled = true
				j.lastLease = now
				claims = append(claims, claim{j, int(j.seq.Add(1))})
			}
			iv := time.Duration(j.m.LeaseInterval)
			if iv <= 0 {
				continue
			}
			due := j.lastLease.Add(iv)
			if !due.After(now) {
				ev := batches[j.m.ReplyTo]
				if ev == nil {
					ev = &Event{Type: EventLease, RunID: j.m.RunID, Worker: w.cfg.Name}
					batches[j.m.ReplyTo] = ev
				}
				ev.Leases = append(ev.Leases, Lease{TaskID: j.m.TaskID, Attempt: j.m.Attempt})
				j.lastLease = now
				due = now.Add(iv)
			}
			next = min(next, due.Sub(now))
		}
		w.wakeAt = now.Add(next)
		w.mu.Unlock()
		for _, c := range claims {
			w.claim(c.j, c.seq)
		}
		for topic, ev := range batches {
			ev.Time = now
			msg, err := EncodeEvent(ev)
			if err == nil {
				err = w.pub.Publish(topic, msg)
			}
			if err != nil {
				w.cfg.Logf("worker %s: lease: %v", w.cfg.Name, err)
			}
		}
		if !timer.Stop() {
			select {
			case <-timer.C:
			default:
			}
		}
		timer.Reset(next)
	}
}

func (w *Worker) heartbeatLoop(life context.Context) {
	w.publishHeartbeat(false)
	t := time.NewTicker(w.cfg.HeartbeatInterval)
	defer t.Stop()
	for {
		select {
		case <-life.Done():
			return
		case <-t.C:
			w.publishHeartbeat(false)
		}
	}
}

func (w *Worker) publishHeartbeat(stopping bool) {
	w.mu.Lock()
	running := make([]string, 0, len(w.running))
	for k := range w.running {
		running = append(running, k.run+"/"+k.task)
	}
	w.mu.Unlock()
	msg, err := EncodeHeartbeat(&Heartbeat{
		Worker:      w.cfg.Name,
		Host:        w.host,
		PID:         os.Getpid(),
		Labels:      w.cfg.Labels,
		Concurrency: w.cfg.Concurrency,
		Running:     running,
		Time:        time.Now(),
		Interval:    Duration(w.cfg.HeartbeatInterval),
		Stopping:    stopping,
	})
	if err == nil {
		err = w.pub.Publish(WorkersTopic, msg)
	}
	if err != nil {
		w.cfg.Logf("worker %s: heartbeat: %v", w.cfg.Name, err)
	}
}
