package runtime

import (
	"container/heap"
	"time"
)

// backoff is the wait before attempt+1: base doubled per failed attempt,
// capped.
func backoff(base time.Duration, attempt int, limit time.Duration) time.Duration {
	if base <= 0 {
		return 0
	}
	d := base
	for i := 1; i < attempt && d < limit; i++ {
		d *= 2
	}
	return min(d, limit)
}

func (s *scheduler) fireRetries(now time.Time) {
	for len(s.retries) > 0 && !s.retries[0].due.After(now) {
		e := heap.Pop(&s.retries).(retryEntry)
		t := e.t
		if t.rep.State != Retry || t.attempt != e.attempt || s.stopping {
			continue
		}
		t.attempt++
		t.dispatch = 0
		t.rep.Attempts = t.attempt
		s.setState(t, Pending)
		s.publish(t, now)
	}
}

type retryEntry struct {
	due     time.Time
	t       *task
	attempt int
}

// retryHeap orders pending retries by due time, so one timer serves all.
type retryHeap []retryEntry

func (h retryHeap) Len() int           { return len(h) }
func (h retryHeap) Less(i, j int) bool { return h[i].due.Before(h[j].due) }
func (h retryHeap) Swap(i, j int)      { h[i], h[j] = h[j], h[i] }
func (h *retryHeap) Push(x any)        { *h = append(*h, x.(retryEntry)) }
func (h *retryHeap) Pop() any {
	old := *h
	e := old[len(old)-1]
	*h = old[:len(old)-1]
	return e
}
