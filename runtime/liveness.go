package runtime

import (
	"fmt"
	"time"
)

type workerSeen struct {
	hb   *Heartbeat
	seen time.Time
}

func (s *scheduler) checkInterval() time.Duration {
	d := min(s.cfg.LeaseInterval, s.cfg.DispatchTimeout, s.cfg.NoWorkerWarning) / 4
	if s.cfg.NoWorkerTimeout > 0 {
		d = min(d, s.cfg.NoWorkerTimeout/8)
	}
	return max(d, 5*time.Millisecond)
}

// maxClaimWithin bounds TaskMessage.ClaimWithin. It is short: until its
// claim the runner cannot tell a running task from a queued one, which
// matters when a run fails fast (running tasks finish, queued ones are
// cancelled).
const maxClaimWithin = 10 * time.Millisecond

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
		if len(t.fl.early) > 0 && now.Sub(t.fl.earlyAt) > gapLimit {
			// An event was lost: go on without it.
			s.skipGap(t, now)
			if t.rep.State.Done() {
				continue
			}
		}
		if t.claimed() {
			if now.Sub(t.fl.lastSeen) > lapse {
				s.workerLost(t, now)
			} else {
				running[t.rep.Label] = true
			}
			continue
		}
		if t.fl.holder != "" && !s.holds(t.fl.holder, now) {
			// The worker that was to go on with it after its
			// predecessor is gone: nobody else has its message.
			s.redispatch(t, now)
			continue
		}
		l := s.labels[t.rep.Label]
		if now.Sub(t.fl.dispatchedAt) > s.cfg.DispatchTimeout && now.Sub(l.lastClaim) > s.cfg.DispatchTimeout && s.hasRoom(t.rep.Label, now) {
			s.redispatch(t, now)
			continue
		}
		if unclaimed == nil {
			unclaimed = map[string]*waiting{}
		}
		w := unclaimed[t.rep.Label]
		if w == nil {
			w = &waiting{oldest: t.fl.dispatchedAt}
			unclaimed[t.rep.Label] = w
		}
		w.n++
		if t.fl.dispatchedAt.Before(w.oldest) {
			w.oldest = t.fl.dispatchedAt
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
		s.notify(Update{Type: UpdateWarning, Label: label, Message: fmt.Sprintf("no worker serves label %s (%s)", label, waiting)})
	}
	s.failUnserved(now)
	s.flush()
}

// heartbeat records a worker's heartbeat; a stopping worker is forgotten.
func (s *scheduler) heartbeat(hb *Heartbeat, now time.Time) {
	if hb.Stopping {
		delete(s.workers, hb.Worker)
		return
	}
	s.workers[hb.Worker] = &workerSeen{hb: hb, seen: now}
}

// alive reports whether a worker's heartbeat is recent.
func (s *scheduler) alive(w *workerSeen, now time.Time) bool {
	iv := max(time.Duration(w.hb.Interval), time.Millisecond)
	return now.Sub(w.seen) <= 3*iv
}

// holds reports whether worker is alive: one that stopped or whose
// heartbeats lapsed no longer runs what it was given.
func (s *scheduler) holds(worker string, now time.Time) bool {
	w, ok := s.workers[worker]
	return ok && s.alive(w, now)
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

// resubscribed resynchronises the run with its workers once the runner's
// connection to the broker is back: whatever was sent while it was away
// may be lost (a restarted broker drops waiting events and the workers'
// heartbeats went to a queue that died with the connection). The workers
// are asked for heartbeats and to send again the claims and recent outcomes
// of this run; and since nothing could be heard while the broker was away,
// the claimed tasks' leases count from now.
func (s *scheduler) resubscribed(now time.Time) {
	s.ping(now)
	s.control(ControlResync)
	// A worker whose connection was away too may have missed how the run
	// stops.
	switch {
	case s.cancelled:
		s.control(ControlCancel)
	case s.stopping:
		s.control(ControlDrain)
	}
	for t := range s.inflight {
		if t.claimed() {
			t.fl.lastSeen = now
		}
	}
}

// remindCancel sends a cancelled run's CANCEL again, at most once a second,
// when a worker claims one of its attempts (a claim sent again after a
// reconnect): that worker missed the CANCEL while its connection was away.
func (s *scheduler) remindCancel(ev *Event, now time.Time) {
	if !s.cancelled || ev.Type != EventStarted || now.Sub(s.reminded) < time.Second {
		return
	}
	s.reminded = now
	s.control(ControlCancel)
}
