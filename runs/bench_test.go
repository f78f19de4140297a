package runs_test

import (
	"fmt"
	"syscall"
	"testing"
	"time"

	"github.com/ompdev/omp/runs"
)

// BenchmarkWrite records what a 10,000-task run produces — for each task
// three states, three transitions, two log lines and a metric — in
// batches of 256 events, and of 4096 as runs/record flushes them at most.
// One op is a whole run; µs/task is the recording cost per task.
func BenchmarkWrite(b *testing.B) {
	for _, db := range []struct {
		name string
		url  func(testing.TB) string
	}{
		{"sqlite", sqliteURL},
		{"postgres", postgresURL},
	} {
		for _, size := range []int{256, 4096} {
			b.Run(fmt.Sprintf("%s/batch=%d", db.name, size), func(b *testing.B) {
				benchWrite(b, openStore(b, db.url(b)), size)
			})
		}
	}
}

func benchWrite(b *testing.B, s runs.Store, batchSize int) {
	const tasks = 10_000
	n := 0
	cpu := cpuTime()
	for b.Loop() {
		n++
		id := fmt.Sprint("run", n)
		now := time.Now()
		if err := s.Create(b.Context(), &runs.Run{ID: id, File: "/bench.omp", Pipeline: "main", Started: now}); err != nil {
			b.Fatal(err)
		}
		batch := runs.Batch{RunID: id}
		events := 0
		flush := func() {
			batch.Counts = &runs.Counts{Total: tasks}
			if err := s.Write(b.Context(), batch); err != nil {
				b.Fatal(err)
			}
			batch = runs.Batch{RunID: id}
			events = 0
		}
		for i := range tasks {
			node := fmt.Sprint("s", i)
			for _, state := range []string{"PENDING", "STARTED", "SUCCESS"} {
				batch.Tasks = append(batch.Tasks, runs.Task{Node: node, Kind: "echo", Name: "e", Action: "run", State: state, Started: now, Result: []byte(`{"ok":true}`)})
				batch.Transitions = append(batch.Transitions, runs.Transition{Node: node, Time: now, State: state, Attempt: 1, Worker: "w1"})
				events += 2
			}
			batch.Logs = append(batch.Logs,
				runs.LogLine{Node: node, Time: now, Line: "starting " + node},
				runs.LogLine{Node: node, Time: now, Line: "done " + node})
			batch.Metrics = append(batch.Metrics, runs.Metric{Node: node, Name: "loss", Value: 0.5, Step: 1, Time: now})
			if events += 3; events >= batchSize {
				flush()
			}
		}
		flush()
		if err := s.Finish(b.Context(), id, runs.Success, 0, time.Now()); err != nil {
			b.Fatal(err)
		}
	}
	b.ReportMetric(float64(b.Elapsed().Microseconds())/float64(n*tasks), "µs/task")
	// On a loaded machine the wall time varies with the load; the CPU
	// time (of this process: PostgreSQL's is not counted) less so.
	b.ReportMetric(float64((cpuTime()-cpu).Microseconds())/float64(n*tasks), "cpu-µs/task")
}

// cpuTime is the CPU time this process used.
func cpuTime() time.Duration {
	var u syscall.Rusage
	syscall.Getrusage(syscall.RUSAGE_SELF, &u)
	return time.Duration(u.Utime.Nano() + u.Stime.Nano())
}
