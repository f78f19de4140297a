package main

import (
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// goBuildID reads the build ID of an executable the go command built (this
// test's own) and gives "" for anything else, which then gets its digest.
func TestGoBuildID(t *testing.T) {
	self, err := os.Executable()
	if err != nil {
		t.Fatal(err)
	}
	dir := t.TempDir()
	script := filepath.Join(dir, "omp-kind-x")
	if err := os.WriteFile(script, []byte("#!/bin/sh\necho hi\n"), 0o755); err != nil {
		t.Fatal(err)
	}
	tests := []struct {
		name, path string
		want       bool
	}{
		{"go executable", self, true},
		{"script", script, false},
		{"missing", filepath.Join(dir, "none"), false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			id := goBuildID(tt.path)
			if got := id != ""; got != tt.want {
				t.Fatalf("goBuildID(%s) = %q, want an ID: %v", tt.path, id, tt.want)
			}
			if tt.want && (strings.Count(id, "/") < 1 || strings.ContainsAny(id, " \n")) {
				t.Errorf("goBuildID = %q, not a build ID", id)
			}
		})
	}
}
