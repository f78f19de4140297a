// Package sdktest helps test a kind without omp: a Recorder is an
// sdk.Emitter that keeps everything a task reports, so a test can call
// Kind.Run directly, or through the plugin host, and check the log lines,
// metrics and progress.
package sdktest

import (
	"slices"
	"strconv"
	"sync"

	"github.com/ompdev/omp/plugins/sdk"
)

// Recorder is an sdk.Emitter that records what it is sent. Its methods are
// safe for concurrent use, as the SDK requires. The zero value is ready.
type Recorder struct {
	// OnLog and OnMetric, if set, are called after each line or metric
	// is recorded (a metric as "name=value@step"), e.g. to cancel a task
	// once it has started.
	OnLog    func(line string)
	OnMetric func(metric string)

	mu       sync.Mutex
	logs     []string
	metrics  []string
	progress []string
}

var _ sdk.Emitter = (*Recorder)(nil)

func (r *Recorder) Log(line string) {
	r.mu.Lock()
	r.logs = append(r.logs, line)
	r.mu.Unlock()
	if r.OnLog != nil {
		r.OnLog(line)
	}
}

func (r *Recorder) Metric(name string, value float64, step int) {
	m := name + "=" + strconv.FormatFloat(value, 'g', -1, 64) + "@" + strconv.Itoa(step)
	r.mu.Lock()
	r.metrics = append(r.metrics, m)
	r.mu.Unlock()
	if r.OnMetric != nil {
		r.OnMetric(m)
	}
}

func (r *Recorder) Progress(done, total int) {
	r.mu.Lock()
	defer r.mu.Unlock()
	r.progress = append(r.progress, strconv.Itoa(done)+"/"+strconv.Itoa(total))
}

// Logs returns the log lines so far, in order.
func (r *Recorder) Logs() []string {
	r.mu.Lock()
	defer r.mu.Unlock()
	return slices.Clone(r.logs)
}

// Metrics returns the metrics so far, each as "name=value@step".
func (r *Recorder) Metrics() []string {
	r.mu.Lock()
	defer r.mu.Unlock()
	return slices.Clone(r.metrics)
}

// ProgressReports returns the progress reports so far, each as "done/total".
func (r *Recorder) ProgressReports() []string {
	r.mu.Lock()
	defer r.mu.Unlock()
	return slices.Clone(r.progress)
}
