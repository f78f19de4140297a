// Package builtin lists the kinds that the omp binary serves itself, through
// its hidden `omp plugin-serve KIND` command. They still run as plugin
// processes of their own; being built in only means that `go build ./cmd/omp`
// gives them all.
package builtin

import (
	"github.com/ompdev/omp/compiler"
	"github.com/ompdev/omp/plugins/echo"
	"github.com/ompdev/omp/plugins/job"
	"github.com/ompdev/omp/plugins/model"
	"github.com/ompdev/omp/plugins/script"
	"github.com/ompdev/omp/plugins/sdk"
)

// all are the built-in kinds. Adding one is one line here.
var all = []sdk.Kind{
	echo.Kind{},
	script.Kind{},
	job.Kind{},
	model.Kind{},
}

// Kinds returns the built-in kinds by name.
func Kinds() map[string]sdk.Kind {
	m := make(map[string]sdk.Kind, len(all))
	for _, k := range all {
		m[k.Describe().Name] = k
	}
	return m
}

// Registry is the compiler's registry of the built-in kinds, from what each
// describes itself as; for the tests and tools that compile a pipeline
// without a plugin host.
func Registry() *compiler.MapRegistry {
	r := compiler.NewRegistry()
	for _, k := range all {
		r.Add(CompilerSpec(k.Describe()))
	}
	return r
}

// CompilerSpec is what the compiler knows of a kind that describes itself
// as s, built in or not.
func CompilerSpec(s sdk.KindSpec) compiler.KindSpec {
	spec := compiler.KindSpec{Name: s.Name, Aliases: s.Aliases}
	for _, a := range s.Actions {
		spec.Actions = append(spec.Actions, compiler.ActionSpec{Name: a.Name, MinArgs: a.MinArgs, MaxArgs: a.MaxArgs, Kwargs: a.Kwargs, AnyKwargs: a.AnyKwargs})
	}
	return spec
}
