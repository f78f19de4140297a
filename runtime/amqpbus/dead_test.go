package amqpbus_test

import (
	"context"
	"fmt"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	amqp "github.com/rabbitmq/amqp091-go"

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
	deliveries := nackAll(ctx, t, poison)

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

// Task messages that no worker can read (not JSON, another version, JSON
// nested deeper than the decoder goes) end in the dead-letter queue, each
// with the reason in a header and its body as it came, instead of
// vanishing; and the worker goes on serving.
func TestUnreadableTaskMessageIsDeadLettered(t *testing.T) {
	url := amqptest.URL(t)
	prefix := amqptest.Prefix(t)
	cleanup(t, url, prefix, "default")
	serve(t, url, prefix, runtime.WorkerConfig{Name: "w1", Concurrency: 2})
	bus := newBus(t, url, prefix)

	tests := []struct {
		name, body, reason string
	}{
		{"garbage", "\x00\xffnot json at all", "invalid character"},
		{"unknown version", `{"v":99,"run_id":"r1","task_id":"t1","label":"default"}`, "unsupported message version 99 (want 1)"},
		{"nested 100000 deep", strings.Repeat("[", 100000) + strings.Repeat("]", 100000), "exceeded max depth"},
	}
	// Run r1's runner is there, so that the worker takes its messages.
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	if err := bus.Prepare(ctx, "r1", nil); err != nil {
		t.Fatal(err)
	}
	conn, err := amqp.Dial(url)
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close()
	ch, err := conn.Channel()
	if err != nil {
		t.Fatal(err)
	}
	for i, tt := range tests {
		err := ch.Publish("", prefix+"omp.tasks.default", false, false, amqp.Publishing{
			Body:      []byte(tt.body),
			MessageId: fmt.Sprint("bad", i),
			// A run's header routes dead letters to its runner, which
			// could not read these either: they must stay in omp.dead.
			Headers: amqp.Table{"omp-run-id": "r1"},
		})
		if err != nil {
			t.Fatal(err)
		}
	}

	got := map[string]amqp.Delivery{}
	for deadline := time.Now().Add(20 * time.Second); len(got) < len(tests); time.Sleep(20 * time.Millisecond) {
		if time.Now().After(deadline) {
			t.Fatalf("%d of %d messages reached %somp.dead within 20s", len(got), len(tests), prefix)
		}
		d, ok, err := ch.Get(prefix+"omp.dead", true)
		if err != nil {
			t.Fatal(err)
		}
		if ok {
			got[d.MessageId] = d
		}
	}
	for i, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			d, ok := got[fmt.Sprint("bad", i)]
			if !ok {
				t.Fatalf("not in the dead-letter queue; it has %v", got)
			}
			if reason, _ := d.Headers[runtime.RejectMeta].(string); !strings.Contains(reason, tt.reason) {
				t.Errorf("header %s = %q, want it to contain %q", runtime.RejectMeta, reason, tt.reason)
			}
			if from, _ := d.Headers["omp-rejected-from"].(string); from != prefix+"omp.tasks.default" {
				t.Errorf("header omp-rejected-from = %q", from)
			}
			if string(d.Body) != tt.body {
				t.Errorf("body changed: %.60q…", d.Body)
			}
		})
	}

	if q, err := ch.QueueDeclarePassive(prefix+"omp.events.r1", true, false, false, false, nil); err != nil || q.Messages != 0 {
		t.Errorf("run r1's event queue: %d messages, %v; want none", q.Messages, err)
	}
	if _, err := ch.QueueDelete(prefix+"omp.events.r1", false, false, false); err != nil {
		t.Error(err)
	}
	rep, err := runtime.Run(ctx, echoGraph(3, ""), runtime.Config{Bus: bus})
	if err != nil || rep.Status != runtime.Success {
		t.Fatalf("a run after the unreadable messages: %v, %v", err, rep)
	}
}

// nackAll is a worker that cannot read anything: it takes every task of the
// default label on b until ctx ends, gives each back, and counts them.
func nackAll(ctx context.Context, t *testing.T, b *amqpbus.Bus) *atomic.Int32 {
	t.Helper()
	msgs, err := b.Tasks().Subscribe(ctx, runtime.TaskTopic("default"))
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
	return &deliveries
}
