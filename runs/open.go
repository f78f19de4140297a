package runs

import (
	"context"
	"database/sql"
	"embed"
	"errors"
	"fmt"
	"io/fs"
	"net/url"
	"os"
	"path/filepath"
	"strings"
	"time"

	_ "github.com/jackc/pgx/v5/stdlib" // registers "pgx"
	"github.com/pressly/goose/v3"
	"github.com/pressly/goose/v3/lock"
	"modernc.org/sqlite" // registers "sqlite"
	sqlite3 "modernc.org/sqlite/lib"

	"github.com/ompdev/omp/internal/redact"
)

//go:embed migrations/*.sql
var migrations embed.FS

// migrationsTable keeps the schema version; named for omp so that it says
// whose it is in a database shared with other tools.
const migrationsTable = "omp_schema_version"

// connectTimeout bounds how long Open waits for a database server that does
// not answer, so that a wrong host fails with its name instead of hanging.
const connectTimeout = 15 * time.Second

// busyTimeout is how long a SQLite writer waits for another's lock.
const busyTimeout = 10 * time.Second

// Open opens the run history at dbURL, creating it (and, for SQLite, its file
// and directory) on first use and migrating its schema to this omp's.
//
// dbURL is "sqlite:PATH" (or a plain PATH ending in .db) or
// "postgres://…" ("postgresql://…", with pgx's parameters, such as
// sslmode). A PostgreSQL database should be omp's own: its tables have
// plain names (runs, tasks, logs…). Every error names the database by
// redact.URL(dbURL), on one line. A database whose schema is newer than this
// omp knows is refused with an error wrapping ErrNewerSchema, and left as
// it is.
func Open(ctx context.Context, dbURL string) (Store, error) {
	s, err := open(ctx, dbURL)
	if err != nil {
		return nil, fmt.Errorf("run history %s: %w", redact.URL(dbURL), scrub(err, dbURL))
	}
	return s, nil
}

func open(ctx context.Context, dbURL string) (*sqlStore, error) {
	switch {
	case strings.HasPrefix(dbURL, "postgres://"), strings.HasPrefix(dbURL, "postgresql://"):
		return openPostgres(ctx, dbURL)
	}
	// sqlite:///abs/path as well as sqlite:/abs/path and sqlite:rel/path
	if path, ok := SQLitePath(dbURL); ok {
		return openSQLite(ctx, path)
	}
	return nil, errors.New("unknown kind of database: want sqlite:PATH or postgres://HOST/DATABASE")
}

func openSQLite(ctx context.Context, path string) (*sqlStore, error) {
	if path == "" {
		return nil, errors.New("no file named after sqlite:")
	}
	abs, err := filepath.Abs(path)
	if err != nil {
		return nil, err
	}
	if err := os.MkdirAll(filepath.Dir(abs), 0o777); err != nil {
		return nil, err
	}
	// A file: URI so that any byte of the path survives; the underscore
	// keys are the driver's. WAL lets readers read while the runner
	// writes; immediate transactions take the write lock at BEGIN, so two
	// writers queue on busy_timeout instead of failing with "database is
	// locked" when one's read lock cannot be upgraded; synchronous=NORMAL
	// is durable across a crash of omp (not of the machine) and spares an
	// fsync per batch.
	q := fmt.Sprintf("_busy_timeout=%d&", busyTimeout.Milliseconds()) + "_journal_mode=WAL&_foreign_keys=1&_synchronous=NORMAL&_txlock=immediate"
	dsn := (&url.URL{Scheme: "file", Path: filepath.ToSlash(abs), RawQuery: q}).String()
	// The writer keeps its statement journal in memory: each multi-row
	// INSERT of a batch saves the pages it changes there, to undo itself
	// alone should it fail, and SQLite spills more than 64 KiB of it to a
	// temporary file. That was a quarter of a large run's writes to disk; a
	// statement of Write changes a few hundred KiB at most.
	w, err := sql.Open("sqlite", dsn+"&_pragma=temp_store(memory)")
	if err != nil {
		return nil, err
	}
	// One writing connection: the process's writers queue in Go rather
	// than in SQLite's busy handler, which sleeps.
	w.SetMaxOpenConns(1)
	r, err := sql.Open("sqlite", dsn)
	if err != nil {
		w.Close()
		return nil, err
	}
	r.SetMaxOpenConns(4)
	s := &sqlStore{w: w, r: r, anonymous: true}
	if err := retryBusy(ctx, func() error { return s.start(ctx, goose.DialectSQLite3) }); err != nil {
		s.Close()
		return nil, err
	}
	return s, nil
}

// retryBusy runs f again while it fails with SQLITE_BUSY, for up to
// busyTimeout. Switching a new database to WAL takes a lock that SQLite's
// busy handler does not wait for, so two processes opening the same new
// file at once can see SQLITE_BUSY before either has a connection set up.
func retryBusy(ctx context.Context, f func() error) error {
	deadline := time.Now().Add(busyTimeout)
	wait := 5 * time.Millisecond
	for {
		err := f()
		var se *sqlite.Error
		if !errors.As(err, &se) || se.Code() != sqlite3.SQLITE_BUSY || time.Now().After(deadline) {
			return err
		}
		select {
		case <-ctx.Done():
			return err
		case <-time.After(wait):
		}
		wait = min(2*wait, 200*time.Millisecond)
	}
}

func openPostgres(ctx context.Context, dbURL string) (*sqlStore, error) {
	db, err := sql.Open("pgx", dbURL)
	if err != nil {
		return nil, err
	}
	s := &sqlStore{w: db, r: db}
	if err := s.start(ctx, goose.DialectPostgres); err != nil {
		s.Close()
		return nil, err
	}
	return s, nil
}

// start checks that the database answers, then brings its schema up to
// date.
func (s *sqlStore) start(ctx context.Context, dialect goose.Dialect) error {
	pctx, cancel := context.WithTimeout(ctx, connectTimeout)
	err := s.w.PingContext(pctx)
	timedOut := errors.Is(pctx.Err(), context.DeadlineExceeded) && ctx.Err() == nil
	cancel()
	if timedOut {
		return fmt.Errorf("no answer within %v", connectTimeout)
	}
	if err != nil {
		return err
	}
	return migrate(ctx, s.w, dialect)
}

func migrate(ctx context.Context, db *sql.DB, dialect goose.Dialect) error {
	fsys, err := fs.Sub(migrations, "migrations")
	if err != nil {
		return err
	}
	opts := []goose.ProviderOption{goose.WithTableName(migrationsTable), goose.WithDisableGlobalRegistry(true)}
	if dialect == goose.DialectPostgres {
		// Processes that open a new database at once migrate it one
		// after the other (an advisory lock): with more than one
		// migration, the loser of a race could otherwise find a schema
		// half done.
		l, err := lock.NewPostgresSessionLocker()
		if err != nil {
			return err
		}
		opts = append(opts, goose.WithSessionLocker(l))
	}
	p, err := goose.NewProvider(dialect, db, fsys, opts...)
	if err != nil {
		return err
	}
	// Another process opening the same new database may migrate it at
	// the same time: a migration of ours then fails on what the other
	// applied. While the version moves on, the other is at work: look
	// again, and go on from where it got.
	deadline := time.Now().Add(busyTimeout)
	for {
		current, target, err := p.GetVersions(ctx)
		if err != nil {
			return fmt.Errorf("reading the schema version: %w", err)
		}
		if current > target {
			return fmt.Errorf("%w: its schema is version %d, this omp knows up to %d; use a newer omp", ErrNewerSchema, current, target)
		}
		if current == target {
			return nil
		}
		_, err = p.Up(ctx)
		if err == nil {
			return nil
		}
		if after, _, verr := p.GetVersions(ctx); verr != nil || after <= current || time.Now().After(deadline) {
			return fmt.Errorf("migrating the schema: %w", err)
		}
	}
}

// scrub makes err one line without url's password in it: pgx writes one
// line per address it tried (the same one twice with sslmode=prefer), and
// a driver might quote the password.
func scrub(err error, rawURL string) error {
	msg := err.Error()
	var clean string
	seen := map[string]bool{}
	for _, line := range strings.Split(msg, "\n") {
		line = strings.TrimSpace(line)
		if line == "" || seen[line] {
			continue
		}
		seen[line] = true
		switch {
		case clean == "":
			clean = line
		case strings.HasSuffix(clean, ":"):
			clean += " " + line
		default:
			clean += "; " + line
		}
	}
	clean = redact.Of(rawURL).Text(clean)
	if clean == msg {
		return err
	}
	if errors.Is(err, ErrNewerSchema) {
		return fmt.Errorf("%w: %s", ErrNewerSchema, strings.TrimPrefix(clean, ErrNewerSchema.Error()+": "))
	}
	return errors.New(clean)
}

// SQLitePath returns the file of a SQLite database URL, as Open reads it;
// ok is false for any other database.
func SQLitePath(dbURL string) (path string, ok bool) {
	switch {
	case strings.HasPrefix(dbURL, "sqlite:"):
		path = strings.TrimPrefix(dbURL, "sqlite:")
		if strings.HasPrefix(path, "//") {
			path = path[2:]
		}
		return path, true
	case !strings.Contains(dbURL, "://") && strings.HasSuffix(dbURL, ".db"):
		return dbURL, true
	}
	return "", false
}
