package runs_test

import (
	"testing"

	"github.com/ompdev/omp/internal/pgtest"
	"github.com/ompdev/omp/runs"
	"github.com/ompdev/omp/runs/runstest"
)

// postgresURL makes a new database for the test and drops it at its
// cleanup (see pgtest).
func postgresURL(t testing.TB) string { return pgtest.DB(t) }

func TestPostgres(t *testing.T) {
	runstest.Run(t, func(t *testing.T) runs.Store { return openStore(t, postgresURL(t)) })
}

func TestPostgresShared(t *testing.T) {
	runstest.RunShared(t, func(t *testing.T) string { return postgresURL(t) })
}
