package amqpbus

import (
	"context"
	"fmt"
	"time"

	wamqp "github.com/ThreeDotsLabs/watermill-amqp/v3/pkg/amqp"
	"github.com/ThreeDotsLabs/watermill/message"
	amqp "github.com/rabbitmq/amqp091-go"

	"github.com/ompdev/omp/runtime"
)

// eventSubscriber is the runner's side: watermill-amqp's subscriber on the
// run's event queue, which also turns a dead-lettered task message (routed
// to the event queue by its omp-run-id header) into a permanent FAILURE of
// that task, and deletes the queue when the run is over.
type eventSubscriber struct {
	b   *Bus
	sub *wamqp.Subscriber
}

func newEventSubscriber(b *Bus) (*eventSubscriber, error) {
	cfg := b.wconfig()
	cfg.Consume.Qos.PrefetchCount = b.cfg.EventPrefetch
	sub, err := wamqp.NewSubscriberWithConnection(cfg, b.log, b.subConn)
	if err != nil {
		return nil, b.red.Error(fmt.Errorf("amqpbus: %w", err))
	}
	return &eventSubscriber{b: b, sub: sub}, nil
}

func (s *eventSubscriber) close() { s.sub.Close() }

func (s *eventSubscriber) Close() error { return nil }

func (s *eventSubscriber) Subscribe(ctx context.Context, topic string) (<-chan *message.Message, error) {
	if topicKind(topic) != kindEvent {
		return nil, fmt.Errorf("amqpbus: %s is not an event topic", topic)
	}
	if s.b.isClosed() {
		return nil, ErrClosed
	}
	in, err := s.sub.Subscribe(ctx, topic)
	if err != nil {
		return nil, s.b.red.Error(fmt.Errorf("amqpbus: subscribe to %s: %w", topic, err))
	}
	out := make(chan *message.Message)
	s.b.wg.Add(1)
	go func() {
		defer s.b.wg.Done()
		defer close(out)
		for m := range in {
			if reason := m.Metadata.Get(deadMeta); reason != "" {
				s.forwardDead(ctx, m, reason, out)
				continue
			}
			select {
			case out <- m:
			case <-ctx.Done():
				m.Nack()
			}
		}
		if ctx.Err() != nil {
			// The run is over: nobody will read its events again.
			q := s.b.name(topic)
			err := s.b.tryChannel(func(ch *amqp.Channel) error {
				_, err := ch.QueueDelete(q, false, false, false)
				return err
			})
			if err != nil {
				s.b.log.Error("Cannot delete event queue", s.b.red.Error(err), map[string]any{"queue": q})
			}
		}
	}()
	return out, nil
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
