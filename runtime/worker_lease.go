package runtime

import (
	"context"
	"time"
)

// leaseLoop renews the claims of running tasks, batched into one LEASE event
// per run, so that a thousand running tasks cost one timer, not a thousand.
// It also claims the tasks still running when their claim falls due.
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
		r := w.dueLeases(time.Now())
		w.sendLeases(r)
		if !timer.Stop() {
			select {
			case <-timer.C:
			default:
			}
		}
		timer.Reset(r.next)
	}
}

// kickLease wakes the lease loop early, when a task needs it sooner than the
// loop planned to wake.
func (w *Worker) kickLease() {
	select {
	case w.kick <- struct{}{}:
	default:
	}
}

// leaseRound is what one wake of the lease loop found due.
type leaseRound struct {
	now    time.Time
	next   time.Duration // until the loop must wake again
	claims []dueClaim
	leases map[string]*Event // one LEASE event per reply topic
}

type dueClaim struct {
	j   *job
	seq int
}

// dueLeases collects, under the lock, the claims and lease renewals due at
// now, and marks them done so that the next round does not repeat them.
func (w *Worker) dueLeases(now time.Time) *leaseRound {
	r := &leaseRound{now: now, next: time.Second, leases: map[string]*Event{}}
	w.mu.Lock()
	defer w.mu.Unlock()
	for _, j := range w.running {
		r.visit(w.cfg.Name, j)
	}
	w.wakeAt = now.Add(r.next)
	return r
}

// visit adds j's claim and lease renewal to r if they are due, and shortens
// r.next to when they fall due otherwise. It runs with Worker.mu held.
func (r *leaseRound) visit(worker string, j *job) {
	if !j.settled {
		if j.claimDue.After(r.now) {
			r.next = min(r.next, j.claimDue.Sub(r.now))
			return
		}
		// Still running at its claim time: claim it now, with the
		// sequence number taken under the lock so the outcome numbers
		// after it.
		j.settled = true
		j.lastLease = r.now
		r.claims = append(r.claims, dueClaim{j, int(j.seq.Add(1))})
	}
	iv := time.Duration(j.m.LeaseInterval)
	if iv <= 0 {
		return
	}
	due := j.lastLease.Add(iv)
	if !due.After(r.now) {
		ev := r.leases[j.m.ReplyTo]
		if ev == nil {
			ev = &Event{Type: EventLease, RunID: j.m.RunID, Worker: worker}
			r.leases[j.m.ReplyTo] = ev
		}
		ev.Leases = append(ev.Leases, Lease{TaskID: j.m.TaskID, Attempt: j.m.Attempt})
		j.lastLease = r.now
		due = r.now.Add(iv)
	}
	r.next = min(r.next, due.Sub(r.now))
}

// sendLeases sends the claims and LEASE events of a round, outside the lock.
func (w *Worker) sendLeases(r *leaseRound) {
	for _, c := range r.claims {
		w.claim(c.j, c.seq)
	}
	for topic, ev := range r.leases {
		ev.Time = r.now
		msg, err := EncodeEvent(ev)
		if err == nil {
			err = w.pub.Publish(topic, msg)
		}
		if err != nil {
			w.log.Error("lease", "run", ev.RunID, "error", err)
		}
	}
}
