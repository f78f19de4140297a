package runtime

import "time"

// limits is the scheduler's state for the ends of a run that no task
// decides: why it stopped early (the reason every task it cancelled
// reports), its Timeout, and the labels that no live worker serves.
type limits struct {
	// drain is the reason of the tasks a fail-fast stop cancelled, naming
	// the failed task; cancel that of the tasks a cancellation (ctx,
	// Timeout) stopped. The first of each stands, so that every task that
	// a stop cancelled gives the same reason whatever the timing.
	drain, cancel string
	// unserved holds, per label whose tasks wait unclaimed while no live
	// worker serves it, since when that is so.
	unserved map[string]time.Time
	lastPing time.Time
}

// Reasons of the tasks a stop cancelled. Cancellation by ctx is SIGINT or
// SIGTERM in `omp run`.
const reasonInterrupted = "cancelled: interrupted"

func reasonFailed(id string) string { return "cancelled: " + id + " failed" }

func reasonTimeout(d time.Duration) string {
	return "cancelled: run timeout " + d.String() + " exceeded"
}

// reasonOf is the error of a task cancelled because dep did not succeed:
// the cause at the root of the chain, the same for every task below it.
func reasonOf(dep *task) string {
	switch {
	case dep.rep.State == Failure:
		return reasonFailed(dep.n.ID)
	case dep.rep.Error != "":
		return dep.rep.Error
	}
	return "cancelled: " + dep.n.ID + " was cancelled"
}

// cancelReason is the error of a task whose attempt was cancelled.
func (s *scheduler) cancelReason() string {
	if s.lim.cancel != "" {
		return s.lim.cancel
	}
	return "cancelled"
}

// runTimer returns a timer that fires at the end of Config.Timeout, or nil.
func (s *scheduler) runTimer() *time.Timer {
	if s.cfg.Timeout <= 0 {
		return nil
	}
	return time.NewTimer(s.cfg.Timeout)
}

// cancelWith cancels the run for the given reason, unless it was
// cancelled already.
func (s *scheduler) cancelWith(reason string) {
	if s.cancelled {
		return
	}
	if s.lim.cancel == "" {
		s.lim.cancel = reason
	}
	s.cancel()
}

// pingInterval is how often the runner asks for heartbeats while tasks
// wait for a label nobody was heard to serve: often enough that a worker
// started meanwhile is known well before NoWorkerTimeout, rarely enough not
// to matter to the broker.
func (s *scheduler) pingInterval() time.Duration {
	return min(max(s.cfg.NoWorkerTimeout/4, 10*time.Millisecond), 2*time.Second)
}

// failUnserved fails the waiting tasks of every label that no live worker
// has served for NoWorkerTimeout, and asks the workers for heartbeats again
// while some label goes unserved. A task waits when it is dispatched and
// not claimed, or ready and held back by MaxInFlight. A label counts as
// served while a live worker announces it, however busy, or while a task of
// it runs or was heard of.
func (s *scheduler) failUnserved(now time.Time) {
	limit := s.cfg.NoWorkerTimeout
	if limit <= 0 || s.stopping {
		return
	}
	waiting := map[string]bool{}
	for t := range s.inflight {
		if t.claimed() {
			waiting[t.rep.Label] = false // running: served
		} else if _, seen := waiting[t.rep.Label]; !seen {
			waiting[t.rep.Label] = true
		}
	}
	for label, l := range s.labels {
		if l.head < len(l.backlog) {
			if _, seen := waiting[label]; !seen {
				waiting[label] = true
			}
		}
	}
	if s.lim.unserved == nil {
		s.lim.unserved = map[string]time.Time{}
	}
	var gone []string
	for label := range s.labels {
		if !waiting[label] || s.served(label, now) {
			delete(s.lim.unserved, label)
			continue
		}
		since, ok := s.lim.unserved[label]
		if !ok {
			s.lim.unserved[label] = now
			continue
		}
		// A worker heard of lately served it, heartbeat or not.
		since = later(since, s.labels[label].lastClaim)
		// Fail only on a silence that followed a question: the last ping
		// went out a while after the label was found unserved.
		if now.Sub(since) >= limit && s.lim.lastPing.After(since) && now.Sub(s.lim.lastPing) >= s.pingInterval()/2 {
			gone = append(gone, label)
		}
	}
	for _, label := range gone {
		delete(s.lim.unserved, label)
		msg := "no worker serves label " + label
		for _, t := range s.tasks {
			if t.rep.Label == label && !t.rep.State.Done() && !t.claimed() && (t.rep.State == Pending && s.isReady(t)) {
				s.finish(t, Failure, nil, msg)
			}
		}
	}
	if len(s.lim.unserved) > 0 && now.Sub(s.lim.lastPing) >= s.pingInterval() {
		s.ping(now)
	}
}

// isReady reports whether a pending task was dispatched or waits for room
// under MaxInFlight, as opposed to waiting for its dependencies.
func (s *scheduler) isReady(t *task) bool {
	if _, ok := s.inflight[t]; ok {
		return true
	}
	return t.waiting == 0 && t.msg == nil
}

func later(a, b time.Time) time.Time {
	if b.After(a) {
		return b
	}
	return a
}

// ping asks every worker for a heartbeat.
func (s *scheduler) ping(now time.Time) {
	s.lim.lastPing = now
	s.control(ControlPing)
}
