package main

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"os"

	"github.com/spf13/cobra"

	"github.com/ompdev/omp/runs"
	"github.com/ompdev/omp/serve"
)

func init() { commands = append(commands, newSubmitCmd) }

type submitOptions struct {
	file     string
	pipeline string
	params   []string
	server   string
	wait     bool
	json     bool
}

func newSubmitCmd(s *streams) *cobra.Command {
	var opts submitOptions
	cmd := &cobra.Command{
		Use:   "submit FILE --server URL [--pipeline P] [-p NAME=VALUE] [--wait] [--json]",
		Short: "Start a run on an omp serve",
		Long: `Submit asks the omp serve at --server to run FILE, a path relative to a
path the server serves, and prints the run's id. The token, if the server
wants one, comes from $OMP_TOKEN.

With --wait it follows the run, printing its log lines on stderr, and exits
as omp run would: 0 every task succeeded, 1 a task failed, 3 infrastructure,
130 cancelled; 2 is a bad FILE or flags. --json prints {"id": …} (with
--wait, the finished run) on stdout.`,
		Args: cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			opts.file = args[0]
			return runSubmit(cmd.Context(), s, opts)
		},
	}
	f := cmd.Flags()
	f.StringVar(&opts.server, "server", "", "the omp serve's `URL`, http://HOST:PORT (required)")
	f.StringVar(&opts.pipeline, "pipeline", "", "run the pipeline block `NAME`")
	f.StringArrayVarP(&opts.params, "param", "p", nil, "set parameter `NAME=VALUE` (an omp literal, else a string)")
	f.BoolVar(&opts.wait, "wait", false, "follow the run until it ends and exit with its status")
	f.BoolVar(&opts.json, "json", false, "print JSON on stdout")
	return cmd
}

func runSubmit(ctx context.Context, s *streams, opts submitOptions) error {
	if opts.server == "" {
		return withCode(ExitUsage, errors.New("--server URL is required: the omp serve to run on"))
	}
	params, err := parseParams(opts.params)
	if err != nil {
		return withCode(ExitUsage, err)
	}
	c, err := serve.NewClient(opts.server, os.Getenv("OMP_TOKEN"))
	if err != nil {
		return withCode(ExitUsage, err)
	}
	defer c.Close()
	id, err := c.Submit(ctx, serve.SubmitRequest{File: opts.file, Pipeline: opts.pipeline, Params: params})
	if err != nil {
		var he *serve.HTTPError
		if errors.As(err, &he) && he.Status < 500 && he.Status != 401 {
			return withCode(ExitUsage, err)
		}
		return withCode(ExitInfra, err)
	}
	if !opts.wait {
		if opts.json {
			return writeJSON(s, map[string]string{"id": id})
		}
		fmt.Fprintln(s.out, id)
		return nil
	}
	fmt.Fprintf(s.err, "run %s\n", id)
	var end runs.Run
	err = c.Follow(ctx, id, func(ev serve.Event) error {
		switch ev.Name {
		case "log":
			var l runs.LogLine
			if json.Unmarshal(ev.Data, &l) == nil {
				fmt.Fprintf(s.err, "%s: %s\n", l.Node, l.Line)
			}
		case "end":
			return json.Unmarshal(ev.Data, &end)
		}
		return nil
	})
	if err != nil {
		if ctx.Err() != nil {
			return withCode(ExitCancelled, fmt.Errorf("stopped following run %s; it goes on on the server", id))
		}
		return withCode(ExitInfra, err)
	}
	if opts.json {
		if err := writeJSON(s, end); err != nil {
			return err
		}
	} else {
		fmt.Fprintf(s.out, "%s %s\n", id, end.Status)
	}
	if end.ExitCode != 0 {
		return reported(ExitCode(end.ExitCode))
	}
	if end.Status == runs.Lost {
		return withCode(ExitInfra, fmt.Errorf("run %s is LOST: its server stopped", id))
	}
	return nil
}
