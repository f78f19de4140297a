package main

import (
	"context"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strings"

	"github.com/spf13/cobra"

	"github.com/ompdev/omp/internal/redact"
	"github.com/ompdev/omp/runs"
	"github.com/ompdev/omp/runs/record"
	"github.com/ompdev/omp/serve"
)

// dbEnv names the run history when --db is not given.
const dbEnv = "OMP_DB"

// addDBFlag adds --db, the run history, to a command that reads or writes
// it. Its default from $OMP_DB is shown redacted in --help.
func addDBFlag(cmd *cobra.Command, p *string) {
	def := os.Getenv(dbEnv)
	cmd.Flags().StringVar(p, "db", def,
		"run history `URL`: sqlite:PATH, a PATH, or postgres://… (default: $OMP_DB, else .omp/omp.db in the store's directory)")
	if def != "" {
		cmd.Flags().Lookup("db").DefValue = redact.URL(def)
	}
}

// dbURL is the run history a command uses: the flag, else .omp/omp.db in
// dir (the local store's directory, or "" for the current one). A plain
// path is an SQLite file.
func dbURL(flag, dir string) string {
	switch {
	case flag == "":
		return "sqlite:" + filepath.Join(dir, ".omp", "omp.db")
	case strings.HasPrefix(flag, "sqlite:") || strings.Contains(flag, "://"):
		return flag
	}
	return "sqlite:" + flag
}

// readerDir is where the commands that only read the history look for
// .omp/omp.db: the store of $OMP_STORE when it is a local directory, else
// the current directory, as omp store does.
func readerDir() string {
	if st := os.Getenv("OMP_STORE"); st != "" && !strings.Contains(st, "://") {
		return st
	}
	return ""
}

// openDB opens the run history; one that cannot be opened is an
// infrastructure failure, named with its password redacted.
func openDB(ctx context.Context, url string) (runs.Store, error) {
	db, err := runs.Open(ctx, url)
	if err != nil {
		// runs.Open names the database, redacted, on one line.
		return nil, withCode(ExitInfra, err)
	}
	return db, nil
}

// openReader opens the history for a command that reads it.
func openReader(ctx context.Context, flag string) (runs.Store, error) {
	return openDB(ctx, dbURL(flag, readerDir()))
}

// openRun opens the history for a command about one run, RUN: that of
// --server if given, else of --db.
func openRun(ctx context.Context, flag, server, ref string) (runs.Store, string, error) {
	db, err := openHistory(ctx, flag, server)
	if err != nil {
		return nil, "", err
	}
	id, err := resolveRun(ctx, db, ref)
	if err != nil {
		db.Close()
		return nil, "", err
	}
	return db, id, nil
}

// readRun reads a run and every task of it, those that nothing happened
// to yet too, in graph order.
func readRun(ctx context.Context, db runs.Store, id string) (*runs.Run, []runs.Task, error) {
	r, err := db.Run(ctx, id)
	if err != nil {
		return nil, nil, withCode(ExitInfra, err)
	}
	recorded, err := db.Tasks(ctx, id)
	if err != nil {
		return nil, nil, withCode(ExitInfra, err)
	}
	tasks, err := record.Tasks(r, recorded)
	if err != nil {
		return nil, nil, withCode(ExitInfra, err)
	}
	return r, tasks, nil
}

// resolveRun turns RUN (an id, a unique prefix of one, or "last") into a
// run id; unknown or ambiguous is a usage error naming the candidates.
func resolveRun(ctx context.Context, db runs.Store, ref string) (string, error) {
	id, err := db.Resolve(ctx, ref)
	var amb *runs.AmbiguousError
	switch {
	case err == nil:
		return id, nil
	case errors.As(err, &amb):
		return "", withCode(ExitUsage, fmt.Errorf("run %s is ambiguous: it may be %s", ref, strings.Join(amb.Candidates, ", ")))
	case errors.Is(err, runs.ErrNotFound):
		recent, _ := db.Runs(ctx, runs.Filter{Limit: 5})
		if len(recent) == 0 {
			return "", withCode(ExitUsage, fmt.Errorf("no run %s: no run is recorded", ref))
		}
		ids := make([]string, len(recent))
		for i, r := range recent {
			ids[i] = r.ID
		}
		return "", withCode(ExitUsage, fmt.Errorf("no run %s; the newest are %s", ref, strings.Join(ids, ", ")))
	}
	return "", withCode(ExitInfra, err)
}

// addServerFlag adds --server, the API of an omp serve, to a command that
// reads runs: it reads them there instead of in a database.
func addServerFlag(cmd *cobra.Command, p *string) {
	cmd.Flags().StringVar(p, "server", "", "read the runs from the omp serve at `URL` (http://HOST:PORT; token from $OMP_TOKEN) instead of --db")
}

// openHistory opens the runs of --server if given, else of --db.
func openHistory(ctx context.Context, dbFlag, server string) (runs.Store, error) {
	if server == "" {
		return openReader(ctx, dbFlag)
	}
	if dbFlag != "" && dbFlag != os.Getenv(dbEnv) {
		return nil, withCode(ExitUsage, errors.New("--server and --db contradict each other: give one"))
	}
	c, err := serve.NewClient(server, os.Getenv("OMP_TOKEN"))
	if err != nil {
		return nil, withCode(ExitUsage, err)
	}
	return c, nil
}
