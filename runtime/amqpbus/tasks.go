package amqpbus

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"sync"
	"time"

	"github.com/ThreeDotsLabs/watermill"
	"github.com/ThreeDotsLabs/watermill/message"
	amqp "github.com/rabbitmq/amqp091-go"

	"github.com/ompdev/omp/runtime"
)

// taskSubscriber consumes task queues with amqp091-go directly, on the bus's
// reconnecting connection. watermill-amqp's subscriber did not fit a work
// queue whose worker acks on claim:
//   - it handles one delivery at a time per subscription, so the claims of
//     one worker would be serialized;
//   - while every worker slot is busy it holds the next delivery
//     unacknowledged for as long as the slots stay busy, which RabbitMQ's
//     consumer_timeout punishes by closing the channel and requeueing the
//     message (counting a delivery towards the dead-letter limit), after
//     which the stale delivery is still handed on.
//
// Here each delivery is handled on its own (up to Prefetch at once), a
// delivery that nobody takes within HoldLimit is put back at the end of the
// queue as a fresh copy, and a delivery whose channel died is dropped, since
// the broker already requeued it.
type taskSubscriber struct {
	b *Bus

	mu   sync.Mutex
	runs map[string]*runCheck
}

// runCheck is what a worker learnt of one run's runner: asked once per run,
// not once per task.
type runCheck struct {
	once sync.Once
	gone bool
	at   time.Time
}

func (s *taskSubscriber) Close() error { return nil }

func (s *taskSubscriber) Subscribe(ctx context.Context, topic string) (<-chan *message.Message, error) {
	label, ok := runtime.LabelOf(topic)
	if !ok {
		return nil, fmt.Errorf("amqpbus: %s is not a task topic", topic)
	}
	if label == runtime.AnyLabel {
		return nil, fmt.Errorf("amqpbus: label * (any) is served by the embedded bus only")
	}
	if s.b.isClosed() {
		return nil, ErrClosed
	}
	if err := s.b.withChannel(ctx, func(ch *amqp.Channel) error { return s.b.declareTaskQueue(ch, topic) }); err != nil {
		return nil, s.b.red.Error(fmt.Errorf("amqpbus: subscribe to %s: %w", topic, err))
	}
	out := make(chan *message.Message)
	s.b.wg.Add(1)
	go s.consume(ctx, topic, out)
	return out, nil
}

func (s *taskSubscriber) consume(ctx context.Context, topic string, out chan *message.Message) {
	b := s.b
	var handlers sync.WaitGroup
	defer b.wg.Done()
	defer close(out)
	defer handlers.Wait()
	fields := watermill.LogFields{"topic": topic}
	for wait := 100 * time.Millisecond; ; wait = min(2*wait, b.cfg.ReconnectMax) {
		if ctx.Err() != nil || b.isClosed() {
			return
		}
		tag := "omp-" + watermill.NewShortUUID()
		ch, deliveries, dead, err := s.open(topic, tag)
		if err != nil {
			if err != errNotConnected {
				b.log.Error("Cannot consume, retrying", b.red.Error(err), fields)
			}
			if b.sleep(ctx, wait) != nil {
				return
			}
			continue
		}
		wait = 100 * time.Millisecond
		stopped := false
		acks := newAcker(ch, func(err error) {
			b.log.Error("Cannot ack a task message; the broker will deliver it again", b.red.Error(err), fields)
		})
	loop:
		for {
			select {
			case d, ok := <-deliveries:
				if !ok {
					break loop
				}
				acks.delivered(d.DeliveryTag)
				handlers.Add(1)
				go func() {
					defer handlers.Done()
					s.handle(ctx, topic, acks, d, dead, out)
				}()
			case <-ctx.Done():
				stopped = true
				break loop
			case <-b.closed:
				stopped = true
				break loop
			}
		}
		if stopped {
			// Stop deliveries, put back those already on their way and
			// what the handlers hold, then close the channel (which would
			// requeue them, counting a failed delivery each).
			ch.Cancel(tag, false)
			for d := range deliveries {
				s.putBack(topic, d)
			}
			handlers.Wait()
			// Acks still queued go out before the channel closes,
			// which would return their messages to the queue.
			acks.flush()
			ch.Close()
			return
		}
		b.log.Info("Task channel closed, consuming again", fields)
	}
}

func (s *taskSubscriber) open(topic, tag string) (*amqp.Channel, <-chan amqp.Delivery, <-chan struct{}, error) {
	b := s.b
	if !b.subConn.IsConnected() {
		return nil, nil, nil, errNotConnected
	}
	conn := b.subConn.Connection()
	if conn == nil || conn.IsClosed() {
		return nil, nil, nil, errNotConnected
	}
	ch, err := conn.Channel()
	if err != nil {
		return nil, nil, nil, err
	}
	notify := ch.NotifyClose(make(chan *amqp.Error, 1))
	if err := ch.Qos(b.cfg.Prefetch, 0, false); err != nil {
		ch.Close()
		return nil, nil, nil, err
	}
	// The queue, and the dead-letter queue it sends to, may have been
	// lost with a broker that kept no state: declare them on every
	// reconnect.
	if err := b.declareDead(ch); err != nil {
		ch.Close()
		return nil, nil, nil, err
	}
	if err := b.declareTaskQueue(ch, topic); err != nil {
		ch.Close()
		return nil, nil, nil, err
	}
	deliveries, err := ch.Consume(b.name(topic), tag, false, false, false, false, nil)
	if err != nil {
		ch.Close()
		return nil, nil, nil, err
	}
	dead := make(chan struct{})
	go func() {
		for range notify {
		}
		close(dead)
	}()
	return ch, deliveries, dead, nil
}

func (s *taskSubscriber) handle(ctx context.Context, topic string, acks *acker, d amqp.Delivery, dead <-chan struct{}, out chan<- *message.Message) {
	b := s.b
	msg, err := marshaler{}.Unmarshal(d)
	if err != nil {
		return
	}
	if run := msg.Metadata.Get(runHeader); run != "" && s.runGone(run) {
		b.log.Error(fmt.Sprintf("Dropping the tasks of run %s: its runner is gone", run), nil, watermill.LogFields{"topic": topic})
		acks.ack(d.DeliveryTag)
		return
	}
	if isPack(msg.Metadata) {
		s.handlePack(ctx, topic, acks, d, msg, dead, out)
		return
	}
	switch f := s.offer(ctx, []*message.Message{msg}, dead, out)[0]; f.kind {
	case fateAcked:
		acks.ack(d.DeliveryTag)
	case fateRejected:
		s.reject(topic, d, f.reason)
		acks.settled(d.DeliveryTag)
	case fatePutBack:
		s.putBackLive(topic, d, dead)
		acks.settled(d.DeliveryTag)
	case fateNacked:
		d.Nack(false, true)
		acks.settled(d.DeliveryTag)
	}
}

// fate is what became of a task message handed on to the receiver.
type fate struct {
	kind   fateKind
	reason string // of fateRejected
}

type fateKind uint8

const (
	// fateAcked: the receiver acked it.
	fateAcked fateKind = iota
	// fateRejected: the receiver could not read it (runtime.RejectMeta).
	fateRejected
	// fatePutBack: nobody took it within HoldLimit, or the receiver is
	// shutting down: it goes back to the end of its queue.
	fatePutBack
	// fateNacked: the receiver nacked it.
	fateNacked
	// fateGone: its channel died (the broker requeued it) or the bus
	// closed.
	fateGone
)

// offer hands msgs to the receiver on out, in their order, and waits until
// it settled each or held it past HoldLimit; one goroutine and one timer
// serve a whole pack. Each message may wait HoldLimit to be taken, counted
// from the offer, and HoldLimit more to be settled, counted from when it was
// taken. A message's context ends when the delivery goes stale (its channel
// died, or it was put back): a receiver that checks it before claiming does
// not run a task the broker already gave to someone else.
func (s *taskSubscriber) offer(ctx context.Context, msgs []*message.Message, dead <-chan struct{}, out chan<- *message.Message) []fate {
	b := s.b
	fates := make([]fate, len(msgs))
	stales := make([]context.CancelFunc, len(msgs))
	defer func() {
		for _, stale := range stales {
			if stale != nil {
				stale()
			}
		}
	}()
	for i, m := range msgs {
		var mctx context.Context
		mctx, stales[i] = context.WithCancel(ctx)
		m.SetContext(mctx)
	}
	hold := time.NewTimer(b.cfg.HoldLimit)
	defer hold.Stop()
	// Those not taken by the hand-off's deadline, and those after a
	// message that found the bus closed or its channel dead, are not
	// handed on.
	taken := make([]time.Time, len(msgs))
	n := 0
handOff:
	for ; n < len(msgs); n++ {
		select {
		case out <- msgs[n]:
			taken[n] = time.Now()
			continue
		case <-hold.C:
		case <-ctx.Done():
		case <-b.closed:
			for i := n; i < len(msgs); i++ {
				fates[i] = fate{kind: fateGone}
			}
			break handOff
		case <-dead:
			for i := n; i < len(msgs); i++ {
				fates[i] = fate{kind: fateGone}
			}
			break handOff
		}
		for i := n; i < len(msgs); i++ {
			fates[i] = fate{kind: fatePutBack}
		}
		break
	}
	// A worker acks once its claim is published, within milliseconds of
	// taking a free slot; a message it holds longer waits for a slot and is
	// exposed to consumer_timeout like any other. The deadlines grow with
	// i, so waiting in order waits for the earliest first.
	for i := range n {
		fates[i] = s.settlement(ctx, msgs[i], hold, time.Until(taken[i].Add(b.cfg.HoldLimit)), stales[i], dead)
	}
	return fates
}

// settlement waits until the receiver settles a message it took, for at most
// wait, timed by hold, which it resets (a stale fire is discarded).
func (s *taskSubscriber) settlement(ctx context.Context, msg *message.Message, hold *time.Timer, wait time.Duration, stale context.CancelFunc, dead <-chan struct{}) fate {
	hold.Reset(wait)
	select {
	case <-msg.Acked():
		if reason := msg.Metadata.Get(runtime.RejectMeta); reason != "" {
			return fate{kind: fateRejected, reason: reason}
		}
		return fate{kind: fateAcked}
	case <-msg.Nacked():
		if ctx.Err() != nil {
			// The receiver is shutting down, not failing the message.
			return fate{kind: fatePutBack}
		}
		return fate{kind: fateNacked}
	case <-hold.C:
		stale()
		return fate{kind: fatePutBack}
	case <-dead:
	case <-s.b.closed:
	}
	return fate{kind: fateGone}
}

// handlePack hands on each task of a pack (see pack.go) and settles the
// pack once all are settled.
func (s *taskSubscriber) handlePack(ctx context.Context, topic string, acks *acker, d amqp.Delivery, p *message.Message, dead <-chan struct{}, out chan<- *message.Message) {
	msgs, err := unpack(p)
	if err != nil {
		s.reject(topic, d, err.Error())
		acks.settled(d.DeliveryTag)
		return
	}
	if d.Redelivered {
		// Its worker or channel died with it: one of its tasks may be
		// the cause, which as a single message reaches the dead-letter
		// queue alone.
		s.settlePack(topic, acks, d, dead, msgs, false)
		return
	}
	fates := s.offer(ctx, msgs, dead, out)
	for _, f := range fates {
		switch f.kind {
		case fateGone:
			// The broker requeued the pack, or will when the bus
			// closes its channel.
			return
		case fateNacked:
			// A nack counts a delivery, which is what brings a task
			// that no worker can take to the dead-letter queue: the
			// pack comes back, and is then split.
			d.Nack(false, true)
			acks.settled(d.DeliveryTag)
			return
		}
	}
	var back []*message.Message
	for i, f := range fates {
		switch f.kind {
		case fateRejected:
			if !s.rejectPart(topic, d, msgs[i], f.reason) {
				back = append(back, msgs[i])
			}
		case fatePutBack:
			back = append(back, msgs[i])
		}
	}
	s.settlePack(topic, acks, d, dead, back, true)
}

// settlePack publishes back, the tasks of pack d that go back to the queue
// (in packs again if repack, else each on its own), and then acks d; should they not be published, d goes back to the queue
// whole (its tasks that ran are then delivered again, which the runtime
// copes with). Nothing happens if d's channel died: the broker requeued d.
func (s *taskSubscriber) settlePack(topic string, acks *acker, d amqp.Delivery, dead <-chan struct{}, back []*message.Message, repack bool) {
	select {
	case <-dead:
		return
	default:
	}
	if len(back) > 0 {
		// Copies, for the offer of a task that was never taken may still
		// be watching its message's context and metadata.
		for i, m := range back {
			c := m.Copy()
			clearBrokerHeaders(c.Metadata)
			back[i] = c
		}
		publish := s.b.pub.send
		if repack {
			publish = func(topic string, msgs []*message.Message) error { return s.b.pub.Publish(topic, msgs...) }
		}
		if err := publish(topic, back); err != nil {
			d.Nack(false, true)
			acks.settled(d.DeliveryTag)
			return
		}
	}
	acks.ack(d.DeliveryTag)
}

// runGone tells whether the runner of a run is gone, from its event queue,
// which the runner deletes when the run ends: a task left in the queue by a
// run that ended while no worker listened (cancelled, or failed fast) is then
// dropped rather than run for nobody. A worker that was alive when the run
// ended has its DRAIN or CANCEL already. Should the broker not answer, the
// task runs.
func (s *taskSubscriber) runGone(run string) bool {
	now := time.Now()
	s.mu.Lock()
	c := s.runs[run]
	if c != nil && c.gone && now.Sub(c.at) > time.Minute {
		// A broker that lost its queues loses the event queue of a live
		// run too, until the runner declares it again: look again rather
		// than drop the run's tasks for ever.
		c = nil
	}
	if c == nil {
		if len(s.runs) >= 1000 {
			// A worker lives for months: forget runs checked long ago.
			for id, old := range s.runs {
				if now.Sub(old.at) > time.Hour {
					delete(s.runs, id)
				}
			}
		}
		c = &runCheck{at: now}
		s.runs[run] = c
	}
	s.mu.Unlock()
	c.once.Do(func() {
		q := s.b.name(runtime.EventTopic(run))
		err := s.b.tryChannel(func(ch *amqp.Channel) error {
			_, err := ch.QueueDeclarePassive(q, true, false, false, false, s.b.eventQueueArgs())
			return err
		})
		var aerr *amqp.Error
		gone := errors.As(err, &aerr) && aerr.Code == amqp.NotFound
		s.mu.Lock()
		c.gone = gone
		if err != nil && !gone {
			// Ask again for the next task.
			delete(s.runs, run)
		}
		s.mu.Unlock()
	})
	return c.gone
}

// putBack publishes a copy of d at the end of its queue and acks d. Unlike a
// requeue this does not count as a failed delivery, and the copy starts a
// new consumer_timeout when it is delivered again.
func (s *taskSubscriber) putBack(topic string, d amqp.Delivery) {
	b := s.b
	msg, err := marshaler{}.Unmarshal(d)
	if err == nil {
		clearBrokerHeaders(msg.Metadata)
		msg.SetContext(context.Background())
		err = b.pub.Publish(topic, msg)
	}
	if err != nil {
		d.Nack(false, true)
		return
	}
	d.Ack(false)
}

// putBackLive puts d back unless its channel died: the broker then requeued
// it already, and a copy would have the task run twice.
func (s *taskSubscriber) putBackLive(topic string, d amqp.Delivery, dead <-chan struct{}) {
	select {
	case <-dead:
	default:
		s.putBack(topic, d)
	}
}

// clearBrokerHeaders removes from a task message's metadata what the broker
// added (x-delivery-count, x-death) and what the bus read from it, so that
// a copy published again starts afresh.
func clearBrokerHeaders(md message.Metadata) {
	for k := range md {
		if strings.HasPrefix(k, "x-") || k == deadMeta {
			delete(md, k)
		}
	}
}
