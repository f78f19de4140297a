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
			if t := s.byID[l.TaskID]; t != nil && !t.rep.State.Done() && t.attempt == l.Attempt && t.fl != nil {
				t.fl.lastSeen = now
				s.labels[t.rep.Label].lastClaim = now
			}
		}
		return
	}
	t := s.byID[ev.TaskID]
	if t != nil && t.chained && ev.Attempt == 1 && ev.Dispatch == 1 {
		// It overtook its predecessor's outcome, which dispatches it.
		f := t.flight()
		f.ahead = append(f.ahead, ev)
		return
	}
	if t == nil || t.n.Op != compiler.OpTask || t.rep.State.Done() || t.rep.State == Retry || ev.Attempt != t.attempt {
		return
	}
	f := t.flight()
	f.lastSeen = now
	if f.delivery == "" && ev.Dispatch == t.dispatch {
		f.delivery = ev.Delivery
	}
	if ev.Seq == 0 || ev.Dispatch != t.dispatch || ev.Delivery != f.delivery {
		// Unnumbered, from a dispatch the runner gave up on whose worker
		// lives after all, or from a second delivery of the message:
		// nothing to order it with.
		s.apply(t, ev, now)
		return
	}
	switch {
	case ev.Seq < f.nextSeq:
		return // a repeat
	case ev.Seq > f.nextSeq:
		i, found := slices.BinarySearchFunc(f.early, ev.Seq, func(e *Event, seq int) int { return e.Seq - seq })
		if !found {
			if len(f.early) == 0 {
				f.earlyAt = now
			}
			f.early = slices.Insert(f.early, i, ev)
		}
		return
	}
	f.nextSeq++
	s.apply(t, ev, now)
	// An event applied may end the task, which drops its flight, or
	// dispatch it again, which gives it a new one.
	for !t.rep.State.Done() && t.fl != nil && len(t.fl.early) > 0 && t.fl.early[0].Seq == t.fl.nextSeq {
		f = t.fl
		e := f.early[0]
		f.early = f.early[1:]
		f.nextSeq++
		s.apply(t, e, now)
	}
	if t.fl != nil && len(t.fl.early) == 0 {
		t.fl.early = nil
	}
}

// skipGap applies the events held behind one that never came.
func (s *scheduler) skipGap(t *task, now time.Time) {
	early := t.fl.early
	t.fl.early = nil
	for _, e := range early {
		if t.rep.State.Done() || e.Dispatch != t.dispatch {
			return
		}
		t.fl.nextSeq = e.Seq + 1
		s.apply(t, e, now)
	}
}
