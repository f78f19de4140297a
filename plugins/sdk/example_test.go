package sdk_test

import (
	"context"
	"fmt"
	"time"

	"github.com/ompdev/omp/plugins/sdk"
)

// countdown is a kind: `countdown NAME(n)` counts down from n, a second a
// step, reporting progress, and returns "liftoff".
type countdown struct{}

func (countdown) Describe() sdk.KindSpec {
	return sdk.KindSpec{
		Name:        "countdown",
		Description: "counts down, a second a step",
		Actions:     []sdk.ActionSpec{{Name: "run", MinArgs: 1, MaxArgs: 1, Args: []string{"n"}}},
	}
}

func (countdown) Run(ctx context.Context, t sdk.Task, e sdk.Emitter) (any, error) {
	var n int
	if err := t.Arg(0, &n); err != nil {
		return nil, err // already sdk.Permanent: retrying cannot fix a bad argument
	}
	if n < 0 {
		return nil, sdk.Permanent(fmt.Errorf("countdown %s: n must not be negative, got %d", t.Name, n))
	}
	for i := n; i > 0; i-- {
		e.Log(fmt.Sprint(i))
		e.Progress(n-i, n)
		select {
		case <-ctx.Done(): // a timeout or Ctrl-C in omp
			return nil, ctx.Err()
		case <-time.After(time.Second):
		}
	}
	e.Progress(n, n)
	return "liftoff", nil
}

// A kind's whole main function: build it as omp-kind-countdown on
// $OMP_PLUGIN_PATH or in ./plugins/bin, and `omp plugins` lists it.
func ExampleServe() {
	sdk.Serve(countdown{})
}
