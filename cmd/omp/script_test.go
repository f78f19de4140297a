package main

import (
	"os"
	"testing"

	"github.com/rogpeppe/go-internal/testscript"
)

// TestMain lets the test binary act as omp: testscript puts a copy of it on
// $PATH named omp, and when it starts under that name Main dispatches to
// omp's own Main. The plugin host relies on the same thing when it
// re-executes os.Executable() as "omp plugin-serve KIND" to serve a
// built-in kind, so keep the dispatch on argv[0].
func TestMain(m *testing.M) {
	testscript.Main(m, map[string]func(){
		"omp": func() { os.Exit(int(Main())) },
	})
}

// TestScripts runs testdata/script/*.txtar: each runs the real omp binary
// and compares its output with what the script expects.
func TestScripts(t *testing.T) {
	testscript.Run(t, testscript.Params{
		Dir:                 "testdata/script",
		RequireExplicitExec: true,
		UpdateScripts:       os.Getenv("UPDATE_SCRIPTS") != "",
	})
}
