package main

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"

	"github.com/spf13/cobra"

	"github.com/ompdev/omp/runs"
	"github.com/ompdev/omp/runs/record"
	"github.com/ompdev/omp/store"
)

func init() { commands = append(commands, newResultCmd) }

type resultOptions struct {
	db    string
	store string
}

func newResultCmd(s *streams) *cobra.Command {
	var opts resultOptions
	cmd := &cobra.Command{
		Use:   "result RUN [NODE]",
		Short: "Print the results of a recorded run, or of one of its tasks, as JSON",
		Long: `Result prints what omp run printed on stdout: one line of JSON per
top-level statement, its result or null. With NODE (a node id, or a task
name that only one task has) it prints that task's result.

A result over 1 MiB is kept in the store, under results/RUN/NODE.json, and
read from there: --store, else $OMP_STORE, else the directory of the run's
file.`,
		Args: cobra.RangeArgs(1, 2),
		RunE: func(cmd *cobra.Command, args []string) error {
			node := ""
			if len(args) == 2 {
				node = args[1]
			}
			return runResult(cmd.Context(), s, opts, args[0], node)
		},
	}
	addDBFlag(cmd, &opts.db)
	cmd.Flags().StringVar(&opts.store, "store", os.Getenv("OMP_STORE"), "store `DIR` or URL that keeps large results (default: the directory of the run's file)")
	return cmd
}

func runResult(ctx context.Context, s *streams, opts resultOptions, ref, nodeRef string) error {
	db, id, err := openRun(ctx, opts.db, "", ref)
	if err != nil {
		return err
	}
	defer db.Close()
	r, tasks, err := readRun(ctx, db, id)
	if err != nil {
		return err
	}
	var want []runs.Task
	if nodeRef != "" {
		t, err := findTask(tasks, id, nodeRef)
		if err != nil {
			return err
		}
		want = []runs.Task{t}
	} else {
		var g struct {
			Outputs []struct {
				Node string `json:"node"`
			} `json:"outputs"`
		}
		if err := json.Unmarshal(r.Graph, &g); err != nil {
			return withCode(ExitInfra, fmt.Errorf("run %s: its recorded graph is not JSON: %w", id, err))
		}
		byNode := map[string]runs.Task{}
		for _, t := range tasks {
			byNode[t.Node] = t
		}
		for _, o := range g.Outputs {
			want = append(want, byNode[o.Node])
		}
	}
	var blobs *store.Store
	defer func() {
		if blobs != nil {
			blobs.Close()
		}
	}()
	var buf bytes.Buffer
	for _, t := range want {
		if t.ResultRef != "" && blobs == nil {
			loc := opts.store
			if loc == "" {
				loc = filepath.Dir(r.File)
			}
			if blobs, err = store.Open(ctx, loc); err != nil {
				return withCode(ExitInfra, err)
			}
		}
		var res json.RawMessage
		if succeeded(t.State) {
			if res, err = record.Result(ctx, t, blobs); err != nil {
				return withCode(ExitInfra, err)
			}
		}
		if len(res) == 0 {
			res = json.RawMessage("null")
		}
		if err := json.Compact(&buf, res); err != nil {
			return withCode(ExitInfra, fmt.Errorf("result of %s is not JSON: %w", t.Node, err))
		}
		buf.WriteByte('\n')
	}
	_, err = s.out.Write(buf.Bytes())
	return err
}
