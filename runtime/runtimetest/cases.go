package runtimetest

import (
	"context"
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/ThreeDotsLabs/watermill/message"

	"github.com/ompdev/omp/runtime"
)

func testSequence(t *testing.T, e *env) {
	e.worker("w1", nil)
	g := NewGraph()
	a := g.Echo("a", []any{map[string]any{"x": []any{int64(1), 2.5, "s", nil, true}}})
	b := g.Echo("b", nil, Input(a))
	c := g.Echo("c", nil, Input(b))
	g.Out(c)
	g.Out(a)
	rep := e.run(context.Background(), g, runtime.Config{})
	wantStatus(t, rep, runtime.Success)
	wantResults(t, rep, `{"x":[1,2.5,"s",null,true]}`, `{"x":[1,2.5,"s",null,true]}`)
	for _, id := range []string{a, b, c} {
		tr := wantTask(t, rep, id, runtime.Success, "")
		if tr.Worker != "w1" || tr.Attempts != 1 || tr.Kind != "echo" || tr.Action != "run" || tr.Started.IsZero() || tr.Finished.Before(tr.Started) {
			t.Errorf("task %s: %+v", id, tr)
		}
	}
	if got := task(t, rep, b).Pos; got != "test.omp:2:1" {
		t.Errorf("pos %q, want test.omp:2:1", got)
	}
	if rep.RunID == "" {
		t.Error("no run id")
	}
}

func testParallelOrder(t *testing.T, e *env) {
	e.worker("w1", func(c *runtime.WorkerConfig) { c.Concurrency = 8 })
	g := NewGraph()
	var ids []string
	var want []string
	for i := range 8 {
		// The first finishes last: results must keep source order anyway.
		ids = append(ids, g.Echo(fmt.Sprint("p", i), []any{int64(i)}, Kw("sleep", fmt.Sprintf("%dms", (8-i)*15))))
		want = append(want, fmt.Sprint(i))
	}
	g.Out(g.Reduce("collect", false, ids...))
	rep := e.run(context.Background(), g, runtime.Config{})
	wantStatus(t, rep, runtime.Success)
	wantResults(t, rep, "["+strings.Join(want, ",")+"]")
}

func testFanOut(t *testing.T, e *env) {
	e.worker("w1", nil)
	g := NewGraph()
	src := g.Echo("src", []any{[]any{int64(1), int64(2)}})
	var outs []string
	for i := range 3 {
		outs = append(outs, g.Echo(fmt.Sprint("f", i), nil, Input(src)))
	}
	all := g.Reduce("collect", false, outs...)
	g.Out(all)
	g.Out(g.Reduce("concat", true, all))
	rep := e.run(context.Background(), g, runtime.Config{})
	wantStatus(t, rep, runtime.Success)
	wantResults(t, rep, `[[1,2],[1,2],[1,2]]`, `[1,2,1,2,1,2]`)
}

func testReducers(t *testing.T, e *env) {
	e.worker("w1", nil)
	cases := []struct {
		reducer string
		spread  bool
		values  []any
		want    string // result, or the error of the reduce node
		fail    bool
	}{
		{"collect", false, []any{int64(1), "a", nil}, `[1,"a",null]`, false},
		{"count", false, []any{int64(1), int64(2), int64(3)}, `3`, false},
		{"sum", false, []any{int64(1), int64(2), int64(3)}, `6`, false},
		{"sum", false, []any{int64(1), 2.5}, `3.5`, false},
		{"min", false, []any{int64(3), int64(1), int64(2)}, `1`, false},
		{"max", false, []any{int64(3), 7.5, int64(2)}, `7.5`, false},
		{"min", false, []any{"b", "a", "c"}, `"a"`, false},
		{"mean", false, []any{int64(1), int64(2), int64(3), int64(4)}, `2.5`, false},
		{"concat", false, []any{[]any{int64(1)}, []any{int64(2), int64(3)}, []any{}}, `[1,2,3]`, false},
		{"merge", false, []any{map[string]any{"a": int64(1), "b": int64(1)}, map[string]any{"b": int64(2)}}, `{"a":1,"b":2}`, false},
		{"first", false, []any{int64(1), int64(2), int64(3)}, `1`, false},
		{"last", false, []any{int64(1), int64(2), int64(3)}, `3`, false},
		{"sum", true, []any{[]any{int64(1), int64(2), int64(3)}}, `6`, false},
		{"count", true, []any{[]any{"a", "b"}}, `2`, false},
		{"sum", false, []any{int64(1), "a"}, `reduce sum: value 2 is a string "a", not a number`, true},
		{"sum", true, []any{int64(4)}, `reduce sum: input is a number 4, not a list`, true},
	}
	for _, tc := range cases {
		e.sub(t, fmt.Sprintf("%s/spread=%v/%s", tc.reducer, tc.spread, tc.want), func(t *testing.T) {
			g := NewGraph()
			var ids []string
			for i, v := range tc.values {
				ids = append(ids, g.Echo(fmt.Sprint("v", i), []any{v}))
			}
			r := g.Reduce(tc.reducer, tc.spread, ids...)
			g.Out(r)
			rep := e.run(context.Background(), g, runtime.Config{})
			if tc.fail {
				wantStatus(t, rep, runtime.Failure)
				tr := wantTask(t, rep, r, runtime.Failure, tc.want)
				if tr.Kind != "reduce" || tr.Action != tc.reducer {
					t.Errorf("reduce node reported as %s %s", tr.Kind, tr.Action)
				}
				return
			}
			wantStatus(t, rep, runtime.Success)
			wantResults(t, rep, tc.want)
		})
	}
}

func testRefsInArgs(t *testing.T, e *env) {
	e.worker("w1", nil)
	g := NewGraph()
	a := g.Echo("a", []any{int64(5)})
	msg := g.Echo("msg", []any{"hello"})
	b := g.Echo("b", []any{[]any{Ref(a), map[string]any{"k": Ref(a), "s": "x"}}}, Kw("log", Ref(msg)))
	g.Out(b)
	rep := e.run(context.Background(), g, runtime.Config{})
	wantStatus(t, rep, runtime.Success)
	wantResults(t, rep, `[5,{"k":5,"s":"x"}]`)
	if log := task(t, rep, b).Log; len(log) != 1 || log[0] != "hello" {
		t.Errorf("log %q, want [hello]", log)
	}
}

func testRetryThenSuccess(t *testing.T, e *env) {
	e.worker("w1", nil)
	g := NewGraph()
	a := g.Echo("flaky", []any{"ok"}, Kw("fail_attempts", int64(2)), Retries(3, 20*time.Millisecond))
	g.Out(a)
	rec := &recorder{}
	start := time.Now()
	rep := e.run(context.Background(), g, runtime.Config{Listener: rec})
	wantStatus(t, rep, runtime.Success)
	wantResults(t, rep, `"ok"`)
	tr := wantTask(t, rep, a, runtime.Success, "")
	if tr.Attempts != 3 {
		t.Errorf("attempts %d, want 3", tr.Attempts)
	}
	retries := rec.states(a, runtime.Retry)
	if len(retries) != 2 {
		t.Fatalf("%d RETRY updates, want 2", len(retries))
	}
	for i, want := range []time.Duration{20 * time.Millisecond, 40 * time.Millisecond} {
		if retries[i].Backoff != want || retries[i].Message != fmt.Sprintf("attempt %d failed", i+1) {
			t.Errorf("retry %d: backoff %s, message %q", i+1, retries[i].Backoff, retries[i].Message)
		}
	}
	if el := time.Since(start); el < 60*time.Millisecond {
		t.Errorf("took %s: backoff not waited", el)
	}
}

func testRetriesExhausted(t *testing.T, e *env) {
	e.worker("w1", nil)
	g := NewGraph()
	a := g.Echo("flaky", []any{"ok"}, Kw("fail_attempts", int64(5)), Retries(2, time.Millisecond))
	g.Out(a)
	rep := e.run(context.Background(), g, runtime.Config{})
	wantStatus(t, rep, runtime.Failure)
	if tr := wantTask(t, rep, a, runtime.Failure, "attempt 3 failed"); tr.Attempts != 3 {
		t.Errorf("attempts %d, want 3", tr.Attempts)
	}
	wantResults(t, rep, `null`)
}

func testPermanentNotRetried(t *testing.T, e *env) {
	e.worker("w1", nil)
	g := NewGraph()
	a := g.Echo("bad", nil, Kw("fail", "boom"), Kw("permanent", true), Retries(3, time.Millisecond))
	g.Out(a)
	rep := e.run(context.Background(), g, runtime.Config{})
	wantStatus(t, rep, runtime.Failure)
	if tr := wantTask(t, rep, a, runtime.Failure, "boom"); tr.Attempts != 1 {
		t.Errorf("attempts %d, want 1", tr.Attempts)
	}
}

func testTimeout(t *testing.T, e *env) {
	e.worker("w1", nil)
	g := NewGraph()
	a := g.Echo("slow", []any{int64(1)}, Kw("sleep", "20s"), Timeout(200*time.Millisecond))
	g.Out(a)
	start := time.Now()
	rep := e.run(context.Background(), g, runtime.Config{})
	wantStatus(t, rep, runtime.Failure)
	wantTask(t, rep, a, runtime.Failure, "timed out after 200ms")
	if el := time.Since(start); el > 5*time.Second {
		t.Errorf("took %s: the attempt was not cancelled", el)
	}
}

// failGraph: f fails while s runs; d needs s, z needs f; q waits behind a
// full worker.
func failGraph() (g *Graph, f, s, d, z string) {
	g = NewGraph()
	f = g.Echo("f", nil, Kw("sleep", "100ms"), Kw("fail", "boom"))
	s = g.Echo("s", []any{int64(1)}, Kw("sleep", "500ms"))
	d = g.Echo("d", nil, Input(s))
	z = g.Echo("z", nil, Input(f))
	g.Out(d)
	g.Out(z)
	return
}

func testFailFast(t *testing.T, e *env) {
	e.worker("w1", nil)
	e.worker("w2", func(c *runtime.WorkerConfig) { c.Labels, c.Concurrency = []string{"narrow"}, 1 })
	g, f, s, d, z := failGraph()
	// More work than w2 has room for: one runs, the rest stay queued and
	// must never start once f failed.
	var queued []string
	for i := range 4 {
		queued = append(queued, g.Echo(fmt.Sprint("q", i), []any{int64(i)}, Kw("sleep", "300ms"), Label("narrow")))
	}
	rep := e.run(context.Background(), g, runtime.Config{})
	wantStatus(t, rep, runtime.Failure)
	wantTask(t, rep, f, runtime.Failure, "boom")
	wantTask(t, rep, s, runtime.Success, "")
	// Every task the failure stopped names it, whether it was queued,
	// waiting for s or below f.
	wantTask(t, rep, d, runtime.Cancelled, "cancelled: "+f+" failed")
	wantTask(t, rep, z, runtime.Cancelled, "cancelled: "+f+" failed")
	states := map[runtime.State]int{}
	for _, q := range queued {
		tr := task(t, rep, q)
		states[tr.State]++
		if tr.State == runtime.Cancelled && tr.Error != "cancelled: "+f+" failed" {
			t.Errorf("queued task %s: error %q, want %q", q, tr.Error, "cancelled: "+f+" failed")
		}
	}
	if states[runtime.Success] != 1 || states[runtime.Cancelled] != 3 {
		t.Errorf("queued tasks ended %v, want 1 SUCCESS (the running one) and 3 CANCELLED", states)
	}
	wantResults(t, rep, `null`, `null`)
}

func testKeepGoing(t *testing.T, e *env) {
	e.worker("w1", nil)
	g, f, s, d, z := failGraph()
	rep := e.run(context.Background(), g, runtime.Config{KeepGoing: true})
	wantStatus(t, rep, runtime.Failure)
	wantTask(t, rep, f, runtime.Failure, "boom")
	wantTask(t, rep, s, runtime.Success, "")
	wantTask(t, rep, d, runtime.Success, "")
	wantTask(t, rep, z, runtime.Cancelled, "cancelled: "+f+" failed")
	wantResults(t, rep, `1`, `null`)
}

func testCancel(t *testing.T, e *env) {
	e.worker("w1", nil)
	g := NewGraph()
	a := g.Echo("long", []any{int64(1)}, Kw("sleep", "30s"))
	b := g.Echo("after", nil, Input(a))
	g.Out(b)
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	rec := &recorder{on: func(u runtime.Update) {
		if u.Type == runtime.UpdateState && u.State == runtime.Started {
			cancel()
		}
	}}
	start := time.Now()
	rep := e.run(ctx, g, runtime.Config{Listener: rec})
	wantStatus(t, rep, runtime.Cancelled)
	wantTask(t, rep, a, runtime.Cancelled, "cancelled: interrupted")
	wantTask(t, rep, b, runtime.Cancelled, "cancelled: interrupted")
	if el := time.Since(start); el > 5*time.Second {
		t.Errorf("took %s: the running attempt was not cancelled", el)
	}
}

func testDuplicateEvents(t *testing.T, e *env) {
	// Every event the worker sends arrives twice, as at-least-once
	// delivery allows.
	wbus := faulty{e.bus, func(topic string, _ *message.Message) int {
		if isEvent(topic) {
			return 2
		}
		return 1
	}}
	e.worker("w1", func(c *runtime.WorkerConfig) { c.Bus = wbus })
	g := NewGraph()
	a := g.Echo("flaky", []any{int64(1)}, Kw("fail_attempts", int64(1)), Retries(3, 10*time.Millisecond))
	b := g.Echo("b", nil, Input(a))
	c := g.Reduce("sum", false, a, b)
	g.Out(c)
	rec := &recorder{}
	rep := e.run(context.Background(), g, runtime.Config{Listener: rec})
	wantStatus(t, rep, runtime.Success)
	wantResults(t, rep, `2`)
	if tr := task(t, rep, a); tr.Attempts != 2 {
		t.Errorf("attempts %d, want 2: a duplicate FAILURE was counted", tr.Attempts)
	}
	for _, id := range []string{a, b, c} {
		if n := len(rec.states(id, runtime.Success)); n != 1 {
			t.Errorf("task %s: %d SUCCESS updates, want 1", id, n)
		}
	}
	if n := len(rec.states(a, runtime.Retry)); n != 1 {
		t.Errorf("%d RETRY updates, want 1", n)
	}
}

func testLeaseRenewed(t *testing.T, e *env) {
	// A task that runs for ten lease intervals stays claimed: its worker
	// renews the lease.
	e.worker("w1", nil)
	var log taskLog
	rbus := faulty{e.bus, func(topic string, msg *message.Message) int { log.record(topic, msg); return 1 }}
	g := NewGraph()
	a := g.Echo("long", []any{int64(1)}, Kw("sleep", e.slow(300*time.Millisecond).String()))
	g.Out(a)
	rep := e.run(context.Background(), g, runtime.Config{Bus: rbus, LeaseInterval: e.slow(30 * time.Millisecond)})
	wantStatus(t, rep, runtime.Success)
	if n := log.count(a); n != 1 {
		t.Errorf("published %d times, want 1: the lease lapsed while the task ran", n)
	}
}

func testLapsedLease(t *testing.T, e *env) {
	// The worker that takes the first dispatch dies right after its claim:
	// no lease, no result ever comes from it. A batch of events is lost
	// with any of them.
	firstAttempt := func(ev *runtime.Event) bool {
		if ev.Type == runtime.EventLease {
			for _, l := range ev.Leases {
				if l.Attempt <= 1 {
					return true
				}
			}
			return false
		}
		return ev.Type != runtime.EventStarted && ev.Type != runtime.EventBatch && ev.Attempt <= 1 && ev.Dispatch <= 1
	}
	wbus := faulty{e.bus, func(topic string, msg *message.Message) int {
		if !isEvent(topic) {
			return 1
		}
		ev, err := runtime.DecodeEvent(msg)
		if err != nil {
			return 1
		}
		for _, x := range append([]*runtime.Event{ev}, ev.Events...) {
			if firstAttempt(x) {
				return 0
			}
		}
		return 1
	}}
	e.worker("w1", func(c *runtime.WorkerConfig) { c.Bus = wbus })
	var log taskLog
	rbus := faulty{e.bus, func(topic string, msg *message.Message) int { log.record(topic, msg); return 1 }}
	g := NewGraph()
	a := g.Echo("a", []any{int64(7)}, Kw("sleep", "50ms"))
	// b's worker dies in attempt 1, attempt 2 fails: with retries=1 there
	// is a third, since a lost worker spends no retry.
	b := g.Echo("b", []any{int64(8)}, Kw("sleep", "50ms"), Kw("fail_attempts", int64(2)), Retries(1, time.Millisecond))
	g.Out(a)
	g.Out(b)
	rec := &recorder{}
	rep := e.run(context.Background(), g, runtime.Config{Bus: rbus, Listener: rec, LeaseInterval: e.slow(50 * time.Millisecond)})
	wantStatus(t, rep, runtime.Success)
	wantResults(t, rep, `7`, `8`)
	if n := log.count(a); n != 2 {
		t.Errorf("%d dispatches, want 2", n)
	}
	// The task ran again from the start: that is a new attempt, which the
	// kind sees (OMP_ATTEMPT) and the report counts.
	if tr := task(t, rep, a); tr.Attempts != 2 {
		t.Errorf("attempts %d, want 2: a task run again after its worker died is a new attempt", tr.Attempts)
	}
	if tr := task(t, rep, b); tr.Attempts != 3 || tr.State != runtime.Success {
		t.Errorf("b: %s after %d attempts, want SUCCESS after 3", tr.State, tr.Attempts)
	}
	for _, id := range []string{a, b} {
		us := rec.states(id, runtime.Pending)
		if len(us) != 1 || us[0].Message != "worker w1 lost" || us[0].Task.Attempts != 2 {
			t.Errorf("task %s: PENDING updates %+v, want one saying \"worker w1 lost\" for attempt 2", id, us)
		}
	}
}

func testLostMessage(t *testing.T, e *env) {
	e.worker("w1", nil)
	var log taskLog
	rbus := faulty{e.bus, func(topic string, msg *message.Message) int {
		if m := log.record(topic, msg); m != nil && m.Dispatch == 1 {
			return 0 // the broker lost it
		}
		return 1
	}}
	g := NewGraph()
	a := g.Echo("a", []any{int64(3)})
	g.Out(a)
	rep := e.run(context.Background(), g, runtime.Config{Bus: rbus, DispatchTimeout: e.slow(150 * time.Millisecond)})
	wantStatus(t, rep, runtime.Success)
	wantResults(t, rep, `3`)
	if n := log.count(a); n != 2 {
		t.Errorf("%d dispatches, want 2", n)
	}
}

func testQueuedNotRepublished(t *testing.T, e *env) {
	// Tasks wait in the queue longer than DispatchTimeout behind a busy
	// worker: queued is not lost, so none may be published twice.
	e.worker("w1", func(c *runtime.WorkerConfig) { c.Concurrency = 1 })
	var log taskLog
	rbus := faulty{e.bus, func(topic string, msg *message.Message) int { log.record(topic, msg); return 1 }}
	g := NewGraph()
	var ids []string
	for i := range 4 {
		ids = append(ids, g.Echo(fmt.Sprint("t", i), []any{int64(i)}, Kw("sleep", "150ms")))
	}
	g.Out(g.Reduce("sum", false, ids...))
	rep := e.run(context.Background(), g, runtime.Config{Bus: rbus,
		LeaseInterval: e.slow(30 * time.Millisecond), DispatchTimeout: e.slow(100 * time.Millisecond)})
	wantStatus(t, rep, runtime.Success)
	wantResults(t, rep, `6`)
	for _, id := range ids {
		if n := log.count(id); n != 1 {
			t.Errorf("task %s published %d times, want 1", id, n)
		}
	}
}

func testMaxDeliveries(t *testing.T, e *env) {
	e.worker("w1", nil)
	var log taskLog
	rbus := faulty{e.bus, func(topic string, msg *message.Message) int {
		if log.record(topic, msg) != nil {
			return 0
		}
		return 1
	}}
	g := NewGraph()
	a := g.Echo("a", []any{int64(3)}, Retries(2, time.Millisecond))
	g.Out(a)
	rep := e.run(context.Background(), g, runtime.Config{Bus: rbus, MaxDeliveries: 3, DispatchTimeout: e.slow(50 * time.Millisecond)})
	wantStatus(t, rep, runtime.Failure)
	wantTask(t, rep, a, runtime.Failure, "delivered 3 times without a result")
	if n := log.count(a); n != 3 {
		t.Errorf("%d dispatches, want 3", n)
	}
}

func testNoWorkerWarning(t *testing.T, e *env) {
	e.worker("w1", nil) // serves the default label, not gpu
	g := NewGraph()
	a := g.Echo("train", []any{int64(1)}, Label("gpu"))
	b := g.Echo("ok", []any{int64(2)})
	g.Out(a)
	g.Out(b)
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	// Cancel once warned and b, which a worker serves, is done.
	var warning string
	var bDone bool
	rec := &recorder{on: func(u runtime.Update) {
		switch {
		case u.Type == runtime.UpdateWarning:
			warning = u.Message
		case u.Type == runtime.UpdateState && u.Task.ID == b && u.State.Done():
			bDone = true
		}
		if warning != "" && bDone {
			cancel()
		}
	}}
	rep := e.run(ctx, g, runtime.Config{Listener: rec, NoWorkerWarning: e.slow(200 * time.Millisecond)})
	if want := "no worker serves label gpu (1 task waits)"; warning != want {
		t.Errorf("warning %q, want %q", warning, want)
	}
	wantStatus(t, rep, runtime.Cancelled)
	wantTask(t, rep, a, runtime.Cancelled, "")
	wantTask(t, rep, b, runtime.Success, "")
}

func testLabels(t *testing.T, e *env) {
	e.worker("cpu-worker", func(c *runtime.WorkerConfig) { c.Labels = []string{"cpu"} })
	e.worker("gpu-worker", func(c *runtime.WorkerConfig) { c.Labels = []string{"gpu", "big"} })
	g := NewGraph()
	var ids []string
	for i, l := range []string{"cpu", "gpu", "big", "cpu"} {
		ids = append(ids, g.Echo(fmt.Sprint("t", i), []any{l}, Label(l)))
	}
	g.Out(g.Reduce("collect", false, ids...))
	rep := e.run(context.Background(), g, runtime.Config{})
	wantStatus(t, rep, runtime.Success)
	wantResults(t, rep, `["cpu","gpu","big","cpu"]`)
	for i, want := range []string{"cpu-worker", "gpu-worker", "gpu-worker", "cpu-worker"} {
		if tr := task(t, rep, ids[i]); tr.Worker != want || tr.Label == "" {
			t.Errorf("task %s (label %s) ran on %q, want %s", ids[i], tr.Label, tr.Worker, want)
		}
	}
}

func testHeartbeats(t *testing.T, e *env) {
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	beats, err := e.bus.Fanout().Subscribe(ctx, runtime.WorkersTopic)
	if err != nil {
		t.Fatal(err)
	}
	e.worker("hb-worker", func(c *runtime.WorkerConfig) { c.Labels, c.Concurrency = []string{"gpu", "cpu"}, 3 })
	g := NewGraph()
	a := g.Echo("long", []any{int64(1)}, Kw("sleep", "400ms"), Label("gpu"))
	g.Out(a)
	type result struct {
		rep *runtime.Report
		err error
	}
	got := make(chan result, 1)
	go func() {
		rep, err := runtime.Run(ctx, g.G, runtime.Config{Bus: e.bus, RunID: "hb-run"})
		got <- result{rep, err}
	}()
	deadline := time.After(10 * time.Second)
	for {
		select {
		case msg := <-beats:
			hb, err := runtime.DecodeHeartbeat(msg)
			msg.Ack()
			if err != nil {
				t.Fatal(err)
			}
			if hb.Worker != "hb-worker" || len(hb.Running) == 0 {
				continue
			}
			if hb.Running[0] != "hb-run/"+a || hb.Concurrency != 3 || strings.Join(hb.Labels, ",") != "gpu,cpu" || hb.PID == 0 || hb.Host == "" {
				t.Errorf("heartbeat %+v", hb)
			}
			r := <-got
			if r.err != nil {
				t.Fatal(r.err)
			}
			wantStatus(t, r.rep, runtime.Success)
			return
		case <-deadline:
			t.Fatal("no heartbeat listing the running task")
		}
	}
}

func testPingAnswered(t *testing.T, e *env) {
	// A worker whose next heartbeat is an hour away answers a new run's
	// PING at once.
	e.worker("quiet", func(c *runtime.WorkerConfig) { c.HeartbeatInterval = time.Hour })
	time.Sleep(e.slow(100 * time.Millisecond)) // let its first heartbeat pass
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	beats, err := e.bus.Fanout().Subscribe(ctx, runtime.WorkersTopic)
	if err != nil {
		t.Fatal(err)
	}
	g := NewGraph()
	g.Out(g.Echo("a", []any{int64(1)}))
	wantStatus(t, e.run(context.Background(), g, runtime.Config{}), runtime.Success)
	select {
	case msg := <-beats:
		msg.Ack()
		if hb, err := runtime.DecodeHeartbeat(msg); err != nil || hb.Worker != "quiet" {
			t.Errorf("heartbeat %+v, %v", hb, err)
		}
	case <-time.After(e.slow(5 * time.Second)):
		t.Error("no heartbeat: the run's PING went unanswered")
	}
}

func testReleaseOnShutdown(t *testing.T, e *env) {
	stopA := e.worker("a", func(c *runtime.WorkerConfig) { c.GracePeriod = 50 * time.Millisecond })
	g := NewGraph()
	x := g.Echo("x", []any{int64(9)}, Kw("sleep", "1s"))
	g.Out(x)
	var once bool
	rec := &recorder{on: func(u runtime.Update) {
		if u.Type == runtime.UpdateState && u.State == runtime.Started && !once {
			once = true
			// SIGTERM to a: it gives the task back after its grace period,
			// and b takes it.
			go func() {
				stopA()
				e.worker("b", nil)
			}()
		}
	}}
	rep := e.run(context.Background(), g, runtime.Config{Listener: rec, LeaseInterval: time.Minute})
	wantStatus(t, rep, runtime.Success)
	wantResults(t, rep, `9`)
	if tr := task(t, rep, x); tr.Worker != "b" || tr.Attempts != 1 {
		t.Errorf("ran on %q in %d attempts, want b in 1", tr.Worker, tr.Attempts)
	}
}
