package main

import (
	"context"
	"encoding/json"
	"fmt"
	"strings"
	"text/tabwriter"

	"github.com/spf13/cobra"

	"github.com/ompdev/omp/compiler"
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
then ./plugins/bin.`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, args []string) error {
			return runPlugins(cmd.Context(), s, opts)
		},
	}
	cmd.Flags().BoolVar(&opts.json, "json", false, "print the kinds as a JSON array")
	return cmd
}

func runPlugins(ctx context.Context, s *streams, opts pluginsOptions) error {
	h, err := host.New(host.Config{Logger: s.err})
	if err != nil {
		return withCode(ExitInfra, err)
	}
	defer h.Close()
	kinds, kindsErr := h.Kinds(ctx)
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
			fmt.Fprintf(tw, "%s\t%s\t%s\n", name, actionList(k.Spec.Actions), k.Source)
		}
		if err := tw.Flush(); err != nil {
			return err
		}
	}
	if kindsErr != nil {
		return withCode(ExitInfra, kindsErr)
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

// hostRegistry is the compiler's registry of the kinds that will run the
// pipeline: the built-in kinds (described without starting a process) and
// the omp-kind-* plugins on the plugin path (started and described once).
func hostRegistry() (compiler.Registry, error) {
	h, err := host.New(host.Config{})
	if err != nil {
		return nil, err
	}
	defer h.Close()
	return registryFromHost(context.Background(), h)
}

// registryFromHost gives the compiler the kinds the plugins describe, so
// that a pipeline is checked against the kinds that will actually run it.
func registryFromHost(ctx context.Context, h *host.Host) (*compiler.MapRegistry, error) {
	kinds, err := h.Kinds(ctx)
	if err != nil {
		return nil, err
	}
	reg := compiler.NewRegistry()
	for _, k := range kinds {
		spec := compiler.KindSpec{Name: k.Spec.Name, Aliases: k.Spec.Aliases}
		for _, a := range k.Spec.Actions {
			spec.Actions = append(spec.Actions, compiler.ActionSpec{Name: a.Name, MinArgs: a.MinArgs, MaxArgs: a.MaxArgs, Kwargs: a.Kwargs, AnyKwargs: a.AnyKwargs})
		}
		reg.Add(spec)
	}
	return reg, nil
}
