// Command omp-kind-upper is a third-party task kind, and the example of how to
// write one: `upper NAME("text")` returns "TEXT"; `upper NAME()` upper-cases
// its input. Build it onto the plugin path and omp finds it:
//
//	go build -o plugins/bin/omp-kind-upper ./examples/plugins/upper
package main

import (
	"context"
	"strings"

	"github.com/ompdev/omp/plugins/sdk"
)

type upper struct{}

func (upper) Describe() sdk.KindSpec {
	return sdk.KindSpec{Name: "upper", Actions: []sdk.ActionSpec{{Name: "run", MaxArgs: 1, Args: []string{"text"}}}}
}

func (upper) Run(ctx context.Context, t sdk.Task, e sdk.Emitter) (any, error) {
	var s string
	err := t.DecodeInput(&s) // the upstream result, unless an argument is given
	if len(t.Args) > 0 {
		err = t.Arg(0, &s)
	}
	if err != nil {
		return nil, err
	}
	e.Log("upper-casing " + t.Name)
	return strings.ToUpper(s), nil
}

func main() { sdk.Serve(upper{}) }
