package runtime_test

import (
	"testing"

	"go.uber.org/goleak"

	"github.com/ompdev/omp/runtime"
	"github.com/ompdev/omp/runtime/runtimetest"
)

func newEmbedded(t *testing.T) runtime.Bus { return runtime.NewEmbeddedBus(runtime.EmbeddedConfig{}) }

// TestEmbeddedInProcess runs the conformance suite on the embedded bus with
// the kinds in this process: the scheduler's and the bus's behaviour alone,
// on a synctest clock.
func TestEmbeddedInProcess(t *testing.T) {
	defer goleak.VerifyNone(t)
	runtimetest.Run(t, runtimetest.Features{Bubble: true}, newEmbedded)
}

// TestEmbeddedPlugins runs the conformance suite on the embedded bus with the
// kinds in real plugin processes, started by the plugin host from omp itself.
func TestEmbeddedPlugins(t *testing.T) {
	defer goleak.VerifyNone(t)
	runtimetest.Run(t, runtimetest.Features{
		NewExecutor: func(t *testing.T) runtime.Executor { return newHost(t) },
	}, newEmbedded)
}
