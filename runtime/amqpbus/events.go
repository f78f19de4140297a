package amqpbus

import (
	"context"
	"fmt"
	"strings"
	"time"

	"github.com/ThreeDotsLabs/watermill"
	"github.com/ThreeDotsLabs/watermill/message"
	amqp "github.com/rabbitmq/amqp091-go"

	"github.com/ompdev/omp/runtime"
)

// eventSubscriber is the runner's side: it consumes the run's event queue
// with amqp091-go directly, on the consuming connection, turns a
// dead-lettered task message (routed to the event queue by its omp-run-id
// header) into a permanent FAILURE of that task, and deletes the queue when
// the run is over. Like fanoutSubscriber it declares its queue again
// whenever it consumes again, since a broker that restarted may have lost
// it. watermill-amqp's subscriber did all this but for the last, and its
// Close waited a fixed 100ms for its consuming goroutine: a tenth of a
// second at the end of every omp run.
type eventSubscriber struct{ b *Bus }

func (s *eventSubscriber) Close() error { return nil }

func (s *eventSubscriber) Subscribe(ctx context.Context, topic string) (<-chan *message.Message, error) {
	b := s.b
	if topicKind(topic) != kindEvent {
		return nil, fmt.Errorf("amqpbus: %s is not an event topic", topic)
	}
	if b.isClosed() {
		return nil, ErrClosed
	}
	runID := strings.TrimPrefix(topic, runtime.EventTopic(""))
	ch, deliveries, err := s.open(runID)
	if err != nil {
		return nil, b.red.Error(fmt.Errorf("amqpbus: subscribe to %s: %w", topic, err))
	}
	out := make(chan *message.Message)
	b.wg.Add(1)
	go s.consume(ctx, runID, ch, deliveries, out)
	return out, nil
}

// open declares the run's event queue and consumes it on a fresh channel of
// the consuming connection.
func (s *eventSubscriber) open(runID string) (*amqp.Channel, <-chan amqp.Delivery, error) {
	b := s.b
	ch, err := b.subChannel(b.cfg.EventPrefetch)
	if err != nil {
		return nil, nil, err
	}
	fail := func(err error) (*amqp.Channel, <-chan amqp.Delivery, error) {
		ch.Close()
		return nil, nil, err
	}
	if err := b.declareEventQueue(ch, runID); err != nil {
		return fail(err)
	}
	q := b.name(runtime.EventTopic(runID))
	deliveries, err := ch.Consume(q, "", false, false, false, false, nil)
	if err != nil {
		return fail(fmt.Errorf("consume queue %s: %w", q, err))
	}
	return ch, deliveries, nil
}

func (s *eventSubscriber) consume(ctx context.Context, runID string, ch *amqp.Channel, deliveries <-chan amqp.Delivery, out chan *message.Message) {
	b := s.b
	defer b.wg.Done()
	defer close(out)
	q := b.name(runtime.EventTopic(runID))
	fields := watermill.LogFields{"queue": q}
	for {
		if !b.pass(ctx, deliveries, func(d amqp.Delivery) bool { return s.deliver(ctx, d, out) }) {
			ch.Close()
			break
		}
		ch.Close()
		b.log.Info("Event channel closed, consuming again", fields)
		ch, deliveries = b.reopen(ctx, func() (*amqp.Channel, <-chan amqp.Delivery, error) { return s.open(runID) },
			"Cannot consume again, retrying", fields)
		if ch == nil {
			break
		}
	}
	if ctx.Err() != nil {
		// The run is over: nobody will read its events again.
		err := b.tryChannel(func(ch *amqp.Channel) error {
			_, err := ch.QueueDelete(q, false, false, false)
			return err
		})
		if err != nil {
			b.log.Error("Cannot delete event queue", b.red.Error(err), fields)
		}
	}
}

// deliver hands d on, or the FAILURE it stands for, and settles it as its
// receiver does; it returns false if the subscription ended first.
func (s *eventSubscriber) deliver(ctx context.Context, d amqp.Delivery, out chan<- *message.Message) bool {
	m, err := marshaler{}.Unmarshal(d)
	if err != nil {
		// The zero delivery of a dead channel: pass sees it closed next.
		return true
	}
	if reason := m.Metadata.Get(deadMeta); reason != "" {
		s.forwardDead(ctx, m, reason, out)
	} else if !s.b.send(ctx, m, out) {
		return false
	}
	return s.b.settle(ctx, d, m)
}

// forwardDead passes on, in place of a dead-lettered task message, the
// FAILURE event that ends its attempt (a BATCH of them for a pack), and acks
// the task message once the runner acked the event.
func (s *eventSubscriber) forwardDead(ctx context.Context, m *message.Message, reason string, out chan<- *message.Message) {
	tasks := []*message.Message{m}
	if isPack(m.Metadata) {
		var err error
		if tasks, err = unpack(m); err != nil {
			s.b.log.Error("Dropping an undecodable dead-lettered message", err, nil)
			m.Ack()
			return
		}
	}
	text := fmt.Sprintf("task message dead-lettered to %s (%s)", s.b.name(deadName), reason)
	if reason == "delivery_limit" {
		text += fmt.Sprintf(": delivered %d times, no worker could take it", s.b.cfg.MaxDeliveries)
	}
	var evs []*runtime.Event
	for _, tm := range tasks {
		t, err := runtime.DecodeTask(tm)
		if err != nil {
			s.b.log.Error("Dropping an undecodable dead-lettered message", err, nil)
			continue
		}
		evs = append(evs, &runtime.Event{
			Type:      runtime.EventFailure,
			RunID:     t.RunID,
			TaskID:    t.TaskID,
			Attempt:   t.Attempt,
			Dispatch:  t.Dispatch,
			Time:      time.Now().UTC(),
			Error:     text,
			Permanent: true,
		})
	}
	if len(evs) == 0 {
		m.Ack()
		return
	}
	ev := evs[0]
	if len(evs) > 1 {
		ev = &runtime.Event{Type: runtime.EventBatch, RunID: ev.RunID, Time: ev.Time, Events: evs}
	}
	em, err := runtime.EncodeEvent(ev)
	if err != nil {
		m.Nack()
		return
	}
	select {
	case out <- em:
	case <-ctx.Done():
		m.Nack()
		return
	}
	select {
	case <-em.Acked():
		m.Ack()
	case <-em.Nacked():
		m.Nack()
	case <-ctx.Done():
		m.Nack()
	}
}
