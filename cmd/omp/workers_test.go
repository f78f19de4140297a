package main

import (
	"fmt"
	"testing"
	"time"

	"github.com/ompdev/omp/runtime"
)

func TestLiveWorkers(t *testing.T) {
	t0 := time.Date(2026, 11, 25, 9, 0, 0, 0, time.UTC)
	iv := runtime.Duration(time.Second)
	beat := func(name string, running []string, stopping bool) *runtime.Heartbeat {
		return &runtime.Heartbeat{Worker: name, Host: "h", Labels: []string{"default"}, Concurrency: 2,
			Running: running, Interval: iv, Stopping: stopping}
	}
	tests := []struct {
		name  string
		beats []*runtime.Heartbeat
		seen  []time.Duration // after t0
		now   time.Duration
		want  string
	}{
		{"latest heartbeat wins",
			[]*runtime.Heartbeat{beat("b", nil, false), beat("a", []string{"r/t1"}, false), beat("a", []string{"r/t1", "r/t2"}, false)},
			[]time.Duration{0, 0, time.Second}, 2 * time.Second,
			"[a h 2 [r/t1 r/t2] b h 2 []]"},
		{"sorted by name", []*runtime.Heartbeat{beat("z", nil, false), beat("m", nil, false)},
			[]time.Duration{0, 0}, 0, "[m h 2 [] z h 2 []]"},
		{"unseen for 3 intervals drops out",
			[]*runtime.Heartbeat{beat("old", nil, false), beat("new", nil, false)},
			[]time.Duration{0, 3 * time.Second}, 3*time.Second + time.Millisecond,
			"[new h 2 []]"},
		{"exactly 3 intervals is still alive", []*runtime.Heartbeat{beat("w", nil, false)},
			[]time.Duration{0}, 3 * time.Second, "[w h 2 []]"},
		{"a worker that said it stops is gone",
			[]*runtime.Heartbeat{beat("w", nil, false), beat("w", nil, true)},
			[]time.Duration{0, time.Second}, time.Second, "[]"},
		{"none", nil, nil, 0, "[]"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			seen := make([]time.Time, len(tc.seen))
			for i, d := range tc.seen {
				seen[i] = t0.Add(d)
			}
			live := liveWorkers(tc.beats, seen, t0.Add(tc.now))
			got := "["
			for i, w := range live {
				if i > 0 {
					got += " "
				}
				got += fmt.Sprintf("%s %s %d %v", w.Name, w.Host, w.Concurrency, w.Running)
			}
			got += "]"
			if got != tc.want {
				t.Errorf("got %s, want %s", got, tc.want)
			}
		})
	}
}
