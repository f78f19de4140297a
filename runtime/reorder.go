package runtime

import (
	"slices"
	"time"

	"github.com/ompdev/omp/compiler"
)

// gapLimit bounds how long events wait for one that overtook them.
const gapLimit = 500 * time.Millisecond

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

// handle applies one event. Events of a done task, of another attempt than
// the current one, or repeated, change nothing.
func (s *scheduler) handle(ev *Event, now time.Time) {
	if ev.RunID != s.cfg.RunID {
		return
	}
	s.remindCancel(ev, now)
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
	if t != nil && t.chained && !t.state.Done() && ev.Attempt == 1 && ev.Dispatch == 1 {
		// It overtook its predecessor's outcome, which dispatches it.
		t.ahead = append(t.ahead, ev)
		return
	}
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
