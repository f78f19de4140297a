package runtimetest

import (
	"context"
	"fmt"
	"testing"
	"time"

	"github.com/ThreeDotsLabs/watermill/message"

	"github.com/ompdev/omp/runtime"
)

// chainGraph is x(7) -> t1 -> ... -> t(n-1), each passing on its input, with
// opts for t1.
func chainGraph(n int, opts ...TaskOpt) (*Graph, []string) {
	g := NewGraph()
	ids := []string{g.Echo("x", []any{int64(7)})}
	for i := 1; i < n; i++ {
		var o []TaskOpt
		if i == 1 {
			o = opts
		}
		ids = append(ids, g.Echo(fmt.Sprint("t", i), nil, append(o, Input(ids[i-1]))...))
	}
	g.Out(ids[n-1])
	return g, ids
}

// A chain goes to the worker in a few messages, not one per task: the
// worker goes on with each task's follower, passing the result on.
func testChain(t *testing.T, e *env) {
	// The runner chains while it hears the worker: with the suite's short
	// heartbeats a loaded machine could make it miss a few.
	e.worker("w1", func(c *runtime.WorkerConfig) { c.HeartbeatInterval = e.slow(time.Second) })
	const n = 150
	g, ids := chainGraph(n)
	var log taskLog
	bus := faulty{e.bus, func(topic string, msg *message.Message) int {
		log.record(topic, msg)
		return 1
	}}
	rep := e.run(context.Background(), g, runtime.Config{Bus: bus})
	wantStatus(t, rep, runtime.Success)
	wantResults(t, rep, `7`)
	published := 0
	for _, id := range ids {
		tr := wantTask(t, rep, id, runtime.Success, "")
		if tr.Worker != "w1" || tr.Attempts != 1 {
			t.Errorf("task %s: ran on %q in %d attempts, want w1 in 1", id, tr.Worker, tr.Attempts)
		}
		published += log.count(id)
	}
	// The tasks dispatched before the runner heard the worker's heartbeat
	// go alone (x at least, a few more on a slow machine); then 65 at
	// most to a message. One message per task would be 150.
	if published > 10 {
		t.Errorf("%d task messages for a chain of %d, want at most 10", published, n)
	}
}

// A worker that stops in the middle of a chain finishes the task it runs and
// releases the next: the runner publishes it at once for another worker.
func testChainReleasedOnShutdown(t *testing.T, e *env) {
	stopA := e.worker("a", nil)
	g, ids := chainGraph(4, Kw("sleep", "300ms"))
	var once bool
	rec := &recorder{on: func(u runtime.Update) {
		if u.Type == runtime.UpdateState && u.State == runtime.Started && u.Task.ID == ids[1] && !once {
			once = true
			go func() {
				e.worker("b", nil)
				stopA()
			}()
		}
	}}
	start := time.Now()
	rep := e.run(context.Background(), g, runtime.Config{Listener: rec, DispatchTimeout: time.Hour})
	wantStatus(t, rep, runtime.Success)
	wantResults(t, rep, `7`)
	for i, id := range ids {
		want := "a"
		if i >= 2 {
			want = "b"
		}
		if tr := task(t, rep, id); tr.Worker != want || tr.Attempts != 1 {
			t.Errorf("task %s: ran on %q in %d attempts, want %s in 1", id, tr.Worker, tr.Attempts, want)
		}
	}
	// Far less than DispatchTimeout: the release, not a timeout, sent
	// the rest of the chain to b.
	if el := time.Since(start); el > e.slow(10*time.Second) {
		t.Errorf("the run took %s", el)
	}
}
