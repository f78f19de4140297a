package runtime

import (
	"sync"
	"time"

	"github.com/ThreeDotsLabs/watermill/message"
)

// emit sends an event of j's attempt on its reply topic. With wait it
// returns once the event was published (or failed to be); without, it
// returns at once and a failure is only logged.
func (w *Worker) emit(j *job, e *Event, wait bool) error {
	return w.out.send(w.address(j, e), e, wait)
}

// emitThen sends an event of j's attempt on its reply topic; done gets the
// outcome of the publish (see outbox.sendThen).
func (w *Worker) emitThen(j *job, e *Event, busy bool, done func(error)) {
	w.out.sendThen(w.address(j, e), e, busy, done)
}

// address fills in what e says of j's attempt and returns its reply topic.
func (w *Worker) address(j *job, e *Event) string {
	m := j.m
	e.RunID, e.TaskID, e.Attempt, e.Dispatch = m.RunID, m.TaskID, m.Attempt, m.Dispatch
	e.Worker, e.Delivery = w.cfg.Name, j.delivery
	e.Time = time.Now()
	return m.ReplyTo
}

// outbox publishes events in batches by group commit: the sender that finds
// no publication under way publishes at once, and whoever sends meanwhile
// joins the next batch, which that sender publishes too. So an idle worker
// sends each event without delay or hand-off, and a worker with many tasks
// finishing at once sends one message per reply topic, not one per event.
// A sender that does not wait for its event (sendThen) publishes at most its
// own batch, and only when the worker has nothing else running; it leaves
// the rest to a goroutine of the outbox's.
type outbox struct {
	w        *Worker
	mu       sync.Mutex
	next     map[string]*batch // by topic
	flushing bool
	// pending counts the events of sendThen whose done has not returned.
	pending sync.WaitGroup
}

type batch struct {
	events  []*Event
	waiters []chan error
	then    []func(error)
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
	o.enqueue(topic, e, done)
	if o.flushing {
		o.mu.Unlock()
	} else {
		o.flushing = true
		o.flush()
	}
	if done == nil {
		return nil
	}
	return <-done
}

// sendThen queues e for topic and calls done with the outcome of its
// publish. Like send, a sender that finds no publication under way and the
// worker otherwise idle (busy false) publishes at once, itself, so that an
// idle worker sends an outcome without a hand-off; but it publishes only
// that batch and leaves what others queued meanwhile to a goroutine of the
// outbox's, so that its slot goes on to the next task instead of publishing
// for the others. While other tasks run (busy), the goroutine publishes this
// batch too: the slot then takes its next task without waiting for the
// broker's confirm, and the outcomes that end meanwhile join the next batch.
func (o *outbox) sendThen(topic string, e *Event, busy bool, done func(error)) {
	o.pending.Add(1)
	o.mu.Lock()
	o.enqueue(topic, e, nil)
	b := o.next[topic]
	b.then = append(b.then, done)
	if o.flushing {
		o.mu.Unlock()
		return
	}
	o.flushing = true
	if !busy {
		next := o.next
		o.next = map[string]*batch{}
		o.mu.Unlock()
		o.publish(next)
		o.mu.Lock()
		if len(o.next) == 0 {
			o.flushing = false
			o.mu.Unlock()
			return
		}
	}
	o.mu.Unlock()
	go func() {
		o.mu.Lock()
		o.flush()
	}()
}

// wait returns once every event given to sendThen was published (or failed
// to be) and its done returned.
func (o *outbox) wait() { o.pending.Wait() }

// enqueue adds e, and done if not nil, to the next batch of topic. It runs
// with o.mu held.
func (o *outbox) enqueue(topic string, e *Event, done chan error) {
	b := o.next[topic]
	if b == nil {
		b = &batch{}
		o.next[topic] = b
	}
	b.events = append(b.events, e)
	if done != nil {
		b.waiters = append(b.waiters, done)
	}
}

// flush publishes the next batches until no sender has added any meanwhile.
// It runs with o.mu held and returns with it released.
func (o *outbox) flush() {
	for len(o.next) > 0 {
		next := o.next
		o.next = map[string]*batch{}
		o.mu.Unlock()
		o.publish(next)
		o.mu.Lock()
	}
	o.flushing = false
	o.mu.Unlock()
}

func (o *outbox) publish(next map[string]*batch) {
	for topic, b := range next {
		e := b.events[0]
		if len(b.events) > 1 {
			e = &Event{Type: EventBatch, RunID: e.RunID, Worker: o.w.cfg.Name, Time: time.Now(), Events: b.events}
		}
		msg, err := encodeFor(o.w.pub, func() (*message.Message, error) { return EncodeEvent(e) })
		if err == nil {
			withDecoded(msg, e)
			err = o.w.pub.Publish(topic, msg)
		}
		if err != nil && len(b.waiters) == 0 && len(b.then) == 0 {
			o.w.log.Error("lost events", "run", e.RunID, "events", len(b.events), "error", err)
		}
		for _, c := range b.waiters {
			c <- err
		}
		for _, f := range b.then {
			f(err)
			o.pending.Done()
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
