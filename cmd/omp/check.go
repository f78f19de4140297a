package main

import (
	"context"

	"github.com/spf13/cobra"

	"github.com/ompdev/omp/compiler"
	"github.com/ompdev/omp/lang"
)

func init() { commands = append(commands, newCheckCmd) }

type checkOptions struct {
	file     string
	params   []string
	pipeline string
}

func newCheckCmd(s *streams) *cobra.Command {
	var opts checkOptions
	cmd := &cobra.Command{
		Use:   "check FILE",
		Short: "Check a pipeline file for errors without running it",
		Long: `Check parses and compiles FILE and reports every error it finds, one per
line as FILE:LINE:COL: message, followed by the source line and a caret.
It prints nothing when the file is fine.

Every pipeline block is checked. With --pipeline, the named block must
also exist. Exit status: 0 fine, 2 errors.`,
		Args: cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			opts.file = args[0]
			return runCheck(cmd.Context(), s, opts)
		},
	}
	f := cmd.Flags()
	f.StringArrayVarP(&opts.params, "param", "p", nil, "set parameter `NAME=VALUE` (an omp literal, else a string)")
	f.StringVar(&opts.pipeline, "pipeline", "", "also check that the pipeline block `NAME` exists")
	return cmd
}

func runCheck(ctx context.Context, s *streams, opts checkOptions) error {
	kinds := &compileKinds{ctx: ctx, warnings: s.err}
	defer kinds.close()
	return load(s, opts.file, opts.params, kinds.registry, func(f *lang.File, cfg compiler.Config) error {
		// Check, not Compile: run and graph compile only the selected
		// block, check every one.
		cfg.Pipeline = opts.pipeline
		return compiler.Check(f, cfg)
	})
}
