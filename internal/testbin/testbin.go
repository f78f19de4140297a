// Package testbin builds the programs that tests run as real processes: the
// omp binary, plugin kinds, test kinds. Tests start them as a user would
// instead of mocking the process boundary.
package testbin

import (
	"errors"
	"fmt"
	"os"
	"os/exec"
	"strconv"
	"strings"
	"sync"
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

// Alive reports whether process pid runs: a zombie waiting for its reaper
// does not. It reads /proc, so it answers false where there is none.
func Alive(pid int) bool {
	b, err := os.ReadFile("/proc/" + strconv.Itoa(pid) + "/stat")
	if err != nil {
		return false
	}
	// The state follows the command name, in parentheses that the name
	// itself may contain.
	s := string(b)
	fields := strings.Fields(s[strings.LastIndexByte(s, ')')+1:])
	return len(fields) > 0 && fields[0] != "Z"
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
	b, err := os.ReadFile("/proc/" + strconv.Itoa(pid) + "/stat")
	if err != nil {
		return 0
	}
	s := string(b)
	// utime and stime are the 14th and 15th fields, the 12th and 13th
	// after the parenthesised command name.
	fields := strings.Fields(s[strings.LastIndexByte(s, ')')+1:])
	if len(fields) < 13 {
		return 0
	}
	user, _ := strconv.ParseInt(fields[11], 10, 64)
	sys, _ := strconv.ParseInt(fields[12], 10, 64)
	const tick = 10 * time.Millisecond // USER_HZ is 100 on Linux
	return time.Duration(user+sys) * tick
}
