package runtimetest

import (
	"context"
	"sync"
	"testing"

	"github.com/ompdev/omp/runtime"
)

// Serve makes a worker with cfg and serves with it until t ends, failing t
// if the worker cannot be made or its Serve returns an error. stop stops it
// sooner, for a test that takes a worker away; calling it again, or letting
// the cleanup call it, does nothing more.
func Serve(t testing.TB, cfg runtime.WorkerConfig) (w *runtime.Worker, stop func()) {
	t.Helper()
	w, err := runtime.NewWorker(cfg)
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- w.Serve(ctx) }()
	var once sync.Once
	stop = func() {
		once.Do(func() {
			cancel()
			if err := <-done; err != nil {
				t.Errorf("worker %s: Serve: %v", cfg.Name, err)
			}
		})
	}
	t.Cleanup(stop)
	return w, stop
}
