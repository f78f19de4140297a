// Package testbin builds the programs that tests run as real processes: the
// omp binary, plugin kinds, test kinds. Tests start them as a user would
// instead of mocking the process boundary.
package testbin

import (
	"fmt"
	"os/exec"
)

// Target is one program to build: the package, and the file to write.
type Target struct {
	Pkg string // import path, or a directory such as "."
	Out string
}

// Build builds every target with the go command, stopping at the first that
// fails; the error carries the compiler's output.
func Build(targets ...Target) error {
	for _, t := range targets {
		out, err := exec.Command("go", "build", "-o", t.Out, t.Pkg).CombinedOutput()
		if err != nil {
			return fmt.Errorf("building %s: %v\n%s", t.Pkg, err, out)
		}
	}
	return nil
}
