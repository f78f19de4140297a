package runstest

import (
	"fmt"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/ompdev/omp/runs"
)

// testTrigger: a run keeps what started it and its tick; "" is omp run.
func testTrigger(t *testing.T, e *env) {
	r := newRun("r-sched", e.at(0))
	r.Trigger, r.Tick = runs.TriggerSchedule, e.at(-time.Second)
	e.create(r)
	got := e.run("r-sched")
	if got.Trigger != runs.TriggerSchedule || !got.Tick.Equal(e.at(-time.Second)) {
		t.Errorf("trigger %q tick %v, want schedule %v", got.Trigger, got.Tick, e.at(-time.Second))
	}
	e.create(newRun("r-plain", e.at(time.Second)))
	if got := e.run("r-plain"); got.Trigger != runs.TriggerRun || !got.Tick.IsZero() {
		t.Errorf("a plain run: trigger %q tick %v, want run and no tick", got.Trigger, got.Tick)
	}
}

// testClaimTick: of many concurrent claims of one tick exactly one wins; a
// tick of another pipeline or time is another tick.
func testClaimTick(t *testing.T, e *env) {
	if _, ok, err := e.s.LastTick(e.ctx, "a.omp", "p"); err != nil || ok {
		t.Fatalf("LastTick of nothing = %v, %v; want none", ok, err)
	}
	tick := e.at(0).Truncate(time.Second)
	won := claimAll(t, e, []runs.Store{e.s}, 8, runs.Tick{File: "a.omp", Pipeline: "p", At: tick})
	if won != 1 {
		t.Fatalf("%d claims of one tick won, want 1", won)
	}
	for _, other := range []runs.Tick{
		{File: "a.omp", Pipeline: "q", At: tick},
		{File: "b.omp", Pipeline: "p", At: tick},
		{File: "a.omp", Pipeline: "p", At: tick.Add(2 * time.Second)},
	} {
		other.Server = "s2"
		if ok, outcome, err := e.s.ClaimTick(e.ctx, other, false); err != nil || !ok || outcome != runs.TickFired {
			t.Errorf("ClaimTick %+v = %v %q %v, want a fired claim", other, ok, outcome, err)
		}
	}
	last, ok, err := e.s.LastTick(e.ctx, "a.omp", "p")
	if err != nil || !ok || !last.Equal(tick.Add(2*time.Second)) {
		t.Errorf("LastTick = %v %v %v, want %v", last, ok, err, tick.Add(2*time.Second))
	}
	if err := e.s.SetTickRun(e.ctx, "a.omp", "p", tick, "r1"); err != nil {
		t.Fatal(err)
	}
	if err := e.s.SetTickRun(e.ctx, "a.omp", "p", tick.Add(time.Hour), "r1"); err == nil {
		t.Error("SetTickRun of a tick never claimed succeeded")
	}
	ticks, err := e.s.Ticks(e.ctx, "a.omp", "p")
	if err != nil {
		t.Fatal(err)
	}
	if len(ticks) != 2 || ticks[0].RunID != "r1" || !ticks[0].At.Equal(tick) || ticks[1].RunID != "" {
		t.Errorf("Ticks = %+v, want two, the first with run r1", ticks)
	}
}

// claimAll claims tick n times at once over stores, round robin, and says
// how many claims won.
func claimAll(t *testing.T, e *env, stores []runs.Store, n int, tick runs.Tick) int {
	var won atomic.Int32
	var wg sync.WaitGroup
	for i := range n {
		wg.Go(func() {
			tk := tick
			tk.Server = fmt.Sprintf("server%d", i)
			ok, _, err := stores[i%len(stores)].ClaimTick(e.ctx, tk, true)
			if err != nil {
				t.Errorf("ClaimTick: %v", err)
			}
			if ok {
				won.Add(1)
			}
		})
	}
	wg.Wait()
	return int(won.Load())
}

// testClaimOverlap: with skipOverlap a tick is skipped while the previous
// fired tick's run runs, or while that tick has no run yet; not once the
// run has ended, nor when the claim without a run is old.
func testClaimOverlap(t *testing.T, e *env) {
	base := e.at(0).Truncate(time.Second)
	claim := func(k int, skip bool) string {
		t.Helper()
		ok, outcome, err := e.s.ClaimTick(e.ctx, runs.Tick{File: "o.omp", Pipeline: "p", At: base.Add(time.Duration(k) * time.Second), Server: "s", Claimed: e.at(time.Duration(k) * time.Second)}, skip)
		if err != nil || !ok {
			t.Fatalf("ClaimTick %d = %v, %v", k, ok, err)
		}
		return outcome
	}
	if o := claim(0, true); o != runs.TickFired {
		t.Fatalf("first tick %s, want fired", o)
	}
	if o := claim(1, true); o != runs.TickSkipped {
		t.Errorf("tick while the first has no run yet: %s, want skipped", o)
	}
	e.create(newRun("o-run", e.at(0)))
	if err := e.s.SetTickRun(e.ctx, "o.omp", "p", base, "o-run"); err != nil {
		t.Fatal(err)
	}
	if o := claim(2, true); o != runs.TickSkipped {
		t.Errorf("tick while the run runs: %s, want skipped", o)
	}
	if o := claim(3, false); o != runs.TickFired {
		t.Errorf("overlap allowed: %s, want fired", o)
	}
	// Tick 3 fired and has no run: give it one that ended.
	e.create(newRun("o-run3", e.at(3*time.Second)))
	if err := e.s.SetTickRun(e.ctx, "o.omp", "p", base.Add(3*time.Second), "o-run3"); err != nil {
		t.Fatal(err)
	}
	for _, id := range []string{"o-run", "o-run3"} {
		if err := e.s.Finish(e.ctx, id, runs.Success, 0, e.at(4*time.Second)); err != nil {
			t.Fatal(err)
		}
	}
	if o := claim(5, true); o != runs.TickFired {
		t.Errorf("tick after the runs ended: %s, want fired", o)
	}
	// Tick 5 fired and never got a run (its server died): after
	// LostAfter it no longer blocks.
	if o := claim(6, true); o != runs.TickSkipped {
		t.Errorf("tick 1s after a claim without a run: %s, want skipped", o)
	}
	if o := claim(5+int(runs.LostAfter/time.Second)+1, true); o != runs.TickFired {
		t.Errorf("tick long after a claim without a run: %s, want fired", o)
	}
}

// testSharedClaims: Stores on one database, as replicas of omp serve
// have, claim every tick exactly once between them.
func testSharedClaims(t *testing.T, url string) {
	stores := []runs.Store{open(t, url), open(t, url), open(t, url)}
	e := newEnv(t, stores[0])
	base := e.at(0).Truncate(time.Second)
	for k := range 20 {
		if won := claimAll(t, e, stores, 6, runs.Tick{File: "s.omp", Pipeline: "p", At: base.Add(time.Duration(k) * time.Second)}); won != 1 {
			t.Errorf("tick %d: %d claims won, want 1", k, won)
		}
	}
}
