package runtime

import (
	"time"

	"github.com/ThreeDotsLabs/watermill/message"
)

// A broker that restarts loses the events waiting in its queues (they are
// transient), and may deliver again a task message whose ack it never got.
// So a worker remembers the outcomes it reported lately and, when its
// control subscription comes back after a lost connection or a runner asks
// (ControlResync), sends them again with the claims of its running attempts;
// and a task message of an attempt it runs or has just finished is not run
// again. The runner ignores what it already knew.
const (
	// resendWindow is how long an outcome is remembered: an event lost by
	// a broker restart waited in a queue, which runners empty within
	// moments, so a minute is ample.
	resendWindow = time.Minute
	// resendMax bounds the outcomes remembered, and so the memory of a
	// worker that runs many quick tasks.
	resendMax = 4096
)

// sentOutcome is an outcome that a worker reported.
type sentOutcome struct {
	key   jobKey
	topic string
	ev    *Event
	at    time.Time
}

// outcomes remembers a worker's recent outcomes; Worker.mu guards it.
type outcomes struct {
	byKey map[jobKey]*sentOutcome
	fifo  []*sentOutcome
}

// remember records an outcome sent for j. It runs with Worker.mu held.
func (o *outcomes) remember(j *job, ev *Event, now time.Time) {
	if o.byKey == nil {
		o.byKey = map[jobKey]*sentOutcome{}
	}
	s := &sentOutcome{key: jobKey{j.m.RunID, j.m.TaskID}, topic: j.m.ReplyTo, ev: ev, at: now}
	o.byKey[s.key] = s
	o.fifo = append(o.fifo, s)
	for len(o.fifo) > 0 && (len(o.fifo) > resendMax || now.Sub(o.fifo[0].at) > resendWindow) {
		old := o.fifo[0]
		o.fifo[0] = nil
		o.fifo = o.fifo[1:]
		if o.byKey[old.key] == old {
			delete(o.byKey, old.key)
		}
	}
}

// lookup returns the remembered outcome of attempt of key, or nil.
func (o *outcomes) lookup(key jobKey, attempt int, now time.Time) *sentOutcome {
	s := o.byKey[key]
	if s == nil || s.ev.Attempt != attempt || now.Sub(s.at) > resendWindow {
		return nil
	}
	return s
}

// duplicateLocked tells whether m is another delivery of an attempt that
// this worker runs or has just finished (then sent is its outcome, to send
// again, since the runner that published m again may have lost it). It runs
// with Worker.mu held, in the same critical section that registers a job,
// so that two copies handled at once by two slots cannot both run.
func (w *Worker) duplicateLocked(m *TaskMessage) (running bool, sent *sentOutcome) {
	key := jobKey{m.RunID, m.TaskID}
	if j := w.running[key]; j != nil && j.m.Attempt == m.Attempt {
		return true, nil
	}
	return false, w.sent.lookup(key, m.Attempt, time.Now())
}

// dropDuplicate logs a delivery that duplicateLocked found to be a copy and,
// for an attempt that ended, sends its outcome again. It runs without
// Worker.mu.
func (w *Worker) dropDuplicate(m *TaskMessage, running bool, sent *sentOutcome) {
	switch {
	case running:
		w.log.Info("running already; dropping another delivery", taskAttrs(m)...)
	case sent != nil:
		w.log.Info("ran already; sending its outcome again", append(taskAttrs(m), "outcome", sent.ev.Type)...)
		w.out.send(sent.topic, sent.ev, false)
	}
}

// resync sends again the claims of the running attempts and the recent
// outcomes of run, or of every run if run is empty.
func (w *Worker) resync(run string) {
	var claims []*job
	var sent []*sentOutcome
	now := time.Now()
	w.mu.Lock()
	for k, j := range w.running {
		if (run == "" || k.run == run) && j.settled {
			claims = append(claims, j)
		}
	}
	for _, s := range w.sent.fifo {
		if (run == "" || s.key.run == run) && now.Sub(s.at) <= resendWindow && w.sent.byKey[s.key] == s {
			sent = append(sent, s)
		}
	}
	w.mu.Unlock()
	for _, j := range claims {
		// Unnumbered: the runner applies it whatever it heard before,
		// and a claim it already has changes nothing.
		w.emit(j, &Event{Type: EventStarted}, false)
	}
	for _, s := range sent {
		w.out.send(s.topic, s.ev, false)
	}
	if len(claims)+len(sent) > 0 {
		w.log.Info("resync: sent again", "claims", len(claims), "outcomes", len(sent))
	}
}

// resubscribed handles the control subscription's return after a lost
// connection: what this worker sent meanwhile may be lost, and runners may
// have forgotten it.
func (w *Worker) resubscribed(msg *message.Message) bool {
	if msg.Metadata.Get(ResubscribedMeta) == "" {
		return false
	}
	msg.Ack()
	w.log.Info("broker connection back")
	w.publishHeartbeat(false)
	w.resync("")
	return true
}
