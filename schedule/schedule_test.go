package schedule_test

import (
	"context"
	"fmt"
	"log/slog"
	"path/filepath"
	"sync"
	"testing"
	"testing/synctest"
	"time"

	"github.com/ompdev/omp/compiler"
	"github.com/ompdev/omp/internal/logtest"
	"github.com/ompdev/omp/lang"
	"github.com/ompdev/omp/runs"
	"github.com/ompdev/omp/schedule"
)

func entry(t *testing.T, opts string) schedule.Entry {
	t.Helper()
	f, err := lang.Parse("s.omp", []byte("pipeline p with "+opts+" { echo a() }\n"))
	if err != nil {
		t.Fatal(err)
	}
	scheds, err := compiler.Schedules(f)
	if err != nil {
		t.Fatal(err)
	}
	return schedule.Entry{File: "s.omp", Schedule: scheds[0]}
}

// world is a run history on a real SQLite file and a record of what fired.
type world struct {
	t      *testing.T
	url    string
	mu     sync.Mutex
	fired  []time.Time // ticks, in firing order
	by     map[time.Time]string
	runFor time.Duration // how long each fired run runs
	wg     sync.WaitGroup
	logs   *logtest.Recorder // every scheduler's records, with its name as "server"
	log    *slog.Logger
}

func newWorld(t *testing.T) *world {
	rec, log := logtest.New()
	return &world{t: t, url: "sqlite:" + filepath.Join(t.TempDir(), "omp.db"), by: map[time.Time]string{}, logs: rec, log: log}
}

func (w *world) open() runs.Store {
	s, err := runs.Open(context.Background(), w.url)
	if err != nil {
		w.t.Fatal(err)
	}
	return s
}

// scheduler starts a Scheduler named server on its own Store.
func (w *world) scheduler(ctx context.Context, server string, entries ...schedule.Entry) (*schedule.Scheduler, runs.Store) {
	store := w.open()
	n := 0
	fire := func(ctx context.Context, e schedule.Entry, tick time.Time) (string, error) {
		n++
		id := fmt.Sprintf("%s-%d", server, n)
		if err := store.Create(ctx, &runs.Run{ID: id, File: e.File, Pipeline: e.Schedule.Pipeline, Trigger: runs.TriggerSchedule, Tick: tick}); err != nil {
			return "", err
		}
		w.mu.Lock()
		w.fired = append(w.fired, tick)
		w.by[tick] = server
		w.mu.Unlock()
		w.wg.Go(func() {
			time.Sleep(w.runFor)
			if err := store.Finish(context.Background(), id, runs.Success, 0, time.Now()); err != nil {
				w.t.Errorf("Finish %s: %v", id, err)
			}
		})
		return id, nil
	}
	s := schedule.New(store, server, fire, w.log.With("server", server))
	s.Set(entries)
	s.Start(ctx)
	return s, store
}

// claimed records tick at as fired by an earlier server, with a run
// that has ended.
func (w *world) claimed(at time.Time) {
	w.t.Helper()
	ctx := context.Background()
	s := w.open()
	defer s.Close()
	if ok, _, err := s.ClaimTick(ctx, runs.Tick{File: "s.omp", Pipeline: "p", At: at, Server: "old"}, false); err != nil || !ok {
		w.t.Fatalf("ClaimTick = %v, %v", ok, err)
	}
	if err := s.Create(ctx, &runs.Run{ID: "old", File: "s.omp", Pipeline: "p", Trigger: runs.TriggerSchedule, Tick: at}); err != nil {
		w.t.Fatal(err)
	}
	if err := s.SetTickRun(ctx, "s.omp", "p", at, "old"); err != nil {
		w.t.Fatal(err)
	}
	if err := s.Finish(ctx, "old", runs.Success, 0, at); err != nil {
		w.t.Fatal(err)
	}
}

// wantTicks checks that the fired ticks are exactly first, first+every, ….
func (w *world) wantTicks(first time.Time, every time.Duration, n int) {
	w.t.Helper()
	w.mu.Lock()
	defer w.mu.Unlock()
	if len(w.fired) != n {
		w.t.Errorf("%d ticks fired, want %d: %v", len(w.fired), n, w.fired)
	}
	for i, tk := range w.fired {
		if want := first.Add(time.Duration(i) * every); !tk.Equal(want) {
			w.t.Errorf("tick %d fired at %v, want %v", i, tk, want)
		}
	}
}

// TestExactlyOnce: three schedulers on one database fire every tick of an
// @every 2s schedule exactly once between them.
func TestExactlyOnce(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		w := newWorld(t)
		e := entry(t, `schedule="@every 2s", overlap="allow"`)
		ctx, cancel := context.WithCancel(t.Context())
		start := time.Now()
		var stores []runs.Store
		var scheds []*schedule.Scheduler
		for i := range 3 {
			s, st := w.scheduler(ctx, fmt.Sprintf("server%d", i), e)
			scheds, stores = append(scheds, s), append(stores, st)
		}
		// Half a period past the tenth tick: the claim and the run's
		// record are database calls, which a goroutine can wait on (a
		// mutex of the connection pool) while the bubble's clock moves.
		time.Sleep(21 * time.Second)
		cancel()
		for _, s := range scheds {
			s.Wait()
		}
		w.wg.Wait()
		w.wantTicks(start.Truncate(2*time.Second).Add(2*time.Second), 2*time.Second, 10)
		ticks, err := stores[0].Ticks(context.Background(), "s.omp", "p")
		if err != nil {
			t.Fatal(err)
		}
		for _, tk := range ticks {
			if tk.Outcome != runs.TickFired || tk.RunID == "" {
				t.Errorf("tick %+v, want fired with a run", tk)
			}
		}
		for _, st := range stores {
			st.Close()
		}
	})
}

// TestOverlapSkip: runs of 5s on an @every 2s schedule: the ticks while
// one runs are recorded as skipped.
func TestOverlapSkip(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		w := newWorld(t)
		w.runFor = 5 * time.Second
		ctx, cancel := context.WithCancel(t.Context())
		start := time.Now()
		s, store := w.scheduler(ctx, "a", entry(t, `schedule="@every 2s"`))
		time.Sleep(12*time.Second + time.Millisecond)
		cancel()
		s.Wait()
		w.wg.Wait()
		first := start.Truncate(2 * time.Second).Add(2 * time.Second)
		ticks, err := store.Ticks(context.Background(), "s.omp", "p")
		if err != nil {
			t.Fatal(err)
		}
		// Runs at 2 (to 7) and 8 (to 13): 4 and 6 skipped, 10 and 12 too.
		want := []string{runs.TickFired, runs.TickSkipped, runs.TickSkipped, runs.TickFired, runs.TickSkipped, runs.TickSkipped}
		if len(ticks) != len(want) {
			t.Fatalf("%d ticks recorded, want %d: %+v", len(ticks), len(want), ticks)
		}
		for i, tk := range ticks {
			at := first.Add(time.Duration(i) * 2 * time.Second)
			if !tk.At.Equal(at) || tk.Outcome != want[i] {
				t.Errorf("tick %d: %v %s, want %v %s", i, tk.At, tk.Outcome, at, want[i])
			}
			// Each skipped tick, and only those, says so on the log.
			logged := len(w.logs.Find("tick skipped", "server", "a", "file", "s.omp", "pipeline", "p", "tick", at.UTC().Format(time.RFC3339)))
			wantLogged := 0
			if tk.Outcome == runs.TickSkipped {
				wantLogged = 1
			}
			if logged != wantLogged {
				t.Errorf("tick %d (%s): %d \"tick skipped\" records; the log:\n%s", i, tk.Outcome, logged, w.logs.Dump())
			}
		}
		store.Close()
	})
}

// TestCatchup: a scheduler that starts 11s after the last claimed tick
// fires the missed ticks once each, oldest first, with catchup=true, and
// none with false; then it goes on ticking.
func TestCatchup(t *testing.T) {
	for _, catchup := range []bool{true, false} {
		t.Run(fmt.Sprint(catchup), func(t *testing.T) {
			synctest.Test(t, func(t *testing.T) {
				w := newWorld(t)
				e := entry(t, fmt.Sprintf(`schedule="@every 2s", catchup=%t`, catchup))
				now := time.Now()
				last := now.Truncate(2 * time.Second).Add(-10 * time.Second)
				w.claimed(last)
				ctx, cancel := context.WithCancel(t.Context())
				s, store := w.scheduler(ctx, "a", e)
				time.Sleep(4*time.Second + time.Millisecond)
				cancel()
				s.Wait()
				w.wg.Wait()
				if catchup {
					// 5 missed (last+2 … last+10), then 2 on time.
					w.wantTicks(last.Add(2*time.Second), 2*time.Second, 7)
				} else {
					w.wantTicks(last.Add(12*time.Second), 2*time.Second, 2)
				}
				store.Close()
			})
		})
	}
}

// TestCatchupBound: catch-up fires at most MaxCatchup ticks, the newest.
func TestCatchupBound(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		w := newWorld(t)
		now := time.Now()
		last := now.Truncate(time.Second).Add(-500 * time.Second)
		w.claimed(last)
		ctx, cancel := context.WithCancel(t.Context())
		s, store := w.scheduler(ctx, "a", entry(t, `schedule="@every 1s", catchup=true, overlap="allow"`))
		time.Sleep(time.Millisecond)
		cancel()
		s.Wait()
		w.wg.Wait()
		w.wantTicks(now.Truncate(time.Second).Add(-(schedule.MaxCatchup-1)*time.Second), time.Second, schedule.MaxCatchup)
		store.Close()
	})
}

// TestSet: an entry removed stops ticking; one added starts.
func TestSet(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		w := newWorld(t)
		ctx, cancel := context.WithCancel(t.Context())
		start := time.Now()
		e := entry(t, `schedule="@every 2s"`)
		s, store := w.scheduler(ctx, "a", e)
		time.Sleep(4*time.Second + time.Millisecond)
		s.Set(nil)
		time.Sleep(4 * time.Second)
		s.Set([]schedule.Entry{e})
		time.Sleep(2 * time.Second)
		cancel()
		s.Wait()
		w.wg.Wait()
		first := start.Truncate(2 * time.Second).Add(2 * time.Second)
		w.mu.Lock()
		got := w.fired
		w.mu.Unlock()
		want := []time.Time{first, first.Add(2 * time.Second), first.Add(8 * time.Second)}
		if fmt.Sprint(got) != fmt.Sprint(want) {
			t.Errorf("fired %v, want %v", got, want)
		}
		store.Close()
	})
}
