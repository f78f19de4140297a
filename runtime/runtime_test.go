package runtime_test

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	goruntime "runtime"
	"slices"
	"strings"
	"sync"
	"testing"
	"testing/synctest"
	"time"

	"github.com/ThreeDotsLabs/watermill/message"
	"go.uber.org/goleak"

	"github.com/ompdev/omp/compiler"
	"github.com/ompdev/omp/internal/logtest"
	"github.com/ompdev/omp/plugins/echo"
	"github.com/ompdev/omp/plugins/sdk"
	"github.com/ompdev/omp/runtime"
	"github.com/ompdev/omp/runtime/runtimetest"
)

// probe is an in-process kind whose actions exercise what echo cannot:
// metrics and progress, a panic, an infrastructure error.
type probe struct{}

var errNoPlugin = errors.New("plugin gpu-thing: cannot start: exec format error")

func (probe) Describe() sdk.KindSpec {
	return sdk.KindSpec{Name: "probe", Actions: []sdk.ActionSpec{{Name: "metrics"}, {Name: "panic"}, {Name: "infra"}, {Name: "task"}, {Name: "garbage"}}}
}

func (probe) Run(ctx context.Context, t sdk.Task, e sdk.Emitter) (any, error) {
	switch t.Action {
	case "metrics":
		for step := range 3 {
			e.Metric("loss", 1/float64(step+1), step)
			e.Progress(step+1, 3)
		}
		for i := range 30 {
			e.Log(strings.Repeat("x", i))
		}
		return map[string]any{"ok": true}, nil
	case "panic":
		var m map[string]int
		m["boom"]++
	case "infra":
		return nil, sdk.Infra(errNoPlugin)
	case "garbage":
		return json.RawMessage("{not json"), nil
	case "task":
		return map[string]any{"store": t.Store, "attempt": t.Attempt, "run": t.RunID, "deadline": !t.Deadline.IsZero()}, nil
	}
	return nil, sdk.Permanent(errors.New("no such action"))
}

// noLeaks checks for leaked goroutines after the test's other cleanups.
func noLeaks(t *testing.T) {
	t.Cleanup(func() { goleak.VerifyNone(t) })
}

// embedded starts a bus and a worker serving every label with the given
// kinds in this process.
func embedded(t *testing.T, kinds ...sdk.Kind) runtime.Bus {
	t.Helper()
	bus := runtime.NewEmbeddedBus(runtime.EmbeddedConfig{})
	t.Cleanup(func() { bus.Close() }) // after the worker's: cleanups run last first
	runtimetest.Serve(t, runtime.WorkerConfig{
		Name: "local", Labels: []string{runtime.AnyLabel}, Bus: bus,
		Executor: runtime.KindExecutor(kinds...),
	})
	return bus
}

func probeGraph(actions ...string) *compiler.Graph {
	g := &compiler.Graph{File: "p.omp"}
	for i, a := range actions {
		n := &compiler.Node{ID: a, Op: compiler.OpTask, Kind: "probe", Name: a, Action: a, Pos: compiler.Pos{File: "p.omp", Line: i + 1, Column: 3}}
		g.Nodes = append(g.Nodes, n)
		g.Outputs = append(g.Outputs, compiler.Output{Node: a, Pos: n.Pos})
	}
	return g
}

func TestMetricsProgressAndLogTail(t *testing.T) {
	noLeaks(t)
	bus := embedded(t, probe{})
	var progress []runtime.Progress
	rep, err := runtime.Run(context.Background(), probeGraph("metrics"), runtime.Config{
		Bus: bus,
		Listener: runtime.ListenerFunc(func(u runtime.Update) {
			if u.Type == runtime.UpdateProgress {
				progress = append(progress, u.Progress)
			}
		}),
	})
	if err != nil {
		t.Fatal(err)
	}
	tr := rep.Tasks[0]
	if rep.Status != runtime.Success || string(rep.Results[0]) != `{"ok":true}` {
		t.Fatalf("status %s, results %s", rep.Status, rep.Results)
	}
	want := []runtime.Metric{{Name: "loss", Value: 1, Step: 0}, {Name: "loss", Value: 0.5, Step: 1}, {Name: "loss", Value: 1.0 / 3, Step: 2}}
	if len(tr.Metrics) != 3 || tr.Metrics[0] != want[0] || tr.Metrics[1] != want[1] || tr.Metrics[2] != want[2] {
		t.Errorf("metrics %v, want %v", tr.Metrics, want)
	}
	if len(progress) != 3 || progress[2] != (runtime.Progress{Done: 3, Total: 3}) {
		t.Errorf("progress %v", progress)
	}
	if len(tr.Log) != runtime.LogTail || tr.Log[0] != strings.Repeat("x", 10) || tr.Log[19] != strings.Repeat("x", 29) {
		t.Errorf("log tail %q: want the last %d lines", tr.Log, runtime.LogTail)
	}
	if tr.Pos != "p.omp:1:3" || tr.Label != compiler.DefaultLabel || tr.Worker != "local" {
		t.Errorf("task report %+v", tr)
	}
}

func TestPanicFailsTheTask(t *testing.T) {
	noLeaks(t)
	bus := embedded(t, probe{})
	rep, err := runtime.Run(context.Background(), probeGraph("panic"), runtime.Config{Bus: bus})
	if err != nil {
		t.Fatal(err)
	}
	tr := rep.Tasks[0]
	if tr.State != runtime.Failure || tr.Error != "panic: assignment to entry in nil map" {
		t.Errorf("state %s, error %q", tr.State, tr.Error)
	}
	if len(tr.Log) == 0 || !strings.Contains(strings.Join(tr.Log, "\n"), "probe.Run") {
		t.Errorf("the stack is not in the log: %q", tr.Log)
	}
}

func TestInfraError(t *testing.T) {
	noLeaks(t)
	bus := embedded(t, probe{})
	g := probeGraph("infra")
	g.Nodes[0].Opts.Retries = 3
	rep, err := runtime.Run(context.Background(), g, runtime.Config{Bus: bus})
	if !sdk.IsInfra(err) {
		t.Fatalf("err %v, want an infrastructure error", err)
	}
	if want := "probe infra (p.omp:1:3): " + errNoPlugin.Error(); err.Error() != want {
		t.Errorf("err %q, want %q", err, want)
	}
	if rep == nil || rep.Status != runtime.Failure || rep.Tasks[0].Attempts != 1 {
		t.Errorf("report %+v: want FAILURE after 1 attempt (infrastructure errors are not retried)", rep)
	}
}

func TestBusDown(t *testing.T) {
	noLeaks(t)
	bus := runtime.NewEmbeddedBus(runtime.EmbeddedConfig{})
	bus.Close()
	_, err := runtime.Run(context.Background(), probeGraph("metrics"), runtime.Config{Bus: bus})
	if !sdk.IsInfra(err) {
		t.Errorf("err %v, want an infrastructure error", err)
	}
}

func TestInvalidConfigAndGraph(t *testing.T) {
	bus := runtime.NewEmbeddedBus(runtime.EmbeddedConfig{})
	defer bus.Close()
	tests := []struct {
		name string
		g    *compiler.Graph
		cfg  runtime.Config
		want string
	}{
		{"no bus", probeGraph("a"), runtime.Config{MaxDeliveries: -1},
			"runtime: Config.Bus is nil\nruntime: Config.MaxDeliveries is -1"},
		{"unknown dep", &compiler.Graph{Nodes: []*compiler.Node{{ID: "a", Op: compiler.OpTask, Kind: "echo", Deps: []string{"zz"}, Pos: compiler.Pos{File: "f", Line: 1, Column: 1}}}},
			runtime.Config{Bus: bus}, "runtime: invalid graph: f:1:1: node a depends on unknown node zz"},
		{"unknown reducer", &compiler.Graph{Nodes: []*compiler.Node{{ID: "r", Op: compiler.OpReduce, Reducer: "median", Pos: compiler.Pos{File: "f", Line: 2, Column: 5}}}},
			runtime.Config{Bus: bus}, `runtime: invalid graph: f:2:5: unknown reducer "median"`},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			_, err := runtime.Run(context.Background(), tc.g, tc.cfg)
			if err == nil || err.Error() != tc.want {
				t.Errorf("err %v, want %q", err, tc.want)
			}
		})
	}
}

// TestAnyLabel checks the embedded worker that serves every label, present
// and future, and that a report is valid JSON with snake_case fields.
func TestAnyLabel(t *testing.T) {
	noLeaks(t)
	bus := embedded(t, echo.Kind{})
	g := runtimetest.NewGraph()
	a := g.Echo("a", []any{"x"}, runtimetest.Label("gpu"))
	b := g.Echo("b", nil, runtimetest.Input(a), runtimetest.Label("never-declared"))
	g.Out(b)
	rep, err := runtime.Run(context.Background(), g.G, runtime.Config{Bus: bus, RunID: "r1"})
	if err != nil {
		t.Fatal(err)
	}
	if rep.Status != runtime.Success || string(rep.Results[0]) != `"x"` || rep.RunID != "r1" {
		t.Fatalf("report %+v", rep)
	}
	j, err := json.Marshal(rep)
	if err != nil {
		t.Fatal(err)
	}
	var doc map[string]any
	if err := json.Unmarshal(j, &doc); err != nil {
		t.Fatal(err)
	}
	task := doc["tasks"].([]any)[1].(map[string]any)
	for _, k := range []string{"id", "kind", "name", "action", "label", "worker", "state", "attempts", "started", "finished", "duration", "pos"} {
		if _, ok := task[k]; !ok {
			t.Errorf("task JSON lacks %q: %s", k, j)
		}
	}
}

func TestWorkerStopsWithNothingRunning(t *testing.T) {
	noLeaks(t)
	synctest.Test(t, func(t *testing.T) {
		bus := runtime.NewEmbeddedBus(runtime.EmbeddedConfig{})
		defer bus.Close()
		w, err := runtime.NewWorker(runtime.WorkerConfig{Bus: bus, Executor: runtime.KindExecutor(echo.Kind{})})
		if err != nil {
			t.Fatal(err)
		}
		ctx, cancel := context.WithTimeout(context.Background(), 50*time.Millisecond)
		defer cancel()
		start := time.Now()
		if err := w.Serve(ctx); err != nil {
			t.Fatal(err)
		}
		// On the bubble's clock an idle worker stops the moment ctx ends.
		if el := time.Since(start); el != 50*time.Millisecond {
			t.Errorf("Serve took %s to stop an idle worker, want 50ms", el)
		}
	})
}

func TestCancelledBeforeStart(t *testing.T) {
	noLeaks(t)
	bus := embedded(t, probe{})
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	var started int
	rep, err := runtime.Run(ctx, probeGraph("metrics", "panic"), runtime.Config{
		Bus: bus,
		Listener: runtime.ListenerFunc(func(u runtime.Update) {
			if u.Type == runtime.UpdateState && u.State != runtime.Cancelled {
				started++
			}
		}),
	})
	if err != nil {
		t.Fatal(err)
	}
	if rep.Status != runtime.Cancelled || started != 0 {
		t.Errorf("status %s, %d tasks started", rep.Status, started)
	}
	for _, tr := range rep.Tasks {
		if tr.State != runtime.Cancelled {
			t.Errorf("task %s: %s", tr.ID, tr.State)
		}
	}
}

func TestMaxInFlight(t *testing.T) {
	noLeaks(t)
	synctest.Test(t, testMaxInFlight)
}

func testMaxInFlight(t *testing.T) {
	bus := embedded(t, echo.Kind{})
	g := runtimetest.NewGraph()
	var ids []string
	for i := range 4 {
		ids = append(ids, g.Echo(fmt.Sprint("t", i), []any{int64(i)}, runtimetest.Kw("sleep", "40ms")))
	}
	g.Out(g.Reduce("collect", false, ids...))
	running, most := 0, 0
	start := time.Now()
	rep, err := runtime.Run(context.Background(), g.G, runtime.Config{
		Bus: bus, MaxInFlight: 2,
		Listener: runtime.ListenerFunc(func(u runtime.Update) {
			if u.Type != runtime.UpdateState || u.Task.Kind != "echo" {
				return
			}
			switch u.State {
			case runtime.Started:
				running++
				most = max(most, running)
			case runtime.Success:
				running--
			}
		}),
	})
	if err != nil {
		t.Fatal(err)
	}
	if rep.Status != runtime.Success || string(rep.Results[0]) != "[0,1,2,3]" {
		t.Fatalf("status %s, results %s", rep.Status, rep.Results)
	}
	if most > 2 {
		t.Errorf("%d tasks ran at once, want at most 2", most)
	}
	if el := time.Since(start); el < 80*time.Millisecond {
		t.Errorf("took %s: four 40ms tasks two at a time take 80ms at least", el)
	}
}

// TestMaxInFlightPerLabel: tasks no worker takes fill their label's window,
// not everyone's.
func TestMaxInFlightPerLabel(t *testing.T) {
	noLeaks(t)
	bus := runtime.NewEmbeddedBus(runtime.EmbeddedConfig{})
	defer bus.Close()
	w, err := runtime.NewWorker(runtime.WorkerConfig{Bus: bus, Executor: runtime.KindExecutor(echo.Kind{})})
	if err != nil {
		t.Fatal(err)
	}
	wctx, stop := context.WithCancel(context.Background())
	served := make(chan error, 1)
	go func() { served <- w.Serve(wctx) }()
	defer func() { stop(); <-served }()

	g := runtimetest.NewGraph()
	gpu := []string{g.Echo("g0", nil, runtimetest.Label("gpu")), g.Echo("g1", nil, runtimetest.Label("gpu"))}
	var cpu []string
	for i := range 3 {
		cpu = append(cpu, g.Echo(fmt.Sprint("c", i), []any{int64(i)}))
	}
	g.Out(g.Reduce("sum", false, cpu...))
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	done := 0
	rep, err := runtime.Run(ctx, g.G, runtime.Config{
		Bus: bus, MaxInFlight: 1,
		Listener: runtime.ListenerFunc(func(u runtime.Update) {
			if u.Type == runtime.UpdateState && u.State == runtime.Success && u.Task.Kind == "reduce" {
				done++
				cancel()
			}
		}),
	})
	if err != nil {
		t.Fatal(err)
	}
	if done != 1 || string(rep.Results[0]) != "3" {
		t.Errorf("the default-label tasks did not finish: results %s", rep.Results)
	}
	for _, id := range gpu {
		for _, tr := range rep.Tasks {
			if tr.ID == id && tr.State != runtime.Cancelled {
				t.Errorf("gpu task %s: %s", id, tr.State)
			}
		}
	}
}

// TestWorkerStoreAndMiddleware: a worker's own store wins over the runner's,
// its middleware wraps every task (outermost first), and a timeout reaches
// the kind as its deadline.
func TestWorkerStoreAndMiddleware(t *testing.T) {
	noLeaks(t)
	bus := runtime.NewEmbeddedBus(runtime.EmbeddedConfig{})
	defer bus.Close()
	var order []string
	mw := func(name string) runtime.Middleware {
		return func(next runtime.Handler) runtime.Handler {
			return func(ctx context.Context, m *runtime.TaskMessage, e sdk.Emitter) (json.RawMessage, error) {
				order = append(order, name+">")
				res, err := next(ctx, m, e)
				order = append(order, "<"+name)
				return res, err
			}
		}
	}
	w, err := runtime.NewWorker(runtime.WorkerConfig{
		Bus: bus, Executor: runtime.KindExecutor(probe{}), Store: "/worker/store",
		Concurrency: 1, Middleware: []runtime.Middleware{mw("a"), mw("b")},
	})
	if err != nil {
		t.Fatal(err)
	}
	wctx, stop := context.WithCancel(context.Background())
	served := make(chan error, 1)
	go func() { served <- w.Serve(wctx) }()
	defer func() { stop(); <-served }()

	g := probeGraph("task")
	g.Nodes[0].Opts.Timeout = time.Minute
	rep, err := runtime.Run(context.Background(), g, runtime.Config{Bus: bus, Store: "/runner/store", RunID: "r7"})
	if err != nil {
		t.Fatal(err)
	}
	if got, want := string(rep.Results[0]), `{"attempt":1,"deadline":true,"run":"r7","store":"/worker/store"}`; got != want {
		t.Errorf("task saw %s, want %s", got, want)
	}
	if got := strings.Join(order, " "); got != "a> b> <b <a" {
		t.Errorf("middleware ran %s", got)
	}
}

func TestResultNotJSON(t *testing.T) {
	noLeaks(t)
	bus := embedded(t, probe{})
	g := probeGraph("garbage")
	g.Nodes[0].Opts.Retries = 2
	rep, err := runtime.Run(context.Background(), g, runtime.Config{Bus: bus})
	if err != nil {
		t.Fatal(err)
	}
	tr := rep.Tasks[0]
	if tr.State != runtime.Failure || tr.Error != "probe garbage: result is not valid JSON" || tr.Attempts != 1 {
		t.Errorf("%s after %d attempts: %q", tr.State, tr.Attempts, tr.Error)
	}
	if _, err := json.Marshal(rep); err != nil {
		t.Errorf("report: %v", err)
	}
}

// TestNoGrowthAcrossRuns: a long-lived bus and worker serving run after run
// (an `omp worker` does for months) keeps no goroutines per finished run.
func TestNoGrowthAcrossRuns(t *testing.T) {
	noLeaks(t)
	synctest.Test(t, testNoGrowthAcrossRuns)
}

func testNoGrowthAcrossRuns(t *testing.T) {
	bus := embedded(t, echo.Kind{})
	g := runtimetest.NewGraph()
	var ids []string
	for i := range 10 {
		ids = append(ids, g.Echo(fmt.Sprint("e", i), []any{int64(i)}))
	}
	g.Out(g.Reduce("sum", false, ids...))
	run := func() {
		rep, err := runtime.Run(context.Background(), g.G, runtime.Config{Bus: bus})
		if err != nil || string(rep.Results[0]) != "45" {
			t.Fatalf("run: %v, %v", err, rep.Results)
		}
	}
	// Once every goroutine of the bubble waits, those of finished runs
	// have exited.
	settle := func() int {
		synctest.Wait()
		return goruntime.NumGoroutine()
	}
	run()
	before := settle()
	for range 30 {
		run()
	}
	if after := settle(); after > before+3 {
		t.Errorf("%d goroutines after 30 more runs, %d before", after, before)
	}
}

// TestWorkerLogsAttempts: the worker's records name the worker, run, task
// and attempt as attributes, one "end" per attempt (a task this quick
// sends no claim, so it has no "start").
func TestWorkerLogsAttempts(t *testing.T) {
	noLeaks(t)
	rec, log := logtest.New()
	bus := runtime.NewEmbeddedBus(runtime.EmbeddedConfig{})
	defer bus.Close()
	w, err := runtime.NewWorker(runtime.WorkerConfig{
		Name: "w9", Labels: []string{runtime.AnyLabel}, Bus: bus,
		Executor: runtime.KindExecutor(probe{}), Logger: log,
	})
	if err != nil {
		t.Fatal(err)
	}
	wctx, stop := context.WithCancel(context.Background())
	served := make(chan error, 1)
	go func() { served <- w.Serve(wctx) }()
	g := probeGraph("metrics", "panic")
	g.Nodes[1].Opts.Retries = 1
	// After metrics: else the panic's two attempts may end, and the
	// run fail fast, before the worker takes metrics, which it then
	// drops (as it should).
	g.Nodes[1].Deps = []string{"metrics"}
	_, err = runtime.Run(context.Background(), g, runtime.Config{Bus: bus, RunID: "r9"})
	// The worker logs an attempt's end once the bus has its outcome,
	// which may be after the run has it: Serve returns after that.
	stop()
	if err := <-served; err != nil {
		t.Fatal(err)
	}
	if err != nil {
		t.Fatal(err)
	}
	for _, tc := range []struct {
		msg  string
		kv   []any
		want int
	}{
		{"end", []any{"task", "metrics", "attempt", 1, "outcome", runtime.EventResult}, 1},
		{"end", []any{"task", "panic", "attempt", 1, "outcome", runtime.EventFailure}, 1},
		{"end", []any{"task", "panic", "attempt", 2, "outcome", runtime.EventFailure, "error", "panic: assignment to entry in nil map"}, 1},
		{"end", []any{"kind", "probe", "node", "panic.panic"}, 2},
		{"end", []any{"worker", "w9", "run", "r9"}, 3},
	} {
		if got := len(rec.Find(tc.msg, tc.kv...)); got != tc.want {
			t.Errorf("%d %q records with %v, want %d; all:\n%s", got, tc.msg, tc.kv, tc.want, rec.Dump())
		}
	}
}

// publishSizes is a bus that records how many messages each publish to a
// task topic carried.
type publishSizes struct {
	runtime.Bus
	mu    sync.Mutex
	sizes []int
}

func (b *publishSizes) Publisher() message.Publisher { return sizesPublisher{b} }

type sizesPublisher struct{ b *publishSizes }

func (p sizesPublisher) Publish(topic string, msgs ...*message.Message) error {
	if _, ok := runtime.LabelOf(topic); ok {
		p.b.mu.Lock()
		p.b.sizes = append(p.b.sizes, len(msgs))
		p.b.mu.Unlock()
	}
	return p.b.Bus.Publisher().Publish(topic, msgs...)
}

func (p sizesPublisher) Close() error { return nil }

// A run held back by MaxInFlight dispatches its backlog in refills of an
// eighth of the window, not a task per result, so that a bus can send them
// together; a backlog smaller than that goes once it fits.
func TestMaxInFlightRefills(t *testing.T) {
	noLeaks(t)
	synctest.Test(t, func(t *testing.T) {
		inner := runtime.NewEmbeddedBus(runtime.EmbeddedConfig{})
		t.Cleanup(func() { inner.Close() })
		// One task at a time: each result frees one place in the window.
		runtimetest.Serve(t, runtime.WorkerConfig{
			Name: "local", Labels: []string{runtime.AnyLabel}, Bus: inner, Concurrency: 1,
			Executor: runtime.KindExecutor(echo.Kind{}),
		})
		bus := &publishSizes{Bus: inner}
		g := runtimetest.NewGraph()
		var ids []string
		for i := range 43 {
			ids = append(ids, g.Echo(fmt.Sprint("t", i), []any{int64(i)}, runtimetest.Kw("sleep", "10ms")))
		}
		g.Out(g.Reduce("count", false, ids...))
		rep, err := runtime.Run(context.Background(), g.G, runtime.Config{Bus: bus, MaxInFlight: 16})
		if err != nil {
			t.Fatal(err)
		}
		if rep.Status != runtime.Success {
			t.Fatalf("status %s", rep.Status)
		}
		// 16, then refills of 16/8 = 2, the last task once it fits.
		want := []int{16}
		for range 13 {
			want = append(want, 2)
		}
		want = append(want, 1)
		if !slices.Equal(bus.sizes, want) {
			t.Errorf("publishes of %v tasks, want %v", bus.sizes, want)
		}
	})
}
