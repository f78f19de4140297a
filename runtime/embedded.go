package runtime

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"sync"

	"github.com/ThreeDotsLabs/watermill"
	"github.com/ThreeDotsLabs/watermill/message"
	"github.com/ThreeDotsLabs/watermill/pubsub/gochannel"
)

// EmbeddedConfig configures the embedded bus.
type EmbeddedConfig struct {
	// Buffer is how many messages a subscription holds before GoChannel
	// parks further ones; default 16384.
	Buffer int
	// Logger receives Watermill's records; default none.
	Logger *slog.Logger
}

// NewEmbeddedBus returns a Bus that lives in this process, on Watermill's
// GoChannel pub/sub.
//
// GoChannel fans every message out to every subscriber and drops what nobody
// subscribed to, so the bus turns task topics into work queues itself: it
// keeps one GoChannel subscription per task topic, made by Prepare, the first
// Publish or the first Subscribe on the topic and kept until Close, and every
// Tasks().Subscribe of that topic takes from it, so each message goes to one
// subscriber and none is lost before a worker comes. Tasks().Subscribe(ctx,
// TaskTopic(AnyLabel)) takes tasks of every label, present and future.
func NewEmbeddedBus(cfg EmbeddedConfig) Bus {
	if cfg.Buffer <= 0 {
		cfg.Buffer = 16384
	}
	var log watermill.LoggerAdapter = watermill.NopLogger{}
	if cfg.Logger != nil {
		log = watermill.NewSlogLogger(cfg.Logger)
	}
	ctx, cancel := context.WithCancel(context.Background())
	b := &embeddedBus{
		gc: gochannel.NewGoChannel(gochannel.Config{
			OutputChannelBuffer: int64(cfg.Buffer),
			// The runtime's protocol acknowledges by events, not by
			// blocking publishers; a blocking Publish would serialize the
			// scheduler behind every worker.
			BlockPublishUntilSubscriberAck: false,
			// Receivers find the decoded value in the context (see
			// taskOf), and no message of the runtime needs GoChannel's
			// per-subscriber context.
			PreserveContext: true,
		}, log),
		ctx:    ctx,
		cancel: cancel,
		queues: map[string]*queue{},
	}
	return b
}

type embeddedBus struct {
	gc     *gochannel.GoChannel
	ctx    context.Context // lives until Close; the queues' subscriptions use it
	cancel context.CancelFunc

	mu      sync.Mutex
	queues  map[string]*queue
	anySubs map[*anySub]struct{}
	closed  bool
	wg      sync.WaitGroup // forwarders and closers
}

// queue is the one GoChannel subscription of a task topic.
type queue struct {
	topic string
	ch    <-chan *message.Message
}

// anySub is a subscription to every task topic.
type anySub struct {
	ctx context.Context
	out chan *message.Message
	wg  sync.WaitGroup
}

var errClosed = errors.New("runtime: embedded bus closed")

// queue returns the queue of a task topic, subscribing to it on first use.
func (b *embeddedBus) queue(topic string) (*queue, error) {
	b.mu.Lock()
	defer b.mu.Unlock()
	if b.closed {
		return nil, errClosed
	}
	if q, ok := b.queues[topic]; ok {
		return q, nil
	}
	ch, err := b.gc.Subscribe(b.ctx, topic)
	if err != nil {
		return nil, err
	}
	q := &queue{topic: topic, ch: ch}
	b.queues[topic] = q
	for s := range b.anySubs {
		s.wg.Add(1)
		b.wg.Add(1)
		go func() {
			defer b.wg.Done()
			defer s.wg.Done()
			b.forward(s.ctx, q.ch, s.out)
		}()
	}
	return q, nil
}

// forward moves messages of one queue to one subscription until either
// ends. A message taken but not delivered is nacked, which puts it back in
// the queue for another subscriber.
func (b *embeddedBus) forward(ctx context.Context, in <-chan *message.Message, out chan<- *message.Message) {
	for {
		select {
		case <-ctx.Done():
			return
		case <-b.ctx.Done():
			return
		case m, ok := <-in:
			if !ok {
				return
			}
			select {
			case out <- m:
			case <-ctx.Done():
				m.Nack()
				return
			case <-b.ctx.Done():
				return
			}
		}
	}
}

func (b *embeddedBus) Publisher() message.Publisher { return embeddedPublisher{b} }
func (b *embeddedBus) Tasks() message.Subscriber    { return embeddedTasks{b} }
func (b *embeddedBus) Events() message.Subscriber   { return embeddedSubscriber{b} }
func (b *embeddedBus) Fanout() message.Subscriber   { return embeddedSubscriber{b} }

func (b *embeddedBus) Prepare(ctx context.Context, runID string, labels []string) error {
	for _, l := range labels {
		if _, err := b.queue(TaskTopic(l)); err != nil {
			return err
		}
	}
	return nil
}

func (b *embeddedBus) Close() error {
	b.mu.Lock()
	if b.closed {
		b.mu.Unlock()
		return nil
	}
	b.closed = true
	b.mu.Unlock()
	b.cancel()
	b.wg.Wait()
	return b.gc.Close()
}

type embeddedPublisher struct{ b *embeddedBus }

func (p embeddedPublisher) Publish(topic string, msgs ...*message.Message) error {
	if _, ok := LabelOf(topic); ok {
		// Declare on publish: a queue holds its messages for a worker that
		// subscribes later, as a broker's durable queue would.
		if _, err := p.b.queue(topic); err != nil {
			return err
		}
	}
	return p.b.gc.Publish(topic, msgs...)
}

// Close does nothing: the publisher belongs to the bus, which Close closes.
func (p embeddedPublisher) Close() error { return nil }

// embeddedSubscriber is GoChannel's own fan-out subscription.
type embeddedSubscriber struct{ b *embeddedBus }

func (s embeddedSubscriber) Subscribe(ctx context.Context, topic string) (<-chan *message.Message, error) {
	return s.b.gc.Subscribe(ctx, topic)
}

// Close does nothing: subscriptions end with their ctx or with the bus.
func (s embeddedSubscriber) Close() error { return nil }

type embeddedTasks struct{ b *embeddedBus }

func (s embeddedTasks) Subscribe(ctx context.Context, topic string) (<-chan *message.Message, error) {
	b := s.b
	label, ok := LabelOf(topic)
	if !ok {
		return nil, fmt.Errorf("runtime: %q is not a task topic", topic)
	}
	out := make(chan *message.Message)
	if label != AnyLabel {
		q, err := b.queue(topic)
		if err != nil {
			return nil, err
		}
		b.mu.Lock()
		if b.closed {
			b.mu.Unlock()
			return nil, errClosed
		}
		b.wg.Add(1)
		b.mu.Unlock()
		go func() {
			defer b.wg.Done()
			b.forward(ctx, q.ch, out)
			close(out)
		}()
		return out, nil
	}

	sub := &anySub{ctx: ctx, out: out}
	b.mu.Lock()
	if b.closed {
		b.mu.Unlock()
		return nil, errClosed
	}
	if b.anySubs == nil {
		b.anySubs = map[*anySub]struct{}{}
	}
	b.anySubs[sub] = struct{}{}
	for _, q := range b.queues {
		sub.wg.Add(1)
		b.wg.Add(1)
		go func() {
			defer b.wg.Done()
			defer sub.wg.Done()
			b.forward(ctx, q.ch, out)
		}()
	}
	b.wg.Add(1)
	b.mu.Unlock()
	go func() {
		defer b.wg.Done()
		select {
		case <-ctx.Done():
		case <-b.ctx.Done():
		}
		// Once removed, no forwarder is added to sub, so Wait is final.
		b.mu.Lock()
		delete(b.anySubs, sub)
		b.mu.Unlock()
		sub.wg.Wait()
		close(out)
	}()
	return out, nil
}

func (s embeddedTasks) Close() error { return nil }
