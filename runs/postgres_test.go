package runs_test

import (
	"context"
	"database/sql"
	"fmt"
	"math/rand/v2"
	"os"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/ompdev/omp/runs"
	"github.com/ompdev/omp/runs/runstest"
)

// postgresAdmin is the server the tests make their databases on: the
// machine's PostgreSQL, trust auth, as .ci/postgres.sh sets it up.
const postgresAdmin = "postgres://postgres@127.0.0.1:5432/postgres"

var (
	adminOnce sync.Once
	admin     *sql.DB
	adminErr  error
)

// postgresURL makes a new database for the test and drops it at its
// cleanup. Without a PostgreSQL to talk to it skips, unless $CI is set:
// CI promises one.
func postgresURL(t testing.TB) string {
	t.Helper()
	adminOnce.Do(func() {
		admin, adminErr = sql.Open("pgx", postgresAdmin)
		if adminErr == nil {
			ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
			adminErr = admin.PingContext(ctx)
			cancel()
		}
	})
	if adminErr != nil {
		if os.Getenv("CI") != "" {
			t.Fatalf("PostgreSQL at %s: %v", postgresAdmin, adminErr)
		}
		t.Skipf("no PostgreSQL at %s: %v", postgresAdmin, adminErr)
	}
	name := fmt.Sprintf("omp_runs_%s_%x", strings.ToLower(strings.NewReplacer("/", "_", " ", "_").Replace(t.Name())), rand.Uint32())
	if len(name) > 63 { // PostgreSQL's limit on names
		name = fmt.Sprintf("omp_runs_%x_%x", rand.Uint64(), rand.Uint32())
	}
	if _, err := admin.Exec(`CREATE DATABASE "` + name + `"`); err != nil {
		t.Fatalf("creating database %s: %v", name, err)
	}
	t.Cleanup(func() {
		if _, err := admin.Exec(`DROP DATABASE "` + name + `" WITH (FORCE)`); err != nil {
			t.Errorf("dropping database %s: %v", name, err)
		}
	})
	return "postgres://postgres@127.0.0.1:5432/" + name
}

func TestPostgres(t *testing.T) {
	runstest.Run(t, func(t *testing.T) runs.Store { return openStore(t, postgresURL(t)) })
}

func TestPostgresShared(t *testing.T) {
	runstest.RunShared(t, func(t *testing.T) string { return postgresURL(t) })
}
