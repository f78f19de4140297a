package main

import (
	"bufio"
	"context"
	"fmt"
	"strings"
	"time"

	"github.com/spf13/cobra"

	"github.com/ompdev/omp/runs"
)

func init() { commands = append(commands, newLogsCmd) }

type logsOptions struct {
	db     string
	follow bool
}

func newLogsCmd(s *streams) *cobra.Command {
	var opts logsOptions
	cmd := &cobra.Command{
		Use:   "logs RUN [NODE] [--follow]",
		Short: "Print the log lines of a recorded run, or of one of its tasks",
		Long: `Logs prints every line the tasks of a run logged, in order, each after
its task's node and name; NODE (a node id, or a task name that only one
task has) keeps one task's. Lines of no task are the run's warnings.

--follow prints the new lines of a running run as they come, and ends when
the run ends (a run whose runner stopped renewing its heartbeat for 30s
ends as LOST).`,
		Args: cobra.RangeArgs(1, 2),
		RunE: func(cmd *cobra.Command, args []string) error {
			node := ""
			if len(args) == 2 {
				node = args[1]
			}
			return runLogs(cmd.Context(), s, opts, args[0], node)
		},
	}
	addDBFlag(cmd, &opts.db)
	cmd.Flags().BoolVarP(&opts.follow, "follow", "f", false, "print new lines until the run ends")
	return cmd
}

func runLogs(ctx context.Context, s *streams, opts logsOptions, ref, nodeRef string) error {
	db, id, err := openRun(ctx, opts.db, ref)
	if err != nil {
		return err
	}
	defer db.Close()
	_, tasks, err := readRun(ctx, db, id)
	if err != nil {
		return err
	}
	node := ""
	if nodeRef != "" {
		t, err := findTask(tasks, id, nodeRef)
		if err != nil {
			return err
		}
		node = t.Node
	}
	names := map[string]string{"": "(run)"}
	for _, t := range tasks {
		names[t.Node] = t.Node + " " + taskName(t)
	}
	out := bufio.NewWriter(s.out)
	var after int64
	for {
		// Whether the run had ended is read before its lines, so that
		// the last read sees every line it wrote.
		r, err := db.Run(ctx, id)
		if err != nil {
			return withCode(ExitInfra, err)
		}
		lines, err := db.Logs(ctx, id, node, after)
		if err != nil {
			return withCode(ExitInfra, err)
		}
		for _, l := range lines {
			fmt.Fprintf(out, "%s: %s\n", names[l.Node], l.Line)
			after = l.Seq
		}
		if err := out.Flush(); err != nil {
			return err
		}
		if !opts.follow || r.Status.Done() {
			return nil
		}
		select {
		case <-ctx.Done():
			return withCode(ExitCancelled, nil)
		case <-time.After(pollInterval):
		}
	}
}

// findTask finds a task by node id, else by its name when only one task
// has it; anything else is a usage error naming the candidates.
func findTask(tasks []runs.Task, runID, ref string) (runs.Task, error) {
	var named []runs.Task
	for _, t := range tasks {
		if t.Node == ref {
			return t, nil
		}
		if t.Name == ref {
			named = append(named, t)
		}
	}
	switch len(named) {
	case 1:
		return named[0], nil
	case 0:
		return runs.Task{}, withCode(ExitUsage, fmt.Errorf("run %s has no task %s", runID, ref))
	}
	ids := make([]string, len(named))
	for i, t := range named {
		ids[i] = t.Node
	}
	return runs.Task{}, withCode(ExitUsage, fmt.Errorf("run %s has %d tasks named %s: %s", runID, len(named), ref, strings.Join(ids, ", ")))
}
