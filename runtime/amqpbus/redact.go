package amqpbus

import (
	"net/url"
	"strings"
)

// RedactURL returns rawURL with the password replaced by "xxxxx", so that a
// broker URL can appear in logs and error messages. A URL that does not
// parse is replaced whole: it may still hold a password.
func RedactURL(rawURL string) string {
	u, err := url.Parse(rawURL)
	if err != nil {
		return "<unparsable broker URL>"
	}
	return u.Redacted()
}

// HostPort returns the host:port a broker URL names, with the scheme's
// default port when the URL names none.
func HostPort(rawURL string) string {
	u, err := url.Parse(rawURL)
	if err != nil {
		return "<unparsable broker URL>"
	}
	if u.Port() != "" {
		return u.Host
	}
	port := "5672"
	if u.Scheme == "amqps" {
		port = "5671"
	}
	host := u.Hostname()
	if host == "" {
		host = "localhost"
	}
	if strings.Contains(host, ":") {
		host = "[" + host + "]"
	}
	return host + ":" + port
}

// redactor scrubs a broker's password from text that a library produced
// (amqp091-go quotes the URL in some errors).
type redactor struct{ secrets []string }

func newRedactor(rawURL string) redactor {
	var r redactor
	u, err := url.Parse(rawURL)
	if err != nil {
		return r
	}
	if p, ok := u.User.Password(); ok && p != "" {
		r.secrets = append(r.secrets, p)
		if e := url.QueryEscape(p); e != p {
			r.secrets = append(r.secrets, e)
		}
		if e := url.PathEscape(p); e != p {
			r.secrets = append(r.secrets, e)
		}
	}
	return r
}

func (r redactor) string(s string) string {
	for _, p := range r.secrets {
		s = strings.ReplaceAll(s, p, "xxxxx")
	}
	return s
}

// err returns err with every secret scrubbed from its text; errors.Is and
// errors.As still see the original.
func (r redactor) err(err error) error {
	if err == nil {
		return nil
	}
	s := err.Error()
	if t := r.string(s); t != s {
		return &redactedError{msg: t, err: err}
	}
	return err
}

type redactedError struct {
	msg string
	err error
}

func (e *redactedError) Error() string { return e.msg }
func (e *redactedError) Unwrap() error { return e.err }
