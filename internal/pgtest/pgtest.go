// Package pgtest gives tests a PostgreSQL database of their own: a fresh
// database on the server of OMP_TEST_POSTGRES (default the machine's,
// postgres://postgres@127.0.0.1:5432/postgres, trust auth), dropped when
// the test ends.
//
// A test skips when the server cannot be reached, unless CI is set: in CI
// an unreachable server fails the test, since .ci/run starts PostgreSQL.
package pgtest

import (
	"context"
	"crypto/rand"
	"database/sql"
	"encoding/hex"
	"net/url"
	"os"
	"sync"
	"time"

	_ "github.com/jackc/pgx/v5/stdlib" // registers "pgx"
)

// DefaultURL is the server the tests use when OMP_TEST_POSTGRES is unset.
const DefaultURL = "postgres://postgres@127.0.0.1:5432/postgres"

// TB is what DB needs of a test: testing.TB has it, and a testscript setup
// can provide it too.
type TB interface {
	Helper()
	Fatalf(format string, args ...any)
	Skipf(format string, args ...any)
	Cleanup(func())
}

var (
	once     sync.Once
	admin    *sql.DB
	adminErr error
)

func server() string {
	if u := os.Getenv("OMP_TEST_POSTGRES"); u != "" {
		return u
	}
	return DefaultURL
}

// DB creates a database for the test and returns its URL; the database is
// dropped, with whatever connections are left, when the test ends.
func DB(t TB) string {
	t.Helper()
	once.Do(func() {
		admin, adminErr = sql.Open("pgx", server())
		if adminErr == nil {
			ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
			adminErr = admin.PingContext(ctx)
			cancel()
		}
	})
	if adminErr != nil {
		if os.Getenv("CI") != "" {
			t.Fatalf("PostgreSQL: %v", adminErr)
		}
		t.Skipf("no PostgreSQL: %v", adminErr)
	}
	var b [6]byte
	rand.Read(b[:])
	name := "omp_test_" + hex.EncodeToString(b[:])
	if _, err := admin.Exec(`CREATE DATABASE ` + name); err != nil {
		t.Fatalf("creating database %s: %v", name, err)
	}
	t.Cleanup(func() {
		if _, err := admin.Exec(`DROP DATABASE ` + name + ` WITH (FORCE)`); err != nil {
			t.Fatalf("dropping database %s: %v", name, err)
		}
	})
	u, err := url.Parse(server())
	if err != nil {
		t.Fatalf("OMP_TEST_POSTGRES: %v", err)
	}
	u.Path = "/" + name
	return u.String()
}
