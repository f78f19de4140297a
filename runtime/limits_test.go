package runtime_test

import (
	"context"
	"fmt"
	"maps"
	"slices"
	"testing"
	"testing/synctest"
	"time"

	"github.com/ompdev/omp/plugins/echo"
	"github.com/ompdev/omp/runtime"
	"github.com/ompdev/omp/runtime/runtimetest"
	rt "github.com/ompdev/omp/runtime/runtimetest"
)

// bubbleWorker starts, inside a synctest bubble, an embedded bus and one
// worker of labels with the given concurrency, running echo in this
// process; echo's sleep then waits on the bubble's clock.
func bubbleWorker(t *testing.T, concurrency int, labels ...string) runtime.Bus {
	t.Helper()
	bus := runtime.NewEmbeddedBus(runtime.EmbeddedConfig{})
	t.Cleanup(func() { bus.Close() })
	echoWorker(t, bus, concurrency, labels...)
	return bus
}

// echoWorker serves labels on bus, running echo in this process, until t
// ends.
func echoWorker(t *testing.T, bus runtime.Bus, concurrency int, labels ...string) {
	t.Helper()
	runtimetest.Serve(t, runtime.WorkerConfig{
		Name: "w", Labels: labels, Concurrency: concurrency, Bus: bus,
		Executor: runtime.KindExecutor(echo.Kind{}),
	})
}

func taskOf(t *testing.T, rep *runtime.Report, id string) *runtime.TaskReport {
	t.Helper()
	for _, tr := range rep.Tasks {
		if tr.ID == id {
			return tr
		}
	}
	t.Fatalf("no task %s in the report", id)
	return nil
}

func want(t *testing.T, rep *runtime.Report, id string, st runtime.State, errText string) {
	t.Helper()
	if tr := taskOf(t, rep, id); tr.State != st || tr.Error != errText {
		t.Errorf("task %s: %s %q, want %s %q", id, tr.State, tr.Error, st, errText)
	}
}

// Config.Timeout ends the run at its time: what runs is cancelled, what
// waits never starts, and each says the timeout stopped it; what finished
// before keeps its result.
func TestRunTimeout(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		bus := bubbleWorker(t, 4, runtime.AnyLabel)
		g := rt.NewGraph()
		quick := g.Echo("quick", []any{int64(1)}, rt.Kw("sleep", "1s"))
		long := g.Echo("long", []any{int64(2)}, rt.Kw("sleep", "1h"))
		after := g.Echo("after", nil, rt.Input(long))
		g.Out(quick)
		g.Out(after)
		start := time.Now()
		rep, err := runtime.Run(context.Background(), g.G, runtime.Config{Bus: bus, Timeout: 5 * time.Second})
		if err != nil {
			t.Fatal(err)
		}
		if took := time.Since(start); took != 5*time.Second {
			t.Errorf("the run took %s, want the timeout, 5s", took)
		}
		if rep.Status != runtime.Cancelled {
			t.Errorf("status %s, want CANCELLED", rep.Status)
		}
		want(t, rep, quick, runtime.Success, "")
		want(t, rep, long, runtime.Cancelled, "cancelled: run timeout 5s exceeded")
		want(t, rep, after, runtime.Cancelled, "cancelled: run timeout 5s exceeded")
	})
}

// A task waiting for a label that no live worker serves fails after
// NoWorkerTimeout, naming the label; a task of a label whose only worker
// is busy waits for it however long that takes, and fails nothing.
func TestNoWorkerTimeout(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		bus := bubbleWorker(t, 1, "default")
		g := rt.NewGraph()
		nowhere := g.Echo("a", []any{int64(1)}, rt.Label("nowhere"), rt.Timeout(3*time.Second))
		below := g.Echo("b", nil, rt.Input(nowhere))
		busy := g.Echo("busy", []any{int64(2)}, rt.Kw("sleep", "2m"))
		queued := g.Echo("queued", []any{int64(3)}, rt.Kw("sleep", "1s"))
		for _, id := range []string{below, busy, queued} {
			g.Out(id)
		}
		var failedAt time.Duration
		start := time.Now()
		rep, err := runtime.Run(context.Background(), g.G, runtime.Config{
			Bus: bus, KeepGoing: true, NoWorkerTimeout: 10 * time.Second,
			// Without the no-worker timeout the run would wait forever.
			Timeout: time.Hour,
			Listener: runtime.ListenerFunc(func(u runtime.Update) {
				if u.Type == runtime.UpdateState && u.Task.ID == nowhere && u.State == runtime.Failure {
					failedAt = time.Since(start)
				}
			}),
		})
		if err != nil {
			t.Fatal(err)
		}
		want(t, rep, nowhere, runtime.Failure, "no worker serves label nowhere")
		want(t, rep, below, runtime.Cancelled, "cancelled: "+nowhere+" failed")
		want(t, rep, busy, runtime.Success, "")
		want(t, rep, queued, runtime.Success, "")
		// One check interval of slack past the timeout, and not before it.
		if failedAt < 10*time.Second || failedAt > 12*time.Second {
			t.Errorf("the task of label nowhere failed after %s, want 10s", failedAt)
		}
		if rep.Status != runtime.Failure {
			t.Errorf("status %s, want FAILURE", rep.Status)
		}
	})
}

// NoWorkerTimeout zero waits for a worker forever: here until the run's
// timeout cancels the task.
func TestNoWorkerTimeoutZeroWaits(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		bus := bubbleWorker(t, 1, "default")
		g := rt.NewGraph()
		g.Out(g.Echo("a", []any{int64(1)}, rt.Label("nowhere")))
		rep, err := runtime.Run(context.Background(), g.G, runtime.Config{Bus: bus, Timeout: time.Hour})
		if err != nil {
			t.Fatal(err)
		}
		want(t, rep, rep.Tasks[0].ID, runtime.Cancelled, "cancelled: run timeout 1h0m0s exceeded")
	})
}

// Under fail-fast every task the failure stopped says so, and says it the
// same way in every run, whatever it was doing then: queued on the bus,
// held back by MaxInFlight, waiting for a task still running, or below the
// failed task several levels down (the root cause, not the task above it).
// Each run has its own synctest clock, so the timings are the same in every
// run; the order in which the goroutines run is not.
func TestCancelReasonsRepeat(t *testing.T) {
	noLeaks(t)
	const runs = 15
	g := rt.NewGraph()
	f := g.Echo("f", nil, rt.Kw("sleep", "50ms"), rt.Kw("fail", "boom"))
	z := g.Echo("z", nil, rt.Input(f))
	z2 := g.Echo("z2", nil, rt.Input(z))
	s := g.Echo("s", []any{int64(1)}, rt.Kw("sleep", "300ms"))
	d := g.Echo("d", nil, rt.Input(s))
	for _, id := range []string{z2, d} {
		g.Out(id)
	}
	var queued []string
	for i := range 5 {
		queued = append(queued, g.Echo("q", []any{int64(i)}, rt.Kw("sleep", "200ms"), rt.Label("narrow")))
	}
	wantErr := "cancelled: " + f + " failed"
	errs := map[string]map[string]bool{} // task: errors seen when cancelled
	for i := range runs {
		t.Run(fmt.Sprint("run", i), func(t *testing.T) {
			synctest.Test(t, func(t *testing.T) {
				bus := runtime.NewEmbeddedBus(runtime.EmbeddedConfig{})
				t.Cleanup(func() { bus.Close() })
				echoWorker(t, bus, 4, "default")
				echoWorker(t, bus, 1, "narrow")
				rep, err := runtime.Run(context.Background(), g.G, runtime.Config{Bus: bus, MaxInFlight: 2})
				if err != nil {
					t.Fatal(err)
				}
				want(t, rep, f, runtime.Failure, "boom")
				want(t, rep, z, runtime.Cancelled, wantErr)
				want(t, rep, z2, runtime.Cancelled, wantErr)
				want(t, rep, d, runtime.Cancelled, wantErr)
				for _, tr := range rep.Tasks {
					if tr.State != runtime.Cancelled {
						continue
					}
					if errs[tr.ID] == nil {
						errs[tr.ID] = map[string]bool{}
					}
					errs[tr.ID][tr.Error] = true
				}
			})
		})
	}
	// The first runs on the narrow worker when f fails; the others wait.
	for _, id := range queued[1:] {
		if len(errs[id]) == 0 {
			t.Errorf("queued task %s was never cancelled in %d runs", id, runs)
		}
	}
	for id, seen := range errs {
		if len(seen) != 1 || !seen[wantErr] {
			t.Errorf("task %s, when cancelled, gave the errors %q over %d runs; want %q every time", id, slices.Sorted(maps.Keys(seen)), runs, wantErr)
		}
	}
}
