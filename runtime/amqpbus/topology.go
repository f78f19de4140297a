package amqpbus

import (
	"fmt"
	"strings"

	amqp "github.com/rabbitmq/amqp091-go"

	"github.com/ompdev/omp/runtime"
)

// The bus's topology, every name behind Config.Prefix:
//
//	omp.tasks.LABEL   quorum queue, durable, x-delivery-limit, dead-letters to omp.dead
//	omp.events.RUN    classic queue, durable, x-expires; also bound to omp.dead
//	                  by the header omp-run-id=RUN, so a dead task reaches its run
//	omp.dead          headers exchange, and a durable queue that keeps every
//	                  dead-lettered message for inspection
//	omp.workers       fanout exchange; each subscriber has an exclusive,
//	omp.control       auto-deleted queue of its own
//
// Task and event messages go through the default exchange, routed by queue
// name. A task message with the header omp-pack=N is a pack of N task
// messages of one run: a JSON array of their bodies (pack.go).
const deadName = "omp.dead"

type kind int

const (
	kindTask kind = iota
	kindEvent
	kindFanout
	kindOther
)

func topicKind(topic string) kind {
	switch {
	case strings.HasPrefix(topic, runtime.TaskTopic("")):
		return kindTask
	case strings.HasPrefix(topic, runtime.EventTopic("")):
		return kindEvent
	case topic == runtime.WorkersTopic || topic == runtime.ControlTopic:
		return kindFanout
	}
	return kindOther
}

func (b *Bus) name(s string) string { return b.cfg.Prefix + s }

// taskQueueArgs are the arguments of every task queue. RabbitMQ refuses a
// redeclaration with other arguments (PRECONDITION_FAILED), so every
// declaration, by runners and workers alike, goes through here.
func (b *Bus) taskQueueArgs() amqp.Table {
	return amqp.Table{
		"x-queue-type":           "quorum",
		"x-delivery-limit":       int32(b.deliveryLimit()),
		"x-dead-letter-exchange": b.name(deadName),
	}
}

// deliveryLimit converts MaxDeliveries to RabbitMQ's x-delivery-limit, which
// counts redeliveries: a message is dead-lettered once it was returned more
// than x-delivery-limit times.
func (b *Bus) deliveryLimit() int {
	if b.cfg.MaxDeliveries <= 1 {
		return 0
	}
	return b.cfg.MaxDeliveries - 1
}

func (b *Bus) eventQueueArgs() amqp.Table {
	return amqp.Table{"x-expires": int32(b.cfg.EventQueueTTL.Milliseconds())}
}

func (b *Bus) declareDead(ch *amqp.Channel) error {
	dead := b.name(deadName)
	if err := ch.ExchangeDeclare(dead, amqp.ExchangeHeaders, true, false, false, false, nil); err != nil {
		return fmt.Errorf("declare exchange %s: %w", dead, err)
	}
	if _, err := ch.QueueDeclare(dead, true, false, false, false, nil); err != nil {
		return fmt.Errorf("declare queue %s: %w", dead, err)
	}
	// A headers binding without headers to match matches every message.
	if err := ch.QueueBind(dead, "", dead, false, amqp.Table{"x-match": "all"}); err != nil {
		return fmt.Errorf("bind queue %s: %w", dead, err)
	}
	return nil
}

func (b *Bus) declareTaskQueue(ch *amqp.Channel, topic string) error {
	q := b.name(topic)
	if _, err := ch.QueueDeclare(q, true, false, false, false, b.taskQueueArgs()); err != nil {
		return fmt.Errorf("declare queue %s: %w", q, err)
	}
	return nil
}

func (b *Bus) declareEventQueue(ch *amqp.Channel, runID string) error {
	// The queue is bound to the dead-letter exchange, which a broker that
	// kept no state lost too.
	if err := b.declareDead(ch); err != nil {
		return err
	}
	q := b.name(runtime.EventTopic(runID))
	if _, err := ch.QueueDeclare(q, true, false, false, false, b.eventQueueArgs()); err != nil {
		return fmt.Errorf("declare queue %s: %w", q, err)
	}
	args := amqp.Table{"x-match": "all", runHeader: runID}
	if err := ch.QueueBind(q, "", b.name(deadName), false, args); err != nil {
		return fmt.Errorf("bind queue %s: %w", q, err)
	}
	return nil
}

func (b *Bus) declareFanout(ch *amqp.Channel, topic string) error {
	x := b.name(topic)
	if err := ch.ExchangeDeclare(x, amqp.ExchangeFanout, true, false, false, false, nil); err != nil {
		return fmt.Errorf("declare exchange %s: %w", x, err)
	}
	return nil
}
