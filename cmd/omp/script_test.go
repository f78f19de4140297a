package main

import (
	"errors"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"testing"

	"github.com/rogpeppe/go-internal/testscript"

	"github.com/ompdev/omp/plugins/sdk"
)

// TestMain lets the test binary act as omp: testscript puts a copy of it on
// $PATH named omp, and when it starts under that name Main dispatches to
// omp's own Main. The plugin host relies on the same thing when it
// re-executes os.Executable() as "omp plugin-serve KIND" to serve a
// built-in kind, so keep the dispatch on argv[0].
func TestMain(m *testing.M) {
	testscript.Main(m, map[string]func(){
		"omp":            func() { os.Exit(int(Main())) },
		"omp-test-greet": func() { sdk.Serve(greetKind{}) },
	})
}

// TestScripts runs testdata/script/*.txtar: each runs the real omp binary
// and compares its output with what the script expects. With
// UPDATE_SCRIPTS=1 set, files compared by cmp are rewritten from the actual
// output.
func TestScripts(t *testing.T) {
	examples, err := filepath.Abs("../../examples")
	if err != nil {
		t.Fatal(err)
	}
	testscript.Run(t, testscript.Params{
		Dir: "testdata/script",
		// $EXAMPLES lets a script check the repository's examples.
		Setup: func(env *testscript.Env) error {
			env.Setenv("EXAMPLES", examples)
			if err := setupGoBuild(env); err != nil {
				return err
			}
			return setupAMQP(env)
		},
		RequireExplicitExec: true,
		UpdateScripts:       os.Getenv("UPDATE_SCRIPTS") != "",
		Cmds: map[string]func(ts *testscript.TestScript, neg bool, args []string){
			"status": cmdStatus,
			"gone":   cmdGone,
			// A log a system can index: see log_script_test.go.
			"jsonlines": cmdJSONLines,
			// Language server messages: see lsp_script_test.go.
			"lspframe":   cmdLSPFrame,
			"lspunframe": cmdLSPUnframe,
		},
	})
}

// cmdStatus runs a program and checks its exact exit status, which exec
// cannot: `status 3 omp run p.omp`. Its stdout and stderr are kept for the
// commands that follow, as exec keeps them.
func cmdStatus(ts *testscript.TestScript, neg bool, args []string) {
	if neg || len(args) < 2 {
		ts.Fatalf("usage: status CODE PROGRAM [ARGS...]")
	}
	want, err := strconv.Atoi(args[0])
	if err != nil {
		ts.Fatalf("status: %v", err)
	}
	got := 0
	if err := ts.Exec(args[1], args[2:]...); err != nil {
		var ee *exec.ExitError
		if !errors.As(err, &ee) {
			ts.Fatalf("status: %v", err)
		}
		got = ee.ExitCode()
	}
	if got != want {
		ts.Fatalf("%s exited with status %d, want %d", args[1], got, want)
	}
}
