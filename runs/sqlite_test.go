package runs_test

import (
	"path/filepath"
	"testing"

	"github.com/ompdev/omp/runs"
	"github.com/ompdev/omp/runs/runstest"
)

// sqliteURL is a new SQLite database in a directory of the test's own,
// one level down so that Open has a directory to create.
func sqliteURL(t testing.TB) string {
	return "sqlite:" + filepath.Join(t.TempDir(), "omp", "omp.db")
}

func TestSQLite(t *testing.T) {
	runstest.Run(t, func(t *testing.T) runs.Store { return openStore(t, sqliteURL(t)) })
}

func TestSQLiteShared(t *testing.T) {
	runstest.RunShared(t, func(t *testing.T) string { return sqliteURL(t) })
}
