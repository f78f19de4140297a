package main

import (
	"context"
	"encoding/json"
	"fmt"
	"strings"
	"text/tabwriter"

	"github.com/spf13/cobra"

	"github.com/ompdev/omp/plugins/builtin"
	"github.com/ompdev/omp/plugins/host"
	"github.com/ompdev/omp/plugins/sdk"
)

func init() { commands = append(commands, newPluginsCmd) }

// pluginsOptions are the flags of `omp plugins`.
type pluginsOptions struct {
	json bool
}

func newPluginsCmd(s *streams) *cobra.Command {
	var opts pluginsOptions
	cmd := &cobra.Command{
		Use:   "plugins",
		Short: "List the task kinds, their actions and where they come from",
		Long: `List every task kind omp can run: the built-in kinds, and the
omp-kind-NAME executables found in $OMP_PLUGIN_PATH (colon-separated) and
then ./plugins/bin, each of which serves the kind NAME.

The plugins are started at once, each given $OMP_PLUGIN_START_TIMEOUT
(default 10s) to start. One that cannot start or describe itself is listed
as unavailable, with the cause. Exit status: 0 whenever the kinds could be
listed, broken plugins included.`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, args []string) error {
			return runPlugins(cmd.Context(), s, opts)
		},
	}
	cmd.Flags().BoolVar(&opts.json, "json", false, "print the kinds as a JSON array")
	return cmd
}

func runPlugins(ctx context.Context, s *streams, opts pluginsOptions) error {
	log := personLogger(s.err)
	h, err := host.New(host.Config{Builtins: builtin.Kinds(), Logger: log, Warnings: s.err})
	if err != nil {
		return withCode(ExitInfra, err)
	}
	defer h.Close()
	// Kinds' error only joins those of the broken plugins, which the list
	// shows as unavailable with their causes: the built-in kinds are a
	// source that always answers, and a broken plugin fails only the
	// pipelines that use its kind.
	kinds, _ := h.Kinds(ctx)
	if opts.json {
		if kinds == nil {
			kinds = []host.KindInfo{}
		}
		enc := json.NewEncoder(s.out)
		enc.SetIndent("", "  ")
		if err := enc.Encode(kinds); err != nil {
			return err
		}
	} else {
		tw := tabwriter.NewWriter(s.out, 0, 4, 2, ' ', 0)
		fmt.Fprintln(tw, "KIND\tACTIONS\tSOURCE")
		for _, k := range kinds {
			name := k.Spec.Name
			if len(k.Spec.Aliases) > 0 {
				name += " (" + strings.Join(k.Spec.Aliases, ", ") + ")"
			}
			if k.Error != "" {
				fmt.Fprintf(tw, "%s\tunavailable\t%s: %s\n", name, k.Source, k.Error)
				continue
			}
			fmt.Fprintf(tw, "%s\t%s\t%s\n", name, actionList(k.Spec.Actions), k.Source)
		}
		if err := tw.Flush(); err != nil {
			return err
		}
	}
	return nil
}

// actionList shows each action with how many arguments it takes:
// run(0..1), fit(0..2), run(0..).
func actionList(actions []sdk.ActionSpec) string {
	parts := make([]string, len(actions))
	for i, a := range actions {
		hi := "" // no upper bound
		if a.MaxArgs >= 0 {
			hi = fmt.Sprint(a.MaxArgs)
		}
		parts[i] = fmt.Sprintf("%s(%d..%s)", a.Name, a.MinArgs, hi)
	}
	return strings.Join(parts, " ")
}
