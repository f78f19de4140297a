package runtime

import (
	"context"
	"strings"

	"github.com/ThreeDotsLabs/watermill/message"
)

// Topics. A task topic is a work queue per label, an event topic belongs to
// one run, and the workers and control topics are broadcast to everyone.
const (
	taskTopicPrefix  = "omp.tasks."
	eventTopicPrefix = "omp.events."

	// WorkersTopic carries Heartbeat messages; subscribe with Bus.Fanout.
	WorkersTopic = "omp.workers"
	// ControlTopic carries Control messages from runners to every worker;
	// subscribe with Bus.Fanout.
	ControlTopic = "omp.control"

	// AnyLabel is the label of a worker that serves every label. Only the
	// embedded bus supports subscribing to TaskTopic(AnyLabel). The label of
	// a task that names none is the compiler's DefaultLabel.
	AnyLabel = "*"
)

// Metadata keys between the runtime and a bus.
const (
	// ResubscribedMeta marks the message a Fanout subscription delivers
	// when it receives again after a lost connection (see Bus.Fanout).
	ResubscribedMeta = "omp-resubscribed"
	// RejectMeta, set on a task message before it is acked, tells the bus
	// that the receiver could not read the message, and why: a bus with a
	// dead-letter queue keeps it there, the reason in this header, rather
	// than letting it vanish. The embedded bus drops it.
	RejectMeta = "omp-reject-reason"
)

// TaskTopic is the work queue of tasks with the given label.
func TaskTopic(label string) string { return taskTopicPrefix + label }

// EventTopic is where the workers send the events of run runID.
func EventTopic(runID string) string { return eventTopicPrefix + runID }

// LabelOf returns the label of a task topic and whether topic is one.
func LabelOf(topic string) (string, bool) {
	return strings.CutPrefix(topic, taskTopicPrefix)
}

// Bus is the transport between a runner and its workers: the embedded
// bus or RabbitMQ. Every method is safe for concurrent use.
//
// All subscribers follow Watermill's contract: the channel returned by
// Subscribe is closed when ctx is done or the bus is closed, and the receiver
// must Ack or Nack every message it takes (a Nack redelivers it).
type Bus interface {
	// Publisher publishes to every topic: TaskTopic, EventTopic,
	// WorkersTopic and ControlTopic.
	Publisher() message.Publisher

	// Tasks subscribes to TaskTopic(label) with work-queue semantics: all
	// subscriptions of one topic, in this process or any other, compete for
	// its messages, and each message goes to one of them. A message
	// published before anyone subscribed waits for a subscriber once the
	// topic was prepared (Prepare). A Nack puts the message back in the
	// queue.
	Tasks() message.Subscriber

	// Events subscribes to EventTopic(runID). One runner subscribes per run.
	Events() message.Subscriber

	// Fanout subscribes to WorkersTopic or ControlTopic: every subscription
	// gets a copy of every message published after it subscribed. A
	// subscription that lost its connection may miss messages; once it
	// receives again, it first delivers a message with ResubscribedMeta set
	// and no payload, so that the receiver can ask for what it missed.
	Fanout() message.Subscriber

	// Prepare declares what must exist before a run publishes: the task
	// queues of labels (so their messages wait for a worker instead of
	// being dropped) and the event topic of runID. It is idempotent.
	Prepare(ctx context.Context, runID string, labels []string) error

	// Close releases the bus; subscriptions end and Publish fails after it.
	Close() error
}
