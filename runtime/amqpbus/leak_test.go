package amqpbus_test

import (
	"context"
	"testing"
	"time"

	"go.uber.org/goleak"

	"github.com/ompdev/omp/internal/amqptest"
	"github.com/ompdev/omp/plugins/echo"
	"github.com/ompdev/omp/runtime"
	"github.com/ompdev/omp/runtime/amqpbus"
)

// After a run and Close, a runner's and a worker's bus leave no goroutine
// behind: every subscription, reconnection loop and connection ended.
func TestCloseLeavesNoGoroutine(t *testing.T) {
	url := amqptest.URL(t)
	prefix := amqptest.Prefix(t)
	cleanup(t, url, prefix, "default")
	before := goleak.IgnoreCurrent()

	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	wbus, err := amqpbus.New(ctx, amqpbus.Config{URL: url, Prefix: prefix, Prefetch: 2})
	if err != nil {
		t.Fatal(err)
	}
	w, err := runtime.NewWorker(runtime.WorkerConfig{Name: "w", Concurrency: 2, Bus: wbus,
		Executor: runtime.KindExecutor(echo.Kind{}), HeartbeatInterval: 100 * time.Millisecond})
	if err != nil {
		t.Fatal(err)
	}
	wctx, stop := context.WithCancel(ctx)
	served := make(chan error, 1)
	go func() { served <- w.Serve(wctx) }()

	bus, err := amqpbus.New(ctx, amqpbus.Config{URL: url, Prefix: prefix})
	if err != nil {
		t.Fatal(err)
	}
	rep, err := runtime.Run(ctx, echoGraph(20, ""), runtime.Config{Bus: bus})
	if err != nil || rep.Status != runtime.Success {
		t.Fatalf("run: %v %v", err, rep)
	}
	stop()
	if err := <-served; err != nil {
		t.Fatal(err)
	}
	bus.Close()
	wbus.Close()
	goleak.VerifyNone(t, before)
}
