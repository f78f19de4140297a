//go:build unix

package serve

import (
	"errors"
	"fmt"
	"os"
	"strconv"
	"strings"
	"syscall"
)

// LockSQLite makes this server the only one on the SQLite database at
// path: SQLite cannot share a run history's ticks between machines, and
// two servers on one file would each fire every tick. The lock is the
// operating system's (flock) on PATH.serve-lock, so it ends with the
// process however it ends, kill -9 included.
func LockSQLite(path string) (unlock func(), err error) {
	name := path + ".serve-lock"
	f, err := os.OpenFile(name, os.O_RDWR|os.O_CREATE, 0o644)
	if err != nil {
		return nil, err
	}
	if err := syscall.Flock(int(f.Fd()), syscall.LOCK_EX|syscall.LOCK_NB); err != nil {
		pid, _ := os.ReadFile(name)
		f.Close()
		if errors.Is(err, syscall.EWOULDBLOCK) {
			who := ""
			if p := strings.TrimSpace(string(pid)); p != "" {
				if _, err := strconv.Atoi(p); err == nil {
					who = " (process " + p + ")"
				}
			}
			return nil, fmt.Errorf("another omp serve%s uses the run history %s: one server per SQLite file; for several, use PostgreSQL (--db postgres://…)", who, path)
		}
		return nil, err
	}
	_ = f.Truncate(0)
	_, _ = f.WriteAt([]byte(strconv.Itoa(os.Getpid())+"\n"), 0)
	return func() { f.Close() }, nil
}
