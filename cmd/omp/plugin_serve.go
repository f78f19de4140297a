package main

import (
	"fmt"

	"github.com/spf13/cobra"

	"github.com/ompdev/omp/plugins/builtin"
	"github.com/ompdev/omp/plugins/sdk"
)

func init() { commands = append(commands, newPluginServeCmd) }

// newPluginServeCmd is how the plugin host starts a built-in kind: omp
// re-executes itself as `omp plugin-serve KIND`, so the built-in kinds are
// separate processes like any third-party kind.
func newPluginServeCmd(s *streams) *cobra.Command {
	return &cobra.Command{
		Use:    "plugin-serve KIND",
		Short:  "Serve a built-in task kind as a plugin process (used by omp itself)",
		Hidden: true,
		Args:   cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			k, ok := builtin.Kinds()[args[0]]
			if !ok {
				return withCode(ExitUsage, fmt.Errorf("no built-in kind %q", args[0]))
			}
			sdk.Serve(k)
			return nil
		},
	}
}
