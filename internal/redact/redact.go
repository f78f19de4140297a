// Package redact hides the secrets of URL-ish text — a broker, database or
// store location — so that it can go into logs, messages and the run
// history. Its guarantee: the password part of any URL-ish text never
// survives URL, whether the text parses as a URL or not, nor does a password
// or secret query value of a parsable URL survive Secrets.Text, verbatim or
// escaped. Hiding too much is the price: text is never parsed to decide what
// may be shown.
package redact

import (
	"net/url"
	"regexp"
	"strings"
)

// Mask is what stands in place of a secret.
const Mask = "xxxxx"

// URL returns raw with its credentials replaced by Mask. It works on the
// text, not on a parsed URL, so that a malformed URL (amqp//u:p@h, u:p@h,
// amqp:u:p@h, u:12/ab@h, or one that does not parse at all) is redacted as
// surely as a good one: whatever stands between the scheme (or the start)
// and the last "@" is hidden, except a user name before the first colon.
// Text without a colon before the "@" may be a token, and is hidden whole.
// The value of a query parameter whose name looks secret (password, token,
// sig...) is hidden too.
func URL(raw string) string {
	raw = secretValue.ReplaceAllString(raw, "${1}"+Mask)
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
	return raw[:start] + user + Mask + raw[at:]
}

// schemePrefix matches a URL scheme at the start of a text, with the "//"
// that should follow it.
var schemePrefix = regexp.MustCompile(`^[A-Za-z][A-Za-z0-9+.-]*:(//)?`)

// secretParam matches the name of a query parameter whose value must not be
// shown.
var secretParam = `(?i:[^=&#?]*(?:secret|password|token|sig|credential|access_?key)[^=&#?]*)`

var (
	// secretValue matches such a parameter with its value, the "?" or "&"
	// before it and its name kept in group 1.
	secretValue = regexp.MustCompile(`([?&;]` + secretParam + `=)[^&;#]*`)
	secretName  = regexp.MustCompile(`^` + secretParam + `$`)
)

// Secrets are the secrets of one URL, to be scrubbed from text that a
// library produced from it: a driver may quote the URL, or its password,
// verbatim or escaped.
type Secrets struct{ list []string }

// Of returns the password and secret-looking query values of rawURL, in
// every form they may be quoted; none if it does not parse (URL then hides
// more than Secrets could).
func Of(rawURL string) Secrets {
	var s Secrets
	u, err := url.Parse(rawURL)
	if err != nil {
		return s
	}
	add := func(v string) {
		if v == "" {
			return
		}
		s.list = append(s.list, v)
		for _, e := range []string{url.QueryEscape(v), url.PathEscape(v)} {
			if e != v {
				s.list = append(s.list, e)
			}
		}
	}
	if p, ok := u.User.Password(); ok {
		add(p)
	}
	for k, vs := range u.Query() {
		if secretName.MatchString(k) {
			for _, v := range vs {
				add(v)
			}
		}
	}
	return s
}

// None reports whether there is no secret to scrub.
func (s Secrets) None() bool { return len(s.list) == 0 }

// Text returns text with every secret replaced by Mask.
func (s Secrets) Text(text string) string {
	for _, p := range s.list {
		text = strings.ReplaceAll(text, p, Mask)
	}
	return text
}

// Error returns err with every secret scrubbed from its text; errors.Is and
// errors.As still see the original.
func (s Secrets) Error(err error) error {
	if err == nil {
		return nil
	}
	msg := err.Error()
	if t := s.Text(msg); t != msg {
		return &redacted{msg: t, err: err}
	}
	return err
}

type redacted struct {
	msg string
	err error
}

func (e *redacted) Error() string { return e.msg }
func (e *redacted) Unwrap() error { return e.err }
