package main

import (
	"context"
	"encoding/json"
	"fmt"
	"text/tabwriter"

	"github.com/spf13/cobra"

	"github.com/ompdev/omp/compiler"
	"github.com/ompdev/omp/runs"
	"github.com/ompdev/omp/runtime/cachekey"
)

func init() { commands = append(commands, newWhyCmd) }

type whyOptions struct {
	db   string
	json bool
}

func newWhyCmd(s *streams) *cobra.Command {
	var opts whyOptions
	cmd := &cobra.Command{
		Use:   "why RUN NODE",
		Short: "Say why a task of a resumed run ran, or was cached, and show its cache key",
		Long: `Why prints, for one task of a recorded run (NODE: a node id, or a task
name that only one task has), why it ran although the run resumed another:
the first part of its cache key that differs from the resumed run's task
with the same node id, in words. Then each part of its key with its digest.
A task that ended CACHED says so.`,
		Args: cobra.ExactArgs(2),
		RunE: func(cmd *cobra.Command, args []string) error {
			return runWhy(cmd.Context(), s, opts, args[0], args[1])
		},
	}
	addDBFlag(cmd, &opts.db)
	cmd.Flags().BoolVar(&opts.json, "json", false, "print the explanation and the key as JSON")
	return cmd
}

// whyJSON is omp why --json; fields are added, never renamed.
type whyJSON struct {
	Run         string        `json:"run"`
	Node        string        `json:"node"`
	Task        string        `json:"task"`
	State       string        `json:"state"`
	ResumedFrom string        `json:"resumed_from"`
	Reason      string        `json:"reason"`
	CacheKey    *cachekey.Key `json:"cache_key"`
}

func runWhy(ctx context.Context, s *streams, opts whyOptions, ref, nodeRef string) error {
	db, id, err := openRun(ctx, opts.db, "", ref)
	if err != nil {
		return err
	}
	defer db.Close()
	r, tasks, err := readRun(ctx, db, id)
	if err != nil {
		return err
	}
	t, err := findTask(tasks, id, nodeRef)
	if err != nil {
		return err
	}
	out := whyJSON{Run: id, Node: t.Node, Task: taskTitle(t.Kind, t.Name, t.Action), State: t.State,
		ResumedFrom: r.ResumedFrom, CacheKey: keyOf(t)}
	out.Reason, err = whyReason(ctx, db, r, tasks, t)
	if err != nil {
		return err
	}
	if opts.json {
		enc := json.NewEncoder(s.out)
		enc.SetIndent("", "  ")
		return enc.Encode(out)
	}
	fmt.Fprintf(s.out, "%s %s: %s\n", t.Node, out.Task, out.Reason)
	if out.CacheKey == nil {
		return nil
	}
	fmt.Fprintf(s.out, "key %s\n", out.CacheKey.Digest)
	tw := tabwriter.NewWriter(s.out, 0, 4, 2, ' ', 0)
	for _, p := range out.CacheKey.Parts {
		v := p.Value
		if v == "" {
			v = "…"
		}
		fmt.Fprintf(tw, "  %s\t%s\t%s\n", p.Name, v, p.Digest)
	}
	return tw.Flush()
}

// whyReason is what omp run --explain said of t, or would have: why it
// ran, or that it was cached.
func whyReason(ctx context.Context, db runs.Store, r *runs.Run, tasks []runs.Task, t runs.Task) (string, error) {
	if r.ResumedFrom == "" {
		return "ran: run " + r.ID + " resumed no run", nil
	}
	if t.State == "CACHED" {
		return "cached: its key is that of a task of run " + r.ResumedFrom + " that succeeded", nil
	}
	if t.Kind == "reduce" {
		return "a reduce node: the runner computes it on every run", nil
	}
	_, prevTasks, err := readRun(ctx, db, r.ResumedFrom)
	if err != nil {
		return "", err
	}
	res := &resumed{byNode: map[string]runs.Task{}}
	for _, p := range prevTasks {
		res.byNode[p.Node] = p
	}
	var g compiler.Graph
	if err := json.Unmarshal(r.Graph, &g); err != nil {
		return "", withCode(ExitInfra, fmt.Errorf("run %s: its recorded graph is not a graph: %w", r.ID, err))
	}
	states := map[string]string{}
	for _, x := range tasks {
		states[x.Node] = x.State
	}
	again := ranAgain(&g, func(id string) string { return states[id] })
	if t.Attempts == 0 {
		return "did not run: it ended " + t.State, nil
	}
	return cachekey.Reason(res.prior(t.Node), keyOf(t), t.NotCached, again), nil
}
