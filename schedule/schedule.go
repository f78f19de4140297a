// Package schedule fires the ticks of pipelines' schedules.
//
// Its guarantee: however many Schedulers share one run history (replicas
// of omp serve on one PostgreSQL database), each (file, pipeline, tick) is
// fired by exactly one of them, because firing a tick starts with claiming
// it in the database (runs.TickStore.ClaimTick: a row inserted in a
// transaction under a primary key of (file, pipeline, tick); whoever
// inserts it runs the tick, the others insert nothing). There is no lock
// with a lease that could lapse while its holder is paused: a Scheduler
// paused past a tick finds it claimed by another when it wakes. Every
// Scheduler computes the same ticks (compiler.Schedule.Next depends on
// nothing but the schedule and the time), so a replica that dies loses no
// tick the others are still up for.
//
// A tick a Scheduler was down for (no Scheduler at all) is missed; with
// catchup each missed tick since the newest claimed one fires once, oldest
// first, at most MaxCatchup of them (the newest), whatever overlap says;
// without, they are skipped.
package schedule

import (
	"context"
	"fmt"
	"log/slog"
	"sync"
	"time"

	"github.com/ompdev/omp/compiler"
	"github.com/ompdev/omp/runs"
)

// MaxCatchup is how many missed ticks of one pipeline catch-up fires at
// most: the newest ones.
const MaxCatchup = 100

// Entry is one scheduled pipeline.
type Entry struct {
	// File names the pipeline's file in the ticks recorded for it; every
	// replica must name it alike (omp serve: relative to the directory
	// it serves).
	File     string
	Schedule *compiler.Schedule
}

func (e Entry) key() string { return e.File + "\x00" + e.Schedule.Pipeline }

// same reports whether two entries tick alike, so that re-reading an
// unchanged schedule does not restart its loop.
func (e Entry) same(o Entry) bool {
	a, b := e.Schedule, o.Schedule
	return e.File == o.File && a.Pipeline == b.Pipeline && a.Spec == b.Spec && a.Zone == b.Zone &&
		a.Overlap == b.Overlap && a.Catchup == b.Catchup
}

// Fire starts the run of a tick this Scheduler claimed and returns the
// run's id once the run is recorded (so that overlap can see it); it must
// not wait for the run to end.
type Fire func(ctx context.Context, e Entry, tick time.Time) (runID string, err error)

// Scheduler fires the ticks of a set of entries.
type Scheduler struct {
	store  runs.TickStore
	server string
	fire   Fire
	log    *slog.Logger

	mu      sync.Mutex
	ctx     context.Context
	entries map[string]*loop
	wg      sync.WaitGroup
}

type loop struct {
	e      Entry
	cancel context.CancelFunc
}

// New returns a Scheduler that claims ticks in store as server (a name for
// the record: host and process) and fires them with fire. log gets a
// record of what is worth one on the server's log (a skipped tick, an
// error), with the file and pipeline as attributes; nil logs nothing.
func New(store runs.TickStore, server string, fire Fire, log *slog.Logger) *Scheduler {
	if log == nil {
		log = slog.New(slog.DiscardHandler)
	}
	return &Scheduler{store: store, server: server, fire: fire, log: log, entries: map[string]*loop{}}
}

// Start makes the Scheduler fire its entries' ticks until ctx is done;
// Wait waits for it to stop.
func (s *Scheduler) Start(ctx context.Context) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.ctx = ctx
	for _, l := range s.entries {
		s.startLocked(l)
	}
}

// Wait waits until every loop has returned, after Start's ctx is done.
func (s *Scheduler) Wait() { s.wg.Wait() }

// Set replaces the entries: a new one starts ticking, a removed one stops,
// and one whose schedule changed starts anew.
func (s *Scheduler) Set(entries []Entry) {
	s.mu.Lock()
	defer s.mu.Unlock()
	want := map[string]Entry{}
	for _, e := range entries {
		want[e.key()] = e
	}
	for k, l := range s.entries {
		if e, ok := want[k]; !ok || !e.same(l.e) {
			if l.cancel != nil {
				l.cancel()
			}
			delete(s.entries, k)
		}
	}
	for k, e := range want {
		if _, ok := s.entries[k]; ok {
			continue
		}
		l := &loop{e: e}
		s.entries[k] = l
		if s.ctx != nil {
			s.startLocked(l)
		}
	}
}

func (s *Scheduler) startLocked(l *loop) {
	ctx, cancel := context.WithCancel(s.ctx)
	l.cancel = cancel
	s.wg.Go(func() { s.run(ctx, l.e) })
}

func (s *Scheduler) run(ctx context.Context, e Entry) {
	sc := e.Schedule
	log := s.log.With("file", e.File, "pipeline", sc.Pipeline)
	started := time.Now()
	cursor := started
	keep := 1
	if sc.Catchup {
		keep = MaxCatchup
		last, ok, err := s.store.LastTick(ctx, e.File, sc.Pipeline)
		switch {
		case err != nil:
			log.Error("no catch-up: cannot read the last tick", "error", err)
		case ok && last.Before(cursor):
			cursor = last
		}
	}
	for {
		// Without catchup only the newest due tick fires: a loop that
		// was paused past several does not fire a burst.
		for _, t := range due(sc, cursor, time.Now(), keep) {
			if ctx.Err() != nil {
				return
			}
			// Missed ticks fire once each, overlap or not: they are
			// what catch-up is asked for.
			s.claim(ctx, e, t, sc.Overlap == "skip" && t.After(started))
			cursor = t
		}
		next := sc.Next(cursor)
		timer := time.NewTimer(time.Until(next))
		select {
		case <-ctx.Done():
			timer.Stop()
			return
		case <-timer.C:
		}
	}
}

// due returns the ticks in (after, now], oldest first; of more than keep,
// the newest keep.
func due(sc *compiler.Schedule, after, now time.Time, keep int) []time.Time {
	var ticks []time.Time
	for t := sc.Next(after); !t.After(now); t = sc.Next(t) {
		ticks = append(ticks, t)
		if len(ticks) > keep {
			ticks = ticks[1:]
		}
	}
	return ticks
}

func (s *Scheduler) claim(ctx context.Context, e Entry, t time.Time, skipOverlap bool) {
	sc := e.Schedule
	log := s.log.With("file", e.File, "pipeline", sc.Pipeline, "tick", stamp(t))
	ok, outcome, err := s.store.ClaimTick(ctx, runs.Tick{File: e.File, Pipeline: sc.Pipeline, At: t, Server: s.server}, skipOverlap)
	if err != nil {
		if ctx.Err() == nil {
			log.Error("cannot claim tick", "error", err)
		}
		return
	}
	if !ok {
		return // another server has it
	}
	if outcome == runs.TickSkipped {
		log.Info("tick skipped", "reason", "the previous scheduled run still runs")
		return
	}
	id, err := s.fire(ctx, e, t)
	if err != nil {
		log.Error("tick not fired", "error", err)
		return
	}
	if err := s.store.SetTickRun(ctx, e.File, sc.Pipeline, t, id); err != nil {
		log.Error("cannot record the tick's run", "run", id, "error", err)
	}
}

func stamp(t time.Time) string { return t.UTC().Format(time.RFC3339) }

// String describes the entry for messages.
func (e Entry) String() string { return fmt.Sprintf("%s: %s", e.File, e.Schedule.Pipeline) }
