package main

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"text/tabwriter"
	"time"

	"github.com/spf13/cobra"

	"github.com/ompdev/omp/compiler"
	"github.com/ompdev/omp/lang"
	"github.com/ompdev/omp/serve"
)

func init() { commands = append(commands, newSchedulesCmd) }

type schedulesOptions struct {
	now    string
	json   bool
	server string
}

func newSchedulesCmd(s *streams) *cobra.Command {
	var opts schedulesOptions
	cmd := &cobra.Command{
		Use:   "schedules PATH...",
		Short: "List the scheduled pipelines and their next three ticks",
		Long: `Schedules lists every pipeline block that has a schedule (spec.md,
"Schedules") with its next three ticks, in the schedule's zone and in UTC.
It runs nothing. A directory stands for every *.omp file under it.

With --server, it lists the schedules that omp serve fires, and on stderr
the served files that do not compile (whose previous version, if any,
keeps its schedules); with --json, both as {"schedules": [...], "errors":
[{"file", "error"}]}.

Exit status: 0 fine, 2 a file that does not parse or a bad schedule.`,
		RunE: func(cmd *cobra.Command, args []string) error {
			if opts.server != "" {
				if len(args) > 0 {
					return withCode(ExitUsage, errors.New("--server lists the server's schedules: give no PATH"))
				}
				return runServerSchedules(cmd.Context(), s, opts)
			}
			if len(args) == 0 {
				return withCode(ExitUsage, errors.New("give PATH..., or --server URL"))
			}
			return runSchedules(s, opts, args)
		},
	}
	f := cmd.Flags()
	f.BoolVar(&opts.json, "json", false, "print a JSON array")
	// --now makes the listing reproducible for tests.
	f.StringVar(&opts.now, "now", "", "compute the ticks after this RFC 3339 `TIME` instead of now")
	_ = f.MarkHidden("now")
	f.StringVar(&opts.server, "server", "", "list the schedules of the omp serve at `URL` (token from $OMP_TOKEN)")
	return cmd
}

// scheduleInfo is the --json form of one schedule.
type scheduleInfo struct {
	File string `json:"file"`
	*compiler.Schedule
	Next []time.Time `json:"next"`
}

func runSchedules(s *streams, opts schedulesOptions, paths []string) error {
	now := time.Now()
	if opts.now != "" {
		t, err := time.Parse(time.RFC3339, opts.now)
		if err != nil {
			return withCode(ExitUsage, fmt.Errorf("--now %q: want an RFC 3339 time such as 2026-01-02T15:04:05Z", opts.now))
		}
		now = t
	}
	files, err := ompFiles(paths)
	if err != nil {
		return withCode(ExitUsage, err)
	}
	infos := []scheduleInfo{}
	code := ExitOK
	for _, file := range files {
		src, err := os.ReadFile(file)
		if err != nil {
			return withCode(ExitUsage, readError(err))
		}
		f, err := lang.Parse(file, src)
		var scheds []*compiler.Schedule
		if err == nil {
			scheds, err = compiler.Schedules(f)
		}
		if err != nil {
			_ = reportErrors(s, src, err)
			code = ExitUsage
			continue
		}
		for _, sc := range scheds {
			info := scheduleInfo{File: file, Schedule: sc}
			at := now
			for range 3 {
				at = sc.Next(at)
				info.Next = append(info.Next, at)
			}
			infos = append(infos, info)
		}
	}
	if err := printSchedules(s, infos, opts.json); err != nil {
		return err
	}
	if code != ExitOK {
		return reported(code)
	}
	return nil
}

func printSchedules(s *streams, infos []scheduleInfo, asJSON bool) error {
	if asJSON {
		enc := json.NewEncoder(s.out)
		enc.SetIndent("", "  ")
		if err := enc.Encode(infos); err != nil {
			return err
		}
	} else if len(infos) > 0 {
		tw := tabwriter.NewWriter(s.out, 0, 4, 2, ' ', 0)
		fmt.Fprintln(tw, "FILE\tPIPELINE\tSCHEDULE\tZONE\tOVERLAP\tCATCHUP\tNEXT (ZONE)\tNEXT (UTC)")
		for _, in := range infos {
			for i, t := range in.Next {
				if i == 0 {
					fmt.Fprintf(tw, "%s\t%s\t%s\t%s\t%s\t%t\t", in.File, in.Pipeline, in.Spec, in.Zone, in.Overlap, in.Catchup)
				} else {
					fmt.Fprint(tw, "\t\t\t\t\t\t")
				}
				fmt.Fprintf(tw, "%s\t%s\n", t.Format("2006-01-02 15:04:05 MST"), t.UTC().Format("2006-01-02 15:04:05Z"))
			}
		}
		if err := tw.Flush(); err != nil {
			return err
		}
	}
	return nil
}

func runServerSchedules(ctx context.Context, s *streams, opts schedulesOptions) error {
	c, err := serve.NewClient(opts.server, os.Getenv("OMP_TOKEN"))
	if err != nil {
		return withCode(ExitUsage, err)
	}
	defer c.Close()
	rep, err := c.Schedules(ctx)
	if err != nil {
		return withCode(ExitInfra, err)
	}
	infos := []scheduleInfo{}
	for _, in := range rep.Schedules {
		sc := &compiler.Schedule{Pipeline: in.Pipeline, Spec: in.Schedule, Zone: in.Timezone, Overlap: in.Overlap, Catchup: in.Catchup}
		infos = append(infos, scheduleInfo{File: in.File, Schedule: sc, Next: in.Next})
	}
	if opts.json {
		return writeJSON(s, rep)
	}
	for _, e := range rep.Errors {
		fmt.Fprintf(s.err, "%s: %s\n", e.File, e.Error)
	}
	return printSchedules(s, infos, false)
}
