package amqpbus

import (
	"context"
	"fmt"

	"github.com/ThreeDotsLabs/watermill"
	"github.com/ThreeDotsLabs/watermill/message"
	amqp "github.com/rabbitmq/amqp091-go"

	"github.com/ompdev/omp/runtime"
)

// fanoutSubscriber consumes a fan-out topic through an exclusive,
// auto-deleted queue of its own. Such a queue dies with its connection, so
// every time the subscription consumes again (after the connection or the
// channel was lost) it declares the exchange, the queue and the binding
// anew first; a declaration that fails is logged and retried with backoff.
// watermill-amqp's subscriber declared the queue once and, when the broker
// had restarted in between, tried to consume from a queue that was gone.
//
// Whatever was published while the subscription was away is lost, so once it
// consumes again it first hands on a message with runtime.ResubscribedMeta
// set and no payload: the runtime then asks for what it may have missed.
type fanoutSubscriber struct{ b *Bus }

func (s fanoutSubscriber) Close() error { return nil }

func (s fanoutSubscriber) Subscribe(ctx context.Context, topic string) (<-chan *message.Message, error) {
	b := s.b
	if topicKind(topic) != kindFanout {
		return nil, fmt.Errorf("amqpbus: %s is not a fan-out topic", topic)
	}
	if b.isClosed() {
		return nil, ErrClosed
	}
	queue := b.name(topic) + "." + watermill.NewShortUUID()
	// The first declaration happens before Subscribe returns, so that what
	// is published afterwards reaches the queue.
	ch, deliveries, err := s.open(topic, queue)
	if err != nil {
		return nil, b.red.Error(fmt.Errorf("amqpbus: subscribe to %s: %w", topic, err))
	}
	out := make(chan *message.Message)
	b.wg.Add(1)
	go s.consume(ctx, topic, queue, ch, deliveries, out)
	return out, nil
}

// open declares topic's exchange and the subscription's queue, binds them
// and consumes the queue, on a fresh channel of the consuming connection.
func (s fanoutSubscriber) open(topic, queue string) (*amqp.Channel, <-chan amqp.Delivery, error) {
	b := s.b
	ch, err := b.subChannel(100)
	if err != nil {
		return nil, nil, err
	}
	fail := func(err error) (*amqp.Channel, <-chan amqp.Delivery, error) {
		ch.Close()
		return nil, nil, err
	}
	if err := b.declareFanout(ch, topic); err != nil {
		return fail(err)
	}
	// Exclusive and auto-deleted: the queue lives as long as its
	// connection, and is declared again on every reconnect.
	if _, err := ch.QueueDeclare(queue, false, true, true, false, nil); err != nil {
		return fail(fmt.Errorf("declare queue %s: %w", queue, err))
	}
	if err := ch.QueueBind(queue, "", b.name(topic), false, nil); err != nil {
		return fail(fmt.Errorf("bind queue %s: %w", queue, err))
	}
	deliveries, err := ch.Consume(queue, "", false, true, false, false, nil)
	if err != nil {
		return fail(fmt.Errorf("consume queue %s: %w", queue, err))
	}
	return ch, deliveries, nil
}

func (s fanoutSubscriber) consume(ctx context.Context, topic, queue string, ch *amqp.Channel, deliveries <-chan amqp.Delivery, out chan *message.Message) {
	b := s.b
	defer b.wg.Done()
	defer close(out)
	fields := watermill.LogFields{"topic": topic}
	for {
		if !b.pass(ctx, deliveries, func(d amqp.Delivery) bool { return s.deliver(ctx, d, out) }) {
			ch.Close()
			return
		}
		ch.Close()
		b.log.Info("Fan-out channel closed, subscribing again", fields)
		ch, deliveries = b.reopen(ctx, func() (*amqp.Channel, <-chan amqp.Delivery, error) { return s.open(topic, queue) },
			"Cannot subscribe again, retrying", fields)
		if ch == nil {
			return
		}
		b.log.Info("Subscribed again", fields)
		m := message.NewMessage(watermill.NewShortUUID(), nil)
		m.Metadata.Set(runtime.ResubscribedMeta, "1")
		select {
		case out <- m:
		case <-ctx.Done():
			ch.Close()
			return
		case <-b.closed:
			ch.Close()
			return
		}
	}
}

// deliver hands d on and settles it as its receiver does; it returns false
// if the subscription ended first.
func (s fanoutSubscriber) deliver(ctx context.Context, d amqp.Delivery, out chan<- *message.Message) bool {
	msg, err := marshaler{}.Unmarshal(d)
	if err != nil {
		// The zero delivery of a dead channel: pass sees it closed next.
		return true
	}
	mctx, cancel := context.WithCancel(ctx)
	defer cancel()
	msg.SetContext(mctx)
	return s.b.send(ctx, msg, out) && s.b.settle(ctx, d, msg)
}
