package amqpbus

import (
	"testing"
	"time"

	"github.com/ThreeDotsLabs/watermill/message"
	amqp "github.com/rabbitmq/amqp091-go"

	"github.com/ompdev/omp/runtime"
)

type nopAck struct{}

func (nopAck) Ack(uint64, bool) error        { return nil }
func (nopAck) Nack(uint64, bool, bool) error { return nil }
func (nopAck) Reject(uint64, bool) error     { return nil }

// RabbitMQ adds headers that are not strings to redelivered and
// dead-lettered messages; Watermill's default marshaler rejects them.
func TestMarshalerToleratesBrokerHeaders(t *testing.T) {
	msg := message.NewMessage("id-1", []byte(`{"v":1}`))
	msg.Metadata.Set("omp-run-id", "r1")
	pub, err := marshaler{}.Marshal(msg)
	if err != nil {
		t.Fatal(err)
	}
	if pub.DeliveryMode != amqp.Persistent {
		t.Errorf("delivery mode %d, want persistent", pub.DeliveryMode)
	}
	h := pub.Headers
	h["x-delivery-count"] = int64(3)
	h["x-first-death-reason"] = "delivery_limit"
	h["x-death"] = []any{amqp.Table{"count": int64(6), "reason": "delivery_limit", "time": time.Unix(0, 0)}}
	h["x-flag"] = true
	got, err := marshaler{}.Unmarshal(amqp.Delivery{Acknowledger: nopAck{}, Headers: h, Body: pub.Body})
	if err != nil {
		t.Fatal(err)
	}
	want := map[string]string{
		"omp-run-id":           "r1",
		"x-delivery-count":     "3",
		"x-first-death-reason": "delivery_limit",
		"x-flag":               "true",
		deadMeta:               "delivery_limit",
	}
	for k, v := range want {
		if got.Metadata.Get(k) != v {
			t.Errorf("metadata %s = %q, want %q", k, got.Metadata.Get(k), v)
		}
	}
	if got.UUID != "id-1" || string(got.Payload) != `{"v":1}` {
		t.Errorf("got %s %s", got.UUID, got.Payload)
	}
	if got.Metadata.Get("x-death") == "" {
		t.Error("x-death was dropped, want its JSON")
	}
}

func TestMarshalerRefusesZeroDelivery(t *testing.T) {
	if _, err := (marshaler{}).Unmarshal(amqp.Delivery{}); err == nil {
		t.Error("a zero delivery (of a closed channel) was accepted")
	}
}

// A task's run, for its dead letters, comes from the payload: read from
// its head as runtime.EncodeTask writes it, decoded in full otherwise.
func TestRunIDOf(t *testing.T) {
	encoded, err := runtime.EncodeTask(&runtime.TaskMessage{RunID: "20261130T145232-96b57ed2d72a", TaskID: "s1.1"})
	if err != nil {
		t.Fatal(err)
	}
	tests := []struct {
		name, payload, want string
	}{
		{"EncodeTask", string(encoded.Payload), "20261130T145232-96b57ed2d72a"},
		{"other order", `{"task_id":"t","run_id":"r2","v":1}`, "r2"},
		{"escaped", `{"v":1,"run_id":"a\u003cb"}`, "a<b"},
		{"quote escaped", `{"v":1,"run_id":"a\"b"}`, `a"b`},
		{"empty run", `{"v":1,"run_id":""}`, ""},
		{"no run", `{"v":1}`, ""},
		{"not JSON", `{"v":1,"run_id":`, ""},
		{"empty", ``, ""},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			if got := runIDOf([]byte(tc.payload)); got != tc.want {
				t.Errorf("runIDOf(%s) = %q, want %q", tc.payload, got, tc.want)
			}
		})
	}
	// What EncodeTask wrote is read, not decoded: the run's string is the
	// only allocation.
	if n := testing.AllocsPerRun(100, func() { runIDOf(encoded.Payload) }); n > 1 {
		t.Errorf("reading the run of an encoded task allocates %v times, want 1", n)
	}
}
