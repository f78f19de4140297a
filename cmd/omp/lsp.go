package main

import (
	"context"
	"errors"
	"io"

	"github.com/spf13/cobra"

	"github.com/ompdev/omp/lsp"
)

func init() { commands = append(commands, newLSPCmd) }

func newLSPCmd(s *streams) *cobra.Command {
	return &cobra.Command{
		Use:   "lsp",
		Short: "Serve the language server protocol to an editor on standard input and output",
		Long: `Lsp is omp's language server: an editor starts it and speaks the Language
Server Protocol to it on standard input and output. It reports the errors
omp check reports, as the file is typed, with quick fixes for its "did you
mean" hints; completes kinds, actions, keyword arguments, names, reducers
and options; shows a kind's description on hover; goes to the definition of
a let or param and finds its uses; formats as omp fmt; and lists a file's
pipelines, lets and params.

Kinds are those omp check knows: the built-in ones and the plugins on
$OMP_PLUGIN_PATH and ./plugins/bin, a plugin started only when a file uses
its kind. Exit status: 0 after the editor's shutdown and exit, or when
standard input ends; 1 after an exit without shutdown.`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			return runLSP(cmd.Context(), s)
		},
	}
}

func runLSP(ctx context.Context, s *streams) error {
	kinds := &compileKinds{ctx: ctx, warnings: s.err}
	defer kinds.close()
	err := lsp.Serve(ctx, stdio{s.in, s.out}, lsp.Config{
		Registry: func() (lsp.Registry, error) {
			reg, err := kinds.registry()
			if err != nil {
				return nil, err
			}
			return reg.(*hostRegistry), nil
		},
		Log: s.err,
	})
	switch {
	case errors.Is(err, lsp.ErrExitWithoutShutdown):
		return withCode(ExitFailure, err)
	case errors.Is(err, context.Canceled):
		return reported(ExitCancelled)
	}
	return err
}

// stdio is standard input and output as one stream; closing it closes
// standard input, if it can be, so that nothing goes on reading it.
type stdio struct {
	io.Reader
	io.Writer
}

func (s stdio) Close() error {
	if c, ok := s.Reader.(io.Closer); ok {
		return c.Close()
	}
	return nil
}
