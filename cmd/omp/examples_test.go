package main

import (
	"bytes"
	"context"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// TestExamples runs every examples/*.omp to the end on the embedded bus, in
// a copy of examples/ so that what the runs write (notebooks in results/,
// model versions, datasets) stays out of the tree.
func TestExamples(t *testing.T) {
	store := t.TempDir()
	if err := os.CopyFS(store, os.DirFS("../../examples")); err != nil {
		t.Fatal(err)
	}
	// [^.]: not .omp/, the run history that running the examples makes.
	files, err := filepath.Glob(filepath.Join(store, "[^.]*.omp"))
	if err != nil || len(files) == 0 {
		t.Fatalf("no examples: %v", err)
	}
	for _, file := range files {
		t.Run(strings.TrimSuffix(filepath.Base(file), ".omp"), func(t *testing.T) {
			var out, errOut bytes.Buffer
			code := execute(context.Background(), &streams{in: strings.NewReader(""), out: &out, err: &errOut}, []string{"run", file})
			if code != ExitOK {
				t.Fatalf("omp run %s: exit %d\n%s", filepath.Base(file), code, errOut.String())
			}
			if out.Len() == 0 {
				t.Errorf("omp run %s printed no result", filepath.Base(file))
			}
		})
	}
}
