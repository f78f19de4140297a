package main

import (
	"context"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"time"

	"github.com/spf13/cobra"

	"github.com/ompdev/omp/internal/redact"
	"github.com/ompdev/omp/plugins/builtin"
	"github.com/ompdev/omp/plugins/host"
	"github.com/ompdev/omp/runs"
	"github.com/ompdev/omp/serve"
	"github.com/ompdev/omp/store"
)

func init() { commands = append(commands, newServeCmd) }

type serveOptions struct {
	paths   []string
	db      string
	broker  string
	listen  string
	store   string
	token   string
	grace   time.Duration
	workers int
	poll    time.Duration
	log     logOptions
}

func newServeCmd(s *streams) *cobra.Command {
	var opts serveOptions
	cmd := &cobra.Command{
		Use:   "serve [PATH...]",
		Short: "Fire the pipelines' schedules and run pipelines submitted over HTTP",
		Long: `Serve serves the .omp files of PATH (files, or directories searched for
them; default .): it fires their pipelines' schedules (spec.md, "Schedules")
and answers an HTTP API on --listen, through which omp submit, status, logs
and cancel --server start and follow runs. Every run is recorded in the run
history (--db).

Any number of servers may share a PostgreSQL run history: each tick of each
schedule fires exactly once among them. A SQLite history has one server.

It listens on 127.0.0.1:8080 unless told otherwise; any other address needs
a token (--token or $OMP_TOKEN), which every request must then send as
"Authorization: Bearer TOKEN". On SIGTERM or Ctrl-C the running runs have
--grace to finish before they are cancelled.

Exit status: 0 after a shutdown, 2 bad flags or paths, 3 a database,
broker or address that cannot be used.`,
		RunE: func(cmd *cobra.Command, args []string) error {
			opts.paths = args
			return runServe(cmd.Context(), s, opts)
		},
	}
	f := cmd.Flags()
	addDBFlag(cmd, &opts.db)
	addBrokerFlag(cmd, &opts.broker)
	f.StringVar(&opts.listen, "listen", "127.0.0.1:8080", "serve the API on `ADDRESS`")
	f.StringVar(&opts.store, "store", os.Getenv("OMP_STORE"), "store `DIR` or URL (default: the first PATH's directory, or $OMP_STORE)")
	f.StringVar(&opts.token, "token", "", "require this bearer `TOKEN` of every request (default $OMP_TOKEN)")
	f.DurationVar(&opts.grace, "grace", 30*time.Second, "on shutdown, let running runs finish for `DURATION`, then cancel them")
	f.IntVar(&opts.workers, "workers", defaultWorkers(), "tasks run at once by the embedded workers")
	f.DurationVar(&opts.poll, "poll", time.Second, "look at the files for changes every `DURATION`")
	addLogFlags(cmd, &opts.log)
	return cmd
}

func runServe(ctx context.Context, s *streams, opts serveOptions) error {
	log, err := opts.log.logger(s.err)
	if err != nil {
		return err
	}
	if len(opts.paths) == 0 {
		opts.paths = []string{"."}
	}
	if opts.token == "" {
		opts.token = os.Getenv("OMP_TOKEN")
	}
	if opts.token == "" && !serve.IsLoopback(opts.listen) {
		return withCode(ExitUsage, fmt.Errorf("--listen %s: %w", opts.listen, serve.ErrNeedToken))
	}
	if opts.grace < 0 || opts.poll <= 0 || opts.workers < 1 {
		return withCode(ExitUsage, errors.New("--grace must not be negative, --poll must be positive and --workers at least 1"))
	}
	if _, err := ompFiles(opts.paths); err != nil {
		return withCode(ExitUsage, err)
	}
	if opts.broker != "" {
		if err := checkBroker(opts.broker); err != nil {
			return err
		}
	}
	first := opts.paths[0]
	if fi, err := os.Stat(first); err == nil && fi.IsDir() {
		first = filepath.Join(first, "x.omp")
	}
	storeLoc, err := storeLocation(opts.store, first)
	if err != nil {
		return withCode(ExitUsage, err)
	}
	dir := ""
	if !strings.Contains(storeLoc, "://") {
		dir = storeLoc
	}
	url := dbURL(opts.db, dir)
	if path, ok := runs.SQLitePath(url); ok {
		if err := os.MkdirAll(filepath.Dir(path), 0o755); err != nil {
			return withCode(ExitInfra, fmt.Errorf("run history %s: %w", url, err))
		}
		unlock, err := serve.LockSQLite(path)
		if err != nil {
			return withCode(ExitInfra, err)
		}
		defer unlock()
	}
	db, err := openDB(ctx, url)
	if err != nil {
		return err
	}
	defer db.Close()
	plog := log.With("component", "plugin")
	h, err := host.New(host.Config{Builtins: builtin.Kinds(), Store: storeLoc, Logger: plog, Warnings: warnWriter{plog}})
	if err != nil {
		return withCode(ExitInfra, err)
	}
	defer h.Close()
	bus, err := openBus(ctx, opts.broker, busOptions{log: log.With("component", "broker")})
	if err != nil {
		return err
	}
	defer bus.Close()
	cfg := serve.Config{
		Paths: opts.paths, DB: db, Host: h, Bus: bus, Embedded: opts.broker == "", Workers: opts.workers,
		Store: storeLoc, Listen: opts.listen, Token: opts.token, Grace: opts.grace, Poll: opts.poll,
		Version: version(), Logger: log,
	}
	if opts.broker != "" {
		cfg.Broker = redact.URL(opts.broker)
	}
	if b, err := store.Open(ctx, storeLoc); err == nil {
		defer b.Close()
		cfg.Blobs = b
	}
	srv, err := serve.New(cfg)
	if err != nil {
		return withCode(ExitUsage, err)
	}
	err = srv.Serve(ctx, func(addr string) {
		log.Info("serving", "paths", strings.Join(opts.paths, " "), "address", "http://"+addr, "db", redact.URL(url))
	})
	if err != nil {
		return withCode(ExitInfra, err)
	}
	return nil
}
