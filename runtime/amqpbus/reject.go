package amqpbus

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/ThreeDotsLabs/watermill"
	"github.com/ThreeDotsLabs/watermill/message"
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
	fields := watermill.LogFields{"topic": topic, "reason": reason}
	if err := s.deadLetter(topic, d.Headers, d.Body, d.ContentType, d.MessageId, reason); err != nil {
		b.log.Error("Cannot move an unreadable task message to the dead-letter queue; it goes back to its queue", b.red.Error(err), fields)
		d.Nack(false, true)
		return
	}
	if err := d.Ack(false); err != nil {
		b.log.Error("Cannot ack a rejected task message; the broker will deliver it again", b.red.Error(err), fields)
	}
}

// rejectPart moves m, a task of pack d that its receiver could not read, to
// the dead-letter queue as a message of its own, and reports whether it
// did.
func (s *taskSubscriber) rejectPart(topic string, d amqp.Delivery, m *message.Message, reason string) bool {
	headers := make(amqp.Table, len(d.Headers))
	for k, v := range d.Headers {
		if k != packHeader {
			headers[k] = v
		}
	}
	err := s.deadLetter(topic, headers, m.Payload, d.ContentType, m.UUID, reason)
	if err != nil {
		s.b.log.Error("Cannot move an unreadable task message to the dead-letter queue; it goes back to its queue", s.b.red.Error(err), watermill.LogFields{"topic": topic, "reason": reason})
	}
	return err == nil
}

// deadLetter publishes a copy of a task message to the dead-letter queue,
// with the reason, and waits for the broker's confirm.
func (s *taskSubscriber) deadLetter(topic string, h amqp.Table, body []byte, contentType, id, reason string) error {
	b := s.b
	const maxReason = 1000
	if len(reason) > maxReason {
		reason = reason[:maxReason] + "…"
	}
	headers := make(amqp.Table, len(h)+2)
	for k, v := range h {
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
		Body:         body,
		DeliveryMode: amqp.Persistent,
		ContentType:  contentType,
		MessageId:    id,
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
	if err == nil {
		b.log.Error(fmt.Sprintf("Moved an unreadable task message to %s", b.name(deadName)), nil, watermill.LogFields{"topic": topic, "reason": reason})
	}
	return err
}
