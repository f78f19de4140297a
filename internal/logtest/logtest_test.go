package logtest

import (
	"log/slog"
	"strings"
	"testing"
	"testing/slogtest"
)

// TestRecorder: the Recorder is a slog.Handler by the standard library's
// own conformance test, its dotted keys read back as nested groups.
func TestRecorder(t *testing.T) {
	var rec *Recorder
	slogtest.Run(t, func(*testing.T) slog.Handler {
		rec, _ = New()
		return rec
	}, func(t *testing.T) map[string]any {
		got := rec.Records()
		if len(got) != 1 {
			t.Fatalf("%d records, want 1", len(got))
		}
		r := got[0]
		m := map[string]any{slog.LevelKey: r.Level, slog.MessageKey: r.Message}
		if !r.Time.IsZero() {
			m[slog.TimeKey] = r.Time
		}
		for k, v := range r.Attrs {
			parts := strings.Split(k, ".")
			g := m
			for _, p := range parts[:len(parts)-1] {
				sub, ok := g[p].(map[string]any)
				if !ok {
					sub = map[string]any{}
					g[p] = sub
				}
				g = sub
			}
			g[parts[len(parts)-1]] = v.Any()
		}
		return m
	})
}

func TestFind(t *testing.T) {
	rec, log := New()
	log.With("worker", "w1").Info("end", "task", "a", "attempt", 2)
	log.Info("end", "task", "b", "attempt", 1)
	for _, tc := range []struct {
		kv   []any
		want int
	}{
		{nil, 2},
		{[]any{"task", "a"}, 1},
		{[]any{"task", "a", "attempt", 2, "worker", "w1"}, 1},
		{[]any{"task", "a", "attempt", 1}, 0},
		{[]any{"missing", ""}, 0},
	} {
		if got := len(rec.Find("end", tc.kv...)); got != tc.want {
			t.Errorf("Find(end, %v) = %d records, want %d", tc.kv, got, tc.want)
		}
	}
}
