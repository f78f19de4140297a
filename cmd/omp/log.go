package main

import (
	"context"
	"fmt"
	"io"
	"log/slog"
	"strings"
	"sync"
	"time"

	"github.com/spf13/cobra"
)

// logOptions are the flags of a long-running command's log (omp worker and
// omp serve): records on stderr as key=value text for a person, or
// as one JSON object a line for a log system to index.
type logOptions struct {
	format string
	level  string
}

func addLogFlags(cmd *cobra.Command, o *logOptions) {
	cmd.Flags().StringVar(&o.format, "log-format", "text", "how log records are written to stderr: text (key=value) or json (one object a line)")
	cmd.Flags().StringVar(&o.level, "log-level", "info", "the least level logged: debug, info, warn or error")
}

// logger returns the logger the flags ask for, writing to w; a bad flag
// value is a usage error.
func (o logOptions) logger(w io.Writer) (*slog.Logger, error) {
	var level slog.Level
	if err := level.UnmarshalText([]byte(o.level)); err != nil {
		return nil, withCode(ExitUsage, fmt.Errorf("--log-level must be debug, info, warn or error, not %q", o.level))
	}
	ho := &slog.HandlerOptions{Level: level}
	switch o.format {
	case "text":
		return slog.New(slog.NewTextHandler(w, ho)), nil
	case "json":
		return slog.New(slog.NewJSONHandler(w, ho)), nil
	}
	return nil, withCode(ExitUsage, fmt.Errorf("--log-format must be text or json, not %q", o.format))
}

// personLogger is the log of a command a person runs and watches (omp run,
// omp plugins): key=value text on w, at Info and above, without the time,
// which the reader has in front of them.
func personLogger(w io.Writer) *slog.Logger {
	return slog.New(slog.NewTextHandler(w, &slog.HandlerOptions{
		ReplaceAttr: func(groups []string, a slog.Attr) slog.Attr {
			if a.Key == slog.TimeKey && len(groups) == 0 {
				return slog.Attr{}
			}
			return a
		},
	}))
}

// warnWriter turns the lines that the plugin host writes for a person
// ("omp: warning: …") into Warn records, so that a JSON log stays JSON.
type warnWriter struct{ log *slog.Logger }

func (w warnWriter) Write(p []byte) (int, error) {
	for line := range strings.Lines(string(p)) {
		line = strings.TrimSpace(line)
		line = strings.TrimPrefix(strings.TrimPrefix(line, "omp: "), "warning: ")
		if line != "" {
			w.log.Warn(line)
		}
	}
	return len(p), nil
}

// throttle passes on a warning or error at most once every period per
// message, and drops the rest: a broker that stays away would otherwise
// get a record per reconnection attempt. Records below Warn pass.
type throttle struct {
	slog.Handler
	period time.Duration
	mu     *sync.Mutex
	last   map[string]time.Time
}

func newThrottle(h slog.Handler, period time.Duration) throttle {
	return throttle{Handler: h, period: period, mu: new(sync.Mutex), last: map[string]time.Time{}}
}

func (t throttle) Handle(ctx context.Context, r slog.Record) error {
	if r.Level >= slog.LevelWarn {
		t.mu.Lock()
		last, seen := t.last[r.Message]
		if seen && r.Time.Sub(last) < t.period {
			t.mu.Unlock()
			return nil
		}
		t.last[r.Message] = r.Time
		if len(t.last) > 256 {
			// Some messages name a run: a worker that lives for months
			// forgets those it need not hold back any more.
			for msg, at := range t.last {
				if r.Time.Sub(at) >= t.period {
					delete(t.last, msg)
				}
			}
		}
		t.mu.Unlock()
	}
	return t.Handler.Handle(ctx, r)
}

func (t throttle) WithAttrs(attrs []slog.Attr) slog.Handler {
	t.Handler = t.Handler.WithAttrs(attrs)
	return t
}

func (t throttle) WithGroup(name string) slog.Handler {
	t.Handler = t.Handler.WithGroup(name)
	return t
}
