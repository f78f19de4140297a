// Package runs is omp's run history: every run, each of its tasks, every
// state change, log line and metric, kept in a database (SQLite by default,
// or PostgreSQL for a history shared across machines).
//
// Its guarantee: what a Store accepted is there for every later reader, in
// the order it was written, and one Store behaves as the other (one
// conformance suite, runstest, runs against both). Only the runner writes;
// any number of readers (omp runs, status, logs) read while it does, and
// two runners (two processes on one SQLite file, or machines sharing a
// PostgreSQL database) record side by side without "database is locked".
//
// Text is kept as valid UTF-8: a byte that is not, and NUL (which
// PostgreSQL refuses), read back as U+FFFD, from either database.
package runs

import (
	"context"
	"encoding/json"
	"errors"
	"time"
)

// Status is a run's status.
type Status string

const (
	Running   Status = "RUNNING"
	Success   Status = "SUCCESS"
	Failure   Status = "FAILURE"
	Cancelled Status = "CANCELLED"
	// Lost is a run whose runner stopped renewing its heartbeat (killed,
	// or its machine gone) before it recorded an end.
	Lost Status = "LOST"
)

// Done reports whether s is final.
func (s Status) Done() bool { return s != Running }

// LostAfter is how old a running run's heartbeat may be before readers
// count the run as Lost.
const LostAfter = 30 * time.Second

// Run is one execution of one pipeline of one file.
type Run struct {
	ID       string          `json:"id"`
	File     string          `json:"file"`   // as given to omp run, made absolute
	Source   string          `json:"source"` // the file's text when the run started
	Pipeline string          `json:"pipeline"`
	Params   json.RawMessage `json:"params"` // object: name → value, as compiled
	Graph    json.RawMessage `json:"graph"`  // the compiled graph, as omp graph --format json
	Broker   string          `json:"broker"` // "" embedded, else the broker URL, password redacted
	Status   Status          `json:"status"`
	ExitCode int             `json:"exit_code"`
	Started  time.Time       `json:"started"`
	Finished time.Time       `json:"finished"` // zero while running
	// Heartbeat is when the runner last said it is alive.
	Heartbeat time.Time `json:"heartbeat"`
	Host      string    `json:"host"`
	User      string    `json:"user"`
	Version   string    `json:"version"` // omp's version
	// CancelRequested is set by Store.RequestCancel; the runner cancels
	// the run when it sees it.
	CancelRequested bool   `json:"cancel_requested"`
	Counts          Counts `json:"counts"`
	// Trigger is what started the run: TriggerRun ("" is taken as it),
	// TriggerAPI or TriggerSchedule.
	Trigger string `json:"trigger"`
	// Tick is the schedule's tick a scheduled run is for; zero otherwise.
	Tick time.Time `json:"tick"`
	// ResumedFrom is the id of the run this one resumed (omp run
	// --resume), or "".
	ResumedFrom string `json:"resumed_from"`
}

// What started a run.
const (
	TriggerRun      = "run"      // omp run
	TriggerAPI      = "api"      // POST /api/runs of omp serve
	TriggerSchedule = "schedule" // a schedule's tick, fired by omp serve
)

// Counts are how many tasks of a run are in each state.
type Counts struct {
	Total     int `json:"total"`
	Pending   int `json:"pending"`
	Running   int `json:"running"`
	Succeeded int `json:"succeeded"`
	Failed    int `json:"failed"`
	Cancelled int `json:"cancelled"`
}

// Task is one node of a run's graph, as last recorded.
type Task struct {
	RunID    string    `json:"run_id"`
	Node     string    `json:"node"` // the graph node id
	Kind     string    `json:"kind"`
	Name     string    `json:"name"`
	Action   string    `json:"action"`
	Label    string    `json:"label"`
	Pos      string    `json:"pos"` // FILE:LINE:COL of its statement
	Worker   string    `json:"worker"`
	State    string    `json:"state"` // PENDING, STARTED, RETRY, SUCCESS, FAILURE, CANCELLED
	Attempts int       `json:"attempts"`
	Started  time.Time `json:"started"`
	Finished time.Time `json:"finished"`
	Error    string    `json:"error"`
	// Result is the task's result as JSON, or null. A result over
	// MaxInlineResult bytes is kept in the store instead, and ResultRef
	// names its key there.
	Result    json.RawMessage `json:"result"`
	ResultRef string          `json:"result_ref"`
	// ResultDigest is the digest of the result, which the cache keys of
	// the tasks that use it include; "" until a runner computes one.
	ResultDigest string `json:"result_digest"`
	// CacheKey is the digest that resume compares; "" until a runner
	// computes one.
	CacheKey string `json:"cache_key"`
	// CacheParts are the parts of the cache key, a JSON list of
	// {"name", "value", "digest", "refs"} (see runtime/cachekey), or
	// null.
	CacheParts json.RawMessage `json:"cache_parts"`
	// NotCached says why a task of a resumed run ran although it might
	// have been cached ("not cached: cache=false"), or "".
	NotCached string `json:"not_cached"`
}

// MaxInlineResult is the largest result kept in the database itself.
const MaxInlineResult = 1 << 20

// Transition is one state change of one task, for timelines.
type Transition struct {
	RunID   string    `json:"run_id"`
	Node    string    `json:"node"`
	Time    time.Time `json:"time"`
	State   string    `json:"state"`
	Attempt int       `json:"attempt"`
	Worker  string    `json:"worker"`
	Message string    `json:"message"` // why (an error, "worker w1 lost"), or ""
}

// LogLine is one line a task logged. Seq orders the lines of a run.
type LogLine struct {
	RunID string    `json:"run_id"`
	Seq   int64     `json:"seq"`
	Node  string    `json:"node"`
	Time  time.Time `json:"time"`
	Line  string    `json:"line"`
}

// Metric is one value a task reported.
type Metric struct {
	RunID string    `json:"run_id"`
	Node  string    `json:"node"`
	Name  string    `json:"name"`
	Value float64   `json:"value"`
	Step  int       `json:"step"`
	Time  time.Time `json:"time"`
}

// Batch is what a runner writes at once: a Store applies it in one
// transaction, so a reader sees all of it or none.
type Batch struct {
	RunID string
	// Tasks are upserted by (RunID, Node): the whole row is replaced.
	Tasks       []Task
	Transitions []Transition
	// Logs are appended; a Store assigns their Seq.
	Logs    []LogLine
	Metrics []Metric
	Counts  *Counts // the run's counts after the batch, if they changed
	// PartsChecked says that every task's CacheParts is valid JSON that
	// the caller made with encoding/json, so Write does not check it
	// again: for the run recorder, which encodes them, that check was a
	// sixth of a large run's recording.
	PartsChecked bool
}

// Filter selects runs; zero fields select everything.
type Filter struct {
	File     string
	Pipeline string
	Status   Status
	Limit    int // 0: no limit
}

// MetricFilter selects metrics; zero fields select everything.
type MetricFilter struct {
	RunIDs []string
	File   string
	Name   string
	Task   string // a node id or a task name
}

// Store is a run history. Its methods are safe for concurrent use.
type Store interface {
	// Create records a new run, with Status Running, and sets r's
	// Status, its Started (to now) and Heartbeat (to Started) if they are
	// zero. The Broker's password is redacted. A run whose ID is taken
	// is an error.
	Create(ctx context.Context, r *Run) error
	// Write applies b in one transaction: all of it or, on an error,
	// none. ErrNotFound for an unknown run. Writes to a run that ended
	// are accepted (a runner's last lines may come after its Finish).
	Write(ctx context.Context, b Batch) error
	// Finish records the end of a run; ErrDone if it ended already. A
	// Lost run can finish: a runner that comes back knows best.
	Finish(ctx context.Context, id string, status Status, exitCode int, at time.Time) error
	// Beat renews the run's heartbeat (it never moves back) and reports
	// whether a cancel was requested. A Lost run's runner was only
	// paused if it beats again: the run is Running again. ErrDone for a
	// run that finished.
	Beat(ctx context.Context, id string, at time.Time) (cancelRequested bool, err error)
	// RequestCancel asks the run's runner to cancel it; ErrDone if the
	// run already ended or is Lost.
	RequestCancel(ctx context.Context, id string) error

	// Resolve turns a reference (an id, a unique prefix of one, or
	// "last", the run that started last) into a run id. A prefix of
	// several is an *AmbiguousError; one of none, ErrNotFound.
	Resolve(ctx context.Context, ref string) (string, error)
	// Run returns one run; a Running run whose heartbeat is older than
	// LostAfter is marked Lost first.
	Run(ctx context.Context, id string) (*Run, error)
	// Runs returns runs newest first, marking lost ones as Run does.
	Runs(ctx context.Context, f Filter) ([]Run, error)
	// Tasks returns a run's tasks in the order they were first written
	// (the graph's order, when the runner records every node at the
	// start). Tasks, Transitions and Logs return ErrNotFound for an
	// unknown run.
	Tasks(ctx context.Context, runID string) ([]Task, error)
	// Transitions returns a run's state changes in time order (equal
	// times in the order written); node "" means every node.
	Transitions(ctx context.Context, runID, node string) ([]Transition, error)
	// Logs returns a run's log lines with Seq > after, in order; node ""
	// means every node.
	Logs(ctx context.Context, runID, node string, after int64) ([]LogLine, error)
	// Metrics returns the selected metrics ordered by run (newest first),
	// node (in Tasks' order), name and step. A NaN value is kept.
	Metrics(ctx context.Context, f MetricFilter) ([]Metric, error)
	// Prune deletes the runs that started before t, with everything
	// recorded about them, and says how many. A run still running stays.
	// Results kept in the store (ResultRef) are the caller's to delete.
	Prune(ctx context.Context, before time.Time) (int, error)

	TickStore

	Close() error
}

// Tick is one tick of one pipeline's schedule, as the server that claimed
// it recorded it.
type Tick struct {
	File     string    `json:"file"`
	Pipeline string    `json:"pipeline"`
	At       time.Time `json:"at"`
	Outcome  string    `json:"outcome"` // TickFired or TickSkipped
	RunID    string    `json:"run_id"`  // "" until the fired run exists
	Server   string    `json:"server"`
	Claimed  time.Time `json:"claimed"`
}

// A tick's outcome.
const (
	TickFired   = "fired"
	TickSkipped = "skipped"
)

// TickStore is what a scheduler needs of the run history; every Store is
// one. Its guarantee is ClaimTick's.
type TickStore interface {
	// ClaimTick records t.File, t.Pipeline, t.At as claimed by t.Server,
	// in one transaction, and reports whether this call was the one that
	// did: of any number of concurrent calls for the same tick, on any
	// number of Stores sharing a database, exactly one returns true. With
	// skipOverlap, the tick is recorded as TickSkipped (and its outcome
	// returned so) when an earlier fired tick of the pipeline has a run
	// still running, or is not yet given a run and was claimed less than
	// LostAfter ago.
	ClaimTick(ctx context.Context, t Tick, skipOverlap bool) (claimed bool, outcome string, err error)
	// SetTickRun records the run a fired tick started.
	SetTickRun(ctx context.Context, file, pipeline string, at time.Time, runID string) error
	// LastTick returns the newest tick claimed for a pipeline; ok is false
	// when there is none.
	LastTick(ctx context.Context, file, pipeline string) (at time.Time, ok bool, err error)
	// Ticks returns a pipeline's claimed ticks, oldest first; file and
	// pipeline "" select all.
	Ticks(ctx context.Context, file, pipeline string) ([]Tick, error)
}

var (
	// ErrNotFound is returned for a run that is not in the store.
	ErrNotFound = errors.New("no such run")
	// ErrDone is returned for a change to a run that has ended.
	ErrDone = errors.New("run has ended")
	// ErrNewerSchema is returned by Open for a database written by a newer omp.
	ErrNewerSchema = errors.New("database was written by a newer omp")
)

// AmbiguousError is a prefix that names more than one run.
type AmbiguousError struct {
	Ref string
	// Candidates are the newest ten runs the prefix names.
	Candidates []string
}

func (e *AmbiguousError) Error() string {
	return "run " + e.Ref + " is ambiguous"
}
