package amqpbus

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/ThreeDotsLabs/watermill"
	amqp "github.com/rabbitmq/amqp091-go"

	"github.com/ompdev/omp/runtime"
)

// rejectedFromHeader names, on a message the bus moved to the dead-letter
// queue itself, the queue it was taken from.
const rejectedFromHeader = "omp-rejected-from"

// reject moves a task message that its receiver could not read (see
// runtime.RejectMeta) to the dead-letter queue, with the reason in the
// header runtime.RejectMeta, and then acks it. RabbitMQ's own
// dead-lettering (a nack without requeue) could not say why. Should the
// copy not be confirmed, the message goes back to its queue instead: it is
// never lost.
func (s *taskSubscriber) reject(topic string, d amqp.Delivery, reason string) {
	b := s.b
	const maxReason = 1000
	if len(reason) > maxReason {
		reason = reason[:maxReason] + "…"
	}
	headers := make(amqp.Table, len(d.Headers)+2)
	for k, v := range d.Headers {
		// Without the run's header the copy stays in the dead-letter
		// queue: the run's runner could not read it either.
		if k != runHeader {
			headers[k] = v
		}
	}
	headers[runtime.RejectMeta] = reason
	headers[rejectedFromHeader] = b.name(topic)
	pub := amqp.Publishing{
		Headers:      headers,
		Body:         d.Body,
		DeliveryMode: amqp.Persistent,
		ContentType:  d.ContentType,
		MessageId:    d.MessageId,
		Timestamp:    time.Now(),
	}
	ctx, cancel := context.WithTimeout(context.Background(), b.cfg.PublishTimeout)
	defer cancel()
	err := b.withChannel(ctx, func(ch *amqp.Channel) error {
		if err := ch.Confirm(false); err != nil {
			return err
		}
		c, err := ch.PublishWithDeferredConfirmWithContext(ctx, b.name(deadName), "", false, false, pub)
		if err != nil {
			return err
		}
		if !c.Wait() {
			return errors.New("not confirmed by the broker")
		}
		return nil
	})
	fields := watermill.LogFields{"topic": topic, "reason": reason}
	if err != nil {
		b.log.Error("Cannot move an unreadable task message to the dead-letter queue; it goes back to its queue", b.red.Error(err), fields)
		d.Nack(false, true)
		return
	}
	b.log.Error(fmt.Sprintf("Moved an unreadable task message to %s", b.name(deadName)), nil, fields)
	if err := d.Ack(false); err != nil {
		b.log.Error("Cannot ack a rejected task message; the broker will deliver it again", b.red.Error(err), fields)
	}
}
