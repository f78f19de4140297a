package amqpbus

import (
	"context"
	"time"

	amqp "github.com/rabbitmq/amqp091-go"

	"github.com/ompdev/omp/runtime"
)

// redeclare declares again, each time the publishing connection comes back,
// the dead-letter queue and the task queues that Prepare declared: a broker
// that kept no state lost them, and a task published to a queue that does
// not exist would be dropped without a word. (Subscriptions declare what
// they consume from themselves, every time they consume again.) A
// declaration that fails is logged and tried again, up to
// Config.PublishTimeout.
func (b *Bus) redeclare() {
	defer b.wg.Done()
	for {
		conn := b.pubConn.Connection()
		if conn == nil {
			return
		}
		select {
		case <-conn.NotifyClose(make(chan *amqp.Error, 1)):
		case <-b.closed:
			return
		}
		// Wait for the connection that replaces it.
		for !b.pubConn.IsConnected() || b.pubConn.Connection() == conn {
			select {
			case <-b.closed:
				return
			case <-time.After(50 * time.Millisecond):
			}
		}
		b.mu.Lock()
		labels := make([]string, 0, len(b.declared))
		for l := range b.declared {
			labels = append(labels, l)
		}
		b.mu.Unlock()
		// withChannel gives up when the bus closes.
		err := b.withChannel(context.Background(), func(ch *amqp.Channel) error {
			if err := b.declareDead(ch); err != nil {
				return err
			}
			for _, l := range labels {
				if err := b.declareTaskQueue(ch, runtime.TaskTopic(l)); err != nil {
					return err
				}
			}
			return nil
		})
		if err != nil && !b.isClosed() {
			b.log.Error("Cannot declare the task queues again after a reconnect", b.red.Error(err), nil)
		}
	}
}
