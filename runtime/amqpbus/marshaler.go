package amqpbus

import (
	"encoding/json"
	"errors"
	"fmt"
	"strconv"
	"time"

	"github.com/ThreeDotsLabs/watermill/message"
	amqp "github.com/rabbitmq/amqp091-go"
)

const uuidHeader = "_watermill_message_uuid"

// Headers the bus sets or reads besides Watermill's metadata.
const (
	// runHeader carries a task message's run id, so that a dead-lettered
	// message reaches the event queue of its run through the headers
	// exchange PREFIX+omp.dead.
	runHeader = "omp-run-id"
	// deadMeta marks, in a message's metadata, a task message that
	// RabbitMQ dead-lettered; the value is RabbitMQ's reason.
	deadMeta = "omp-dead"
	// transientMeta, set by the bus's publisher, asks for a transient
	// message; it is not sent.
	transientMeta = "_omp_transient"
)

// marshaler is Watermill's DefaultMarshaler made tolerant: RabbitMQ adds
// headers that are not strings (x-delivery-count, x-death) and the default
// marshaler rejects them, after which the message would be nacked forever.
// Scalars become their decimal text and tables their JSON.
type marshaler struct{}

func (marshaler) Marshal(msg *message.Message) (amqp.Publishing, error) {
	headers := make(amqp.Table, len(msg.Metadata)+1)
	mode := amqp.Persistent
	for k, v := range msg.Metadata {
		if k == transientMeta {
			mode = amqp.Transient
			continue
		}
		headers[k] = v
	}
	headers[uuidHeader] = msg.UUID
	return amqp.Publishing{
		Body:         msg.Payload,
		Headers:      headers,
		DeliveryMode: mode,
		ContentType:  "application/json",
		MessageId:    msg.UUID,
	}, nil
}

func (marshaler) Unmarshal(d amqp.Delivery) (*message.Message, error) {
	// amqp091-go closes the deliveries channel when the channel dies, and
	// a receive from it then yields a zero Delivery: refuse it rather than
	// hand an empty message on.
	if d.Acknowledger == nil {
		return nil, errors.New("amqpbus: delivery of a closed channel")
	}
	id, _ := d.Headers[uuidHeader].(string)
	if id == "" {
		id = d.MessageId
	}
	msg := message.NewMessage(id, d.Body)
	for k, v := range d.Headers {
		if k == uuidHeader {
			continue
		}
		if s, ok := headerString(v); ok {
			msg.Metadata[k] = s
		}
	}
	if reason, ok := d.Headers["x-first-death-reason"].(string); ok {
		msg.Metadata[deadMeta] = reason
	}
	return msg, nil
}

func headerString(v any) (string, bool) {
	switch v := v.(type) {
	case string:
		return v, true
	case []byte:
		return string(v), true
	case bool:
		return strconv.FormatBool(v), true
	case int8, int16, int32, int64, int, uint8, uint16, uint32, uint64:
		return fmt.Sprint(v), true
	case float32, float64:
		return fmt.Sprint(v), true
	case time.Time:
		return v.UTC().Format(time.RFC3339Nano), true
	case nil:
		return "", true
	default:
		b, err := json.Marshal(v)
		if err != nil {
			return "", false
		}
		return string(b), true
	}
}
