// Package testbin builds the programs that tests run as real processes: the
// omp binary, plugin kinds, test kinds. Tests start them as a user would
// instead of mocking the process boundary.
package testbin

import (
	"bytes"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"
)

// Target is one program to build: the package, and the file to write.
type Target struct {
	Pkg string // import path, or a directory such as "."
	Out string
}

// Build builds every target with the go command, all at once: each go build
// spends most of its time linking on one core, and the build cache is
// shared. The error joins those of the targets that failed, each with the
// compiler's output.
func Build(targets ...Target) error {
	errs := make([]error, len(targets))
	var wg sync.WaitGroup
	for i, t := range targets {
		wg.Go(func() {
			out, err := exec.Command("go", "build", "-o", t.Out, t.Pkg).CombinedOutput()
			if err != nil {
				errs[i] = fmt.Errorf("building %s: %v\n%s", t.Pkg, err, out)
			}
		})
	}
	wg.Wait()
	return errors.Join(errs...)
}

// Buffer collects a process's output while the test reads it: Write and
// String may be called at the same time from different goroutines.
type Buffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (s *Buffer) Write(p []byte) (int, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.Write(p)
}

func (s *Buffer) String() string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.String()
}

// stat reads /proc/PID/stat: the command, and the fields after it (state,
// ppid, ...); ok is false where it cannot be read.
func stat(pid string) (command string, fields []string, ok bool) {
	b, err := os.ReadFile("/proc/" + pid + "/stat")
	if err != nil {
		return "", nil, false
	}
	// The command is in parentheses that the name itself may contain.
	s := string(b)
	i, j := strings.IndexByte(s, '('), strings.LastIndexByte(s, ')')
	if i < 0 || j < i {
		return "", nil, false
	}
	return s[i+1 : j], strings.Fields(s[j+1:]), true
}

// Main is a TestMain's body for tests that run built programs: it builds
// the targets that targets names in a temporary directory, which lives as
// long as the tests do, runs them, and fails them if they passed but left
// a process of this one running, or if check, when not nil, says what else
// they leaked. It returns the exit code for os.Exit.
func Main(m *testing.M, targets func(dir string) []Target, check func() error) int {
	dir, err := os.MkdirTemp("", "omp-testbin-")
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		return 1
	}
	defer os.RemoveAll(dir)
	if err := Build(targets(dir)...); err != nil {
		fmt.Fprintln(os.Stderr, err)
		return 1
	}
	code := m.Run()
	if code != 0 {
		return code
	}
	if check != nil {
		if err := check(); err != nil {
			fmt.Fprintln(os.Stderr, err)
			return 1
		}
	}
	if kids := Children(os.Getpid()); len(kids) > 0 {
		fmt.Fprintf(os.Stderr, "processes leaked: %v\n", kids)
		return 1
	}
	return 0
}

// Alive reports whether process pid runs: a zombie waiting for its reaper
// does not. It reads /proc, so it answers false where there is none.
func Alive(pid int) bool {
	_, fields, ok := stat(strconv.Itoa(pid))
	return ok && len(fields) > 0 && fields[0] != "Z"
}

// Children lists the live processes (not zombies) whose parent is pid, each
// as "PID COMMAND": a test checks with it that nothing it started outlives
// what should have stopped it.
func Children(pid int) []string {
	parent := strconv.Itoa(pid)
	entries, _ := os.ReadDir("/proc")
	var kids []string
	for _, e := range entries {
		if _, err := strconv.Atoi(e.Name()); err != nil {
			continue
		}
		command, fields, ok := stat(e.Name()) // not ok: exited meanwhile
		if ok && len(fields) > 1 && fields[1] == parent && fields[0] != "Z" {
			kids = append(kids, e.Name()+" "+command)
		}
	}
	return kids
}

// Exits waits up to within for process pid to be gone, and reports whether
// it is. Tests use it to check that nothing a killed or finished process
// started outlives it.
func Exits(pid int, within time.Duration) bool {
	deadline := time.Now().Add(within)
	for Alive(pid) {
		if time.Now().After(deadline) {
			return false
		}
		time.Sleep(10 * time.Millisecond)
	}
	return true
}

// CPU is the CPU time, user and system, that process pid has used so far,
// to the kernel's clock tick (10 ms), or 0 if it cannot be read. Benchmarks
// report it per operation for a process other than their own (a plugin, a
// worker): on a shared machine it moves less than wall time does.
func CPU(pid int) time.Duration {
	_, fields, ok := stat(strconv.Itoa(pid))
	// utime and stime are the 14th and 15th fields, the 12th and 13th
	// after the command.
	if !ok || len(fields) < 13 {
		return 0
	}
	user, _ := strconv.ParseInt(fields[11], 10, 64)
	sys, _ := strconv.ParseInt(fields[12], 10, 64)
	const tick = 10 * time.Millisecond // USER_HZ is 100 on Linux
	return time.Duration(user+sys) * tick
}
