package main

import (
	"context"
	"fmt"

	"github.com/spf13/cobra"
)

func init() { commands = append(commands, newGraphCmd) }

type graphOptions struct {
	file     string
	params   []string
	pipeline string
	format   string
}

func newGraphCmd(s *streams) *cobra.Command {
	var opts graphOptions
	cmd := &cobra.Command{
		Use:   "graph FILE",
		Short: "Print the task graph a pipeline file compiles to",
		Long: `Graph compiles FILE and prints its task graph to stdout:

  json     the stable machine form, described in spec.md (the default)
  dot      Graphviz: omp graph FILE --format dot | dot -Tsvg > graph.svg
  mermaid  a Mermaid flowchart, to paste into Markdown or mermaid.live

Task nodes are boxes and reducers rounded; solid edges carry a stage's
input, dashed edges a let name used as an argument; statement results are
drawn with a heavier border.`,
		Args: cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			opts.file = args[0]
			return runGraph(cmd.Context(), s, opts)
		},
	}
	f := cmd.Flags()
	f.StringVar(&opts.format, "format", "json", "output `FORMAT`: json, dot or mermaid")
	f.StringArrayVarP(&opts.params, "param", "p", nil, "set parameter `NAME=VALUE` (an omp literal, else a string)")
	f.StringVar(&opts.pipeline, "pipeline", "", "compile the pipeline block `NAME`")
	return cmd
}

func runGraph(ctx context.Context, s *streams, opts graphOptions) error {
	switch opts.format {
	case "json", "dot", "mermaid":
	default:
		return withCode(ExitUsage, fmt.Errorf("--format %q: want json, dot or mermaid", opts.format))
	}
	kinds := &compileKinds{ctx: ctx, warnings: s.err}
	defer kinds.close()
	g, err := loadGraph(s, opts.file, opts.params, opts.pipeline, kinds.registry)
	if err != nil {
		return err
	}
	switch opts.format {
	case "dot":
		err = g.WriteDOT(s.out)
	case "mermaid":
		err = g.WriteMermaid(s.out)
	default:
		err = g.WriteJSON(s.out)
	}
	if err != nil {
		return withCode(ExitFailure, fmt.Errorf("writing the graph: %w", err))
	}
	return nil
}
