package amqpbus_test

import (
	"context"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/ompdev/omp/internal/amqptest"
	"github.com/ompdev/omp/runtime"
	"github.com/ompdev/omp/runtime/amqpbus"
)

// A task message that every consumer gives back (a worker that crashes
// before it can claim it) is delivered MaxDeliveries times, then ends in the
// dead-letter queue, and the run fails the task with that reason instead of
// looping.
func TestPoisonMessageIsDeadLettered(t *testing.T) {
	url := amqptest.URL(t)
	prefix := amqptest.Prefix(t)
	cleanup(t, url, prefix, "default")
	const max = 3
	maxDeliveries := func(c *amqpbus.Config) { c.MaxDeliveries = max }

	poison := newBus(t, url, prefix, maxDeliveries)
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	msgs, err := poison.Tasks().Subscribe(ctx, runtime.TaskTopic("default"))
	if err != nil {
		t.Fatal(err)
	}
	var deliveries atomic.Int32
	go func() {
		for m := range msgs {
			deliveries.Add(1)
			m.Nack()
		}
	}()

	bus := newBus(t, url, prefix, maxDeliveries)
	rep, err := runtime.Run(ctx, echoGraph(1, ""), runtime.Config{Bus: bus, MaxDeliveries: max})
	if err != nil {
		t.Fatal(err)
	}
	if rep.Status != runtime.Failure {
		t.Fatalf("status %s, want FAILURE", rep.Status)
	}
	task := rep.Tasks[0]
	want := "task message dead-lettered to " + prefix + "omp.dead (delivery_limit): delivered 3 times, no worker could take it"
	if task.State != runtime.Failure || !strings.Contains(task.Error, want) {
		t.Errorf("task %s: %s %q, want FAILURE %q", task.ID, task.State, task.Error, want)
	}
	if n := deliveries.Load(); n != max {
		t.Errorf("delivered %d times, want %d", n, max)
	}
	n, err := bus.DeadLetters(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if n != 1 {
		t.Errorf("%d messages in the dead-letter queue, want 1", n)
	}
}
