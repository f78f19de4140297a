package runtime

import (
	"context"
	"errors"
)

// Worker consumes the task messages of its labels and runs them through its
// Executor, reporting on each task's event topic.
type Worker struct {
	cfg WorkerConfig
}

// NewWorker returns a worker; it does nothing until Serve.
func NewWorker(cfg WorkerConfig) (*Worker, error) {
	cfg.setDefaults()
	if err := cfg.Validate(); err != nil {
		return nil, err
	}
	return &Worker{cfg: cfg}, nil
}

// Name is the worker's name, as events and reports show it.
func (w *Worker) Name() string { return w.cfg.Name }

// Serve takes and runs tasks until ctx is done. Then it stops taking tasks,
// lets the running ones finish within GracePeriod (past it, cancels them and
// releases them to their runners), announces that it stops, and returns nil.
// It returns an error only when it cannot subscribe to the bus.
func (w *Worker) Serve(ctx context.Context) error {
	return errors.New("runtime: Worker.Serve: not implemented yet")
}
