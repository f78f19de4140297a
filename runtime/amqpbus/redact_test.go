package amqpbus

import (
	"errors"
	"fmt"
	"log/slog"
	"strings"
	"testing"

	"github.com/ThreeDotsLabs/watermill"

	"github.com/ompdev/omp/internal/logtest"
	"github.com/ompdev/omp/internal/redact"
)

func TestHostPort(t *testing.T) {
	tests := []struct{ in, want string }{
		{"amqp://guest:guest@127.0.0.1:5672/", "127.0.0.1:5672"},
		{"amqp://guest:guest@rabbit/", "rabbit:5672"},
		{"amqps://u:p@mq.example.com/v", "mq.example.com:5671"},
		{"amqp://[::1]/", "[::1]:5672"},
		{"amqp:///", "localhost:5672"},
	}
	for _, tc := range tests {
		if got := HostPort(tc.in); got != tc.want {
			t.Errorf("HostPort(%q) = %q, want %q", tc.in, got, tc.want)
		}
	}
}

func TestCheckURL(t *testing.T) {
	tests := []struct{ in, want string }{
		{"amqp://guest:guest@127.0.0.1:5672/", ""},
		{"amqps://u:p@mq.example.com/v", ""},
		{"AMQP://u:p@mq.example.com:65535/v", ""},
		{"http://u:s3cret@mq/", `invalid broker URL "http://u:xxxxx@mq/": want amqp:// or amqps://`},
		{"amqp://", `invalid broker URL "amqp://": no host`},
		{"rabbit:5672", `invalid broker URL "rabbit:5672": missing amqp:// or amqps://`},
		{"amqp://u:s3cret@[::1/%zz", `invalid broker URL "amqp://u:xxxxx@[::1/%zz": cannot parse it`},
		{"amqp://u:s3c/ret@rabbit/", `invalid broker URL "amqp://u:xxxxx@rabbit/": cannot parse it`},
		{"amqp://u:12/ret@rabbit/", `invalid broker URL "amqp://u:xxxxx@rabbit/": "@" after the host (write / in a password as %2F)`},
		{"amqp//guest:Secret9@127.0.0.1:5672/", `invalid broker URL "amqp//guest:xxxxx@127.0.0.1:5672/": missing amqp:// or amqps://`},
		{"guest:Secret9@127.0.0.1:5672/", `invalid broker URL "guest:xxxxx@127.0.0.1:5672/": missing amqp:// or amqps://`},
		{"amqp:guest:Secret9@127.0.0.1", `invalid broker URL "amqp:guest:xxxxx@127.0.0.1": missing amqp:// or amqps://`},
		{"amqp://guest:Secret9@127.0.0.1:99999/", `invalid broker URL "amqp://guest:xxxxx@127.0.0.1:99999/": port 99999 is out of range (1 to 65535)`},
		{"amqp://guest:Secret9@127.0.0.1:0/", `invalid broker URL "amqp://guest:xxxxx@127.0.0.1:0/": port 0 is out of range (1 to 65535)`},
	}
	for _, tc := range tests {
		err := CheckURL(tc.in)
		got := ""
		if err != nil {
			got = err.Error()
		}
		if got != tc.want {
			t.Errorf("CheckURL(%q) = %q, want %q", tc.in, got, tc.want)
		}
	}
}

// TestWatermillLoggerRedacts: whatever Watermill or the bus logs reaches
// the Logger without the password, in the message, fields, errors and
// attributes given through With; chatter comes out at Debug.
func TestWatermillLoggerRedacts(t *testing.T) {
	const url = "amqp://guest:s3cr%2Ft@rabbit/"
	rec, log := logtest.New()
	l := watermillLogger(log, redact.Of(url)).With(watermill.LogFields{"amqp_uri": url})
	l.Error("dial amqp://guest:s3cr/t@rabbit/ failed", fmt.Errorf("dial %s: %w", url, errors.New("refused")), watermill.LogFields{
		"uri": url, "n": 3, "addr": struct{ URL string }{url},
	})
	l.Info("Starting consuming", nil)
	l.Error("no error", nil, nil)

	got := rec.Records()
	if len(got) != 3 {
		t.Fatalf("%d records, want 3:\n%s", len(got), rec.Dump())
	}
	if dump := rec.Dump(); strings.Contains(dump, "s3cr") {
		t.Errorf("the password is in the records:\n%s", dump)
	}
	for i, want := range []struct {
		level slog.Level
		msg   string
		kv    []any
	}{
		{slog.LevelError, "dial amqp://guest:xxxxx@rabbit/ failed", []any{
			"amqp_uri", "amqp://guest:xxxxx@rabbit/", "uri", "amqp://guest:xxxxx@rabbit/", "n", 3,
			"error", "dial amqp://guest:xxxxx@rabbit/: refused", "addr", "{amqp://guest:xxxxx@rabbit/}",
		}},
		{slog.LevelDebug, "Starting consuming", nil},
		{slog.LevelError, "no error", nil},
	} {
		r := got[i]
		if r.Level != want.level || r.Message != want.msg || !r.Has(want.kv...) {
			t.Errorf("record %d: %s, want %s %q with %v", i, r, want.level, want.msg, want.kv)
		}
	}
	if _, ok := got[2].Attrs["error"]; ok {
		t.Errorf("a nil error is logged: %s", got[2])
	}
}
