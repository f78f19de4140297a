package compiler_test

import (
	"errors"
	"testing"

	"github.com/ompdev/omp/compiler"
	"github.com/ompdev/omp/lang"
	"github.com/ompdev/omp/plugins/builtin"
)

// The compiler's tests check pipelines against what the built-in kinds
// describe themselves as, not against a copy of it.
func init() { compiler.SetBuiltinKinds(builtin.Registry) }

// TestRegistryRequired: the compiler knows no kind of its own, so a Config
// without a Registry is an error rather than a silent default.
func TestRegistryRequired(t *testing.T) {
	f, err := lang.Parse("p.omp", []byte("echo a(1)\n"))
	if err != nil {
		t.Fatal(err)
	}
	if _, err := compiler.Compile(f, compiler.Config{}); !errors.Is(err, compiler.ErrNoRegistry) {
		t.Errorf("Compile without a registry: err = %v, want %v", err, compiler.ErrNoRegistry)
	}
	if err := compiler.Check(f, compiler.Config{}); !errors.Is(err, compiler.ErrNoRegistry) {
		t.Errorf("Check without a registry: err = %v, want %v", err, compiler.ErrNoRegistry)
	}
	if _, err := compiler.Compile(f, compiler.Config{Registry: builtin.Registry()}); err != nil {
		t.Errorf("Compile with the built-in kinds: %v", err)
	}
}
