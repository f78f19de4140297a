package cachekey_test

import (
	"context"
	"testing"

	"github.com/ompdev/omp/compiler"
	"github.com/ompdev/omp/runtime/cachekey"
)

// BenchmarkCompute10k computes the keys of 10,000 echo tasks, each with an
// argument and an input: compare with a 10,000-task run
// (runtime's BenchmarkCacheKeys10k).
func BenchmarkCompute10k(b *testing.B) {
	in := cachekey.Digest([]byte("1"))
	n := &compiler.Node{ID: "s1.5", Op: compiler.OpTask, Kind: "echo", Name: "e5", Action: "run",
		Args: compiler.Values{int64(5), compiler.Ref{Node: "s0"}}, Inputs: []string{"s0"}}
	t := cachekey.Task{Node: n, KindVersion: "v1.2.3", Result: func(string) string { return in }}
	for b.Loop() {
		for range 10000 {
			if _, err := cachekey.Compute(context.Background(), t, nil); err != nil {
				b.Fatal(err)
			}
		}
	}
}
