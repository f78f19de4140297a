package sdk

import (
	"encoding/json"
	"errors"
	"fmt"
	"strings"
)

// Arg decodes the i-th positional argument (0-based) into v, as
// json.Unmarshal does.
func (t Task) Arg(i int, v any) error {
	if i < 0 || i >= len(t.Args) {
		return Permanent(fmt.Errorf("%s %s: argument %d missing (have %d)", t.Kind, t.Name, i+1, len(t.Args)))
	}
	if err := json.Unmarshal(t.Args[i], v); err != nil {
		return Permanent(fmt.Errorf("%s %s: argument %d: %w", t.Kind, t.Name, i+1, err))
	}
	return nil
}

// Kwarg decodes the keyword argument name into v. It reports whether the
// argument was given; v is left alone when it was not.
func (t Task) Kwarg(name string, v any) (bool, error) {
	raw, ok := t.Kwargs[name]
	if !ok {
		return false, nil
	}
	if err := json.Unmarshal(raw, v); err != nil {
		return true, Permanent(fmt.Errorf("%s %s: argument %s: %w", t.Kind, t.Name, name, err))
	}
	return true, nil
}

// DecodeInput decodes the upstream result into v, as json.Unmarshal does. A
// task without input leaves v alone.
func (t Task) DecodeInput(v any) error {
	if len(t.Input) == 0 {
		return nil
	}
	if err := json.Unmarshal(t.Input, v); err != nil {
		return Permanent(fmt.Errorf("%s %s: input: %w", t.Kind, t.Name, err))
	}
	return nil
}

// permanentError marks an error that retrying cannot fix.
type permanentError struct{ err error }

func (e *permanentError) Error() string { return e.err.Error() }
func (e *permanentError) Unwrap() error { return e.err }

// Permanent marks err as one that retrying the task cannot fix (a missing
// script, a malformed argument): the runner fails the task at once instead of
// spending its retries. The mark survives the trip from a plugin process to
// the runner. Permanent(nil) is nil.
func Permanent(err error) error {
	if err == nil || IsPermanent(err) {
		return err
	}
	return &permanentError{err}
}

// IsPermanent reports whether err, or any error it wraps, was marked with
// Permanent.
func IsPermanent(err error) bool {
	var p *permanentError
	return errors.As(err, &p)
}

type infraError struct{ err error }

func (e *infraError) Error() string { return e.err.Error() }
func (e *infraError) Unwrap() error { return e.err }

// Infra marks err as a failure of the infrastructure rather than of a task:
// a plugin that cannot start, a bus that fails. The runner does not retry
// the task, and `omp run` exits 3. The mark is for the programs that run
// kinds (the plugin host, the runtime): it does not cross from a plugin
// process, so a kind's own error is never one. Infra(nil) is nil.
func Infra(err error) error {
	if err == nil || IsInfra(err) {
		return err
	}
	return &infraError{err}
}

// IsInfra reports whether err, or any error it wraps, was marked with Infra.
func IsInfra(err error) bool {
	var ie *infraError
	return errors.As(err, &ie)
}

// Expand is the object pattern r names for task t (see Read), and false
// when r's argument is absent or not a string.
func (r Read) Expand(t Task) (string, bool) {
	obj := strings.ReplaceAll(r.Object, "{name}", t.Name)
	if !strings.Contains(obj, "{}") {
		return obj, true
	}
	var raw json.RawMessage
	switch {
	case r.Arg > 0 && r.Arg <= len(t.Args):
		raw = t.Args[r.Arg-1]
	case r.Kwarg != "":
		raw = t.Kwargs[r.Kwarg]
	}
	var v string
	if len(raw) == 0 || json.Unmarshal(raw, &v) != nil || v == "" {
		return "", false
	}
	if r.Cut != "" {
		v, _, _ = strings.Cut(v, r.Cut)
	}
	return strings.ReplaceAll(obj, "{}", v), true
}
