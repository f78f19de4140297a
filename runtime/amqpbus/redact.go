package amqpbus

import (
	"net/url"
	"regexp"
	"strings"
)

// RedactURL returns broker text with its credentials replaced by "xxxxx",
// so that it can appear in logs and error messages. It works on the text,
// not on a parsed URL, so that a malformed URL (amqp//u:p@h, u:p@h,
// amqp:u:p@h, or one that does not parse at all) is redacted as surely as a
// good one: whatever stands between the scheme (or the start) and the last
// "@" is hidden, except a user name before the first colon. Text without a
// colon before the "@" may be a token, and is hidden whole.
func RedactURL(raw string) string {
	at := strings.LastIndex(raw, "@")
	if at < 0 {
		return raw
	}
	start := 0
	if m := schemePrefix.FindStringIndex(raw[:at]); m != nil {
		start = m[1]
	}
	user, _, ok := strings.Cut(raw[start:at], ":")
	if !ok {
		user = ""
	} else {
		user += ":"
	}
	return raw[:start] + user + "xxxxx" + raw[at:]
}

// schemePrefix matches a URL scheme at the start of a text, with the "//"
// that should follow it.
var schemePrefix = regexp.MustCompile(`^[A-Za-z][A-Za-z0-9+.-]*:(//)?`)

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
