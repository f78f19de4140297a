package amqpbus_test

import (
	"context"
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/ThreeDotsLabs/watermill/message"

	"github.com/ompdev/omp/internal/amqptest"
	"github.com/ompdev/omp/runtime"
	"github.com/ompdev/omp/runtime/amqpbus"
)

// packed is how many tasks a test publishes at once so that they go in
// packs (of two: see packSize).
const packed = 128

// Tasks published together travel in packs, and each is handed on alone; a
// task that waits longer than HoldLimit goes back to the queue (in a pack
// again) without counting a delivery, and every task comes once it is
// taken.
func TestPackedTasksArePutBackWithoutCounting(t *testing.T) {
	url := amqptest.URL(t)
	prefix := amqptest.Prefix(t)
	cleanup(t, url, prefix, "default")
	bus := newBus(t, url, prefix, func(c *amqpbus.Config) { c.HoldLimit = 100 * time.Millisecond; c.MaxDeliveries = 2; c.Prefetch = 8 })
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	if err := bus.Prepare(ctx, "r1", []string{"default"}); err != nil {
		t.Fatal(err)
	}
	topic := runtime.TaskTopic("default")
	msgs, err := bus.Tasks().Subscribe(ctx, topic)
	if err != nil {
		t.Fatal(err)
	}
	var batch []*message.Message
	for i := range packed {
		batch = append(batch, message.NewMessage(fmt.Sprint("m", i), fmt.Appendf(nil, `{"v":1,"run_id":"r1","task_id":"t%d"}`, i)))
	}
	if err := bus.Publisher().Publish(topic, batch...); err != nil {
		t.Fatal(err)
	}

	// Nobody takes them for a second: several put-backs each.
	time.Sleep(time.Second)
	seen := map[string]bool{}
	for len(seen) < packed {
		select {
		case m := <-msgs:
			if n := m.Metadata.Get("x-delivery-count"); n != "" && n != "0" {
				t.Errorf("x-delivery-count %s after waiting, want none", n)
			}
			if m.Metadata.Get("omp-pack") != "" {
				t.Errorf("a pack handed on whole: %.60s", m.Payload)
			}
			if seen[string(m.Payload)] {
				t.Errorf("%s came twice", m.Payload)
			}
			seen[string(m.Payload)] = true
			m.Ack()
		case <-ctx.Done():
			t.Fatalf("%d of %d tasks came", len(seen), packed)
		}
	}
	n, err := bus.DeadLetters(ctx)
	if err != nil || n != 0 {
		t.Errorf("dead letters %d, %v; want none", n, err)
	}
	select {
	case m := <-msgs:
		t.Errorf("another copy came: %s", m.Payload)
	case <-time.After(500 * time.Millisecond):
	}
}

// Packed tasks that every consumer gives back end in the dead-letter queue
// and fail their run with that reason: a pack given back is split, and each
// of its tasks then counts its own deliveries; a pack that the broker
// dead-letters whole (MaxDeliveries 1) fails each of its tasks.
func TestPoisonPacksAreDeadLettered(t *testing.T) {
	tests := []struct {
		name          string
		maxDeliveries int
		dead          int // messages in the dead-letter queue
	}{
		{"split", 3, packed},
		{"whole", 1, packed / 2},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			url := amqptest.URL(t)
			prefix := amqptest.Prefix(t)
			cleanup(t, url, prefix, "default")
			cfg := func(c *amqpbus.Config) { c.MaxDeliveries = tt.maxDeliveries; c.Prefetch = 16 }
			poison := newBus(t, url, prefix, cfg)
			ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
			defer cancel()
			deliveries := nackAll(ctx, t, poison)

			bus := newBus(t, url, prefix, cfg)
			rep, err := runtime.Run(ctx, echoGraph(packed, ""), runtime.Config{Bus: bus, MaxDeliveries: tt.maxDeliveries, KeepGoing: true})
			if err != nil {
				t.Fatal(err)
			}
			want := "task message dead-lettered to " + prefix + "omp.dead (delivery_limit)"
			for _, task := range rep.Tasks[:packed] {
				if task.State != runtime.Failure || !strings.Contains(task.Error, want) {
					t.Errorf("task %s: %s %q, want FAILURE %q", task.ID, task.State, task.Error, want)
				}
			}
			if n := deliveries.Load(); n < packed*int32(tt.maxDeliveries) {
				t.Errorf("%d deliveries of %d tasks, want at least %d each", n, packed, tt.maxDeliveries)
			}
			// The dead-letter queue gets its copies as the runner does,
			// not before.
			for deadline := time.Now().Add(5 * time.Second); ; time.Sleep(20 * time.Millisecond) {
				n, err := bus.DeadLetters(ctx)
				if err != nil {
					t.Fatal(err)
				}
				if n == tt.dead {
					break
				}
				if time.Now().After(deadline) {
					t.Fatalf("%d messages in the dead-letter queue, want %d", n, tt.dead)
				}
			}
		})
	}
}
