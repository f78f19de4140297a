package runtime

import (
	"context"
	"encoding/json"
	"fmt"

	"github.com/ompdev/omp/plugins/sdk"
)

// Executor runs one attempt of a task. The plugin host (*host.Host)
// implements it by calling the task's kind in a plugin process; KindExecutor
// runs kinds in this process.
//
// Run is called concurrently for different tasks. It must return soon after
// ctx is done. An error marked with sdk.Permanent is not retried.
type Executor interface {
	Run(ctx context.Context, t sdk.Task, e sdk.Emitter) (json.RawMessage, error)
}

// Handler runs one task message on a worker; Middleware wraps it with
// cross-cutting behaviour (timeouts, panic recovery) so that the worker's
// loop stays a loop.
type Handler func(ctx context.Context, m *TaskMessage, e sdk.Emitter) (json.RawMessage, error)

// Middleware decorates a Handler.
type Middleware func(Handler) Handler

// KindExecutor returns an Executor that runs the given kinds in this
// process, by name and alias. It suits kinds without a process of their own
// (tests, tools embedding omp) and measures the runtime without plugin calls;
// the CLI runs kinds as plugins instead.
func KindExecutor(kinds ...sdk.Kind) Executor {
	x := kindExecutor{}
	for _, k := range kinds {
		spec := k.Describe()
		x[spec.Name] = k
		for _, a := range spec.Aliases {
			x[a] = k
		}
	}
	return x
}

type kindExecutor map[string]sdk.Kind

func (x kindExecutor) Run(ctx context.Context, t sdk.Task, e sdk.Emitter) (json.RawMessage, error) {
	k, ok := x[t.Kind]
	if !ok {
		return nil, sdk.Permanent(fmt.Errorf("no kind %q in this executor", t.Kind))
	}
	v, err := k.Run(ctx, t, e)
	if err != nil {
		return nil, err
	}
	switch v := v.(type) {
	case nil:
		return json.RawMessage("null"), nil
	case json.RawMessage:
		return v, nil
	default:
		b, err := json.Marshal(v)
		if err != nil {
			return nil, sdk.Permanent(fmt.Errorf("%s %s: result: %w", t.Kind, t.Name, err))
		}
		return b, nil
	}
}
