package runs_test

import (
	"database/sql"
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/ompdev/omp/runs"
)

func openStore(t testing.TB, url string) runs.Store {
	t.Helper()
	s, err := runs.Open(t.Context(), url)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		if err := s.Close(); err != nil {
			t.Error(err)
		}
	})
	return s
}

func TestOpenCreates(t *testing.T) {
	dir := t.TempDir()
	t.Chdir(dir)
	for _, url := range []string{
		"sqlite:" + filepath.Join(dir, "a", "b", "omp.db"),
		"sqlite://" + filepath.Join(dir, "c", "omp.db"),
		"sqlite:rel/omp.db",
		filepath.Join("plain", "omp.db"),
	} {
		openStore(t, url)
	}
	for _, f := range []string{"a/b/omp.db", "c/omp.db", "rel/omp.db", "plain/omp.db"} {
		if _, err := os.Stat(filepath.Join(dir, f)); err != nil {
			t.Errorf("Open did not create %s: %v", f, err)
		}
	}
}

// TestOpenErrors: a database that cannot be opened is one line that names
// it, without its password.
func TestOpenErrors(t *testing.T) {
	dir := t.TempDir()
	notDir := filepath.Join(dir, "file")
	garbage := filepath.Join(dir, "garbage.db")
	for _, f := range []string{notDir, garbage} {
		if err := os.WriteFile(f, []byte("this is not a database, and it is long enough to have a header"), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	for _, tc := range []struct {
		url  string
		want []string
	}{
		{"", []string{"run history : unknown kind of database: want sqlite:PATH or postgres://HOST/DATABASE"}},
		{"mysql://ann:s3cret@db/omp", []string{"run history mysql://ann:xxxxx@db/omp: unknown kind of database"}},
		{"omp.sqlite", []string{"unknown kind of database"}},
		{"sqlite:", []string{"run history sqlite:: no file named after sqlite:"}},
		{"sqlite:" + filepath.Join(notDir, "omp.db"), []string{"run history sqlite:" + notDir, "not a directory"}},
		{"sqlite:" + garbage, []string{"run history sqlite:" + garbage, "not a database"}},
		{"postgres://ann:s3cret@127.0.0.1:1/omp", []string{"run history postgres://ann:xxxxx@127.0.0.1:1/omp: ", "127.0.0.1", "refused"}},
		{"postgresql://127.0.0.1:1/omp?user=ann&password=s3cret", []string{"password=xxxxx", "refused"}},
	} {
		t.Run(tc.url, func(t *testing.T) {
			s, err := runs.Open(t.Context(), tc.url)
			if err == nil {
				s.Close()
				t.Fatal("Open succeeded")
			}
			msg := err.Error()
			for _, w := range tc.want {
				if !strings.Contains(msg, w) {
					t.Errorf("error %q does not say %q", msg, w)
				}
			}
			if strings.Contains(msg, "s3cret") || strings.Contains(msg, "\n") {
				t.Errorf("error %q shows the password or is more than one line", msg)
			}
		})
	}
}

func TestPostgresNoSuchDatabase(t *testing.T) {
	postgresURL(t) // skips without PostgreSQL
	_, err := runs.Open(t.Context(), "postgres://postgres@127.0.0.1:5432/omp_no_such_database")
	if err == nil || !strings.Contains(err.Error(), `database "omp_no_such_database" does not exist`) {
		t.Errorf("error %v", err)
	}
}

// TestNewerSchema: a database that a newer omp migrated is refused, and
// left as it is.
func TestNewerSchema(t *testing.T) {
	for _, db := range []struct {
		name, driver string
		url          func(testing.TB) string
		dsn          func(url string) string
	}{
		{"sqlite", "sqlite", sqliteURL, func(url string) string { return strings.TrimPrefix(url, "sqlite:") }},
		{"postgres", "pgx", postgresURL, func(url string) string { return url }},
	} {
		t.Run(db.name, func(t *testing.T) {
			url := db.url(t)
			s, err := runs.Open(t.Context(), url)
			if err != nil {
				t.Fatal(err)
			}
			s.Close()
			raw, err := sql.Open(db.driver, db.dsn(url))
			if err != nil {
				t.Fatal(err)
			}
			defer raw.Close()
			if _, err := raw.Exec(`INSERT INTO omp_schema_version (version_id, is_applied) VALUES (99, TRUE)`); err != nil {
				t.Fatal(err)
			}
			_, err = runs.Open(t.Context(), url)
			if !errors.Is(err, runs.ErrNewerSchema) || !strings.Contains(err.Error(), "its schema is version 99, this omp knows up to 3; use a newer omp") {
				t.Errorf("error %v, want ErrNewerSchema saying the versions", err)
			}
			var n int
			if err := raw.QueryRow(`SELECT count(*) FROM omp_schema_version WHERE version_id = 99`).Scan(&n); err != nil || n != 1 {
				t.Errorf("the newer version's row: %d, %v", n, err)
			}
		})
	}
}
