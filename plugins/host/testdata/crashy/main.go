// Command crashy is a kind that misbehaves on request, for the host's tests.
package main

import (
	"context"
	"errors"
	"os"
	"time"

	"github.com/ompdev/omp/plugins/sdk"
)

type crashy struct{}

func (crashy) Describe() sdk.KindSpec {
	return sdk.KindSpec{Name: "crashy", Aliases: []string{"crash"}, Actions: []sdk.ActionSpec{
		{Name: "pid"}, {Name: "panic"}, {Name: "crash"}, {Name: "exit"}, {Name: "block", MaxArgs: 1},
	}}
}

func (crashy) Run(ctx context.Context, t sdk.Task, e sdk.Emitter) (any, error) {
	switch t.Action {
	case "pid":
		return os.Getpid(), nil
	case "panic":
		panic("boom")
	case "crash":
		// A panic outside Run cannot be recovered by the SDK: the process dies.
		go func() { panic("crash in goroutine") }()
	case "exit":
		os.Exit(1)
	case "block":
		// Reports that it started, then waits for the host to cancel and
		// records that the cancellation arrived.
		var marker string
		if err := t.Arg(0, &marker); err != nil {
			return nil, err
		}
		e.Log("blocking")
		<-ctx.Done()
		_ = os.WriteFile(marker, []byte(ctx.Err().Error()), 0o644)
		return nil, ctx.Err()
	}
	time.Sleep(10 * time.Second)
	return nil, errors.New("still alive")
}

func main() { sdk.Serve(crashy{}) }
