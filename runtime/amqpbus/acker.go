package amqpbus

import (
	"sync"

	amqp "github.com/rabbitmq/amqp091-go"
)

// acker acknowledges the deliveries of one task channel in batches: the acks
// requested while a batch is on its way are sent together, as one
// multiple=true ack for those below the oldest delivery still unsettled and
// one ack each for the rest. On a quorum queue every ack is an entry in the
// queue's log, so a batch saves the broker as much work as the worker.
//
// Deliveries are settled exactly once: by ack (through the acker), or by the
// caller's own Nack or Ack of the delivery, which it reports with settled
// after sending it. A multiple ack never covers a delivery that is still
// unsettled, so a message nobody acked is never acked by accident.
type acker struct {
	ch *amqp.Channel
	// onErr is told of an ack the channel refused; the broker then
	// delivers those messages again.
	onErr func(error)

	mu sync.Mutex
	// order are the delivery tags in the order of delivery (increasing),
	// order[head:] those not yet known settled by all before them.
	order []uint64
	head  int
	state map[uint64]ackState
	// queued is true while a flush is scheduled.
	queued bool
}

type ackState uint8

const (
	unsettled ackState = iota
	ackWanted          // ack requested, not yet sent
	settled            // acked, nacked or put back
)

func newAcker(ch *amqp.Channel, onErr func(error)) *acker {
	return &acker{ch: ch, onErr: onErr, state: map[uint64]ackState{}}
}

// delivered records a delivery; call it in the order of delivery, before
// the delivery can be settled.
func (a *acker) delivered(tag uint64) {
	a.mu.Lock()
	a.order = append(a.order, tag)
	a.state[tag] = unsettled
	a.mu.Unlock()
}

// ack asks for the delivery's ack, which is sent soon, together with those
// asked for meanwhile.
func (a *acker) ack(tag uint64) {
	a.mu.Lock()
	a.state[tag] = ackWanted
	if a.queued {
		a.mu.Unlock()
		return
	}
	a.queued = true
	a.mu.Unlock()
	go a.flush()
}

// settled records a delivery the caller nacked or acked itself; call it
// after the Nack or Ack was sent.
func (a *acker) settled(tag uint64) {
	a.mu.Lock()
	if _, ok := a.state[tag]; ok {
		a.state[tag] = settled
	}
	a.mu.Unlock()
}

// flush sends the acks asked for. The frames go out under the lock, so that
// a multiple ack never overtakes a single one it covers.
func (a *acker) flush() {
	a.mu.Lock()
	defer a.mu.Unlock()
	a.queued = false
	var top uint64
	for a.head < len(a.order) {
		tag := a.order[a.head]
		st := a.state[tag]
		if st == unsettled {
			break
		}
		if st == ackWanted {
			top = tag
		}
		delete(a.state, tag)
		a.head++
	}
	if a.head == len(a.order) {
		a.order, a.head = a.order[:0], 0
	} else if a.head > 1024 && a.head > len(a.order)/2 {
		a.order = append(a.order[:0], a.order[a.head:]...)
		a.head = 0
	}
	if top != 0 {
		if err := a.ch.Ack(top, true); err != nil {
			a.onErr(err)
		}
	}
	// Those behind an unsettled delivery (one waiting for a slot, or
	// running unclaimed) go one by one rather than wait for it.
	for tag, st := range a.state {
		if st != ackWanted {
			continue
		}
		if err := a.ch.Ack(tag, false); err != nil {
			a.onErr(err)
		}
		a.state[tag] = settled
	}
}
