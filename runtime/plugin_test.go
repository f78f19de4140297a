package runtime_test

import (
	"context"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/ompdev/omp/runtime"
	"github.com/ompdev/omp/runtime/runtimetest"
)

// pluginBus starts an embedded bus and a worker running kinds in real plugin
// processes.
func pluginBus(t *testing.T) runtime.Bus {
	t.Helper()
	bus := runtime.NewEmbeddedBus(runtime.EmbeddedConfig{})
	t.Cleanup(func() { bus.Close() }) // after the worker's: cleanups run last first
	runtimetest.Serve(t, runtime.WorkerConfig{
		Name: "local", Labels: []string{runtime.AnyLabel}, Concurrency: 4,
		Bus: bus, Executor: newHost(t),
	})
	return bus
}

func crashy(g *runtimetest.Graph, action string, args ...any) string {
	id := g.Echo(action, args)
	n := g.G.Node(id)
	n.Kind, n.Action = "crashy", action
	return id
}

// TestPluginExitsMidRun: a plugin process that dies fails its task with a
// clear error; the run goes on and the next task of that kind gets a fresh
// process, logs and metrics included.
func TestPluginExitsMidRun(t *testing.T) {
	noLeaks(t)
	bus := pluginBus(t)
	g := runtimetest.NewGraph()
	exit := crashy(g, "exit")
	ok := g.Echo("ok", []any{"fine"})
	g.Out(exit)
	g.Out(ok)
	rep, err := runtime.Run(context.Background(), g.G, runtime.Config{Bus: bus, KeepGoing: true})
	if err != nil {
		t.Fatal(err)
	}
	tr := rep.Tasks[0]
	if tr.State != runtime.Failure || !strings.Contains(tr.Error, "exited") {
		t.Errorf("crashy exit: %s %q, want FAILURE naming the exit", tr.State, tr.Error)
	}
	if rep.Tasks[1].State != runtime.Success || string(rep.Results[1]) != `"fine"` {
		t.Errorf("echo: %s %s", rep.Tasks[1].State, rep.Results[1])
	}

	g = runtimetest.NewGraph()
	g.Out(crashy(g, "report"))
	rep, err = runtime.Run(context.Background(), g.G, runtime.Config{Bus: bus})
	if err != nil {
		t.Fatal(err)
	}
	tr = rep.Tasks[0]
	if rep.Status != runtime.Success || string(rep.Results[0]) != `"done"` ||
		strings.Join(tr.Log, ",") != "one,two" || len(tr.Metrics) != 1 || tr.Metrics[0] != (runtime.Metric{Name: "loss", Value: 0.25, Step: 3}) {
		t.Errorf("after a restart: status %s, result %s, log %q, metrics %v", rep.Status, rep.Results[0], tr.Log, tr.Metrics)
	}
}

// TestCancelReachesPlugin: cancelling a run cancels the context of the task
// inside its plugin process.
func TestCancelReachesPlugin(t *testing.T) {
	noLeaks(t)
	bus := pluginBus(t)
	marker := filepath.Join(t.TempDir(), "cancelled")
	g := runtimetest.NewGraph()
	g.Out(crashy(g, "block", marker))
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	start := time.Now()
	rep, err := runtime.Run(ctx, g.G, runtime.Config{Bus: bus,
		Listener: runtime.ListenerFunc(func(u runtime.Update) {
			if u.Type == runtime.UpdateLog && u.Line == "blocking" {
				cancel()
			}
		}),
	})
	if err != nil {
		t.Fatal(err)
	}
	if rep.Status != runtime.Cancelled || rep.Tasks[0].State != runtime.Cancelled {
		t.Errorf("status %s, task %s", rep.Status, rep.Tasks[0].State)
	}
	if el := time.Since(start); el > 5*time.Second {
		t.Errorf("took %s", el)
	}
	// The host returns when the call is cancelled; the plugin notices on
	// its side a moment later.
	var b []byte
	for wait := time.Now(); time.Since(wait) < 5*time.Second; time.Sleep(10 * time.Millisecond) {
		if b, err = os.ReadFile(marker); err == nil {
			break
		}
	}
	if err != nil || string(b) != "context canceled" {
		t.Errorf("the plugin did not see the cancellation: %q, %v", b, err)
	}
}
