package main

import (
	"context"
	"encoding/json"
	"fmt"
	"slices"
	"strings"
	"text/tabwriter"
	"time"

	"github.com/spf13/cobra"

	"github.com/ompdev/omp/runtime"
)

func init() { commands = append(commands, newWorkersCmd) }

// workersOptions are the flags of `omp workers`.
type workersOptions struct {
	broker string
	json   bool
	wait   time.Duration
}

func newWorkersCmd(s *streams) *cobra.Command {
	var opts workersOptions
	cmd := &cobra.Command{
		Use:   "workers --broker URL [--json]",
		Short: "List the live workers on RabbitMQ, their labels and running tasks",
		Long: `List the workers that serve tasks on RabbitMQ, from the heartbeats
they publish: name, labels, host, concurrency and running tasks. omp workers
asks every worker for a heartbeat and listens for --wait; a worker unseen
for three of its heartbeat intervals, or that announced it stops, is not
listed.`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, args []string) error {
			return runWorkers(cmd.Context(), s, opts)
		},
	}
	addBrokerFlag(cmd, &opts.broker)
	cmd.Flags().BoolVar(&opts.json, "json", false, "print the workers as a JSON array")
	cmd.Flags().DurationVar(&opts.wait, "wait", 2*time.Second, "how long to listen for heartbeats")
	return cmd
}

// workerInfo is one live worker as `omp workers --json` prints it.
type workerInfo struct {
	Name        string    `json:"name"`
	Labels      []string  `json:"labels"`
	Host        string    `json:"host"`
	PID         int       `json:"pid"`
	Concurrency int       `json:"concurrency"`
	Running     []string  `json:"running"`
	LastSeen    time.Time `json:"last_seen"`
}

// liveWorkers folds heartbeats, in the order they arrived, into the workers
// alive at now: a worker that announced it stops, or that was unseen for 3
// of its heartbeat intervals, is gone. Sorted by name.
func liveWorkers(beats []*runtime.Heartbeat, seen []time.Time, now time.Time) []workerInfo {
	last := map[string]int{}
	for i, hb := range beats {
		last[hb.Worker] = i
	}
	var out []workerInfo
	for name, i := range last {
		hb := beats[i]
		if hb.Stopping {
			continue
		}
		iv := time.Duration(hb.Interval)
		if iv <= 0 {
			iv = 5 * time.Second
		}
		if now.Sub(seen[i]) > 3*iv {
			continue
		}
		running := hb.Running
		if running == nil {
			running = []string{}
		}
		out = append(out, workerInfo{
			Name: name, Labels: hb.Labels, Host: hb.Host, PID: hb.PID,
			Concurrency: hb.Concurrency, Running: running, LastSeen: seen[i].UTC(),
		})
	}
	slices.SortFunc(out, func(a, b workerInfo) int { return strings.Compare(a.Name, b.Name) })
	return out
}

func runWorkers(ctx context.Context, s *streams, opts workersOptions) error {
	if opts.broker == "" {
		return withCode(ExitUsage, fmt.Errorf("omp workers needs a broker: --broker URL or $%s", brokerEnv))
	}
	if opts.wait <= 0 {
		return withCode(ExitUsage, fmt.Errorf("--wait must be positive, not %s", opts.wait))
	}
	bus, err := openAMQP(ctx, opts.broker, busOptions{name: "omp workers"})
	if err != nil {
		return err
	}
	defer bus.Close()
	lctx, cancel := context.WithCancel(ctx)
	defer cancel()
	msgs, err := bus.Fanout().Subscribe(lctx, runtime.WorkersTopic)
	if err != nil {
		return withCode(ExitInfra, err)
	}
	// Ask every worker for a heartbeat now rather than wait for the next.
	ping, err := runtime.EncodeControl(&runtime.Control{Type: runtime.ControlPing, Time: time.Now().UTC()})
	if err == nil {
		err = bus.Publisher().Publish(runtime.ControlTopic, ping)
	}
	if err != nil {
		return withCode(ExitInfra, err)
	}
	// --wait is the time the workers have to answer: on a busy broker,
	// subscribing and asking take a share of a second that is not theirs.
	stop := time.AfterFunc(opts.wait, cancel)
	defer stop.Stop()
	var beats []*runtime.Heartbeat
	var seen []time.Time
	for msg := range msgs {
		hb, err := runtime.DecodeHeartbeat(msg)
		msg.Ack()
		if err != nil {
			continue
		}
		beats = append(beats, hb)
		seen = append(seen, time.Now())
	}
	if ctx.Err() != nil {
		return withCode(ExitCancelled, nil)
	}
	live := liveWorkers(beats, seen, time.Now())
	if opts.json {
		if live == nil {
			live = []workerInfo{}
		}
		enc := json.NewEncoder(s.out)
		enc.SetIndent("", "  ")
		return enc.Encode(live)
	}
	if len(live) == 0 {
		fmt.Fprintf(s.err, "omp: no worker heard within %s\n", opts.wait)
		return nil
	}
	tw := tabwriter.NewWriter(s.out, 0, 4, 2, ' ', 0)
	fmt.Fprintln(tw, "NAME\tLABELS\tHOST\tCONCURRENCY\tRUNNING")
	for _, w := range live {
		fmt.Fprintf(tw, "%s\t%s\t%s\t%d\t%d\n", w.Name, strings.Join(w.Labels, ","), w.Host, w.Concurrency, len(w.Running))
	}
	return tw.Flush()
}
