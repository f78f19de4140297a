package main

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	goruntime "runtime"
	"strings"
	"time"

	"github.com/spf13/cobra"
	"golang.org/x/term"

	"github.com/ompdev/omp/compiler"
	"github.com/ompdev/omp/plugins/builtin"
	"github.com/ompdev/omp/plugins/host"
	"github.com/ompdev/omp/plugins/sdk"
	"github.com/ompdev/omp/runtime"
	"github.com/ompdev/omp/runtime/report"
)

func init() { commands = append(commands, newRunCmd) }

type runOptions struct {
	file      string
	params    []string
	pipeline  string
	store     string
	workers   int
	keepGoing bool
	json      bool
	report    []string // JUnit (.xml) and HTML (.html) reports
	broker    string
	progress  string
	db        string
	noRecord  bool
	// Resume: --resume, --resume-from RUN, --explain.
	resume     bool
	resumeFrom string
	explain    bool

	// Bounds on waiting.
	timeout         time.Duration
	noWorkerTimeout time.Duration
	brokerTimeout   time.Duration
}

func newRunCmd(s *streams) *cobra.Command {
	var opts runOptions
	cmd := &cobra.Command{
		Use:   "run FILE",
		Short: "Run a pipeline",
		Long: `Run compiles FILE and runs its task graph: on an embedded bus in this
process, or with --broker on RabbitMQ, served by omp worker processes.

Each top-level statement's result is printed to stdout as one line of JSON,
in source order; progress goes to stderr. Exit status: 0 every task
succeeded, 1 a task failed, 2 usage or compile error, 3 infrastructure
(a plugin that cannot start, a broker that cannot be reached), 130 cancelled.`,
		Args: cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			opts.file = args[0]
			return runRun(cmd.Context(), s, opts)
		},
	}
	f := cmd.Flags()
	f.StringArrayVarP(&opts.params, "param", "p", nil, "set parameter `NAME=VALUE` (an omp literal, else a string)")
	f.StringVar(&opts.pipeline, "pipeline", "", "run the pipeline block `NAME`")
	f.StringVar(&opts.store, "store", os.Getenv("OMP_STORE"), "store `DIR` or URL (default: the directory of FILE, or $OMP_STORE)")
	f.IntVar(&opts.workers, "workers", defaultWorkers(), "tasks run at once by the embedded workers")
	f.BoolVar(&opts.keepGoing, "keep-going", false, "after a failure, run every task that does not depend on it")
	f.BoolVar(&opts.json, "json", false, "print one JSON document about the run to stdout")
	f.StringArrayVar(&opts.report, "report", nil, "write a report to `FILE`: JUnit XML for .xml, a self-contained HTML page for .html (may be given twice)")
	f.StringVar(&opts.progress, "progress", "auto", "progress on stderr: `auto`, tty (redrawn in place), plain (a line per change) or quiet (failures only)")
	addBrokerFlag(cmd, &opts.broker)
	addWaitFlags(cmd, &opts)
	addDBFlag(cmd, &opts.db)
	f.BoolVar(&opts.noRecord, "no-record", false, "do not record the run in the run history")
	f.BoolVar(&opts.resume, "resume", false, "reuse the results of the newest recorded run of FILE and its pipeline where nothing changed")
	f.StringVar(&opts.resumeFrom, "resume-from", "", "reuse the results of the recorded run `RUN` where nothing changed")
	f.BoolVar(&opts.explain, "explain", false, "with --resume, print why each task that ran was not reused")
	return cmd
}

// addWaitFlags adds the flags that bound how long a run may wait.
func addWaitFlags(cmd *cobra.Command, opts *runOptions) {
	f := cmd.Flags()
	f.DurationVar(&opts.timeout, "timeout", 0, "cancel the run after `DURATION` and exit 1 (default: no limit)")
	f.DurationVar(&opts.noWorkerTimeout, "no-worker-timeout", time.Minute,
		"fail a task that waited `DURATION` for a label no live worker serves (0: wait forever)")
	f.DurationVar(&opts.brokerTimeout, "broker-timeout", time.Minute,
		"with --broker, wait up to `DURATION` for a broker that cannot be reached before exiting 3")
}

// checkWaitFlags reports a negative --timeout or --no-worker-timeout.
func checkWaitFlags(opts runOptions) error {
	if opts.timeout < 0 {
		return withCode(ExitUsage, fmt.Errorf("--timeout must not be negative, not %s", opts.timeout))
	}
	if opts.noWorkerTimeout < 0 {
		return withCode(ExitUsage, fmt.Errorf("--no-worker-timeout must not be negative, not %s", opts.noWorkerTimeout))
	}
	if opts.brokerTimeout < 0 {
		return withCode(ExitUsage, fmt.Errorf("--broker-timeout must not be negative, not %s", opts.brokerTimeout))
	}
	return nil
}

func runRun(ctx context.Context, s *streams, opts runOptions) (err error) {
	if opts.workers < 1 {
		return withCode(ExitUsage, fmt.Errorf("--workers must be at least 1, not %d", opts.workers))
	}
	// A bad --broker or --report is found before any plugin starts or any
	// task runs: after the run, the mistake would hide its real status.
	if opts.broker != "" {
		if err := checkBroker(opts.broker); err != nil {
			return err
		}
	}
	for _, path := range opts.report {
		if err := checkReport(path); err != nil {
			return withCode(ExitUsage, err)
		}
	}
	if err := checkWaitFlags(opts); err != nil {
		return err
	}
	if err := checkProgress(opts.progress); err != nil {
		return err
	}
	if err := checkResumeFlags(opts); err != nil {
		return err
	}
	store, err := storeLocation(opts.store, opts.file)
	if err != nil {
		return withCode(ExitUsage, err)
	}
	rec, err := openRecording(ctx, s, opts, store)
	if err != nil {
		return err
	}
	defer rec.close()

	h, err := host.New(host.Config{Builtins: builtin.Kinds(), Store: store, Warnings: s.err})
	if err != nil {
		return withCode(ExitInfra, err)
	}
	defer h.Close()

	// The compiler checks the pipeline against the kinds of the host that
	// will run it, so a third-party plugin starts once, not twice.
	g, err := loadGraph(s, opts.file, opts.params, opts.pipeline, func() (compiler.Registry, error) {
		return newHostRegistry(ctx, h), nil
	})
	if err != nil {
		return err
	}
	if opts.broker == "" {
		// The built-in kinds' plugins start while the run is set up,
		// not when its first tasks wait for them; the compiler has
		// already started the others, to describe them.
		h.Prestart(graphKinds(g)...)
	}
	cache, res, closeCache, err := openCache(ctx, s, h, rec, opts, g, store)
	if err != nil {
		return err
	}
	defer closeCache()

	bus, err := openBus(ctx, opts.broker, busOptions{
		wait: opts.brokerTimeout,
		onWait: func(err error) {
			fmt.Fprintf(s.err, "omp: %v; waiting up to %s for it\n", err, opts.brokerTimeout)
		},
	})
	if err != nil {
		return err
	}
	defer bus.Close()

	stopWorkers := func() {}
	if opts.broker == "" {
		if stopWorkers, err = runtime.StartEmbedded(bus, h, opts.workers); err != nil {
			return withCode(ExitUsage, err)
		}
	}

	noWorker := opts.noWorkerTimeout
	if opts.broker == "" {
		// The embedded workers serve every label: a task waits for a free
		// slot, never for a worker.
		noWorker = 0
	}
	console := newProgress(s, opts.progress, g)
	ctx, listener, err := rec.start(ctx, g, opts, store, console)
	if err != nil {
		stopWorkers()
		return err
	}
	r, runErr := runtime.Run(ctx, g, runtime.Config{
		Bus:       bus,
		Store:     store,
		RunID:     rec.id,
		KeepGoing: opts.keepGoing,
		Listener:  listener,
		// The run's timeout cancels it from inside, so that its tasks
		// say why, and exits 1 (not 130, which says someone stopped it).
		Timeout:         opts.timeout,
		NoWorkerTimeout: noWorker,
		Cache:           cache,
	})
	console.Done()
	stopWorkers()
	defer func() {
		rec.finish(r, err)
		// The HTML report is read back from the history, so it is
		// written once the recorder has flushed the run's end.
		if rerr := rec.writeHTML(context.WithoutCancel(ctx), htmlReports(opts.report)); rerr != nil && err == nil {
			err = withCode(ExitInfra, rerr)
		}
	}()
	if r == nil {
		return withCode(ExitInfra, runErr)
	}
	if opts.explain && res != nil {
		explain(s.err, res, g, r)
	}
	fmt.Fprintln(s.err, report.Summary(r))

	if err := writeResults(s, r, opts.json); err != nil {
		return withCode(ExitInfra, err)
	}
	for _, path := range opts.report {
		if reportFormat(path) != "junit" {
			continue
		}
		if err := writeJUnit(path, opts.file, r); err != nil {
			return withCode(ExitInfra, err)
		}
	}
	switch {
	case runErr != nil && sdk.IsInfra(runErr):
		return withCode(ExitInfra, runErr)
	case runErr != nil:
		return withCode(ExitFailure, runErr)
	case r.Status == runtime.Cancelled && ctx.Err() != nil:
		return reported(ExitCancelled)
	case r.Status == runtime.Cancelled && opts.timeout > 0:
		return withCode(ExitFailure, fmt.Errorf("run timeout %s exceeded", opts.timeout))
	case r.Status != runtime.Success:
		return reported(ExitFailure)
	}
	return nil
}

// graphKinds are the kinds of g's tasks, each once.
func graphKinds(g *compiler.Graph) []string {
	seen := map[string]bool{}
	var kinds []string
	for _, n := range g.Nodes {
		if n.Op == compiler.OpTask && !seen[n.Kind] {
			seen[n.Kind] = true
			kinds = append(kinds, n.Kind)
		}
	}
	return kinds
}

// defaultWorkers is how many tasks the embedded workers run at once: four
// per CPU, since a task spends much of its time waiting (on its plugin's
// RPC, a subprocess, a notebook kernel), and a queue of quick tasks is bound
// by that latency, not by the CPUs.
func defaultWorkers() int { return 4 * goruntime.NumCPU() }

// storeLocation is the store the tasks see: the flag, else the directory of
// the pipeline file, as an absolute path so that workers started elsewhere
// on this machine find it too.
func storeLocation(flag, file string) (string, error) {
	if strings.Contains(flag, "://") {
		return flag, nil
	}
	dir := flag
	if dir == "" {
		dir = filepath.Dir(file)
	}
	abs, err := filepath.Abs(dir)
	if err != nil {
		return "", fmt.Errorf("--store: %w", err)
	}
	return abs, nil
}

// writeResults prints one line of JSON per top-level statement, or with
// asJSON the whole report as one document.
func writeResults(s *streams, r *runtime.Report, asJSON bool) error {
	if asJSON {
		return r.WriteJSON(s.out)
	}
	var buf bytes.Buffer
	for _, res := range r.Results {
		if len(res) == 0 {
			res = json.RawMessage("null")
		}
		if err := json.Compact(&buf, res); err != nil {
			return fmt.Errorf("result is not JSON: %w", err)
		}
		buf.WriteByte('\n')
	}
	_, err := s.out.Write(buf.Bytes())
	return err
}

// reportFormat is the format --report writes to path, by its extension:
// "junit", "html", or "" for one it does not know.
func reportFormat(path string) string {
	switch strings.ToLower(filepath.Ext(path)) {
	case ".xml":
		return "junit"
	case ".html", ".htm":
		return "html"
	}
	return ""
}

func htmlReports(paths []string) []string {
	var out []string
	for _, p := range paths {
		if reportFormat(p) == "html" {
			out = append(out, p)
		}
	}
	return out
}

// checkReport reports whether a report can be written to path, by creating
// and removing a file next to it, without touching path itself, and whether
// its extension names a format.
func checkReport(path string) error {
	if fi, err := os.Stat(path); err == nil && fi.IsDir() {
		return fmt.Errorf("--report %s: is a directory", path)
	}
	if reportFormat(path) == "" {
		return fmt.Errorf("--report %s: want a .xml (JUnit) or .html file", path)
	}
	dir := filepath.Dir(path)
	fi, err := os.Stat(dir)
	switch {
	case errors.Is(err, os.ErrNotExist):
		return fmt.Errorf("--report %s: no such directory %s", path, dir)
	case err != nil:
		return fmt.Errorf("--report %s: %w", path, err)
	case !fi.IsDir():
		return fmt.Errorf("--report %s: %s is not a directory", path, dir)
	}
	f, err := os.CreateTemp(dir, ".omp-report-*")
	if err != nil {
		return fmt.Errorf("--report %s: cannot write in %s: %w", path, dir, errors.Unwrap(err))
	}
	f.Close()
	return os.Remove(f.Name())
}

func writeJUnit(path, name string, r *runtime.Report) error {
	return writeReport(path, func(w io.Writer) error { return report.WriteJUnit(w, name, r) })
}

// writeReport creates path and writes one report to it with write.
func writeReport(path string, write func(io.Writer) error) error {
	f, err := os.Create(path)
	if err != nil {
		return fmt.Errorf("--report: %w", err)
	}
	err = write(f)
	if cerr := f.Close(); err == nil {
		err = cerr
	}
	if err != nil {
		return fmt.Errorf("--report %s: %w", path, err)
	}
	return nil
}

func isTerminal(w any) bool {
	f, ok := w.(*os.File)
	return ok && term.IsTerminal(int(f.Fd()))
}
