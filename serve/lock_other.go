//go:build !unix

package serve

import "errors"

// LockSQLite is not available here: without an operating system's file
// lock that ends with the process, a second server could not be told from
// a dead one.
func LockSQLite(path string) (func(), error) {
	return nil, errors.New("omp serve with a SQLite run history needs a Unix system; use PostgreSQL (--db postgres://…)")
}
