// Package builtin lists the kinds that the omp binary serves itself, through
// its hidden `omp plugin-serve KIND` command. They still run as plugin
// processes of their own; being built in only means that `go build ./cmd/omp`
// gives them all.
package builtin

import (
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
