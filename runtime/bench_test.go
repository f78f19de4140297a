package runtime_test

import (
	"context"
	"encoding/json"
	"fmt"
	"sync"
	"testing"

	"github.com/ompdev/omp/compiler"
	"github.com/ompdev/omp/plugins/echo"
	"github.com/ompdev/omp/plugins/sdk"
	"github.com/ompdev/omp/runtime"
	"github.com/ompdev/omp/runtime/runtimetest"
)

// parallelGraph is `parallel { echo e0(0) … echo eN(N) } | reduce count`.
func parallelGraph(n int) *compiler.Graph {
	g := runtimetest.NewGraph()
	ids := make([]string, n)
	for i := range n {
		ids[i] = g.Echo(fmt.Sprint("e", i), []any{int64(i)})
	}
	g.Out(g.Reduce("count", false, ids...))
	return g.G
}

// chainGraph is `echo s0(1) | echo s1() | … | echo sN()`.
func chainGraph(n int) *compiler.Graph {
	g := runtimetest.NewGraph()
	prev := g.Echo("s0", []any{int64(1)})
	for i := 1; i < n; i++ {
		prev = g.Echo(fmt.Sprint("s", i), nil, runtimetest.Input(prev))
	}
	g.Out(prev)
	return g.G
}

// benchRun runs g once per iteration on the embedded runtime: one bus and one
// worker serving every label, set up (and plugins started) before the timer.
func benchRun(b *testing.B, exec runtime.Executor, g *compiler.Graph, concurrency int, want string) {
	benchRunWindow(b, exec, g, concurrency, 0, want)
}

func benchRunWindow(b *testing.B, exec runtime.Executor, g *compiler.Graph, concurrency, window int, want string) {
	benchRunConfig(b, exec, g, concurrency, runtime.Config{MaxInFlight: window}, want)
}

// benchRunConfig is benchRun with the run's Config (its Bus is set here).
func benchRunConfig(b *testing.B, exec runtime.Executor, g *compiler.Graph, concurrency int, cfg runtime.Config, want string) {
	bus := runtime.NewEmbeddedBus(runtime.EmbeddedConfig{})
	defer bus.Close()
	w, err := runtime.NewWorker(runtime.WorkerConfig{
		Name: "bench", Labels: []string{runtime.AnyLabel}, Concurrency: concurrency,
		Bus: bus, Executor: exec,
	})
	if err != nil {
		b.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- w.Serve(ctx) }()
	defer func() { cancel(); <-done }()

	run := func(g *compiler.Graph) *runtime.Report {
		cfg.Bus = bus
		rep, err := runtime.Run(context.Background(), g, cfg)
		if err != nil {
			b.Fatal(err)
		}
		if rep.Status != runtime.Success {
			b.Fatalf("status %s", rep.Status)
		}
		return rep
	}
	run(chainGraph(2)) // start the plugin
	b.ResetTimer()
	for b.Loop() {
		if got := string(run(g).Results[0]); got != want {
			b.Fatalf("result %s, want %s", got, want)
		}
	}
	b.ReportMetric(float64(len(g.Nodes)*b.N)/b.Elapsed().Seconds(), "tasks/s")
}

func BenchmarkParallel10kEchoReduceCount(b *testing.B) {
	g := parallelGraph(10000)
	for _, c := range []int{2, 8, 16, 64} {
		b.Run(fmt.Sprint("plugin/c=", c), func(b *testing.B) { benchRun(b, newHost(b), g, c, "10000") })
	}
	b.Run("inprocess", func(b *testing.B) { benchRun(b, runtime.KindExecutor(echo.Kind{}), g, 16, "10000") })
	// Without MaxInFlight all 10,000 task messages sit in the bus at once.
	b.Run("inprocess/unbounded", func(b *testing.B) { benchRunWindow(b, runtime.KindExecutor(echo.Kind{}), g, 16, -1, "10000") })
}

// BenchmarkCacheKeys10k is a 10,000-task run without and with cache keys
// (and result digests): the cost of the keys is the difference.
func BenchmarkCacheKeys10k(b *testing.B) {
	g := parallelGraph(10000)
	cache := &runtime.Cache{Kind: func(string) (string, sdk.KindSpec, bool) {
		return "v1", echo.Kind{}.Describe(), true
	}}
	for _, c := range []*runtime.Cache{nil, cache} {
		name := "nokeys"
		if c != nil {
			name = "keys"
		}
		b.Run("inprocess/"+name, func(b *testing.B) {
			benchRunConfig(b, runtime.KindExecutor(echo.Kind{}), g, 16, runtime.Config{Cache: c}, "10000")
		})
		b.Run("plugin/"+name, func(b *testing.B) {
			benchRunConfig(b, newHost(b), g, 16, runtime.Config{Cache: c}, "10000")
		})
	}
}

func BenchmarkChain1000Echo(b *testing.B) {
	g := chainGraph(1000)
	b.Run("plugin", func(b *testing.B) { benchRun(b, newHost(b), g, 16, "1") })
	b.Run("inprocess", func(b *testing.B) { benchRun(b, runtime.KindExecutor(echo.Kind{}), g, 16, "1") })
}

// BenchmarkHostEcho10k is the floor under the plugin variants: 10,000 echo
// calls straight to the plugin host, 16 at a time, with no runtime at all.
func BenchmarkHostEcho10k(b *testing.B) {
	h := newHost(b)
	ctx := context.Background()
	task := sdk.Task{Kind: "echo", Name: "e", Action: "run", Args: []json.RawMessage{json.RawMessage("1")}}
	if _, err := h.Run(ctx, task, nopEmitter{}); err != nil {
		b.Fatal(err)
	}
	b.ResetTimer()
	for b.Loop() {
		var wg sync.WaitGroup
		next := make(chan struct{}, 10000)
		for range 10000 {
			next <- struct{}{}
		}
		close(next)
		for range 16 {
			wg.Go(func() {
				for range next {
					if _, err := h.Run(ctx, task, nopEmitter{}); err != nil {
						b.Error(err)
						return
					}
				}
			})
		}
		wg.Wait()
	}
	b.ReportMetric(float64(10000*b.N)/b.Elapsed().Seconds(), "tasks/s")
}

type nopEmitter struct{}

func (nopEmitter) Log(string)                  {}
func (nopEmitter) Metric(string, float64, int) {}
func (nopEmitter) Progress(int, int)           {}
