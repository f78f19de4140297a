package main

import (
	"context"
	"encoding/csv"
	"fmt"
	"strconv"
	"time"

	"github.com/spf13/cobra"

	"github.com/ompdev/omp/runs"
)

func init() { commands = append(commands, newMetricsCmd) }

type metricsOptions struct {
	db     string
	run    string
	file   string
	name   string
	task   string
	format string
}

func newMetricsCmd(s *streams) *cobra.Command {
	var opts metricsOptions
	cmd := &cobra.Command{
		Use:   "metrics [--run RUN] [--file F] [--name M] [--task NODE|NAME] [--format table|csv|json]",
		Short: "Print the metrics the tasks of recorded runs reported",
		Long: `Metrics prints every metric of the selected runs, one row per run,
task, metric name and step, newest run first: to compare a metric across
runs, as in

  omp metrics --file train.omp --name accuracy --format csv`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, args []string) error {
			return runMetrics(cmd.Context(), s, opts)
		},
	}
	f := cmd.Flags()
	addDBFlag(cmd, &opts.db)
	f.StringVar(&opts.run, "run", "", "only the run `RUN` (an id, a unique prefix, or last)")
	f.StringVar(&opts.file, "file", "", "only the runs of the pipeline file `F`")
	f.StringVar(&opts.name, "name", "", "only the metric `M`")
	f.StringVar(&opts.task, "task", "", "only the task with node id or name `T`")
	f.StringVar(&opts.format, "format", "table", "output `FORMAT`: table, csv or json")
	return cmd
}

// metricRow is one metric as omp metrics prints it.
type metricRow struct {
	Run   string    `json:"run"`
	Node  string    `json:"node"`
	Task  string    `json:"task"` // the task's name
	Name  string    `json:"name"`
	Step  int       `json:"step"`
	Value float64   `json:"value"`
	Time  time.Time `json:"time"`
}

func runMetrics(ctx context.Context, s *streams, opts metricsOptions) error {
	switch opts.format {
	case "table", "csv", "json":
	default:
		return withCode(ExitUsage, fmt.Errorf("--format %q: want table, csv or json", opts.format))
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
	f := runs.MetricFilter{File: file, Name: opts.name, Task: opts.task}
	if opts.run != "" {
		id, err := resolveRun(ctx, db, opts.run)
		if err != nil {
			return err
		}
		f.RunIDs = []string{id}
	}
	ms, err := db.Metrics(ctx, f)
	if err != nil {
		return withCode(ExitInfra, err)
	}
	// Task names, per run.
	names := map[string]map[string]string{}
	rows := make([]metricRow, len(ms))
	for i, m := range ms {
		if names[m.RunID] == nil {
			tasks, err := db.Tasks(ctx, m.RunID)
			if err != nil {
				return withCode(ExitInfra, err)
			}
			names[m.RunID] = map[string]string{}
			for _, t := range tasks {
				names[m.RunID][t.Node] = t.Name
			}
		}
		rows[i] = metricRow{Run: m.RunID, Node: m.Node, Task: names[m.RunID][m.Node], Name: m.Name,
			Step: m.Step, Value: m.Value, Time: m.Time.UTC()}
	}
	value := func(v float64) string { return strconv.FormatFloat(v, 'g', -1, 64) }
	switch opts.format {
	case "json":
		return writeJSON(s, rows)
	case "csv":
		w := csv.NewWriter(s.out)
		w.Write([]string{"run", "node", "task", "name", "step", "value", "time"})
		for _, r := range rows {
			w.Write([]string{r.Run, r.Node, r.Task, r.Name, strconv.Itoa(r.Step), value(r.Value), r.Time.Format(time.RFC3339Nano)})
		}
		w.Flush()
		return w.Error()
	}
	if len(rows) == 0 {
		fmt.Fprintln(s.err, "omp: no metric recorded")
		return nil
	}
	tw := newTable(s.out)
	fmt.Fprintln(tw, "RUN\tNODE\tTASK\tNAME\tSTEP\tVALUE")
	for _, r := range rows {
		fmt.Fprintf(tw, "%s\t%s\t%s\t%s\t%d\t%s\n", r.Run, r.Node, orDash(r.Task), r.Name, r.Step, value(r.Value))
	}
	return tw.Flush()
}
