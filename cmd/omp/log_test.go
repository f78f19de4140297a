package main

import (
	"context"
	"fmt"
	"log/slog"
	"testing"
	"time"

	"github.com/ompdev/omp/internal/logtest"
)

// TestThrottle: a broker's warnings and errors pass once every period per
// message; other records and other messages pass.
func TestThrottle(t *testing.T) {
	rec, _ := logtest.New()
	h := newThrottle(rec, 30*time.Second).WithAttrs([]slog.Attr{slog.String("component", "broker")})
	t0 := time.Date(2026, 11, 30, 12, 0, 0, 0, time.UTC)
	for _, r := range []struct {
		at    time.Duration
		level slog.Level
		msg   string
	}{
		{0, slog.LevelError, "Cannot consume, retrying"},
		{time.Second, slog.LevelError, "Cannot consume, retrying"},      // dropped
		{2 * time.Second, slog.LevelError, "Cannot subscribe again"},    // another message
		{3 * time.Second, slog.LevelDebug, "Subscribed again"},          // below Warn
		{4 * time.Second, slog.LevelDebug, "Subscribed again"},          // below Warn
		{29 * time.Second, slog.LevelWarn, "Cannot consume, retrying"},  // dropped
		{30 * time.Second, slog.LevelError, "Cannot consume, retrying"}, // a period on
	} {
		if err := h.Handle(context.Background(), slog.NewRecord(t0.Add(r.at), r.level, r.msg, 0)); err != nil {
			t.Fatal(err)
		}
	}
	want := []string{"Cannot consume, retrying", "Cannot subscribe again", "Subscribed again", "Subscribed again", "Cannot consume, retrying"}
	got := rec.Records()
	if len(got) != len(want) {
		t.Fatalf("%d records, want %d:\n%s", len(got), len(want), rec.Dump())
	}
	for i, r := range got {
		if r.Message != want[i] || r.Attr("component") != "broker" {
			t.Errorf("record %d: %s, want %q with component=broker", i, r, want[i])
		}
	}
}

// TestWarnWriter: the host's warnings to a person become Warn records.
func TestWarnWriter(t *testing.T) {
	rec, log := logtest.New()
	w := warnWriter{log}
	w.Write([]byte("omp: warning: ignoring plugin /p/omp-kind-echo: echo is a built-in kind, and the built-in one is used\n\nomp: warning: second\n"))
	got := rec.Records()
	if len(got) != 2 || got[0].Level != slog.LevelWarn ||
		got[0].Message != "ignoring plugin /p/omp-kind-echo: echo is a built-in kind, and the built-in one is used" || got[1].Message != "second" {
		t.Errorf("records:\n%s", rec.Dump())
	}
}

// TestThrottleForgets: the throttle keeps no message for ever, since some
// name a run and a worker lives for months.
func TestThrottleForgets(t *testing.T) {
	rec, _ := logtest.New()
	h := newThrottle(rec, 30*time.Second)
	t0 := time.Date(2026, 11, 30, 12, 0, 0, 0, time.UTC)
	for i := range 10000 {
		msg := fmt.Sprintf("Dropping the tasks of run r%d: its runner is gone", i)
		h.Handle(context.Background(), slog.NewRecord(t0.Add(time.Duration(i)*time.Second), slog.LevelError, msg, 0))
	}
	if n := len(h.last); n > 300 {
		t.Errorf("the throttle holds %d messages, want at most about 256", n)
	}
	if n := len(rec.Records()); n != 10000 {
		t.Errorf("%d records passed, want all 10000 (each message once)", n)
	}
}
