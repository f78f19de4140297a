package runtime

import (
	"context"
	"errors"
	"fmt"
	"sync"

	"github.com/ThreeDotsLabs/watermill/message"
)

// EmbeddedConfig configures the embedded bus.
type EmbeddedConfig struct {
	// Buffer is how many messages an Events or Fanout subscription holds
	// for its receiver before the rest wait in the bus; default 16384.
	Buffer int
}

// NewEmbeddedBus returns a Bus that lives in this process.
//
// It holds Watermill messages in queues of its own rather than on
// Watermill's GoChannel: GoChannel copied every message twice and started
// two or three goroutines for it, a fifth of an embedded run's CPU with its
// garbage. Here a message costs one copy per delivery, and a goroutine only
// while a receiver holds it unacknowledged, to hear a Nack.
//
// Task topics are work queues: a queue is made by Prepare, the first
// Publish or the first Subscribe on the topic and kept until Close, holds
// its messages until a subscriber takes them, and gives each message to one
// of its subscribers; a Nack puts the message back. Tasks().Subscribe(ctx,
// TaskTopic(AnyLabel)) takes tasks of every label, present and future. Every
// other topic is fanned out: each subscription gets a copy of each message
// published after it subscribed, in the order published, and a Nack
// delivers its copy again; with no subscription, a message is dropped.
func NewEmbeddedBus(cfg EmbeddedConfig) Bus {
	if cfg.Buffer <= 0 {
		cfg.Buffer = 16384
	}
	ctx, cancel := context.WithCancel(context.Background())
	return &embeddedBus{
		buffer: cfg.Buffer,
		ctx:    ctx,
		cancel: cancel,
		queues: map[string]*queue{},
		fanout: map[string]map[*fanSub]struct{}{},
	}
}

type embeddedBus struct {
	buffer int
	ctx    context.Context // lives until Close; every goroutine of the bus ends with it
	cancel context.CancelFunc

	mu      sync.Mutex
	queues  map[string]*queue
	anySubs map[*anySub]struct{}
	fanout  map[string]map[*fanSub]struct{} // by topic
	closed  bool
	// wg counts the bus's goroutines: forwarders, pumps, closers and
	// the watchers of unacknowledged deliveries. Only a goroutine it
	// counts, or one holding mu with closed false, adds to it, so that
	// Close's Wait is final.
	wg sync.WaitGroup
}

// queue holds messages, first in first out, for the goroutines that take
// them; it is unbounded, so that publishing never waits for a receiver.
type queue struct {
	mu   sync.Mutex
	msgs []*message.Message
	head int
	// ready has a token while msgs may be non-empty: a taker that finds
	// the queue empty waits for it, and one that leaves messages behind
	// passes it on to the next.
	ready chan struct{}
}

func newQueue() *queue { return &queue{ready: make(chan struct{}, 1)} }

func (q *queue) push(ms ...*message.Message) {
	q.mu.Lock()
	if q.head > 0 && q.head >= len(q.msgs)/2 {
		// Move the messages to the front, so that a queue that is never
		// empty does not grow by what was taken from it.
		n := copy(q.msgs, q.msgs[q.head:])
		clear(q.msgs[n:])
		q.msgs, q.head = q.msgs[:n], 0
	}
	q.msgs = append(q.msgs, ms...)
	q.mu.Unlock()
	q.signal()
}

// pushFront puts back a message that was taken but not delivered, ahead of
// the others.
func (q *queue) pushFront(m *message.Message) {
	q.mu.Lock()
	if q.head > 0 {
		q.head--
		q.msgs[q.head] = m
	} else {
		q.msgs = append([]*message.Message{m}, q.msgs...)
	}
	q.mu.Unlock()
	q.signal()
}

// pop takes the first message, if any.
func (q *queue) pop() (*message.Message, bool) {
	q.mu.Lock()
	if q.head == len(q.msgs) {
		q.mu.Unlock()
		return nil, false
	}
	m := q.msgs[q.head]
	q.msgs[q.head] = nil
	q.head++
	more := q.head < len(q.msgs)
	if !more {
		q.msgs, q.head = q.msgs[:0], 0
	}
	q.mu.Unlock()
	if more {
		q.signal()
	}
	return m, true
}

func (q *queue) signal() {
	select {
	case q.ready <- struct{}{}:
	default:
	}
}

// anySub is a subscription to every task topic.
type anySub struct {
	ctx context.Context
	out chan *message.Message
	wg  sync.WaitGroup
}

// fanSub is a subscription to a fanned-out topic: its pump moves the
// messages of pending to out.
type fanSub struct {
	ctx     context.Context
	pending *queue
	out     chan *message.Message
}

var errClosed = errors.New("runtime: embedded bus closed")

// queue returns the queue of a task topic, making it on first use.
func (b *embeddedBus) queue(topic string) (*queue, error) {
	b.mu.Lock()
	defer b.mu.Unlock()
	if b.closed {
		return nil, errClosed
	}
	if q, ok := b.queues[topic]; ok {
		return q, nil
	}
	q := newQueue()
	b.queues[topic] = q
	for s := range b.anySubs {
		s.wg.Add(1)
		b.wg.Add(1)
		go func() {
			defer b.wg.Done()
			defer s.wg.Done()
			b.forward(s.ctx, q, s.out)
		}()
	}
	return q, nil
}

// forward delivers messages of q to out until ctx or the bus ends. A
// message taken but not delivered goes back to the front of q; a delivered
// one that is nacked goes back to its end.
func (b *embeddedBus) forward(ctx context.Context, q *queue, out chan<- *message.Message) {
	for {
		m, ok := q.pop()
		if !ok {
			select {
			case <-q.ready:
				continue
			case <-ctx.Done():
				return
			case <-b.ctx.Done():
				return
			}
		}
		// A copy per delivery: its Ack and Nack are this delivery's.
		c := m.CopyWithContext()
		select {
		case out <- c:
			b.watch(c, func() { q.push(m) })
		case <-ctx.Done():
			q.pushFront(m)
			return
		case <-b.ctx.Done():
			return
		}
	}
}

// watch calls nacked if the receiver nacks delivery c. Its caller is a
// goroutine that b.wg counts.
func (b *embeddedBus) watch(c *message.Message, nacked func()) {
	select {
	case <-c.Acked():
		return
	default:
	}
	b.wg.Add(1)
	go func() {
		defer b.wg.Done()
		select {
		case <-c.Acked():
		case <-c.Nacked():
			nacked()
		case <-b.ctx.Done():
		}
	}()
}

// pump moves s's messages to s.out, in order, until s's ctx or the bus
// ends, then ends the subscription. It watches the deliveries' acks in
// order too, with no goroutine per message: the runtime's receivers of
// fanned-out topics ack each message as they take it. A nacked copy is
// delivered again once those before it were acked or nacked.
func (b *embeddedBus) pump(topic string, s *fanSub) {
	defer func() {
		b.mu.Lock()
		delete(b.fanout[topic], s)
		if len(b.fanout[topic]) == 0 {
			delete(b.fanout, topic)
		}
		b.mu.Unlock()
		close(s.out)
	}()
	var (
		next    *message.Message   // taken from pending, not yet in out
		unacked []*message.Message // in out or taken, not yet acked, in order
	)
	for {
		if next == nil {
			next, _ = s.pending.pop()
		}
		var out chan<- *message.Message
		var ready <-chan struct{}
		if next != nil {
			out = s.out
		} else {
			ready = s.pending.ready
		}
		var acked, nacked <-chan struct{}
		if len(unacked) > 0 {
			acked, nacked = unacked[0].Acked(), unacked[0].Nacked()
		}
		select {
		case out <- next:
			unacked = append(unacked, next)
			next = nil
		case <-acked:
			unacked[0] = nil
			unacked = unacked[1:]
		case <-nacked:
			s.pending.push(unacked[0].CopyWithContext())
			unacked[0] = nil
			unacked = unacked[1:]
		case <-ready:
		case <-s.ctx.Done():
			return
		case <-b.ctx.Done():
			return
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
	return nil
}

type embeddedPublisher struct{ b *embeddedBus }

func (p embeddedPublisher) Publish(topic string, msgs ...*message.Message) error {
	b := p.b
	if _, ok := LabelOf(topic); ok {
		// Declare on publish: a queue holds its messages for a worker that
		// subscribes later, as a broker's durable queue would.
		q, err := b.queue(topic)
		if err != nil {
			return err
		}
		q.push(msgs...)
		return nil
	}
	b.mu.Lock()
	defer b.mu.Unlock()
	if b.closed {
		return errClosed
	}
	for s := range b.fanout[topic] {
		cs := make([]*message.Message, len(msgs))
		for i, m := range msgs {
			cs[i] = m.CopyWithContext()
		}
		s.pending.push(cs...)
	}
	return nil
}

// Close does nothing: the publisher belongs to the bus, which Close closes.
func (p embeddedPublisher) Close() error { return nil }

// inProcess: the bus hands on the message's context, in which the receivers
// find the value (withDecoded).
func (embeddedPublisher) inProcess() {}

// embeddedSubscriber subscribes to a fanned-out topic.
type embeddedSubscriber struct{ b *embeddedBus }

func (s embeddedSubscriber) Subscribe(ctx context.Context, topic string) (<-chan *message.Message, error) {
	b := s.b
	sub := &fanSub{ctx: ctx, pending: newQueue(), out: make(chan *message.Message, b.buffer)}
	b.mu.Lock()
	defer b.mu.Unlock()
	if b.closed {
		return nil, errClosed
	}
	subs := b.fanout[topic]
	if subs == nil {
		subs = map[*fanSub]struct{}{}
		b.fanout[topic] = subs
	}
	subs[sub] = struct{}{}
	b.wg.Add(1)
	go func() {
		defer b.wg.Done()
		b.pump(topic, sub)
	}()
	return sub.out, nil
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
			b.forward(ctx, q, out)
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
			b.forward(ctx, q, out)
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
