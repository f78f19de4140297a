package amqpbus

import (
	"context"
	"fmt"
	"log/slog"

	"github.com/ThreeDotsLabs/watermill"

	"github.com/ompdev/omp/internal/redact"
)

// redactHandler scrubs the broker's password from the message and every
// attribute of the records it passes on: Watermill and amqp091-go put the
// URL in errors and fields that omp does not write itself.
type redactHandler struct {
	next slog.Handler
	r    redact.Secrets
}

func (h redactHandler) Enabled(ctx context.Context, l slog.Level) bool {
	return h.next.Enabled(ctx, l)
}

func (h redactHandler) Handle(ctx context.Context, rec slog.Record) error {
	out := slog.NewRecord(rec.Time, rec.Level, h.r.Text(rec.Message), rec.PC)
	rec.Attrs(func(a slog.Attr) bool {
		if a, ok := h.attr(a); ok {
			out.AddAttrs(a)
		}
		return true
	})
	return h.next.Handle(ctx, out)
}

func (h redactHandler) WithAttrs(attrs []slog.Attr) slog.Handler {
	red := make([]slog.Attr, 0, len(attrs))
	for _, a := range attrs {
		if a, ok := h.attr(a); ok {
			red = append(red, a)
		}
	}
	return redactHandler{next: h.next.WithAttrs(red), r: h.r}
}

func (h redactHandler) WithGroup(name string) slog.Handler {
	return redactHandler{next: h.next.WithGroup(name), r: h.r}
}

// attr returns a with its text redacted, and false for an attribute
// without a value (Watermill's slog adapter adds "error" to every Error
// record, nil or not).
func (h redactHandler) attr(a slog.Attr) (slog.Attr, bool) {
	v := a.Value.Resolve()
	switch v.Kind() {
	case slog.KindString:
		return slog.String(a.Key, h.r.Text(v.String())), true
	case slog.KindGroup:
		g := v.Group()
		red := make([]any, 0, len(g))
		for _, ga := range g {
			if ga, ok := h.attr(ga); ok {
				red = append(red, ga)
			}
		}
		return slog.Group(a.Key, red...), true
	case slog.KindAny:
		switch x := v.Any().(type) {
		case nil:
			return a, false
		case error:
			return slog.String(a.Key, h.r.Text(x.Error())), true
		default:
			if h.r.None() {
				return a, true
			}
			return slog.String(a.Key, h.r.Text(fmt.Sprint(x))), true
		}
	}
	return slog.Attr{Key: a.Key, Value: v}, true
}

// watermillLogger is what the bus and Watermill log through: l with the
// password scrubbed. Watermill's Info records are chatter about channels
// opening and closing, so they come out at Debug, as do the bus's own.
func watermillLogger(l *slog.Logger, r redact.Secrets) watermill.LoggerAdapter {
	return watermill.NewSlogLoggerWithLevelMapping(slog.New(redactHandler{next: l.Handler(), r: r}), map[slog.Level]slog.Level{
		slog.LevelInfo: slog.LevelDebug,
	})
}
