// Command crashy is a kind that misbehaves on request, for the host's tests.
package main

import (
	"context"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"strconv"
	"time"

	"github.com/ompdev/omp/plugins/sdk"
)

type crashy struct{}

func (crashy) Describe() sdk.KindSpec {
	return sdk.KindSpec{Name: "crashy", Aliases: []string{"crash"}, Description: "misbehaves on request", Actions: []sdk.ActionSpec{
		{Name: "pid"}, {Name: "panic"}, {Name: "crash"}, {Name: "exit"},
		{Name: "block", MaxArgs: 1, Args: []string{"seconds"}, Kwargs: []string{"until"}, Doc: "blocks"},
		{Name: "task", MinArgs: 0, MaxArgs: -1, AnyKwargs: true}, {Name: "report"},
		{Name: "await", MinArgs: 1, MaxArgs: 1, Args: []string{"file"}, Doc: "waits for file to exist"},
		{Name: "orphan", MinArgs: 1, MaxArgs: 1, Args: []string{"pidfile"}, Doc: "exits, leaving a process behind"},
	}}
}

func (crashy) Run(ctx context.Context, t sdk.Task, e sdk.Emitter) (any, error) {
	switch t.Action {
	case "pid":
		return os.Getpid(), nil
	case "task":
		// The task as the kind received it, to check the trip over gRPC.
		return t, nil
	case "report":
		e.Log("one")
		e.Metric("loss", 0.25, 3)
		e.Progress(1, 2)
		e.Log("two")
		return "done", nil
	case "panic":
		panic("boom")
	case "crash":
		// A panic outside Run cannot be recovered by the SDK: the process dies.
		go func() { panic("crash in goroutine") }()
	case "exit":
		os.Exit(1)
	case "await":
		// Reports that it started, waits for a file to exist, and returns
		// the process and attempt it ran in.
		var file string
		if err := t.Arg(0, &file); err != nil {
			return nil, err
		}
		e.Log("waiting")
		for {
			if _, err := os.Stat(file); err == nil {
				return map[string]int{"pid": os.Getpid(), "attempt": t.Attempt}, nil
			}
			select {
			case <-ctx.Done():
				return nil, ctx.Err()
			case <-time.After(5 * time.Millisecond):
			}
		}
	case "orphan":
		// Starts a process that keeps this one's stdout and stderr open,
		// and exits with it still running. The SDK replaced os.Stdout and
		// os.Stderr; the host reads file descriptors 1 and 2.
		var pidfile string
		if err := t.Arg(0, &pidfile); err != nil {
			return nil, err
		}
		cmd := exec.Command("sleep", "1000")
		cmd.Stdout, cmd.Stderr = os.NewFile(1, "stdout"), os.NewFile(2, "stderr")
		if err := cmd.Start(); err != nil {
			return nil, err
		}
		if err := os.WriteFile(pidfile, []byte(strconv.Itoa(cmd.Process.Pid)), 0o644); err != nil {
			return nil, err
		}
		fmt.Fprintln(cmd.Stderr, "leaving", cmd.Process.Pid, "behind")
		os.Exit(3)
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

func main() {
	sdk.Serve(crashy{})
	if os.Getenv("OMP_CRASHY_STUBBORN") != "" {
		// A plugin that does not exit when the host lets it go.
		time.Sleep(time.Hour)
	}
}
