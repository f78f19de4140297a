package main

import (
	"context"
	"errors"
	"fmt"

	"github.com/spf13/cobra"

	"github.com/ompdev/omp/runs"
)

func init() { commands = append(commands, newCancelCmd) }

type cancelOptions struct {
	db string
}

func newCancelCmd(s *streams) *cobra.Command {
	var opts cancelOptions
	cmd := &cobra.Command{
		Use:   "cancel RUN",
		Short: "Cancel a run that another omp run is running",
		Long: `Cancel asks the runner of RUN (a run id, a unique prefix of one, or
"last") to cancel it, through the run history: the runner, embedded or with
--broker, on this machine or another that shares the history, looks for the
request every second and then cancels the run as Ctrl-C does (its running
tasks are cancelled, and omp run exits 130).`,
		Args: cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			return runCancel(cmd.Context(), s, opts, args[0])
		},
	}
	addDBFlag(cmd, &opts.db)
	return cmd
}

func runCancel(ctx context.Context, s *streams, opts cancelOptions, ref string) error {
	db, id, err := openRun(ctx, opts.db, ref)
	if err != nil {
		return err
	}
	defer db.Close()
	switch err := db.RequestCancel(ctx, id); {
	case errors.Is(err, runs.ErrDone):
		r, rerr := db.Run(ctx, id)
		if rerr != nil {
			return withCode(ExitInfra, rerr)
		}
		return withCode(ExitUsage, fmt.Errorf("run %s has already ended: %s", id, r.Status))
	case err != nil:
		return withCode(ExitInfra, err)
	}
	fmt.Fprintf(s.out, "asked run %s to cancel: its runner stops it within a second\n", id)
	return nil
}
