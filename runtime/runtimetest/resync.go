package runtimetest

import (
	"context"
	"encoding/json"
	"fmt"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/ThreeDotsLabs/watermill/message"

	"github.com/ompdev/omp/plugins/sdk"
	"github.com/ompdev/omp/runtime"
)

// counting is an Executor that counts the attempts it runs, by task.
type counting struct {
	runtime.Executor
	mu sync.Mutex
	n  map[string]int
}

func (c *counting) Run(ctx context.Context, t sdk.Task, e sdk.Emitter) (json.RawMessage, error) {
	c.mu.Lock()
	if c.n == nil {
		c.n = map[string]int{}
	}
	c.n[t.TaskID]++
	c.mu.Unlock()
	return c.Executor.Run(ctx, t, e)
}

func (c *counting) count(id string) int {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.n[id]
}

func testDuplicateDelivery(t *testing.T, e *env) {
	// Every task message arrives twice, as a broker that never got the ack
	// delivers it again: the worker runs the attempt once, whether the
	// second copy comes while it runs or after it ended.
	exec := &counting{Executor: e.exec}
	e.worker("w1", func(c *runtime.WorkerConfig) { c.Executor = exec })
	rbus := faulty{e.bus, func(topic string, _ *message.Message) int {
		if _, ok := runtime.LabelOf(topic); ok {
			return 2
		}
		return 1
	}}
	g := NewGraph()
	var ids []string
	for i := range 8 {
		ids = append(ids, g.Echo(fmt.Sprint("t", i), []any{int64(i)}, Kw("sleep", "20ms")))
	}
	g.Out(g.Reduce("sum", false, ids...))
	rep := e.run(context.Background(), g, runtime.Config{Bus: rbus})
	wantStatus(t, rep, runtime.Success)
	wantResults(t, rep, `28`)
	for _, id := range ids {
		if n := exec.count(id); n != 1 {
			t.Errorf("task %s ran %d times, want once", id, n)
		}
	}
}

func testResyncAfterLostEvents(t *testing.T, e *env) {
	// The broker loses the worker's first report of each task (a restart
	// drops the events waiting in queues). When the worker's control
	// subscription comes back, it sends its recent outcomes again: the run
	// completes without waiting for leases to lapse, and nothing runs
	// twice.
	var lost atomic.Int32
	seen := map[string]bool{}
	var mu sync.Mutex
	wbus := faulty{e.bus, func(topic string, msg *message.Message) int {
		if !isEvent(topic) {
			return 1
		}
		ev, err := runtime.DecodeEvent(msg)
		if err != nil {
			return 1
		}
		mu.Lock()
		defer mu.Unlock()
		// A batch may carry the results of both tasks: it loses both.
		copies := 1
		for _, x := range append([]*runtime.Event{ev}, ev.Events...) {
			if x.Type == runtime.EventResult && !seen[x.TaskID] {
				seen[x.TaskID] = true
				lost.Add(1)
				copies = 0
			}
		}
		return copies
	}}
	exec := &counting{Executor: e.exec}
	e.worker("w1", func(c *runtime.WorkerConfig) { c.Bus = wbus; c.Executor = exec })
	g := NewGraph()
	a := g.Echo("a", []any{int64(5)})
	b := g.Echo("b", []any{int64(6)})
	g.Out(g.Reduce("sum", false, a, b))
	// A lease that lapses after 30s: the run would wait that long for
	// the lost results without the resync.
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	defer cancel()
	go func() {
		for lost.Load() < 2 {
			if ctx.Err() != nil {
				return
			}
			time.Sleep(time.Millisecond)
		}
		m := message.NewMessage("resubscribed", nil)
		m.Metadata.Set(runtime.ResubscribedMeta, "1")
		if err := e.bus.Publisher().Publish(runtime.ControlTopic, m); err != nil {
			t.Error(err)
		}
	}()
	rep := e.run(ctx, g, runtime.Config{LeaseInterval: 10 * time.Second, DispatchTimeout: 30 * time.Second})
	wantStatus(t, rep, runtime.Success)
	wantResults(t, rep, `11`)
	for _, id := range []string{a, b} {
		if n := exec.count(id); n != 1 {
			t.Errorf("task %s ran %d times, want once", id, n)
		}
		if tr := task(t, rep, id); tr.Attempts != 1 {
			t.Errorf("task %s: %d attempts, want 1", id, tr.Attempts)
		}
	}
}
