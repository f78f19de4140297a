package runtime

import (
	"context"
	"encoding/json"

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
