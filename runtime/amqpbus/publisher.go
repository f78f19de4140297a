package amqpbus

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"sync"
	"time"

	"github.com/ThreeDotsLabs/watermill"
	wamqp "github.com/ThreeDotsLabs/watermill-amqp/v3/pkg/amqp"
	"github.com/ThreeDotsLabs/watermill/message"
	amqp "github.com/rabbitmq/amqp091-go"

	"github.com/ompdev/omp/runtime"
)

// publisher is watermill-amqp's publisher made to survive the broker going
// away: a failed publish is retried on a fresh publisher once the
// connection is back, since watermill-amqp's channel pool loses a channel
// each time it cannot reopen one and then blocks for good.
type publisher struct {
	b  *Bus
	mu sync.RWMutex
	p  *wamqp.Publisher

	// bmu serializes batches on bch, the channel of batched publishes.
	bmu sync.Mutex
	bch *amqp.Channel
}

func newPublisher(b *Bus) (*publisher, error) {
	p, err := wamqp.NewPublisherWithConnection(b.wconfig(), b.log, b.pubConn)
	if err != nil {
		return nil, b.red.Error(fmt.Errorf("amqpbus: %w", err))
	}
	return &publisher{b: b, p: p}, nil
}

func (p *publisher) current() *wamqp.Publisher {
	p.mu.RLock()
	defer p.mu.RUnlock()
	return p.p
}

// Publish publishes msgs to topic and returns once the broker confirmed every
// one; while the broker is away, it retries for up to Config.PublishTimeout.
func (p *publisher) Publish(topic string, msgs ...*message.Message) error {
	if err := stamp(topic, msgs); err != nil {
		return err
	}
	if len(msgs) > 1 && topicKind(topic) == kindTask {
		msgs = pack(msgs, packSize(len(msgs), p.b.cfg.TaskPack))
	}
	return p.send(topic, msgs)
}

// send publishes msgs as they are, each in an AMQP message of its own.
func (p *publisher) send(topic string, msgs []*message.Message) error {
	deadline := time.Now().Add(p.b.cfg.PublishTimeout)
	for wait := 50 * time.Millisecond; ; wait = min(2*wait, time.Second) {
		if p.b.isClosed() {
			return ErrClosed
		}
		cur := p.current()
		var err error
		if len(msgs) > 1 {
			err = p.batch(topic, msgs)
		} else {
			err = cur.Publish(topic, msgs...)
		}
		if err == nil {
			return nil
		}
		if time.Now().After(deadline) {
			return p.b.red.Error(fmt.Errorf("amqpbus: publish to %s: %w", topic, err))
		}
		p.b.log.Debug("Publish failed, retrying", watermill.LogFields{"topic": topic, "err": err.Error()})
		select {
		case <-p.b.closed:
			return ErrClosed
		case <-time.After(wait):
		}
		p.renew(cur)
	}
}

// stamp checks that msgs may go to topic and sets the metadata the broker
// needs: a task's run, for its dead letters, and the transience of events and
// heartbeats.
func stamp(topic string, msgs []*message.Message) error {
	switch topicKind(topic) {
	case kindTask:
		if label, _ := runtime.LabelOf(topic); label == runtime.AnyLabel {
			return errors.New("amqpbus: label * (any) is served by the embedded bus only")
		}
		for _, m := range msgs {
			if m.Metadata.Get(runHeader) == "" {
				if run := runIDOf(m.Payload); run != "" {
					m.Metadata.Set(runHeader, run)
				}
			}
		}
	case kindEvent, kindFanout:
		// Events and heartbeats are transient: a persistent message that
		// waits in a queue costs a disk sync before its confirm (which
		// would serialize a worker's claims), and what a
		// broker crash loses of them the runner recovers: a lapsed lease
		// or an unclaimed task is dispatched again.
		for _, m := range msgs {
			m.Metadata.Set(transientMeta, "1")
		}
	case kindOther:
		return fmt.Errorf("amqpbus: unknown topic %q", topic)
	}
	return nil
}

// runIDOf returns the run_id of a task message's payload, "" if it has
// none. runtime.EncodeTask writes v and then run_id first: reading them
// spares decoding the whole task (a twentieth of the runner's CPU in a
// large fan-out); any other payload, or a run_id with an escape, is decoded
// in full.
func runIDOf(payload []byte) string {
	if rest, ok := bytes.CutPrefix(payload, []byte(`{"v":`)); ok {
		i := 0
		for i < len(rest) && '0' <= rest[i] && rest[i] <= '9' {
			i++
		}
		if rest, ok := bytes.CutPrefix(rest[i:], []byte(`,"run_id":"`)); ok {
			if j := bytes.IndexByte(rest, '"'); j > 0 && bytes.IndexByte(rest[:j], '\\') < 0 {
				return string(rest[:j])
			}
		}
	}
	var head struct {
		RunID string `json:"run_id"`
	}
	if json.Unmarshal(payload, &head) != nil {
		return ""
	}
	return head.RunID
}

// renew replaces cur, if it is still the current publisher, by a new one on
// the (possibly reconnected) connection.
func (p *publisher) renew(cur *wamqp.Publisher) {
	if !p.b.pubConn.IsConnected() {
		return
	}
	p.mu.Lock()
	defer p.mu.Unlock()
	if p.p != cur {
		return
	}
	np, err := wamqp.NewPublisherWithConnection(p.b.wconfig(), p.b.log, p.b.pubConn)
	if err != nil {
		return
	}
	p.p = np
	go closePublisher(cur)
}

// closePublisher closes a watermill-amqp publisher. Its Close (v3.0.2)
// panics on a nil *amqp.Channel when one of the pooled channels failed to
// reopen in the moment the connection dropped; such a channel belonged to
// the dead connection and has nothing left to close, and a worker must not
// die of it.
func closePublisher(p *wamqp.Publisher) {
	defer func() { _ = recover() }()
	p.Close()
}

// batch publishes msgs on one channel and then waits for all their
// confirms. watermill-amqp waits for each confirm before the next publish,
// which costs a disk sync per message and makes a scheduler publishing
// many tasks wait for each in turn; pipelined, the broker syncs them
// together.
func (p *publisher) batch(topic string, msgs []*message.Message) error {
	p.bmu.Lock()
	defer p.bmu.Unlock()
	ch, err := p.batchChannel()
	if err != nil {
		return err
	}
	exchange, key := "", p.b.name(topic)
	if topicKind(topic) == kindFanout {
		exchange, key = p.b.name(topic), ""
		if err := p.b.declareFanout(ch, topic); err != nil {
			return err
		}
	}
	confirms := make([]*amqp.DeferredConfirmation, len(msgs))
	for i, m := range msgs {
		pub, err := marshaler{}.Marshal(m)
		if err != nil {
			return err
		}
		confirms[i], err = ch.PublishWithDeferredConfirmWithContext(m.Context(), exchange, key, false, false, pub)
		if err != nil {
			return err
		}
	}
	for i, c := range confirms {
		if !c.Wait() {
			return fmt.Errorf("delivery not confirmed for message [%s]", msgs[i].UUID)
		}
	}
	return nil
}

// batchChannel returns the channel of batched publishes, opening one in
// confirm mode if there is none or it was closed. It runs with p.bmu held.
func (p *publisher) batchChannel() (*amqp.Channel, error) {
	if p.bch != nil && !p.bch.IsClosed() {
		return p.bch, nil
	}
	if !p.b.pubConn.IsConnected() {
		return nil, errNotConnected
	}
	ch, err := p.b.pubConn.Connection().Channel()
	if err != nil {
		return nil, err
	}
	if err := ch.Confirm(false); err != nil {
		ch.Close()
		return nil, err
	}
	p.bch = ch
	return ch, nil
}

func (p *publisher) Close() error { return nil }

func (p *publisher) close() {
	p.mu.Lock()
	defer p.mu.Unlock()
	closePublisher(p.p)
	p.bmu.Lock()
	defer p.bmu.Unlock()
	if p.bch != nil {
		p.bch.Close()
	}
}
