package main

import (
	"context"
	"database/sql"
	"fmt"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/rogpeppe/go-internal/testscript"

	"github.com/ompdev/omp/internal/pgtest"
	"github.com/ompdev/omp/runs"
)

// TestRunsScripts runs testdata/runs/*.txtar, the run history's scripts,
// twice: on SQLite (.omp/omp.db beside the pipeline, the default) and on a
// PostgreSQL database of the script's own in $OMP_DB. $DB says which, and
// the conditions [sqlite] and [postgres]. A
// script named amqp_* gets a RabbitMQ vhost of its own in $OMP_BROKER.
func TestRunsScripts(t *testing.T) {
	for _, db := range []string{"sqlite", "postgres"} {
		t.Run(db, func(t *testing.T) {
			testscript.Run(t, testscript.Params{
				Dir: "testdata/runs",
				Setup: func(env *testscript.Env) error {
					env.Setenv("DB", db)
					if db == "postgres" {
						env.Setenv("OMP_DB", pgtest.DB(scriptTB{env}))
					}
					return setupAMQP(env)
				},
				// [sqlite] and [postgres] are the database of the run.
				Condition: func(cond string) (bool, error) {
					switch cond {
					case "sqlite", "postgres":
						return cond == db, nil
					}
					return false, fmt.Errorf("unknown condition %q", cond)
				},
				RequireExplicitExec: true,
				UpdateScripts:       os.Getenv("UPDATE_SCRIPTS") != "",
				Cmds: map[string]func(ts *testscript.TestScript, neg bool, args []string){
					"status":   cmdStatus,
					"waitfile": cmdWaitFile,
					"oldbeat":  cmdOldBeat,
					"until":    cmdUntil,
				},
			})
		})
	}
}

// cmdWaitFile waits for a file to exist, for up to a minute: `waitfile
// started` after a background run whose task creates it.
func cmdWaitFile(ts *testscript.TestScript, neg bool, args []string) {
	if neg || len(args) != 1 {
		ts.Fatalf("usage: waitfile FILE")
	}
	deadline := time.Now().Add(time.Minute)
	for {
		if _, err := os.Stat(ts.MkAbs(args[0])); err == nil {
			return
		}
		if time.Now().After(deadline) {
			ts.Fatalf("%s did not appear within a minute", args[0])
		}
		time.Sleep(50 * time.Millisecond)
	}
}

// cmdOldBeat makes the heartbeat of RUN (of $OMP_DB, else of
// .omp/omp.db in $WORK) older than runs.LostAfter, as if its runner had
// stopped renewing it that long ago: `oldbeat last`. A test of a killed
// runner need not wait 30s for it to count as lost. Store.Beat never moves
// a heartbeat back, so this writes the column itself.
func cmdOldBeat(ts *testscript.TestScript, neg bool, args []string) {
	if neg || len(args) != 1 {
		ts.Fatalf("usage: oldbeat RUN")
	}
	url := ts.Getenv("OMP_DB")
	driver, dsn := "pgx", url
	if url == "" {
		url = "sqlite:" + filepath.Join(ts.Getenv("WORK"), ".omp", "omp.db")
		driver, dsn = "sqlite", strings.TrimPrefix(url, "sqlite:")
	}
	ctx := context.Background()
	db, err := runs.Open(ctx, url)
	ts.Check(err)
	id, err := db.Resolve(ctx, args[0])
	db.Close()
	ts.Check(err)
	raw, err := sql.Open(driver, dsn)
	ts.Check(err)
	defer raw.Close()
	old := time.Now().Add(-runs.LostAfter - time.Second).UnixNano()
	_, err = raw.ExecContext(ctx, `UPDATE runs SET heartbeat_at = $1 WHERE id = $2`, old, id)
	ts.Check(err)
}

// cmdUntil runs a program again and again, for up to a minute, until it
// succeeds and its stdout matches a pattern: `until '"state": "STARTED"'
// omp status last --json`. Its last stdout and stderr are kept for the
// commands that follow.
func cmdUntil(ts *testscript.TestScript, neg bool, args []string) {
	if neg || len(args) < 2 {
		ts.Fatalf("usage: until PATTERN PROGRAM [ARGS...]")
	}
	re, err := regexp.Compile("(?m)" + args[0])
	ts.Check(err)
	deadline := time.Now().Add(time.Minute)
	for {
		err := ts.Exec(args[1], args[2:]...)
		if err == nil && re.MatchString(ts.ReadFile("stdout")) {
			return
		}
		if time.Now().After(deadline) {
			ts.Fatalf("%s: no success with stdout matching %s within a minute (%v)", args[1], args[0], err)
		}
		time.Sleep(100 * time.Millisecond)
	}
}
