package runtime_test

import (
	"context"
	"maps"
	"testing"
	"testing/synctest"

	"github.com/ThreeDotsLabs/watermill/message"
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

// recv takes the next message of ch, failing if none is there once every
// goroutine of the bubble waits.
func recv(t *testing.T, ch <-chan *message.Message) *message.Message {
	t.Helper()
	synctest.Wait()
	select {
	case m, ok := <-ch:
		if !ok {
			t.Fatal("subscription closed")
		}
		return m
	default:
		t.Fatal("no message")
		return nil
	}
}

// idle fails if ch has a message or was closed once every goroutine of the
// bubble waits.
func idle(t *testing.T, ch <-chan *message.Message) {
	t.Helper()
	synctest.Wait()
	select {
	case m, ok := <-ch:
		t.Fatalf("got %v (open %v), want nothing", m, ok)
	default:
	}
}

type ctxKey struct{}

func publish(t *testing.T, bus runtime.Bus, topic string, uuids ...string) {
	t.Helper()
	var msgs []*message.Message
	for _, id := range uuids {
		m := message.NewMessage(id, nil)
		m.SetContext(context.WithValue(m.Context(), ctxKey{}, id))
		msgs = append(msgs, m)
	}
	if err := bus.Publisher().Publish(topic, msgs...); err != nil {
		t.Fatal(err)
	}
}

// TestEmbeddedQueue: a task topic keeps what is published before anyone
// subscribes, gives each message to one subscriber, and takes a nacked
// message back, as well as one a subscription took but could not deliver.
func TestEmbeddedQueue(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		bus := runtime.NewEmbeddedBus(runtime.EmbeddedConfig{})
		defer bus.Close()
		topic := runtime.TaskTopic("a")
		publish(t, bus, topic, "m1", "m2", "m3")

		ctx1, cancel1 := context.WithCancel(context.Background())
		s1, err := bus.Tasks().Subscribe(ctx1, topic)
		if err != nil {
			t.Fatal(err)
		}
		s2, err := bus.Tasks().Subscribe(context.Background(), runtime.TaskTopic(runtime.AnyLabel))
		if err != nil {
			t.Fatal(err)
		}
		got := map[string]int{}
		take := func(ch <-chan *message.Message) *message.Message {
			m := recv(t, ch)
			got[m.UUID]++
			if v := m.Context().Value(ctxKey{}); v != m.UUID {
				t.Errorf("message %s: context value %v", m.UUID, v)
			}
			return m
		}
		a, b := take(s1), take(s2)
		a.Ack()
		b.Nack()
		c, d := take(s1), take(s2)
		c.Ack()
		d.Ack()
		if want := map[string]int{"m1": 1, "m2": 1, "m3": 1, b.UUID: 2}; !maps.Equal(got, want) {
			t.Fatalf("deliveries %v, want %v", got, want)
		}
		idle(t, s1)
		idle(t, s2)

		cancel1()
	})
}

// TestEmbeddedQueueGivesBack: a message that a subscription took but could
// not deliver before its ctx ended goes to the next subscriber.
func TestEmbeddedQueueGivesBack(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		bus := runtime.NewEmbeddedBus(runtime.EmbeddedConfig{})
		defer bus.Close()
		topic := runtime.TaskTopic("a")
		ctx1, cancel1 := context.WithCancel(context.Background())
		s1, err := bus.Tasks().Subscribe(ctx1, topic)
		if err != nil {
			t.Fatal(err)
		}
		publish(t, bus, topic, "m1", "m2")
		// s1 holds m1 for a receiver that never comes.
		synctest.Wait()
		cancel1()
		for range s1 {
		}
		s2, err := bus.Tasks().Subscribe(context.Background(), topic)
		if err != nil {
			t.Fatal(err)
		}
		for _, want := range []string{"m1", "m2"} {
			m := recv(t, s2)
			if m.UUID != want {
				t.Fatalf("got %s, want %s", m.UUID, want)
			}
			m.Ack()
		}
		idle(t, s2)
	})
}

// TestEmbeddedFanout: every subscription of another topic gets its own copy
// of every message published after it subscribed, in order; a nack
// delivers that copy again; the subscription ends with its ctx or the bus.
func TestEmbeddedFanout(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		bus := runtime.NewEmbeddedBus(runtime.EmbeddedConfig{})
		publish(t, bus, runtime.ControlTopic, "before")
		ctx1, cancel1 := context.WithCancel(context.Background())
		s1, err := bus.Fanout().Subscribe(ctx1, runtime.ControlTopic)
		if err != nil {
			t.Fatal(err)
		}
		s2, err := bus.Fanout().Subscribe(context.Background(), runtime.ControlTopic)
		if err != nil {
			t.Fatal(err)
		}
		publish(t, bus, runtime.ControlTopic, "m1", "m2")
		a1, a2 := recv(t, s1), recv(t, s1)
		b1 := recv(t, s2)
		if a1.UUID != "m1" || a2.UUID != "m2" || b1.UUID != "m1" {
			t.Fatalf("got %s %s and %s, want m1 m2 and m1", a1.UUID, a2.UUID, b1.UUID)
		}
		if a1 == b1 {
			t.Fatal("both subscriptions got the same message, not copies")
		}
		if v := a1.Context().Value(ctxKey{}); v != "m1" {
			t.Errorf("context value %v, want m1", v)
		}
		a1.Nack()
		a2.Ack()
		b1.Ack()
		if m := recv(t, s1); m.UUID != "m1" {
			t.Fatalf("after the nack got %s, want m1 again", m.UUID)
		} else {
			m.Ack()
		}
		recv(t, s2).Ack()
		idle(t, s1)
		idle(t, s2)

		cancel1()
		synctest.Wait()
		if _, ok := <-s1; ok {
			t.Fatal("subscription open after its ctx ended")
		}
		bus.Close()
		if _, ok := <-s2; ok {
			t.Fatal("subscription open after Close")
		}
		if err := bus.Publisher().Publish(runtime.ControlTopic, message.NewMessage("late", nil)); err == nil {
			t.Fatal("Publish after Close succeeded")
		}
	})
}
