package main

import (
	"bytes"
	"context"
	"fmt"
	"io"
	"time"

	"github.com/spf13/cobra"

	"github.com/ompdev/omp/runs"
)

func init() { commands = append(commands, newStatusCmd) }

type statusOptions struct {
	db    string
	watch bool
	json  bool
}

// pollInterval is how often the commands that follow a run (status
// --watch, logs --follow) read the history again.
const pollInterval = 300 * time.Millisecond

func newStatusCmd(s *streams) *cobra.Command {
	var opts statusOptions
	cmd := &cobra.Command{
		Use:   "status RUN [--watch] [--json]",
		Short: "Show a recorded run and the state of each of its tasks",
		Long: `Status shows a run of the run history and each of its tasks: state,
attempts, worker, duration and error. RUN is a run id, a unique prefix of
one, or "last", the newest run.

--watch redraws while the run runs and ends when it ends (a run whose
runner stopped renewing its heartbeat for 30s ends as LOST).`,
		Args: cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			return runStatus(cmd.Context(), s, opts, args[0])
		},
	}
	addDBFlag(cmd, &opts.db)
	cmd.Flags().BoolVar(&opts.watch, "watch", false, "redraw until the run ends")
	cmd.Flags().BoolVar(&opts.json, "json", false, "print the run and its tasks as one JSON document")
	return cmd
}

// taskInfo is a task as omp status --json prints it.
type taskInfo struct {
	Node      string     `json:"node"`
	Kind      string     `json:"kind"`
	Name      string     `json:"name"`
	Action    string     `json:"action"`
	Label     string     `json:"label"`
	Pos       string     `json:"pos"`
	Worker    string     `json:"worker"`
	State     string     `json:"state"`
	Attempts  int        `json:"attempts"`
	Started   *time.Time `json:"started"`
	Finished  *time.Time `json:"finished"`
	Duration  float64    `json:"duration"` // seconds
	Error     string     `json:"error"`
	ResultRef string     `json:"result_ref"`
}

// statusDoc is omp status --json.
type statusDoc struct {
	Run   runInfo    `json:"run"`
	Tasks []taskInfo `json:"tasks"`
}

func taskInfoOf(t runs.Task) taskInfo {
	i := taskInfo{
		Node: t.Node, Kind: t.Kind, Name: t.Name, Action: t.Action, Label: t.Label, Pos: t.Pos,
		Worker: t.Worker, State: t.State, Attempts: t.Attempts, Error: t.Error, ResultRef: t.ResultRef,
		Started: timeOrNil(t.Started), Finished: timeOrNil(t.Finished),
		Duration: taskDuration(t).Seconds(),
	}
	return i
}

func timeOrNil(t time.Time) *time.Time {
	if t.IsZero() {
		return nil
	}
	t = t.UTC()
	return &t
}

func taskDuration(t runs.Task) time.Duration {
	if t.Started.IsZero() || t.Finished.IsZero() {
		return 0
	}
	return t.Finished.Sub(t.Started)
}

func runStatus(ctx context.Context, s *streams, opts statusOptions, ref string) error {
	db, id, err := openRun(ctx, opts.db, ref)
	if err != nil {
		return err
	}
	defer db.Close()
	redraw := opts.watch && !opts.json && isTerminal(s.out)
	for {
		r, tasks, err := readRun(ctx, db, id)
		if err != nil {
			return err
		}
		done := r.Status.Done()
		if redraw || done || !opts.watch {
			var buf bytes.Buffer
			if redraw {
				buf.WriteString("\033[H\033[2J") // home, clear: one screen per draw
			}
			if opts.json {
				doc := statusDoc{Run: infoOf(*r, time.Now()), Tasks: make([]taskInfo, len(tasks))}
				for i, t := range tasks {
					doc.Tasks[i] = taskInfoOf(t)
				}
				if err := writeJSON(&streams{out: &buf}, doc); err != nil {
					return err
				}
			} else {
				writeStatus(&buf, *r, tasks)
			}
			if _, err := s.out.Write(buf.Bytes()); err != nil {
				return err
			}
		}
		if done || !opts.watch {
			return nil
		}
		select {
		case <-ctx.Done():
			return withCode(ExitCancelled, nil)
		case <-time.After(pollInterval):
		}
	}
}

// writeStatus writes a run and its tasks as people read them.
func writeStatus(w io.Writer, r runs.Run, tasks []runs.Task) {
	fmt.Fprintf(w, "run %s %s", r.ID, r.Status)
	if r.Status.Done() && r.Status != runs.Lost {
		fmt.Fprintf(w, " (exit %d)", r.ExitCode)
	}
	if r.CancelRequested && !r.Status.Done() {
		fmt.Fprint(w, " (cancel requested)")
	}
	fmt.Fprintln(w)
	fmt.Fprintf(w, "file      %s\n", r.File)
	if r.Pipeline != "" {
		fmt.Fprintf(w, "pipeline  %s\n", r.Pipeline)
	}
	fmt.Fprintf(w, "started   %s on %s by %s, omp %s\n", r.Started.Local().Format("2006-01-02 15:04:05"), r.Host, r.User, r.Version)
	if r.Broker != "" {
		fmt.Fprintf(w, "broker    %s\n", r.Broker)
	}
	fmt.Fprintf(w, "duration  %s\n", roundDuration(runDuration(r, time.Now())))
	fmt.Fprintf(w, "tasks     %s\n\n", countsText(r.Counts))
	tw := newTable(w)
	fmt.Fprintln(tw, "NODE\tTASK\tSTATE\tATTEMPTS\tWORKER\tDURATION\tERROR")
	for _, t := range tasks {
		fmt.Fprintf(tw, "%s\t%s\t%s\t%d\t%s\t%s\t%s\n", t.Node, taskName(t), t.State, t.Attempts,
			orDash(t.Worker), roundDuration(taskDuration(t)), firstLine(t.Error))
	}
	tw.Flush()
}

// taskName is a task as the run's progress names it: "echo e.run",
// "reduce count".
func taskName(t runs.Task) string {
	if t.Kind == "reduce" {
		return "reduce " + t.Action
	}
	return t.Kind + " " + t.Name + "." + t.Action
}

func firstLine(s string) string {
	if i := bytes.IndexByte([]byte(s), '\n'); i >= 0 {
		return s[:i] + " …"
	}
	return s
}
