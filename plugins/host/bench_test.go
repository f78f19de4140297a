package host

import (
	"context"
	"encoding/json"
	"os"
	"path/filepath"
	"testing"

	"github.com/ompdev/omp/internal/testbin"
	"github.com/ompdev/omp/plugins/builtin"
	"github.com/ompdev/omp/plugins/internal/wire"
	"github.com/ompdev/omp/plugins/sdk"
)

// BenchmarkNoopRPC is what a task costs once its plugin runs: a frame each
// way on the plugin's Tasks stream to echo, which returns its argument. It
// reports the CPU time per task of the host (this process) and of the
// plugin, which a loaded machine moves less than ns/op.
func BenchmarkNoopRPC(b *testing.B) {
	h := newHost(b)
	tk := sdk.Task{Kind: "echo", Name: "e", Action: "run", Args: []json.RawMessage{json.RawMessage(`1`)}}
	if _, err := h.Run(context.Background(), tk, nil); err != nil {
		b.Fatal(err)
	}
	k, err := h.lookup(context.Background(), "echo")
	if err != nil {
		b.Fatal(err)
	}
	p, err := k.process()
	if err != nil {
		b.Fatal(err)
	}
	// cpu reports the CPU time per op that the host and the plugin spent
	// in the benchmark f.
	cpu := func(b *testing.B, f func()) {
		host, plugin := testbin.CPU(os.Getpid()), testbin.CPU(p.runner.pid)
		f()
		b.ReportMetric(float64((testbin.CPU(os.Getpid())-host).Microseconds())/float64(b.N), "host-cpu-µs/op")
		b.ReportMetric(float64((testbin.CPU(p.runner.pid)-plugin).Microseconds())/float64(b.N), "plugin-cpu-µs/op")
	}
	b.Run("serial", func(b *testing.B) {
		cpu(b, func() {
			for b.Loop() {
				if _, err := h.Run(context.Background(), tk, nil); err != nil {
					b.Fatal(err)
				}
			}
		})
	})
	// A unary call on the same connection, for comparison: what the
	// streaming protocol costs over the least gRPC can do.
	b.Run("unary-describe", func(b *testing.B) {
		for b.Loop() {
			if _, err := p.kind.Describe(context.Background(), &wire.DescribeRequest{}); err != nil {
				b.Fatal(err)
			}
		}
	})
	b.Run("parallel", func(b *testing.B) {
		cpu(b, func() {
			b.RunParallel(func(pb *testing.PB) {
				for pb.Next() {
					if _, err := h.Run(context.Background(), tk, nil); err != nil {
						b.Error(err)
						return
					}
				}
			})
		})
	})
}

// BenchmarkPluginStart is what a task would cost if every task started its
// plugin: start, handshake, Describe, stop.
func BenchmarkPluginStart(b *testing.B) {
	cfg := Config{Builtins: builtin.Kinds(), Self: []string{ompBin, "plugin-serve"}, StartTimeout: 30e9}
	for _, bc := range []struct {
		name, kind string
		argv       []string
	}{
		{"builtin", "echo", []string{ompBin, "plugin-serve", "echo"}},
		{"thirdparty", "upper", []string{filepath.Join(pluginDir, "omp-kind-upper")}},
	} {
		b.Run(bc.name, func(b *testing.B) {
			for b.Loop() {
				p, err := start(bc.kind, bc.argv, cfg)
				if err != nil {
					b.Fatal(err)
				}
				if _, err := p.kind.Describe(context.Background(), &wire.DescribeRequest{}); err != nil {
					b.Fatal(err)
				}
				p.kill()
			}
		})
	}
}
