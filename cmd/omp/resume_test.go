package main

import (
	"os"
	"strings"
	"testing"

	"github.com/rogpeppe/go-internal/txtar"
)

// TestResumeSpecExample: the pipeline that testdata/runs/resume_spec.txtar
// runs is the example of spec.md's Resume section, word for word.
func TestResumeSpecExample(t *testing.T) {
	spec, err := os.ReadFile("../../spec.md")
	if err != nil {
		t.Fatal(err)
	}
	_, section, ok := strings.Cut(string(spec), "\n## Resume\n")
	if !ok {
		t.Fatal("spec.md has no Resume section")
	}
	_, block, _ := strings.Cut(section, "```omp\n")
	block, _, _ = strings.Cut(block, "```")
	ar, err := txtar.ParseFile("testdata/runs/resume_spec.txtar")
	if err != nil {
		t.Fatal(err)
	}
	for _, f := range ar.Files {
		if f.Name == "spec.omp" {
			if string(f.Data) != block {
				t.Errorf("spec.md's Resume example:\n%s\nresume_spec.txtar's spec.omp:\n%s", block, f.Data)
			}
			return
		}
	}
	t.Fatal("resume_spec.txtar has no spec.omp")
}
