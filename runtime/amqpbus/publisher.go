package amqpbus

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"sync"
	"time"

	"github.com/ThreeDotsLabs/watermill"
	"github.com/ThreeDotsLabs/watermill/message"
	amqp "github.com/rabbitmq/amqp091-go"

	"github.com/ompdev/omp/runtime"
)

// publisher publishes on channels of the publishing connection in confirm
// mode: a publish sends all its messages, pipelined, and then waits for all
// their confirms, so that a scheduler publishing many tasks has the broker
// sync them together rather than wait for each in turn. Idle channels are
// kept for the next publish, up to Config.PublishChannels; a channel that
// failed is dropped. While the broker is away a publish is retried on a
// fresh channel of the reconnected connection, for up to
// Config.PublishTimeout.
type publisher struct {
	b *Bus

	mu   sync.Mutex
	conn *amqp.Connection // the connection of the idle channels
	idle []*amqp.Channel
	// fanouts are the fan-out exchanges declared on conn.
	fanouts map[string]bool
}

func newPublisher(b *Bus) *publisher { return &publisher{b: b} }

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
		err := p.try(topic, msgs)
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

// try publishes msgs once, on one channel, and waits for their confirms.
func (p *publisher) try(topic string, msgs []*message.Message) (err error) {
	ch, conn, err := p.channel()
	if err != nil {
		return err
	}
	exchange, key := "", p.b.name(topic)
	if topicKind(topic) == kindFanout {
		exchange, key = p.b.name(topic), ""
		defer func() {
			if err != nil {
				// Declare it again next time: it may be what failed.
				p.markDeclared(conn, exchange, false)
			}
		}()
		if !p.declared(conn, exchange) {
			if err := p.b.declareFanout(ch, topic); err != nil {
				ch.Close()
				return err
			}
			p.markDeclared(conn, exchange, true)
		}
	}
	confirms := make([]*amqp.DeferredConfirmation, len(msgs))
	for i, m := range msgs {
		pub, merr := marshaler{}.Marshal(m)
		if merr != nil {
			p.put(ch, conn)
			return merr
		}
		if confirms[i], err = ch.PublishWithDeferredConfirmWithContext(m.Context(), exchange, key, false, false, pub); err != nil {
			ch.Close()
			return err
		}
	}
	for i, c := range confirms {
		if !c.Wait() {
			ch.Close()
			return fmt.Errorf("delivery not confirmed for message [%s]", msgs[i].UUID)
		}
	}
	p.put(ch, conn)
	return nil
}

// channel returns an idle channel of the current connection, or opens one in
// confirm mode.
func (p *publisher) channel() (*amqp.Channel, *amqp.Connection, error) {
	conn := p.b.pubConn.Connection()
	if conn == nil || conn.IsClosed() {
		return nil, nil, errNotConnected
	}
	p.mu.Lock()
	if p.conn != conn {
		// The connection was replaced: what was idle or declared
		// belonged to the old one.
		for _, ch := range p.idle {
			ch.Close()
		}
		p.conn, p.idle, p.fanouts = conn, nil, map[string]bool{}
	}
	if n := len(p.idle); n > 0 {
		ch := p.idle[n-1]
		p.idle = p.idle[:n-1]
		p.mu.Unlock()
		if !ch.IsClosed() {
			return ch, conn, nil
		}
	} else {
		p.mu.Unlock()
	}
	ch, err := conn.Channel()
	if err != nil {
		return nil, nil, err
	}
	if err := ch.Confirm(false); err != nil {
		ch.Close()
		return nil, nil, err
	}
	return ch, conn, nil
}

// put keeps ch, a channel of conn, for the next publish, or closes it if
// enough are idle or conn is no longer the current connection.
func (p *publisher) put(ch *amqp.Channel, conn *amqp.Connection) {
	p.mu.Lock()
	if p.conn == conn && len(p.idle) < max(1, p.b.cfg.PublishChannels) {
		p.idle = append(p.idle, ch)
		ch = nil
	}
	p.mu.Unlock()
	if ch != nil {
		ch.Close()
	}
}

func (p *publisher) declared(conn *amqp.Connection, exchange string) bool {
	p.mu.Lock()
	defer p.mu.Unlock()
	return p.conn == conn && p.fanouts[exchange]
}

func (p *publisher) markDeclared(conn *amqp.Connection, exchange string, declared bool) {
	p.mu.Lock()
	defer p.mu.Unlock()
	if p.conn == conn {
		p.fanouts[exchange] = declared
	}
}

func (p *publisher) Close() error { return nil }

// close closes the idle channels.
func (p *publisher) close() {
	p.mu.Lock()
	idle := p.idle
	p.idle = nil
	p.mu.Unlock()
	for _, ch := range idle {
		ch.Close()
	}
}
