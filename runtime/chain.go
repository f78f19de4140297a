package runtime

import (
	"time"

	"github.com/ompdev/omp/compiler"
)

// maxChain bounds the tasks that ride in one task message (TaskMessage.Then).
// Past it the chain goes on in the next message the runner publishes: one
// broker round trip per maxChain links.
const maxChain = 64

// chain puts in the message of t, about to be dispatched for the first time,
// the tasks that follow it in a chain: each the only dependent of the one
// before, of the same label, taking that one's result as its only input and
// nothing else that is not known yet. A chain of tasks then costs the broker
// one round trip, not one per task: the worker goes on with the next task
// as soon as one succeeded, while the runner hears of each in the events.
func (s *scheduler) chain(t *task) {
	t.next = nil
	if s.follower(t) == nil || !s.chains(t.rep.Label) {
		return
	}
	p := t
	for range maxChain {
		d := s.follower(p)
		if d == nil {
			break
		}
		m, err := s.message(d)
		if err != nil {
			// An argument needs a result to come: the runner
			// dispatches d when it has it.
			break
		}
		// A chained task's first dispatch is the one that carries it.
		m.Attempt, m.Dispatch = 1, 1
		d.msg, d.chained, d.next = m, true, nil
		p.next = d
		t.msg.Then = append(t.msg.Then, *m)
		p = d
	}
}

// follower returns the task that may follow p in a chain, or nil.
func (s *scheduler) follower(p *task) *task {
	if len(p.dependents) != 1 {
		return nil
	}
	d := p.dependents[0]
	if d.n.Op != compiler.OpTask || d.rep.Label != p.rep.Label || d.rep.State != Pending || d.chained ||
		d.waiting != 1 || len(d.n.Inputs) != 1 || d.n.Inputs[0] != p.n.ID {
		return nil
	}
	return d
}

// chains reports whether tasks of label may be chained: a worker serves it
// and every live one that does runs chains (an older worker would drop the
// followers, which would then wait for DispatchTimeout). Not with cached
// results to reuse: the runner must look for a task's before it runs.
func (s *scheduler) chains(label string) bool {
	if s.stopping || s.cfg.Cache != nil && s.cfg.Cache.Resume != nil {
		return false
	}
	now := s.clock()
	served := false
	for _, w := range s.workers {
		if !s.alive(w, now) || !w.hb.Serves(label) {
			continue
		}
		if !w.hb.Chains {
			return false
		}
		served = true
	}
	return served
}

// unchain takes t's followers out of its chain before t's message is
// published again: the new message carries none of them, and the runner
// dispatches each when it is ready.
func (s *scheduler) unchain(t *task) {
	t.msg.Then = nil
	for d := t.next; d != nil && d.chained; d = d.next {
		d.chained, d.fl = false, nil
	}
	t.next = nil
}

// follow dispatches d, which rode in the message of t, which just
// succeeded: t's worker goes on with it, so nothing is published. If that
// worker is lost or releases d before claiming it, d is published then.
func (s *scheduler) follow(t, d *task, now time.Time) {
	d.chained = false
	d.msg.Input = t.result
	if s.cached(d, d.msg) {
		// Not with Resume (see chains); the call records d's cache key.
		return
	}
	var ahead []*Event
	if d.fl != nil {
		ahead = d.fl.ahead
	}
	d.attempt, d.dispatch = 1, 1
	s.dispatched(d, now, t.rep.Worker)
	for _, e := range ahead {
		s.handle(e, now)
	}
}
