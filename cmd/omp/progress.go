package main

import (
	"fmt"
	"os"

	"github.com/ompdev/omp/compiler"
	"github.com/ompdev/omp/runtime"
	"github.com/ompdev/omp/runtime/report"
)

// progressModes are the values of --progress.
var progressModes = []string{"auto", "tty", "plain", "quiet"}

func checkProgress(mode string) error {
	for _, m := range progressModes {
		if mode == m {
			return nil
		}
	}
	return withCode(ExitUsage, fmt.Errorf("--progress must be auto, tty, plain or quiet, not %q", mode))
}

// progressView shows a run on stderr; Done ends it before the summary.
type progressView interface {
	runtime.Listener
	Done()
}

// newProgress picks the view of --progress: auto is the live view when
// stderr is a terminal that can move its cursor (TERM is not dumb) and CI
// is unset, else plain lines.
func newProgress(s *streams, mode string, g *compiler.Graph) progressView {
	if mode == "auto" {
		mode = "plain"
		if isTerminal(s.err) && os.Getenv("CI") == "" && os.Getenv("TERM") != "dumb" {
			mode = "tty"
		}
	}
	if mode == "tty" {
		return report.NewLive(s.err, g)
	}
	c := report.NewConsole(s.err, mode == "quiet")
	c.Graph(g)
	return c
}
