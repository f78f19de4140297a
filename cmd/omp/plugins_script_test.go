package main

import (
	"context"
	"os"
	"strconv"
	"strings"
	"time"

	"github.com/rogpeppe/go-internal/testscript"

	"github.com/ompdev/omp/internal/testbin"
	"github.com/ompdev/omp/plugins/sdk"
)

// greetKind is a third-party kind for the testscripts: the test binary
// serves it as the program omp-test-greet (see TestMain), which a script's
// bin/omp-kind-greet runs with exec.
type greetKind struct{}

func (greetKind) Describe() sdk.KindSpec {
	return sdk.KindSpec{Name: "greet", Actions: []sdk.ActionSpec{{Name: "run", MaxArgs: 1, Args: []string{"who"}}}}
}

func (greetKind) Run(_ context.Context, t sdk.Task, _ sdk.Emitter) (any, error) {
	var who string
	if err := t.Arg(0, &who); err != nil {
		return nil, err
	}
	return "hello " + who, nil
}

// cmdGone checks that the process whose pid a file holds has ended:
// `gone sleep.pid`. A process killed a moment ago may take that moment to
// be gone, so it waits a little.
func cmdGone(ts *testscript.TestScript, neg bool, args []string) {
	if neg || len(args) != 1 {
		ts.Fatalf("usage: gone PIDFILE")
	}
	data, err := os.ReadFile(ts.MkAbs(args[0]))
	ts.Check(err)
	pid, err := strconv.Atoi(strings.TrimSpace(string(data)))
	ts.Check(err)
	if !testbin.Exits(pid, 5*time.Second) {
		ts.Fatalf("process %d is still running", pid)
	}
}
