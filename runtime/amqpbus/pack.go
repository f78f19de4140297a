package amqpbus

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"strconv"

	"github.com/ThreeDotsLabs/watermill/message"
)

// A pack is one AMQP message that carries several task messages of one run
// for one queue: its body is the JSON array of their payloads and its header
// packHeader their number. Every message on a quorum queue costs RabbitMQ a
// log entry, a disk sync and a settlement, which in a large fan-out was most
// of the broker's work per task; a pack pays them once for all its tasks.
//
// A worker hands each task of a pack on as a message of its own and settles
// the pack once each task is settled: acked when all were claimed or done;
// the tasks it could not take (held past HoldLimit, or it is shutting down)
// go back to the queue as a new pack first. A pack delivered again (its
// worker died, or its channel did) is split into single task messages
// before anything of it runs, so that a task that kills its worker reaches
// the dead-letter queue alone, after MaxDeliveries deliveries of its own,
// and its pack's other tasks run. A pack that the broker dead-letters all
// the same ends each of its tasks with a FAILURE.
const packHeader = "omp-pack"

// packSize is how many task messages the publisher puts in one pack, given
// n to publish at once to one queue: a few per pack when there are few, so
// that they spread over the workers, up to max.
func packSize(n, max int) int {
	return min(max, (n+minPacks-1)/minPacks)
}

// minPacks is the least number of packs a publish of many tasks is cut
// into: a worker takes a pack whole, and one pack per worker would leave
// the other workers idle.
const minPacks = 64

// pack returns msgs in packs of at most size, in their order; a message
// that cannot go into a pack (metadata of its own, a payload that is not
// JSON) is returned as it is.
func pack(msgs []*message.Message, size int) []*message.Message {
	if size < 2 {
		return msgs
	}
	out := make([]*message.Message, 0, len(msgs)/size+1)
	var cur []*message.Message
	var run string
	cut := func() {
		switch len(cur) {
		case 0:
		case 1:
			out = append(out, cur[0])
		default:
			out = append(out, packOf(cur, run))
		}
		cur = cur[:0]
	}
	for _, m := range msgs {
		r := m.Metadata.Get(runHeader)
		if !packable(m) {
			cut()
			out = append(out, m)
			continue
		}
		if len(cur) == size || (len(cur) > 0 && r != run) {
			cut()
		}
		run = r
		cur = append(cur, m)
	}
	cut()
	return out
}

// packable tells whether m can travel in a pack: a JSON payload, and no
// metadata but its run, which the pack carries for all.
func packable(m *message.Message) bool {
	for k := range m.Metadata {
		if k != runHeader {
			return false
		}
	}
	return json.Valid(m.Payload) && len(m.Payload) > 0
}

func packOf(msgs []*message.Message, run string) *message.Message {
	n := 1
	for _, m := range msgs {
		n += len(m.Payload) + 1
	}
	body := make([]byte, 0, n)
	body = append(body, '[')
	for i, m := range msgs {
		if i > 0 {
			body = append(body, ',')
		}
		body = append(body, m.Payload...)
	}
	body = append(body, ']')
	p := message.NewMessage(msgs[0].UUID+"+"+strconv.Itoa(len(msgs)-1), body)
	p.Metadata.Set(packHeader, strconv.Itoa(len(msgs)))
	if run != "" {
		p.Metadata.Set(runHeader, run)
	}
	return p
}

// isPack tells whether msg's metadata marks it as a pack.
func isPack(md message.Metadata) bool { return md.Get(packHeader) != "" }

// unpack returns the task messages of a pack, each with the pack's
// metadata but packHeader.
func unpack(p *message.Message) ([]*message.Message, error) {
	parts, err := split(p.Payload)
	if err != nil {
		return nil, fmt.Errorf("unreadable pack of task messages: %w", err)
	}
	msgs := make([]*message.Message, len(parts))
	for i, part := range parts {
		m := message.NewMessage(p.UUID+"/"+strconv.Itoa(i), message.Payload(part))
		for k, v := range p.Metadata {
			if k != packHeader {
				m.Metadata[k] = v
			}
		}
		msgs[i] = m
	}
	return msgs, nil
}

// split returns the elements of a JSON array, as they are written, without
// checking them: each task is decoded on its own later, and one that is not
// JSON goes to the dead-letter queue alone. Decoding the array first cost a
// worker as much as the tasks' own decoding.
func split(b []byte) ([][]byte, error) {
	i := skipSpace(b, 0)
	if i == len(b) || b[i] != '[' {
		return nil, errors.New("not a JSON array")
	}
	var parts [][]byte
	depth, start, inString := 0, i+1, false
	for i++; i < len(b); i++ {
		c := b[i]
		if inString {
			switch c {
			case '\\':
				i++
			case '"':
				inString = false
			}
			continue
		}
		switch c {
		case '"':
			inString = true
		case '{', '[':
			depth++
		case '}':
			depth--
		case ']':
			if depth > 0 {
				depth--
				continue
			}
			part := bytes.TrimSpace(b[start:i])
			if len(part) == 0 {
				return nil, errors.New("empty element in the array")
			}
			if skipSpace(b, i+1) != len(b) {
				return nil, errors.New("data after the array")
			}
			return append(parts, part), nil
		case ',':
			if depth == 0 {
				part := bytes.TrimSpace(b[start:i])
				if len(part) == 0 {
					return nil, errors.New("empty element in the array")
				}
				parts = append(parts, part)
				start = i + 1
			}
		}
		if depth < 0 {
			return nil, errors.New("unbalanced brackets")
		}
	}
	return nil, errors.New("unterminated array")
}

func skipSpace(b []byte, i int) int {
	for i < len(b) && (b[i] == ' ' || b[i] == '\t' || b[i] == '\n' || b[i] == '\r') {
		i++
	}
	return i
}
