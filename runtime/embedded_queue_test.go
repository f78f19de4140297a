package runtime

import (
	"strconv"
	"testing"

	"github.com/ThreeDotsLabs/watermill/message"
)

// TestQueueOrder: a queue gives its messages first in, first out, however
// pushes, pops and put-backs interleave, and one that is never empty keeps
// to the size of what it holds.
func TestQueueOrder(t *testing.T) {
	q := newQueue()
	var want []string
	n := 0
	push := func() {
		id := strconv.Itoa(n)
		n++
		q.push(message.NewMessage(id, nil))
		want = append(want, id)
	}
	pop := func() *message.Message {
		t.Helper()
		m, ok := q.pop()
		if !ok {
			t.Fatal("queue empty")
		}
		if m.UUID != want[0] {
			t.Fatalf("got %s, want %s", m.UUID, want[0])
		}
		want = want[1:]
		return m
	}
	for range 10 {
		push()
	}
	for i := range 10000 {
		push()
		m := pop()
		if i%7 == 0 {
			q.pushFront(m)
			want = append([]string{m.UUID}, want...)
			pop()
		}
	}
	if len(q.msgs) > 40 {
		t.Errorf("queue of %d messages holds a slice of %d", len(want), len(q.msgs))
	}
	for len(want) > 0 {
		pop()
	}
	if _, ok := q.pop(); ok {
		t.Fatal("queue not empty")
	}
}
