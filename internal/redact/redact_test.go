package redact_test

import (
	"errors"
	"fmt"
	"testing"

	"github.com/ompdev/omp/internal/redact"
)

func TestURL(t *testing.T) {
	tests := []struct{ name, in, want string }{
		{"password", "amqp://guest:s3cret@rabbit:5672/", "amqp://guest:xxxxx@rabbit:5672/"},
		{"tls and vhost", "amqps://omp:p%40ss@mq.example.com/prod", "amqps://omp:xxxxx@mq.example.com/prod"},
		{"user only, maybe a token", "amqp://guest@rabbit/", "amqp://xxxxx@rabbit/"},
		{"no credentials", "amqp://127.0.0.1:5672/", "amqp://127.0.0.1:5672/"},
		{"unparsable", "amqp://u:p@[::1/%zz", "amqp://u:xxxxx@[::1/%zz"},
		{"slash in password", "amqp://u:12/ab@rabbit/", "amqp://u:xxxxx@rabbit/"},
		{"@ in password", "amqp://u:p@ss@rabbit/", "amqp://u:xxxxx@rabbit/"},
		{"no colon after scheme", "amqp//guest:Secret9@127.0.0.1:5672/", "amqp//guest:xxxxx@127.0.0.1:5672/"},
		{"no scheme", "guest:Secret9@127.0.0.1:5672/", "guest:xxxxx@127.0.0.1:5672/"},
		{"no slashes", "amqp:guest:Secret9@127.0.0.1", "amqp:guest:xxxxx@127.0.0.1"},
		{"password only", ":Secret9@rabbit", ":xxxxx@rabbit"},
		{"scheme-like password", "amqp://u:x://Secret9@rabbit", "amqp://u:xxxxx@rabbit"},
		{"empty", "", ""},
		{"sqlite file", "sqlite:/tmp/omp.db", "sqlite:/tmp/omp.db"},
		{"database", "postgres://ann:s3cret@db.example:5432/omp", "postgres://ann:xxxxx@db.example:5432/omp"},
		{"database user only", "postgres://ann@db.example/omp", "postgres://xxxxx@db.example/omp"},
		{"password parameter", "postgresql://db.example/omp?user=ann&password=s3cret", "postgresql://db.example/omp?user=ann&password=xxxxx"},
		{"escaped password", "postgres://ann:s3%25cret@db/omp", "postgres://ann:xxxxx@db/omp"},
		{"unparsable database", "postgres://ann:s3cret@db:notaport/omp\x7f", "postgres://ann:xxxxx@db:notaport/omp\x7f"},
		{"secret parameters", "s3://b?region=x&AWS_ACCESS_KEY=k1&sig=s2#f", "s3://b?region=x&AWS_ACCESS_KEY=xxxxx&sig=xxxxx#f"},
		{"@ in a secret parameter", "postgres://db/omp?password=a@b", "postgres://db/omp?password=xxxxx"},
		{"both", "amqp://u:p1@h/?token=p2", "amqp://u:xxxxx@h/?token=xxxxx"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			if got := redact.URL(tc.in); got != tc.want {
				t.Errorf("URL(%q) = %q, want %q", tc.in, got, tc.want)
			}
		})
	}
}

func TestSecrets(t *testing.T) {
	tests := []struct{ name, url, text, want string }{
		{"verbatim and escaped", "amqp://guest:s3cr%2Ft@rabbit/",
			"dial amqp://guest:s3cr/t@rabbit/ and amqp://guest:s3cr%2Ft@rabbit/",
			"dial amqp://guest:xxxxx@rabbit/ and amqp://guest:xxxxx@rabbit/"},
		{"password parameter", "postgres://db/omp?user=ann&password=pw9",
			`password authentication failed ("pw9")`, `password authentication failed ("xxxxx")`},
		{"no secret here", "amqp://guest:s3cret@rabbit/", "no secret here", "no secret here"},
		{"no password", "amqp://guest@rabbit/", "guest@rabbit", "guest@rabbit"},
		{"unparsable: nothing known", "amqp://u:p@[::1/%zz", "p", "p"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			if got := redact.Of(tc.url).Text(tc.text); got != tc.want {
				t.Errorf("Of(%q).Text(%q) = %q, want %q", tc.url, tc.text, got, tc.want)
			}
		})
	}
}

func TestSecretsError(t *testing.T) {
	s := redact.Of("amqp://guest:s3cr%2Ft@rabbit/")
	base := errors.New("boom")
	err := s.Error(fmt.Errorf("dial amqp://guest:s3cr/t@rabbit/: %w", base))
	if want := "dial amqp://guest:xxxxx@rabbit/: boom"; err.Error() != want {
		t.Errorf("got %q, want %q", err.Error(), want)
	}
	if !errors.Is(err, base) {
		t.Error("the redacted error no longer wraps the original")
	}
	if clean := errors.New("refused"); s.Error(clean) != clean {
		t.Error("an error without a secret is not returned as it is")
	}
	if s.Error(nil) != nil {
		t.Error("Error(nil) is not nil")
	}
}
