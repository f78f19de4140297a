package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"os/signal"
	"runtime/debug"
	"syscall"

	"github.com/spf13/cobra"
)

// ExitCode is the process exit status; the values are part of omp's contract
// with shells and CI systems.
type ExitCode int

const (
	ExitOK        ExitCode = 0   // every task succeeded
	ExitFailure   ExitCode = 1   // a task failed
	ExitUsage     ExitCode = 2   // bad flags, bad arguments, compile errors
	ExitInfra     ExitCode = 3   // a plugin that cannot start, a broker that cannot be reached
	ExitCancelled ExitCode = 130 // SIGINT or SIGTERM
)

// exitError carries an exit code up to Main. Its message, if any, is printed
// as "omp: msg"; an empty message means the error was already reported.
type exitError struct {
	code ExitCode
	err  error
}

func (e *exitError) Error() string {
	if e.err == nil {
		return ""
	}
	return e.err.Error()
}

func (e *exitError) Unwrap() error { return e.err }

// withCode marks err to end the process with code.
func withCode(code ExitCode, err error) error {
	return &exitError{code: code, err: err}
}

// reported ends the process with code after the error was already printed.
func reported(code ExitCode) error { return &exitError{code: code} }

// streams are where a command reads and writes; tests replace them.
type streams struct {
	in       io.Reader
	out, err io.Writer
}

func newRootCmd(s *streams) *cobra.Command {
	root := &cobra.Command{
		Use:           "omp",
		Short:         "Run pipelines of models, scripts and notebooks, locally or on RabbitMQ workers",
		Version:       version(),
		SilenceUsage:  true,
		SilenceErrors: true,
	}
	root.SetVersionTemplate("omp {{.Version}}\n")
	root.SetIn(s.in)
	root.SetOut(s.out)
	root.SetErr(s.err)
	root.SetFlagErrorFunc(func(c *cobra.Command, err error) error {
		return withCode(ExitUsage, fmt.Errorf("%w\nRun '%s --help' for usage.", err, c.CommandPath()))
	})
	for _, newCmd := range commands {
		root.AddCommand(newCmd(s))
	}
	return root
}

// commands are the subcommands, each defined in a file of its own.
var commands []func(*streams) *cobra.Command

// Main runs omp with os.Args and returns the exit code.
func Main() ExitCode {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	s := &streams{in: os.Stdin, out: os.Stdout, err: os.Stderr}
	defer startProfile(s.err)()
	return execute(ctx, s, os.Args[1:])
}

func execute(ctx context.Context, s *streams, args []string) ExitCode {
	root := newRootCmd(s)
	root.SetArgs(args)
	root.SetContext(ctx)
	cmd, err := root.ExecuteC()
	if err == nil {
		return ExitOK
	}
	var ee *exitError
	if errors.As(err, &ee) {
		if ee.err != nil {
			fmt.Fprintf(s.err, "omp: %v\n", ee.err)
		}
		return ee.code
	}
	// cobra's own errors (unknown command, wrong number of arguments) are
	// usage errors.
	fmt.Fprintf(s.err, "omp: %v\nRun '%s --help' for usage.\n", err, cmd.CommandPath())
	return ExitUsage
}

// version is the module version omp was built as: a release (go install
// …@v1.2.3), a pseudo-version naming the commit of a checkout it was built
// in, or (devel) when the build recorded neither.
func version() string {
	if info, ok := debug.ReadBuildInfo(); ok && info.Main.Version != "" {
		return info.Main.Version
	}
	return "(devel)"
}
