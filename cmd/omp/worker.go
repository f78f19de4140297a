package main

import (
	"context"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	goruntime "runtime"
	"strings"
	"time"

	"github.com/spf13/cobra"

	"github.com/ompdev/omp/compiler"
	"github.com/ompdev/omp/internal/redact"
	"github.com/ompdev/omp/lang"
	"github.com/ompdev/omp/plugins/builtin"
	"github.com/ompdev/omp/plugins/host"
	"github.com/ompdev/omp/runtime"
	"github.com/ompdev/omp/runtime/amqpbus"
)

func init() { commands = append(commands, newWorkerCmd) }

// workerOptions are the flags of `omp worker`.
type workerOptions struct {
	broker      string
	name        string
	labels      []string
	concurrency int
	prefetch    int
	store       string
	grace       time.Duration
	heartbeat   time.Duration
	log         logOptions
}

func newWorkerCmd(s *streams) *cobra.Command {
	var opts workerOptions
	cmd := &cobra.Command{
		Use:   "worker --broker URL [--name NAME] [--labels cpu,gpu] [--concurrency N] [--store DIR]",
		Short: "Serve tasks from RabbitMQ with this machine's plugins",
		Long: `Serve the tasks of its labels that runs started with omp run --broker
publish on RabbitMQ, running them with the kinds this machine has (built-in
and omp-kind-* plugins). Several workers with one label share its tasks.

SIGTERM or SIGINT stops taking tasks and lets the running ones finish; past
the grace period they are cancelled and handed back to their runs, which
dispatch them again. The exit status is then 0.`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, args []string) error {
			return runWorker(cmd.Context(), s, opts)
		},
	}
	f := cmd.Flags()
	addBrokerFlag(cmd, &opts.broker)
	f.StringVar(&opts.name, "name", "", "the worker's name in reports and omp workers (default HOST-PID)")
	f.StringSliceVar(&opts.labels, "labels", []string{compiler.DefaultLabel}, "the task labels to serve, comma-separated")
	f.IntVar(&opts.concurrency, "concurrency", goruntime.NumCPU(), "how many tasks run at once")
	f.IntVar(&opts.prefetch, "prefetch", 0, "how many tasks the worker takes from the broker ahead of its free slots (default 4 × --concurrency, at least 32)")
	f.StringVar(&opts.store, "store", "", "the store root tasks use on this machine (default: the runner's)")
	f.DurationVar(&opts.grace, "grace", 30*time.Second, "how long running tasks may finish after SIGTERM before they are handed back")
	f.DurationVar(&opts.heartbeat, "heartbeat", 5*time.Second, "how often the worker announces itself")
	f.MarkHidden("heartbeat")
	addLogFlags(cmd, &opts.log)
	return cmd
}

func runWorker(ctx context.Context, s *streams, opts workerOptions) error {
	base, err := opts.log.logger(s.err)
	if err != nil {
		return err
	}
	if opts.broker == "" {
		return withCode(ExitUsage, errors.New("omp worker needs a broker: --broker URL or $"+brokerEnv))
	}
	if err := checkBroker(opts.broker); err != nil {
		return err
	}
	if opts.concurrency < 1 {
		return withCode(ExitUsage, fmt.Errorf("--concurrency must be at least 1, not %d", opts.concurrency))
	}
	if opts.prefetch < 0 {
		return withCode(ExitUsage, fmt.Errorf("--prefetch must not be negative, not %d", opts.prefetch))
	}
	if opts.prefetch == 0 {
		opts.prefetch = amqpbus.WorkerPrefetch(opts.concurrency)
	}
	opts.prefetch = max(opts.prefetch, opts.concurrency)
	for _, l := range opts.labels {
		// The language's rule, so that every label served can be written
		// as @LABEL in a file (it also keeps out AnyLabel).
		if !lang.ValidLabel(l) {
			return withCode(ExitUsage, fmt.Errorf("invalid label %q: a label is ASCII letters, digits, _ and -", l))
		}
	}
	if opts.name == "" {
		h, _ := os.Hostname()
		opts.name = fmt.Sprintf("%s-%d", h, os.Getpid())
	}
	if opts.store != "" && !strings.Contains(opts.store, "://") {
		abs, err := filepath.Abs(opts.store)
		if err != nil {
			return withCode(ExitUsage, fmt.Errorf("--store: %w", err))
		}
		opts.store = abs
	}
	log := base.With("worker", opts.name)

	bus, err := openAMQP(ctx, opts.broker, busOptions{
		prefetch: opts.prefetch,
		name:     "omp worker " + opts.name,
		log:      log.With("component", "broker"),
	})
	if err != nil {
		return err
	}
	defer bus.Close()
	plog := log.With("component", "plugin")
	h, err := host.New(host.Config{Builtins: builtin.Kinds(), Store: opts.store, Logger: plog, Warnings: warnWriter{plog}})
	if err != nil {
		return withCode(ExitInfra, err)
	}
	defer h.Close()

	w, err := runtime.NewWorker(runtime.WorkerConfig{
		Name:              opts.name,
		Labels:            opts.labels,
		Concurrency:       opts.concurrency,
		Bus:               bus,
		Executor:          h,
		Store:             opts.store,
		HeartbeatInterval: opts.heartbeat,
		GracePeriod:       opts.grace,
		Logger:            base,
	})
	if err != nil {
		return withCode(ExitUsage, err)
	}
	log.Info("serving", "labels", strings.Join(opts.labels, ","), "concurrency", opts.concurrency, "broker", redact.URL(opts.broker))
	if err := w.Serve(ctx); err != nil {
		return withCode(ExitInfra, err)
	}
	log.Info("stopped")
	return nil
}
