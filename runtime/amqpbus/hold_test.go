package amqpbus_test

import (
	"context"
	"testing"
	"time"

	"github.com/ThreeDotsLabs/watermill/message"

	"github.com/ompdev/omp/internal/amqptest"
	"github.com/ompdev/omp/runtime"
	"github.com/ompdev/omp/runtime/amqpbus"
)

// A task message that waits in a subscription, or in a receiver that does
// not ack it, longer than HoldLimit goes back to the queue as a fresh copy:
// it is still there for the receiver later, and the wait does not count
// against MaxDeliveries (here 2, far fewer than the put-backs).
func TestHeldMessageIsPutBackWithoutCounting(t *testing.T) {
	url := amqptest.URL(t)
	prefix := amqptest.Prefix(t)
	cleanup(t, url, prefix, "default")
	cfg := func(c *amqpbus.Config) { c.HoldLimit = 100 * time.Millisecond; c.MaxDeliveries = 2 }
	bus := newBus(t, url, prefix, cfg)
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	if err := bus.Prepare(ctx, "", []string{"default"}); err != nil {
		t.Fatal(err)
	}
	// The run's runner listens: the task of a run without one is dropped.
	if _, err := bus.Events().Subscribe(ctx, runtime.EventTopic("r1")); err != nil {
		t.Fatal(err)
	}
	topic := runtime.TaskTopic("default")
	msgs, err := bus.Tasks().Subscribe(ctx, topic)
	if err != nil {
		t.Fatal(err)
	}
	payload := []byte(`{"v":1,"run_id":"r1","task_id":"t1"}`)
	if err := bus.Publisher().Publish(topic, message.NewMessage("m1", payload)); err != nil {
		t.Fatal(err)
	}

	// Nobody takes it for a second: about ten put-backs.
	time.Sleep(time.Second)
	m := <-msgs
	if string(m.Payload) != string(payload) {
		t.Fatalf("payload %s", m.Payload)
	}
	if n := m.Metadata.Get("x-delivery-count"); n != "" && n != "0" {
		t.Errorf("x-delivery-count %s after waiting, want none", n)
	}
	// Taken but not acked for a second: the receiver's copy goes stale.
	time.Sleep(time.Second)
	if m.Context().Err() == nil {
		t.Error("a message held past HoldLimit still has a live context")
	}
	m2 := <-msgs
	if string(m2.Payload) != string(payload) {
		t.Fatalf("payload %s", m2.Payload)
	}
	m2.Ack()
	n, err := bus.DeadLetters(ctx)
	if err != nil || n != 0 {
		t.Errorf("dead letters %d, %v; want none", n, err)
	}
	select {
	case m3 := <-msgs:
		t.Errorf("a third copy came: %s", m3.Payload)
	case <-time.After(500 * time.Millisecond):
	}
}
