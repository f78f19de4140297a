package runtime

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	goruntime "runtime"

	"github.com/ompdev/omp/plugins/sdk"
)

// errTimedOut is the cause of a context that Timeout ended.
var errTimedOut = errors.New("attempt timed out")

// Timeout bounds an attempt by its task's timeout option and deadline: it
// cancels the handler's ctx when either passes and turns the outcome into
// the error "timed out after D".
func Timeout(next Handler) Handler {
	return func(ctx context.Context, m *TaskMessage, e sdk.Emitter) (json.RawMessage, error) {
		d := m.Options.Timeout
		if d <= 0 && m.Deadline.IsZero() {
			return next(ctx, m, e)
		}
		var cancel context.CancelFunc
		if d > 0 {
			ctx, cancel = context.WithTimeoutCause(ctx, d.std(), errTimedOut)
			defer cancel()
		}
		if !m.Deadline.IsZero() {
			ctx, cancel = context.WithDeadlineCause(ctx, m.Deadline, errTimedOut)
			defer cancel()
		}
		res, err := next(ctx, m, e)
		if err != nil && errors.Is(context.Cause(ctx), errTimedOut) {
			if d > 0 {
				return nil, fmt.Errorf("timed out after %s", d.std())
			}
			return nil, fmt.Errorf("deadline %s passed", m.Deadline.Format("15:04:05.000"))
		}
		return res, err
	}
}

// Recover turns a panic in the handler into the attempt's error, so a bug in
// an in-process executor fails one task instead of the worker.
func Recover(next Handler) Handler {
	return func(ctx context.Context, m *TaskMessage, e sdk.Emitter) (res json.RawMessage, err error) {
		defer func() {
			if r := recover(); r != nil {
				buf := make([]byte, 4096)
				buf = buf[:goruntime.Stack(buf, false)]
				e.Log(string(buf))
				res, err = nil, fmt.Errorf("panic: %v", r)
			}
		}()
		return next(ctx, m, e)
	}
}
