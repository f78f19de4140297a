package amqpbus

import (
	"errors"
	"fmt"
	"testing"
)

func TestRedactURL(t *testing.T) {
	tests := []struct{ name, in, want string }{
		{"password", "amqp://guest:s3cret@rabbit:5672/", "amqp://guest:xxxxx@rabbit:5672/"},
		{"tls and vhost", "amqps://omp:p%40ss@mq.example.com/prod", "amqps://omp:xxxxx@mq.example.com/prod"},
		{"user only", "amqp://guest@rabbit/", "amqp://guest@rabbit/"},
		{"no credentials", "amqp://127.0.0.1:5672/", "amqp://127.0.0.1:5672/"},
		{"unparsable", "amqp://u:p@[::1/%zz", "<unparsable broker URL>"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			if got := RedactURL(tc.in); got != tc.want {
				t.Errorf("RedactURL(%q) = %q, want %q", tc.in, got, tc.want)
			}
		})
	}
}

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
		{"http://u:s3cret@mq/", `invalid broker URL "http://u:xxxxx@mq/": want amqp:// or amqps://`},
		{"amqp://", `invalid broker URL "amqp:": no host`},
		{"rabbit:5672", `invalid broker URL "rabbit:5672": want amqp:// or amqps://`},
		{"amqp://u:s3cret@[::1/%zz", "invalid broker URL: cannot parse it"},
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

func TestRedactorScrubsErrors(t *testing.T) {
	r := newRedactor("amqp://guest:s3cr%2Ft@rabbit/")
	base := errors.New("boom")
	err := r.err(fmt.Errorf("dial %s and %s: %w", "amqp://guest:s3cr/t@rabbit/", "amqp://guest:s3cr%2Ft@rabbit/", base))
	want := "dial amqp://guest:xxxxx@rabbit/ and amqp://guest:xxxxx@rabbit/: boom"
	if err.Error() != want {
		t.Errorf("got %q, want %q", err.Error(), want)
	}
	if !errors.Is(err, base) {
		t.Error("the redacted error no longer wraps the original")
	}
	if got := r.string("no secret here"); got != "no secret here" {
		t.Errorf("got %q", got)
	}
}
