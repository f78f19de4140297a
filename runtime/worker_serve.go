package runtime

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
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
	log     *slog.Logger // cfg.Logger with the worker's name
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
	// sent are the outcomes reported lately, to send again (resync).
	sent outcomes
	// deliveries numbers the task messages this worker took.
	deliveries atomic.Uint64
	// stopping is set once the worker stops taking tasks: it then goes on
	// with no chain (TaskMessage.Then).
	stopping atomic.Bool
}

type jobKey struct{ run, task string }

type job struct {
	m *TaskMessage
	// msg is the delivered message, nil for a task that came in its
	// predecessor's (TaskMessage.Then): that has no message to settle.
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
		log:     cfg.Logger.With("worker", cfg.Name),
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
	defer context.AfterFunc(takeCtx, func() { w.stopping.Store(true) })()
	subs, err := w.subscribeTasks(takeCtx)
	if err != nil {
		// The control loop ends with life, and loops.Wait waits for it.
		endLife()
		return err
	}

	loops.Add(2)
	go func() { defer loops.Done(); w.heartbeatLoop(life) }()
	go func() { defer loops.Done(); w.leaseLoop(life) }()

	p := newPool(w, life)
	p.takeAll(ctx, subs)
	w.drain(p.done())
	// The last outcomes may still be on their way to the broker.
	w.out.wait()
	w.publishHeartbeat(true)
	endLife()
	return nil
}

// subscribeTasks subscribes to the task topic of each of the worker's labels.
func (w *Worker) subscribeTasks(ctx context.Context) ([]<-chan *message.Message, error) {
	var subs []<-chan *message.Message
	for _, l := range w.cfg.Labels {
		ch, err := w.cfg.Bus.Tasks().Subscribe(ctx, TaskTopic(l))
		if err != nil {
			return nil, fmt.Errorf("worker %s: subscribe %s: %w", w.cfg.Name, TaskTopic(l), err)
		}
		subs = append(subs, ch)
	}
	return subs, nil
}

// drain waits until done, for at most GracePeriod; past it, it cancels the
// running tasks, releasing them to their runners, and waits for them to end.
func (w *Worker) drain(done <-chan struct{}) {
	grace := time.NewTimer(w.cfg.GracePeriod)
	defer grace.Stop()
	select {
	case <-done:
	case <-grace.C:
		w.mu.Lock()
		for _, j := range w.running {
			j.cancel(errReleased)
		}
		w.mu.Unlock()
		<-done
	}
}

// handle runs one task message, and then the tasks chained to it
// (TaskMessage.Then) for as long as each succeeds.
func (w *Worker) handle(life context.Context, msg *message.Message) {
	m := w.accept(msg)
	for m != nil {
		m = w.attempt(life, m, msg)
		msg = nil
		if m != nil && !w.follow(m) {
			return
		}
	}
}

// attempt runs one attempt: claim, ack, run, report. It does not wait for the
// outcome to reach the bus unless it publishes it itself (see
// outbox.sendThen): the slot takes the next task while the outcome is
// published. It returns the task to go on with, if the attempt succeeded
// and has one chained to it. msg is nil for a task that came chained.
func (w *Worker) attempt(life context.Context, m *TaskMessage, msg *message.Message) (next *TaskMessage) {
	ctx, cancel := context.WithCancelCause(life)
	defer cancel(nil)
	began := time.Now()
	j, claimNow := w.register(m, msg, cancel, began)
	if j == nil {
		if msg != nil {
			msg.Ack()
		}
		return nil
	}
	if claimNow && !w.claim(j, int(j.seq.Add(1))) {
		w.forget(j)
		return nil
	}
	res, err := w.handler(ctx, m, emitter{w, j})
	ev := outcome(m, res, err, context.Cause(ctx), w.cfg.IsInfra)
	ev.Started = began
	if ev.Type == EventResult && len(m.Then) > 0 {
		next = &TaskMessage{}
		*next = m.Then[0]
		next.Input, next.Then = ev.Result, m.Then[1:]
	}
	w.report(j, &ev, next != nil)
	return next
}

// follow tells whether to go on with m, the next task of a chain: not if its
// run was cancelled or drained (the runner cancels m itself), nor if the
// worker stops taking tasks: it then releases m, and the runner publishes it
// for another worker.
func (w *Worker) follow(m *TaskMessage) bool {
	if !w.admit(m) {
		return false
	}
	if w.stopping.Load() {
		w.emit(&job{m: m, delivery: w.newDelivery()}, &Event{Type: EventRelease, Seq: 1}, false)
		return false
	}
	return true
}

// accept decodes a task message, or acks and drops it (returning nil) when
// it cannot be read or belongs to a run that was cancelled or drained.
func (w *Worker) accept(msg *message.Message) *TaskMessage {
	m, err := taskOf(msg)
	if err != nil {
		// A message nobody can read would come back forever: take it
		// off the queue, and let the bus keep it for inspection.
		w.log.Error("rejecting task message", "error", err)
		msg.Metadata.Set(RejectMeta, err.Error())
		msg.Ack()
		return nil
	}
	if !w.admit(m) {
		msg.Ack()
		return nil
	}
	return m
}

// admit tells whether m, taken from the bus or chained, is to run: not if its
// run failed fast or was cancelled, whose runner has already marked the task
// CANCELLED and waits for nothing. It fills in m's default reply topic.
func (w *Worker) admit(m *TaskMessage) bool {
	w.mu.Lock()
	mark, marked := w.runs[m.RunID]
	w.mu.Unlock()
	if marked {
		w.log.Info("dropping task of stopped run", append(taskAttrs(m), "control", mark.typ)...)
		return false
	}
	if m.ReplyTo == "" {
		m.ReplyTo = EventTopic(m.RunID)
	}
	return true
}

// newDelivery names a delivery of a task to this worker.
func (w *Worker) newDelivery() string {
	return w.cfg.Name + "/" + strconv.FormatUint(w.deliveries.Add(1), 36)
}

// register records a job as running, for the lease loop, the heartbeat and
// cancellation, and wakes the lease loop if the job needs it sooner than it
// planned to wake. claimNow is true when the job must be claimed before it
// runs; otherwise the job's outcome or the lease loop claims it. A message
// that is another delivery of an attempt running or just finished here
// registers nothing: j is nil, and the message is to be acked.
func (w *Worker) register(m *TaskMessage, msg *message.Message, cancel context.CancelCauseFunc, now time.Time) (j *job, claimNow bool) {
	j = &job{m: m, msg: msg, cancel: cancel, lastLease: now,
		delivery: w.newDelivery()}
	claimNow = m.ClaimWithin <= 0
	if !claimNow {
		j.claimDue = now.Add(m.ClaimWithin.std())
	}
	w.mu.Lock()
	if running, sent := w.duplicateLocked(m); running || sent != nil {
		w.mu.Unlock()
		w.dropDuplicate(m, running, sent)
		return nil, false
	}
	w.running[jobKey{m.RunID, m.TaskID}] = j
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
		w.kickLease()
	}
	return j, claimNow
}

// forget removes a job that has ended from the running ones (unless another
// delivery of its task took its place meanwhile).
func (w *Worker) forget(j *job) {
	k := jobKey{j.m.RunID, j.m.TaskID}
	w.mu.Lock()
	if w.running[k] == j {
		delete(w.running, k)
	}
	w.mu.Unlock()
}

// outcome is the event that reports how a task's handler ended, given what it
// returned and why its context was cancelled, if it was.
func outcome(m *TaskMessage, res json.RawMessage, err, cause error, isInfra func(error) bool) Event {
	switch {
	case errors.Is(cause, errReleased):
		return Event{Type: EventRelease}
	case errors.Is(cause, errRunCancelled):
		return Event{Type: EventFailure, Error: "cancelled", Cancelled: true}
	case err == nil && len(res) == 0:
		return Event{Type: EventResult, Result: json.RawMessage("null")}
	case err == nil && !json.Valid(res):
		// It could not even be sent: fail the task, not the delivery.
		return Event{Type: EventFailure, Error: fmt.Sprintf("%s %s: result is not valid JSON", m.Kind, m.Name), Permanent: true}
	case err == nil:
		return Event{Type: EventResult, Result: res}
	default:
		infra := isInfra(err)
		return Event{Type: EventFailure, Error: err.Error(), Permanent: infra || sdk.IsPermanent(err), Infra: infra}
	}
}

// report sends a job's outcome without waiting for other publications: the
// job stays running (its lease renewed) until the bus took the outcome. For a job done
// before its claim was due, the outcome is the claim: the message is acked
// once it is sent (nacked if it cannot be), and a release gives the message
// back to the bus unsent.
// With more, the slot goes on with a chained task: it leaves the publish to
// the outbox rather than wait for the broker's confirm.
func (w *Worker) report(j *job, ev *Event, more bool) {
	w.mu.Lock()
	settled := j.settled
	j.settled = true
	// j is still among the running ones until its outcome is sent. An
	// in-process bus publishes at once: handing that off costs more than
	// it saves.
	_, local := w.pub.(inProcess)
	busy := (more || len(w.running) > 1) && !local
	w.mu.Unlock()
	if !settled && ev.Type == EventRelease && j.msg != nil {
		// Never claimed: give the message back to the bus as it came.
		j.msg.Nack()
		w.forget(j)
		return
	}
	ev.Seq = int(j.seq.Add(1))
	w.emitThen(j, ev, busy, func(err error) {
		if err == nil && ev.Type != EventRelease {
			w.mu.Lock()
			w.sent.remember(j, ev, time.Now())
			w.mu.Unlock()
		}
		if !settled && j.msg != nil {
			if err == nil {
				j.msg.Ack()
			} else {
				j.msg.Nack()
			}
		}
		w.forget(j)
		w.logEnd(j.m, ev, err)
	})
}

// logEnd logs the end of an attempt. Every end line names the run, task and
// attempt, also for a task so quick that it never sent a claim (and so never
// logged a start line).
func (w *Worker) logEnd(m *TaskMessage, ev *Event, reportErr error) {
	switch {
	case reportErr != nil:
		// A claimed task's lease ends with this attempt, so the runner
		// dispatches it again: nothing is lost, the work is repeated.
		w.log.Error("report", append(taskAttrs(m), "error", reportErr)...)
	case ev.Type == EventFailure:
		w.log.Info("end", append(taskAttrs(m), "outcome", ev.Type, "error", ev.Error)...)
	default:
		w.log.Info("end", append(taskAttrs(m), "outcome", ev.Type)...)
	}
}

// taskAttrs name an attempt in the worker's log, as attributes a log
// system can index.
func taskAttrs(m *TaskMessage) []any {
	return []any{"run", m.RunID, "task", m.TaskID, "attempt", m.Attempt, "kind", m.Kind, "node", m.Name + "." + m.Action}
}

// claim sends STARTED for a job (already marked settled) and then acks its
// message, so the runner tracks the task before the bus forgets it. If the
// claim cannot be sent, the message is nacked for the bus to deliver again.
//
// A chained task has no message: a claim that cannot be sent leaves it to
// the runner, which dispatches it again once it misses it.
func (w *Worker) claim(j *job, seq int) bool {
	if err := w.emit(j, &Event{Type: EventStarted, Seq: seq}, true); err != nil {
		w.log.Error("claim", append(taskAttrs(j.m), "error", err)...)
		if j.msg != nil {
			j.msg.Nack()
		}
		return false
	}
	if j.msg != nil {
		j.msg.Ack()
	}
	w.log.Info("start", taskAttrs(j.m)...)
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

// StartEmbedded starts the workers of an embedded run (omp run without a
// broker, omp serve): one Worker named "embedded" serving every label on
// bus with concurrency tasks at once. It runs on a context of its own,
// because a cancelled run still needs its workers to hear the CANCEL and
// report their tasks stopped; stop ends it and waits.
func StartEmbedded(bus Bus, executor Executor, concurrency int) (stop func(), err error) {
	w, err := NewWorker(WorkerConfig{
		Name:        "embedded",
		Labels:      []string{AnyLabel},
		Concurrency: concurrency,
		Bus:         bus,
		Executor:    executor,
	})
	if err != nil {
		return nil, err
	}
	ctx, cancel := context.WithCancel(context.Background())
	served := make(chan error, 1)
	go func() { served <- w.Serve(ctx) }()
	return func() { cancel(); <-served }, nil
}
