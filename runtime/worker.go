package runtime

import (
	"errors"
	"fmt"
	"log/slog"
	"os"
	goruntime "runtime"
	"time"

	"github.com/ompdev/omp/compiler"
	"github.com/ompdev/omp/plugins/sdk"
)

// WorkerConfig configures a Worker. Bus and Executor are required.
type WorkerConfig struct {
	// Name identifies the worker in events and heartbeats; default
	// HOST-PID.
	Name string
	// Labels are the task labels the worker serves; default
	// [compiler.DefaultLabel]. AnyLabel serves every label (embedded bus only).
	Labels []string
	// Concurrency is how many tasks run at once; default the number of
	// CPUs.
	Concurrency int
	Bus         Bus
	Executor    Executor
	// Store overrides the store root the runner sends, for a worker whose
	// machine keeps the store elsewhere.
	Store string
	// HeartbeatInterval is how often the worker announces itself on
	// WorkersTopic; default 5s.
	HeartbeatInterval time.Duration
	// GracePeriod is how long Serve lets running tasks finish after its
	// ctx is done before it cancels them and gives them back to their
	// runners (RELEASE); default 30s.
	GracePeriod time.Duration
	// IsInfra tells an infrastructure error of the Executor (a plugin that
	// cannot start) from a task's error; such a failure is not retried and
	// makes Run return an error for which sdk.IsInfra is true. Default
	// sdk.IsInfra, the mark that the plugin host sets.
	IsInfra func(error) bool
	// Middleware wraps the handler that runs each task, outermost first,
	// inside the worker's own timeout and panic recovery.
	Middleware []Middleware
	// Logger gets a record per task the worker starts and ends, and one
	// per problem with the bus, each with a "worker" attribute and, for a
	// task, "run", "task" and "attempt"; default none.
	Logger *slog.Logger
}

func (c *WorkerConfig) setDefaults() {
	if c.Name == "" {
		host, _ := os.Hostname()
		c.Name = fmt.Sprintf("%s-%d", host, os.Getpid())
	}
	if len(c.Labels) == 0 {
		c.Labels = []string{compiler.DefaultLabel}
	}
	if c.Concurrency == 0 {
		c.Concurrency = goruntime.NumCPU()
	}
	if c.HeartbeatInterval == 0 {
		c.HeartbeatInterval = 5 * time.Second
	}
	if c.GracePeriod == 0 {
		c.GracePeriod = 30 * time.Second
	}
	if c.IsInfra == nil {
		c.IsInfra = sdk.IsInfra
	}
	if c.Logger == nil {
		c.Logger = slog.New(slog.DiscardHandler)
	}
}

// Validate reports every problem of the configuration at once.
func (c *WorkerConfig) Validate() error {
	var errs []error
	if c.Bus == nil {
		errs = append(errs, errors.New("runtime: WorkerConfig.Bus is nil"))
	}
	if c.Executor == nil {
		errs = append(errs, errors.New("runtime: WorkerConfig.Executor is nil"))
	}
	if c.Concurrency < 0 {
		errs = append(errs, fmt.Errorf("runtime: WorkerConfig.Concurrency is %d", c.Concurrency))
	}
	for _, l := range c.Labels {
		if l == "" {
			errs = append(errs, errors.New("runtime: empty label in WorkerConfig.Labels"))
		}
	}
	return errors.Join(errs...)
}
