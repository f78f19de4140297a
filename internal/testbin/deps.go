package testbin

import (
	"os/exec"
	"strings"
	"testing"
)

// NoDeps fails t if pkg, built as a library, depends on a package whose
// import path starts with one of heavy: what a library leaves to the main
// package to wire is not to creep back into every program that imports it.
func NoDeps(t *testing.T, pkg string, heavy ...string) {
	t.Helper()
	out, err := exec.Command("go", "list", "-deps", pkg).CombinedOutput()
	if err != nil {
		t.Fatalf("go list -deps %s: %v\n%s", pkg, err, out)
	}
	for _, dep := range strings.Fields(string(out)) {
		for _, h := range heavy {
			if strings.HasPrefix(dep, h) {
				t.Errorf("%s depends on %s", pkg, dep)
			}
		}
	}
}
