package amqpbus_test

import (
	"testing"

	"github.com/ompdev/omp/internal/amqptest"
	"github.com/ompdev/omp/runtime"
	"github.com/ompdev/omp/runtime/amqpbus"
	"github.com/ompdev/omp/runtime/runtimetest"
)

// The runtime's conformance suite on RabbitMQ: the same scheduler and
// workers as on the embedded bus, across a real broker.
func TestConformance(t *testing.T) {
	url := amqptest.URL(t)
	runtimetest.Run(t, runtimetest.Features{Slow: 3}, func(t *testing.T) runtime.Bus {
		prefix := amqptest.Prefix(t)
		cleanup(t, url, prefix, "default", "narrow", "gpu", "cpu", "big")
		// The suite's workers run 4 tasks at once on this one bus.
		return newBus(t, url, prefix, func(c *amqpbus.Config) { c.Prefetch = 4 })
	})
}
