// Package logtest collects the records of a log/slog logger, so that a test
// asserts on a record's message and attributes rather than on the text of a
// log line. Every record logged through a Recorder's logger, from any
// goroutine, is in its Records once the logging call returns.
package logtest

import (
	"context"
	"fmt"
	"log/slog"
	"slices"
	"strings"
	"sync"
	"time"
)

// Record is one collected record with its attributes, groups flattened to
// dotted keys ("a.b") and values resolved.
type Record struct {
	Time    time.Time
	Level   slog.Level
	Message string
	Attrs   map[string]slog.Value
}

// Attr returns the attribute key as a string ("" if it is missing).
func (r Record) Attr(key string) string {
	v, ok := r.Attrs[key]
	if !ok {
		return ""
	}
	return v.String()
}

// Has reports whether r has every attribute of kv (key, value, key,
// value...), each compared by its string form.
func (r Record) Has(kv ...any) bool {
	for i := 0; i+1 < len(kv); i += 2 {
		v, ok := r.Attrs[fmt.Sprint(kv[i])]
		if !ok || v.String() != fmt.Sprint(kv[i+1]) {
			return false
		}
	}
	return true
}

func (r Record) String() string {
	keys := make([]string, 0, len(r.Attrs))
	for k := range r.Attrs {
		keys = append(keys, k)
	}
	slices.Sort(keys)
	var b strings.Builder
	fmt.Fprintf(&b, "%s %q", r.Level, r.Message)
	for _, k := range keys {
		fmt.Fprintf(&b, " %s=%q", k, r.Attrs[k].String())
	}
	return b.String()
}

// Recorder is a slog.Handler that keeps every record at or above Level.
type Recorder struct {
	Level slog.Level

	mu      *sync.Mutex
	records *[]Record
	attrs   []slog.Attr
	group   string
}

// New returns a Recorder of every level and a logger that writes to it.
func New() (*Recorder, *slog.Logger) {
	r := &Recorder{Level: slog.LevelDebug - 8, mu: new(sync.Mutex), records: new([]Record)}
	return r, slog.New(r)
}

// Records returns the records so far, oldest first.
func (h *Recorder) Records() []Record {
	h.mu.Lock()
	defer h.mu.Unlock()
	return slices.Clone(*h.records)
}

// Find returns the records with message msg and the attributes kv, as
// Record.Has takes them.
func (h *Recorder) Find(msg string, kv ...any) []Record {
	var out []Record
	for _, r := range h.Records() {
		if r.Message == msg && r.Has(kv...) {
			out = append(out, r)
		}
	}
	return out
}

// Dump is every record, one a line, for a failing test's message.
func (h *Recorder) Dump() string {
	var b strings.Builder
	for _, r := range h.Records() {
		b.WriteString(r.String())
		b.WriteByte('\n')
	}
	return b.String()
}

func (h *Recorder) Enabled(_ context.Context, l slog.Level) bool { return l >= h.Level }

func (h *Recorder) Handle(_ context.Context, r slog.Record) error {
	rec := Record{Time: r.Time, Level: r.Level, Message: r.Message, Attrs: map[string]slog.Value{}}
	for _, a := range h.attrs {
		add(rec.Attrs, "", a)
	}
	prefix := ""
	if h.group != "" {
		prefix = h.group + "."
	}
	r.Attrs(func(a slog.Attr) bool {
		add(rec.Attrs, prefix, a)
		return true
	})
	h.mu.Lock()
	*h.records = append(*h.records, rec)
	h.mu.Unlock()
	return nil
}

func add(m map[string]slog.Value, prefix string, a slog.Attr) {
	v := a.Value.Resolve()
	if v.Kind() == slog.KindGroup {
		p := prefix
		if a.Key != "" {
			p += a.Key + "."
		}
		for _, g := range v.Group() {
			add(m, p, g)
		}
		return
	}
	if a.Key != "" {
		m[prefix+a.Key] = v
	}
}

func (h *Recorder) WithAttrs(attrs []slog.Attr) slog.Handler {
	c := *h
	prefix := ""
	if h.group != "" {
		prefix = h.group
	}
	c.attrs = slices.Clip(h.attrs)
	for _, a := range attrs {
		if prefix != "" {
			a = slog.Group(prefix, a)
		}
		c.attrs = append(c.attrs, a)
	}
	return &c
}

func (h *Recorder) WithGroup(name string) slog.Handler {
	if name == "" {
		return h
	}
	c := *h
	if c.group != "" {
		c.group += "."
	}
	c.group += name
	return &c
}
