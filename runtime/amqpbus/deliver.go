package amqpbus

import (
	"context"
	"time"

	"github.com/ThreeDotsLabs/watermill"
	"github.com/ThreeDotsLabs/watermill/message"
	amqp "github.com/rabbitmq/amqp091-go"
)

// What the subscriptions that hand on one delivery at a time share (the
// runner's events, the fan-out topics); task queues hand on many at once
// (see taskSubscriber).

// pass hands deliveries on, one at a time, with deliver, until the channel
// dies (it returns true) or the subscription ends (false: ctx is done, the
// bus closed, or deliver said so).
func (b *Bus) pass(ctx context.Context, deliveries <-chan amqp.Delivery, deliver func(amqp.Delivery) bool) bool {
	for {
		select {
		case d, ok := <-deliveries:
			if !ok {
				return true
			}
			if !deliver(d) {
				return false
			}
		case <-ctx.Done():
			return false
		case <-b.closed:
			return false
		}
	}
}

// send hands msg to the subscription's receiver; it returns false if the
// subscription ended first.
func (b *Bus) send(ctx context.Context, msg *message.Message, out chan<- *message.Message) bool {
	select {
	case out <- msg:
		return true
	case <-ctx.Done():
		return false
	case <-b.closed:
		return false
	}
}

// settle acks or nacks d as msg's receiver does; it returns false if the
// subscription ended first.
func (b *Bus) settle(ctx context.Context, d amqp.Delivery, msg *message.Message) bool {
	select {
	case <-msg.Acked():
		d.Ack(false)
	case <-msg.Nacked():
		d.Nack(false, true)
	case <-ctx.Done():
		return false
	case <-b.closed:
		return false
	}
	return true
}

// subChannel opens a channel on the consuming connection with a prefetch
// window of prefetch deliveries.
func (b *Bus) subChannel(prefetch int) (*amqp.Channel, error) {
	if !b.subConn.IsConnected() {
		return nil, errNotConnected
	}
	conn := b.subConn.Connection()
	if conn == nil || conn.IsClosed() {
		return nil, errNotConnected
	}
	ch, err := conn.Channel()
	if err != nil {
		return nil, err
	}
	if err := ch.Qos(prefetch, 0, false); err != nil {
		ch.Close()
		return nil, err
	}
	return ch, nil
}

// reopen consumes again with open once it can, backing off from the first
// attempt: the connection reconnects on its own schedule, and a channel can
// die with it still up. A failure other than the connection being away is
// logged as failed. It returns a nil channel if ctx or the bus ended first.
func (b *Bus) reopen(ctx context.Context, open func() (*amqp.Channel, <-chan amqp.Delivery, error), failed string, fields watermill.LogFields) (*amqp.Channel, <-chan amqp.Delivery) {
	for wait := 50 * time.Millisecond; ; wait = min(2*wait, b.cfg.ReconnectMax) {
		if b.sleep(ctx, wait) != nil {
			return nil, nil
		}
		ch, deliveries, err := open()
		if err == nil {
			return ch, deliveries
		}
		if err != errNotConnected {
			b.log.Error(failed, b.red.Error(err), fields)
		}
	}
}
