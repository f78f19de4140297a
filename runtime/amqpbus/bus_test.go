package amqpbus_test

import (
	"context"
	"encoding/json"
	"fmt"
	"testing"
	"time"

	"github.com/ompdev/omp/compiler"
	"github.com/ompdev/omp/internal/amqptest"
	"github.com/ompdev/omp/plugins/echo"
	"github.com/ompdev/omp/runtime"
	"github.com/ompdev/omp/runtime/amqpbus"
	"github.com/ompdev/omp/runtime/runtimetest"
)

// newBus connects a bus to the test broker with the given prefix and closes
// it when t ends.
func newBus(t testing.TB, url, prefix string, edit ...func(*amqpbus.Config)) *amqpbus.Bus {
	t.Helper()
	cfg := amqpbus.Config{URL: url, Prefix: prefix}
	for _, e := range edit {
		e(&cfg)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 15*time.Second)
	defer cancel()
	b, err := amqpbus.New(ctx, cfg)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { b.Close() })
	return b
}

// cleanup deletes what buses of prefix declared, after they closed.
func cleanup(t testing.TB, url, prefix string, labels ...string) {
	t.Helper()
	t.Cleanup(func() {
		ctx, cancel := context.WithTimeout(context.Background(), 15*time.Second)
		defer cancel()
		b, err := amqpbus.New(ctx, amqpbus.Config{URL: url, Prefix: prefix})
		if err != nil {
			t.Error(err)
			return
		}
		defer b.Close()
		if err := b.DeleteAll(ctx, labels...); err != nil {
			t.Errorf("delete test queues: %v", err)
		}
	})
}

// serve starts a worker on its own bus, as another process would, and
// stops it when t ends.
func serve(t testing.TB, url, prefix string, cfg runtime.WorkerConfig) *runtime.Worker {
	t.Helper()
	if cfg.Concurrency == 0 {
		cfg.Concurrency = 4
	}
	cfg.Bus = newBus(t, url, prefix, func(c *amqpbus.Config) { c.Prefetch = cfg.Concurrency })
	if cfg.Executor == nil {
		cfg.Executor = runtime.KindExecutor(echo.Kind{})
	}
	if cfg.HeartbeatInterval == 0 {
		cfg.HeartbeatInterval = 500 * time.Millisecond
	}
	w, _ := runtimetest.Serve(t, cfg)
	return w
}

func echoGraph(n int, label string) *compiler.Graph {
	g := &compiler.Graph{File: "t.omp", Params: map[string]any{}}
	var ids []string
	for i := range n {
		id := fmt.Sprintf("e%d", i)
		g.Nodes = append(g.Nodes, &compiler.Node{ID: id, Op: compiler.OpTask, Kind: "echo", Name: "e", Action: "run",
			Args: []any{int64(i)}, Label: label, Pos: compiler.Pos{File: "t.omp", Line: i + 1, Column: 1}})
		ids = append(ids, id)
	}
	g.Nodes = append(g.Nodes, &compiler.Node{ID: "sum", Op: compiler.OpReduce, Reducer: "sum", Inputs: ids, Deps: ids})
	g.Outputs = []compiler.Output{{Node: "sum"}}
	return g
}

func TestRunOnAMQP(t *testing.T) {
	url := amqptest.URL(t)
	prefix := amqptest.Prefix(t)
	cleanup(t, url, prefix, "default")
	serve(t, url, prefix, runtime.WorkerConfig{Name: "w1"})
	bus := newBus(t, url, prefix)
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	rep, err := runtime.Run(ctx, echoGraph(50, ""), runtime.Config{Bus: bus})
	if err != nil {
		t.Fatal(err)
	}
	if rep.Status != runtime.Success {
		t.Fatalf("status %s: %+v", rep.Status, rep.Tasks)
	}
	var sum int
	if err := json.Unmarshal(rep.Results[0], &sum); err != nil || sum != 50*49/2 {
		t.Fatalf("sum = %s, want %d", rep.Results[0], 50*49/2)
	}
	for _, tr := range rep.Tasks {
		if tr.Kind == "echo" && tr.Worker != "w1" {
			t.Errorf("task %s ran on %q, want w1", tr.ID, tr.Worker)
		}
	}
}
