package main

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"text/tabwriter"
	"time"

	"github.com/spf13/cobra"

	"github.com/ompdev/omp/runs"
)

func init() { commands = append(commands, newRunsCmd) }

type runsOptions struct {
	db       string
	file     string
	pipeline string
	status   string
	limit    int
	json     bool
}

func newRunsCmd(s *streams) *cobra.Command {
	var opts runsOptions
	cmd := &cobra.Command{
		Use:   "runs [--file F] [--pipeline P] [--status S] [--limit N] [--json]",
		Short: "List the recorded runs, newest first",
		Long: `Runs lists the runs of the run history, newest first: id, file,
pipeline, status, start, duration and task counts. A run whose runner
stopped renewing its heartbeat for 30s without recording an end is LOST.

The history is --db, else $OMP_DB, else .omp/omp.db in the store's
directory ($OMP_STORE when it is a directory, else the current one).`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, args []string) error {
			return runRuns(cmd.Context(), s, opts)
		},
	}
	f := cmd.Flags()
	addDBFlag(cmd, &opts.db)
	f.StringVar(&opts.file, "file", "", "only the runs of the pipeline file `F`")
	f.StringVar(&opts.pipeline, "pipeline", "", "only the runs of the pipeline block `P`")
	f.StringVar(&opts.status, "status", "", "only the runs with status `S`: RUNNING, SUCCESS, FAILURE, CANCELLED or LOST")
	f.IntVar(&opts.limit, "limit", 20, "list at most `N` runs (0: all)")
	f.BoolVar(&opts.json, "json", false, "print the runs as a JSON array")
	cmd.AddCommand(newRunsPruneCmd(s))
	return cmd
}

// runInfo is a run as omp runs --json and omp status --json print it: the
// run without its source and graph.
type runInfo struct {
	ID              string      `json:"id"`
	File            string      `json:"file"`
	Pipeline        string      `json:"pipeline"`
	Params          any         `json:"params"`
	Status          runs.Status `json:"status"`
	ExitCode        int         `json:"exit_code"`
	Started         time.Time   `json:"started"`
	Finished        *time.Time  `json:"finished"` // null while running
	Duration        float64     `json:"duration"` // seconds, so far while running
	Heartbeat       time.Time   `json:"heartbeat"`
	Host            string      `json:"host"`
	User            string      `json:"user"`
	Version         string      `json:"version"`
	Broker          string      `json:"broker"`
	CancelRequested bool        `json:"cancel_requested"`
	Counts          runs.Counts `json:"counts"`
}

func infoOf(r runs.Run, now time.Time) runInfo {
	var params any = map[string]any{}
	if len(r.Params) > 0 {
		json.Unmarshal(r.Params, &params)
	}
	i := runInfo{
		ID: r.ID, File: r.File, Pipeline: r.Pipeline, Params: params, Status: r.Status, ExitCode: r.ExitCode,
		Started: r.Started.UTC(), Heartbeat: r.Heartbeat.UTC(), Host: r.Host, User: r.User, Version: r.Version,
		Broker: r.Broker, CancelRequested: r.CancelRequested, Counts: r.Counts,
		Duration: runDuration(r, now).Seconds(),
	}
	if !r.Finished.IsZero() {
		f := r.Finished.UTC()
		i.Finished = &f
	}
	return i
}

// runDuration is how long the run took, or has run so far; a lost run ran
// until its last heartbeat.
func runDuration(r runs.Run, now time.Time) time.Duration {
	switch {
	case !r.Finished.IsZero():
		return r.Finished.Sub(r.Started)
	case r.Status == runs.Lost:
		return r.Heartbeat.Sub(r.Started)
	}
	return now.Sub(r.Started)
}

func runRuns(ctx context.Context, s *streams, opts runsOptions) error {
	if opts.limit < 0 {
		return withCode(ExitUsage, fmt.Errorf("--limit must not be negative, not %d", opts.limit))
	}
	st := runs.Status(strings.ToUpper(opts.status))
	switch st {
	case "", runs.Running, runs.Success, runs.Failure, runs.Cancelled, runs.Lost:
	default:
		return withCode(ExitUsage, fmt.Errorf("--status %q: want RUNNING, SUCCESS, FAILURE, CANCELLED or LOST", opts.status))
	}
	file, err := absFile(opts.file)
	if err != nil {
		return err
	}
	db, err := openReader(ctx, opts.db)
	if err != nil {
		return err
	}
	defer db.Close()
	list, err := db.Runs(ctx, runs.Filter{File: file, Pipeline: opts.pipeline, Status: st, Limit: opts.limit})
	if err != nil {
		return withCode(ExitInfra, err)
	}
	now := time.Now()
	if opts.json {
		out := make([]runInfo, len(list))
		for i, r := range list {
			out[i] = infoOf(r, now)
		}
		return writeJSON(s, out)
	}
	if len(list) == 0 {
		fmt.Fprintln(s.err, "omp: no run recorded")
		return nil
	}
	tw := newTable(s.out)
	fmt.Fprintln(tw, "ID\tFILE\tPIPELINE\tSTATUS\tSTARTED\tDURATION\tTASKS")
	for _, r := range list {
		fmt.Fprintf(tw, "%s\t%s\t%s\t%s\t%s\t%s\t%s\n", r.ID, shortPath(r.File), orDash(r.Pipeline), r.Status,
			r.Started.Local().Format("2006-01-02 15:04:05"), roundDuration(runDuration(r, now)), countsText(r.Counts))
	}
	return tw.Flush()
}

// absFile is a --file flag as the history keeps files: absolute.
func absFile(f string) (string, error) {
	if f == "" {
		return "", nil
	}
	abs, err := filepath.Abs(f)
	if err != nil {
		return "", withCode(ExitUsage, fmt.Errorf("--file %s: %w", f, err))
	}
	return abs, nil
}

// shortPath is a recorded file relative to the current directory when it
// is below it.
func shortPath(p string) string {
	wd, err := os.Getwd()
	if err != nil {
		return p
	}
	if rel, err := filepath.Rel(wd, p); err == nil && filepath.IsLocal(rel) {
		return rel
	}
	return p
}

func orDash(s string) string {
	if s == "" {
		return "-"
	}
	return s
}

func roundDuration(d time.Duration) time.Duration {
	switch {
	case d < 0:
		return 0
	case d < time.Second:
		return d.Round(time.Millisecond)
	case d < time.Minute:
		return d.Round(10 * time.Millisecond)
	}
	return d.Round(time.Second)
}

// countsText says how many tasks ended how: "3/4 succeeded, 1 failed".
func countsText(c runs.Counts) string {
	parts := []string{fmt.Sprintf("%d/%d succeeded", c.Succeeded, c.Total)}
	for _, p := range []struct {
		n    int
		what string
	}{{c.Failed, "failed"}, {c.Cancelled, "cancelled"}, {c.Running, "running"}} {
		if p.n > 0 {
			parts = append(parts, strconv.Itoa(p.n)+" "+p.what)
		}
	}
	return strings.Join(parts, ", ")
}

// newTable is a tabwriter for the history's tables; call its Flush.
// Cells are separated by two spaces, and a row whose last cells are empty
// ends without trailing spaces.
func newTable(w io.Writer) *table {
	t := &table{w: w}
	t.tw = tabwriter.NewWriter(&t.buf, 0, 4, 2, ' ', 0)
	return t
}

type table struct {
	w   io.Writer
	buf bytes.Buffer
	tw  *tabwriter.Writer
}

func (t *table) Write(p []byte) (int, error) { return t.tw.Write(p) }

func (t *table) Flush() error {
	if err := t.tw.Flush(); err != nil {
		return err
	}
	var out bytes.Buffer
	for line := range bytes.Lines(t.buf.Bytes()) {
		out.Write(bytes.TrimRight(line, " \n"))
		out.WriteByte('\n')
	}
	t.buf.Reset()
	_, err := t.w.Write(out.Bytes())
	return err
}

func writeJSON(s *streams, v any) error {
	enc := json.NewEncoder(s.out)
	enc.SetIndent("", "  ")
	return enc.Encode(v)
}

type pruneOptions struct {
	db        string
	olderThan string
}

func newRunsPruneCmd(s *streams) *cobra.Command {
	var opts pruneOptions
	cmd := &cobra.Command{
		Use:   "prune --older-than AGE",
		Short: "Delete the runs that started more than AGE ago, with their tasks, logs and metrics",
		Args:  cobra.NoArgs,
		RunE: func(cmd *cobra.Command, args []string) error {
			return runPrune(cmd.Context(), s, opts)
		},
	}
	addDBFlag(cmd, &opts.db)
	cmd.Flags().StringVar(&opts.olderThan, "older-than", "", "delete the runs older than `AGE`: 30d, 12h, 90m")
	return cmd
}

func runPrune(ctx context.Context, s *streams, opts pruneOptions) error {
	if opts.olderThan == "" {
		return withCode(ExitUsage, fmt.Errorf("omp runs prune needs --older-than AGE, such as 30d"))
	}
	age, err := parseAge(opts.olderThan)
	if err != nil {
		return withCode(ExitUsage, err)
	}
	db, err := openReader(ctx, opts.db)
	if err != nil {
		return err
	}
	defer db.Close()
	n, err := db.Prune(ctx, time.Now().Add(-age))
	if err != nil {
		return withCode(ExitInfra, err)
	}
	fmt.Fprintf(s.out, "deleted %d runs\n", n)
	return nil
}

// parseAge reads an age such as 30d, or a Go duration such as 12h.
func parseAge(s string) (time.Duration, error) {
	if d, ok := strings.CutSuffix(s, "d"); ok {
		if n, err := strconv.Atoi(d); err == nil && n >= 0 {
			return time.Duration(n) * 24 * time.Hour, nil
		}
	} else if d, err := time.ParseDuration(s); err == nil && d >= 0 {
		return d, nil
	}
	return 0, fmt.Errorf("--older-than %q: want an age such as 30d or 12h", s)
}
