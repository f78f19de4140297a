// Package echo is the built-in kind `echo`: `echo NAME(v)` returns v and
// `echo NAME()` returns its input. It exists for tests, examples and
// benchmarks, so it also takes keyword arguments that make it slow, chatty or
// failing on purpose:
//
//	sleep="250ms"     wait that long first (returns early, with the context's error, when cancelled)
//	log="text"        emit text as a log line
//	fail="message"    fail with message
//	fail_attempts=N   fail attempts 1..N with "attempt N failed", then succeed (for retry tests)
//	permanent=true    make the failure permanent (not retried)
package echo

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/ompdev/omp/plugins/sdk"
)

// Kind is the echo kind.
type Kind struct{}

var _ sdk.Kind = Kind{}

func (Kind) Describe() sdk.KindSpec {
	return sdk.KindSpec{
		Name:        "echo",
		Description: "returns its argument, or its input when called without one",
		Actions: []sdk.ActionSpec{{
			Name:    "run",
			MinArgs: 0,
			MaxArgs: 1,
			Args:    []string{"value"},
			Kwargs:  []string{"sleep", "log", "fail", "fail_attempts", "permanent"},
			Doc:     "return value, or the input when no value is given",
		}},
	}
}

func (Kind) Run(ctx context.Context, t sdk.Task, e sdk.Emitter) (any, error) {
	if t.Action != "run" && t.Action != "" {
		return nil, sdk.Permanent(fmt.Errorf("echo has no action %q", t.Action))
	}
	var sleep string
	if ok, err := t.Kwarg("sleep", &sleep); err != nil {
		return nil, err
	} else if ok {
		d, err := time.ParseDuration(sleep)
		if err != nil {
			return nil, sdk.Permanent(fmt.Errorf("echo %s: sleep: %w", t.Name, err))
		}
		timer := time.NewTimer(d)
		select {
		case <-ctx.Done():
			timer.Stop()
			return nil, ctx.Err()
		case <-timer.C:
		}
	}
	var line string
	if ok, err := t.Kwarg("log", &line); err != nil {
		return nil, err
	} else if ok {
		e.Log(line)
	}
	var permanent bool
	if _, err := t.Kwarg("permanent", &permanent); err != nil {
		return nil, err
	}
	mark := func(err error) error {
		if permanent {
			return sdk.Permanent(err)
		}
		return err
	}
	var failAttempts int
	if _, err := t.Kwarg("fail_attempts", &failAttempts); err != nil {
		return nil, err
	}
	if failAttempts > 0 && t.Attempt <= failAttempts {
		return nil, mark(fmt.Errorf("attempt %d failed", t.Attempt))
	}
	var msg string
	if ok, err := t.Kwarg("fail", &msg); err != nil {
		return nil, err
	} else if ok {
		return nil, mark(errors.New(msg))
	}
	switch len(t.Args) {
	case 0:
		if len(t.Input) == 0 {
			return nil, nil
		}
		return t.Input, nil
	case 1:
		return t.Args[0], nil
	default:
		return nil, sdk.Permanent(fmt.Errorf("echo %s: takes at most 1 argument, got %d", t.Name, len(t.Args)))
	}
}
