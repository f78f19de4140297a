package runtime

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"time"

	"github.com/ompdev/omp/compiler"
	"github.com/ompdev/omp/runtime/cachekey"
)

// Config configures one run. Bus is required; everything else has a default.
type Config struct {
	// Bus carries tasks to workers and their events back. Run does not
	// start workers: start them first (embedded: a Worker serving AnyLabel
	// on the same bus), or they will not get tasks on a bus that drops
	// messages nobody subscribed to.
	Bus Bus
	// Store is the store root the tasks see (a directory or a blob URL).
	Store string
	// RunID names the run; default: a new unique id.
	RunID string
	// KeepGoing runs every node that does not depend on a failed one,
	// instead of failing fast.
	KeepGoing bool
	// Listener hears every state change, log line, metric and warning.
	Listener Listener

	// LeaseInterval is how often a worker renews its claim on a running
	// task; a claim not renewed for 3 intervals has lapsed and the task is
	// dispatched again. Default 10s.
	LeaseInterval time.Duration
	// DispatchTimeout is how long a dispatched task may go unclaimed, while
	// a worker serving its label has room and claims nothing else, before
	// its message counts as lost and is published again. Default 30s.
	DispatchTimeout time.Duration
	// MaxDeliveries bounds the dispatches of a task between two failed
	// attempts (lost messages and lost workers); past it the task
	// fails with "delivered N times without a result". Default 5.
	MaxDeliveries int
	// NoWorkerWarning is how long tasks of a label may sit unclaimed, with
	// no worker known to serve it, before the Listener gets a warning.
	// Default 5s.
	NoWorkerWarning time.Duration
	// MaxBackoff caps the exponential backoff between retries. Default
	// compiler.MaxBackoff (1m), which also bounds a task's backoff option.
	MaxBackoff time.Duration
	// CancelGrace is how long a cancelled run waits for its running
	// attempts to report that they stopped. Default 5s.
	CancelGrace time.Duration
	// Timeout bounds the whole run: past it the run is cancelled as if
	// ctx were, and its unfinished tasks say so in their error. Zero means
	// no bound.
	Timeout time.Duration
	// NoWorkerTimeout is how long a task may wait for a label that no live
	// worker serves (none announced it in a heartbeat, none is running a
	// task of it) before it fails with "no worker serves label L". While
	// such tasks wait the runner asks the workers for heartbeats again,
	// and a busy worker still counts as serving its labels. Zero means
	// wait forever.
	NoWorkerTimeout time.Duration
	// MaxInFlight bounds the tasks of one label dispatched and not
	// finished; ready tasks beyond it wait in the runner, in order, and go
	// once an eighth of the window is free, together. (Per
	// label, so tasks that no worker takes cannot hold up the others.) It keeps a run of a hundred
	// thousand tasks from parking them all in the bus at once (a broker
	// holds every queued message). Default 4096;
	// negative means no bound.
	MaxInFlight int
	// Cache, if set, gives each task a cache key and, with Cache.Resume,
	// ends a task whose key a task of the resumed run had, and which
	// succeeded there, CACHED with that task's result.
	Cache *Cache
}

func (c *Config) setDefaults() {
	if c.RunID == "" {
		c.RunID = NewRunID()
	}
	if c.Listener == nil {
		c.Listener = ListenerFunc(func(Update) {})
	}
	if c.LeaseInterval == 0 {
		c.LeaseInterval = 10 * time.Second
	}
	if c.DispatchTimeout == 0 {
		c.DispatchTimeout = 30 * time.Second
	}
	if c.MaxDeliveries == 0 {
		c.MaxDeliveries = 5
	}
	if c.NoWorkerWarning == 0 {
		c.NoWorkerWarning = 5 * time.Second
	}
	if c.MaxBackoff == 0 {
		c.MaxBackoff = compiler.MaxBackoff
	}
	if c.CancelGrace == 0 {
		c.CancelGrace = 5 * time.Second
	}
	if c.MaxInFlight == 0 {
		c.MaxInFlight = 4096
	}
}

// Validate reports every problem of the configuration at once.
func (c *Config) Validate() error {
	var errs []error
	if c.Bus == nil {
		errs = append(errs, errors.New("runtime: Config.Bus is nil"))
	}
	if c.LeaseInterval < 0 || c.DispatchTimeout < 0 || c.NoWorkerWarning < 0 || c.MaxBackoff < 0 || c.CancelGrace < 0 ||
		c.Timeout < 0 || c.NoWorkerTimeout < 0 {
		errs = append(errs, errors.New("runtime: negative duration in Config"))
	}
	if c.MaxDeliveries < 0 {
		errs = append(errs, fmt.Errorf("runtime: Config.MaxDeliveries is %d", c.MaxDeliveries))
	}
	return errors.Join(errs...)
}

// NewRunID names a run by when it started, for people, and 48 random bits,
// so that runs started in the same second on many machines never share an
// event queue.
func NewRunID() string {
	var b [6]byte
	rand.Read(b[:])
	return time.Now().UTC().Format("20060102T150405") + "-" + hex.EncodeToString(b[:])
}

// Listener hears what happens in a run. Run calls Notify from one goroutine
// only, never concurrently, in the order things happened; Notify must not
// block for long, since the run waits for it. The Update and the TaskReport
// it points to are valid only during the call: copy what you keep.
type Listener interface {
	Notify(u Update)
}

// ListenerFunc adapts a function to Listener.
type ListenerFunc func(Update)

func (f ListenerFunc) Notify(u Update) { f(u) }

// UpdateType says what an Update reports.
type UpdateType int

const (
	// UpdateState: Task changed to State. For Retry, Message is the
	// error of the failed attempt and Backoff the wait before the next.
	// Pending with a Message is a task handed back to run again as a new
	// attempt: Message says why ("worker w1 lost").
	UpdateState UpdateType = iota
	// UpdateLog: Task logged Line.
	UpdateLog
	// UpdateMetric: Task reported Metric.
	UpdateMetric
	// UpdateProgress: Task reported Progress.
	UpdateProgress
	// UpdateWarning: the run warns with Message (e.g. "no worker serves
	// label gpu"); Task is nil. Label is the label no worker serves, if
	// that is the warning.
	UpdateWarning
)

// Update is one thing that happened in a run.
type Update struct {
	Type UpdateType
	Time time.Time
	// Task is the task's report so far; Node is its graph node.
	Task *TaskReport
	Node *compiler.Node

	State    State
	Line     string
	Metric   Metric
	Progress Progress
	Message  string
	Backoff  time.Duration
	Label    string
	// RunID is the run's id (Config.RunID).
	RunID string
	// Result is the task's result, for a change to Success. Unlike the
	// rest of an Update its bytes are never changed later, so a Listener
	// may keep them without a copy.
	Result json.RawMessage
	// Counts are the run's task counts after this update, for a progress
	// display.
	Counts Counts
}

// Counts are how many nodes of a run are in each state.
type Counts struct {
	Total     int `json:"total"`
	Pending   int `json:"pending"` // includes RETRY
	Running   int `json:"running"`
	Succeeded int `json:"succeeded"`
	Failed    int `json:"failed"`
	Cancelled int `json:"cancelled"`
	// Cached are the tasks that ended CACHED, which Succeeded counts too.
	Cached int `json:"cached"`
}

// Report is the outcome of a run, as `omp run --json` prints it.
type Report struct {
	RunID  string `json:"run_id"`
	Status State  `json:"status"` // SUCCESS, FAILURE or CANCELLED
	// Results has one entry per graph Output, in source order: its node's
	// result, or null when the node did not succeed.
	Results  []json.RawMessage `json:"results"`
	Tasks    []*TaskReport     `json:"tasks"`
	Started  time.Time         `json:"started"`
	Finished time.Time         `json:"finished"`
	Duration float64           `json:"duration"` // seconds
}

// TaskReport is one node of a run. Reduce nodes, which the runtime computes
// itself, have Kind "reduce" and the reducer as Action. In JSON every field
// is always present (see MarshalJSON).
type TaskReport struct {
	ID       string    `json:"id"`
	Kind     string    `json:"kind"`
	Name     string    `json:"name"`
	Action   string    `json:"action"`
	Label    string    `json:"label"`
	Worker   string    `json:"worker"`
	State    State     `json:"state"`
	Attempts int       `json:"attempts"`
	Started  time.Time `json:"started"`
	Finished time.Time `json:"finished"`
	Duration float64   `json:"duration"` // seconds, first start to finish
	Error    string    `json:"error"`
	// Log is the tail of the task's log (the last LogTail lines).
	Log     []string `json:"log"`
	Metrics []Metric `json:"metrics"`
	Pos     string   `json:"pos"`
	// CacheKey is the task's cache key (with Config.Cache), else null.
	CacheKey *cachekey.Key `json:"cache_key"`
	// ResultDigest is the digest of the result of a task that succeeded
	// (with Config.Cache), which the keys of the tasks using it include.
	ResultDigest string `json:"result_digest"`
	// NotCached says why a resumed task ran although it might have been
	// cached: "not cached: cache=false", a recorded result that could not
	// be read; "" otherwise.
	NotCached string `json:"not_cached"`
}

// LogTail is how many log lines of a task a Report keeps.
const LogTail = 20

// Run executes graph g and returns its report.
//
// Run returns an error only for a bad Config or graph, or an infrastructure
// error (sdk.IsInfra); even then the report, if not nil, says how far the run got. A failed task
// is not an error of Run: see Report.Status. When ctx is cancelled, Run
// cancels the running attempts (Control CANCEL), waits up to CancelGrace
// for them, marks everything unfinished CANCELLED and returns a report with
// status CANCELLED.
func Run(ctx context.Context, g *compiler.Graph, cfg Config) (*Report, error) {
	cfg.setDefaults()
	if err := cfg.Validate(); err != nil {
		return nil, err
	}
	s, err := newScheduler(g, &cfg)
	if err != nil {
		return nil, err
	}
	return s.run(ctx)
}
