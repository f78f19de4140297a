// Package runstest is the conformance suite of runs.Store: every Store
// runs it (SQLite and PostgreSQL), so that they behave alike.
//
// The suite needs no clock of its own: the Store methods that depend on
// time take it, and the runs it makes Lost are created with a heartbeat
// in the past.
package runstest

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"math"
	"reflect"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/ompdev/omp/runs"
)

// Run runs the suite. open must return a Store on a new, empty database
// and close it at the test's cleanup.
func Run(t *testing.T, open func(t *testing.T) runs.Store) {
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			tc.fn(t, newEnv(t, open(t)))
		})
	}
}

// RunShared runs the tests that need more than one Store on one database,
// as two omp processes have. newURL must return the URL of a new, empty
// database, which the tests open with runs.Open as often as they need.
func RunShared(t *testing.T, newURL func(t *testing.T) string) {
	t.Run("ConcurrentOpenAndWrite", func(t *testing.T) { testConcurrentStores(t, newURL(t)) })
	t.Run("ReopenKeepsEverything", func(t *testing.T) { testReopen(t, newURL(t)) })
	t.Run("SharedClaims", func(t *testing.T) { testSharedClaims(t, newURL(t)) })
}

var tests = []struct {
	name string
	fn   func(t *testing.T, e *env)
}{
	{"Create", testCreate},
	{"CreateRejects", testCreateRejects},
	{"TasksUpsert", testTasksUpsert},
	{"WriteAppends", testWriteAppends},
	{"WriteRejects", testWriteRejects},
	{"WriteLarge", testWriteLarge},
	{"Text", testText},
	{"MetricValues", testMetricValues},
	{"Finish", testFinish},
	{"BeatAndCancel", testBeatAndCancel},
	{"Lost", testLost},
	{"Resolve", testResolve},
	{"Runs", testRuns},
	{"ReadsOfUnknownRun", testReadsOfUnknownRun},
	{"Transitions", testTransitions},
	{"Logs", testLogs},
	{"Metrics", testMetrics},
	{"Prune", testPrune},
	{"ConcurrentWriters", testConcurrentWriters},
	{"Trigger", testTrigger},
	{"ClaimTick", testClaimTick},
	{"ClaimOverlap", testClaimOverlap},
}

type env struct {
	t   *testing.T
	s   runs.Store
	ctx context.Context
	// now is the test's start, as a Store gives times back (no monotonic
	// reading): every time the suite writes is near it, so that no run
	// is Lost unless a test means it to be.
	now time.Time
}

func newEnv(t *testing.T, s runs.Store) *env {
	return &env{t: t, s: s, ctx: t.Context(), now: time.Unix(0, time.Now().UnixNano())}
}

// at is the suite's time plus d.
func (e *env) at(d time.Duration) time.Time { return e.now.Add(d) }

// newRun is a run with every field set, started at started.
func newRun(id string, started time.Time) *runs.Run {
	return &runs.Run{
		ID:       id,
		File:     "/work/train.omp",
		Source:   "pipeline main {\n  echo a(1)\n}\n",
		Pipeline: "main",
		Params:   json.RawMessage(`{"n": 3, "name": "x"}`),
		Graph:    json.RawMessage(`{"nodes":[{"id":"s1"}]}`),
		Broker:   "amqp://guest:xxxxx@127.0.0.1:5672/",
		Started:  started,
		Host:     "host1",
		User:     "ann",
		Version:  "v0.1.0",
		Counts:   runs.Counts{Total: 1, Pending: 1},
		Trigger:  runs.TriggerRun,
		// The run it resumed, which need not be in the store.
		ResumedFrom: "r0",
	}
}

// create records r, failing the test on an error.
func (e *env) create(r *runs.Run) *runs.Run {
	e.t.Helper()
	if err := e.s.Create(e.ctx, r); err != nil {
		e.t.Fatalf("Create %s: %v", r.ID, err)
	}
	return r
}

func (e *env) write(b runs.Batch) {
	e.t.Helper()
	if err := e.s.Write(e.ctx, b); err != nil {
		e.t.Fatalf("Write: %v", err)
	}
}

func (e *env) run(id string) *runs.Run {
	e.t.Helper()
	r, err := e.s.Run(e.ctx, id)
	if err != nil {
		e.t.Fatalf("Run %s: %v", id, err)
	}
	return r
}

func (e *env) tasks(id string) []runs.Task {
	e.t.Helper()
	ts, err := e.s.Tasks(e.ctx, id)
	if err != nil {
		e.t.Fatalf("Tasks %s: %v", id, err)
	}
	return ts
}

func (e *env) logs(id, node string, after int64) []runs.LogLine {
	e.t.Helper()
	ls, err := e.s.Logs(e.ctx, id, node, after)
	if err != nil {
		e.t.Fatalf("Logs %s: %v", id, err)
	}
	return ls
}

func wantErr(t *testing.T, what string, err, want error) {
	t.Helper()
	if !errors.Is(err, want) {
		t.Errorf("%s: error %v, want %v", what, err, want)
	}
}

func wantJSON(t *testing.T, what string, got any, want string) {
	t.Helper()
	b, err := json.Marshal(got)
	if err != nil {
		t.Fatal(err)
	}
	if string(b) != want {
		t.Errorf("%s:\n got %s\nwant %s", what, b, want)
	}
}

func testCreate(t *testing.T, e *env) {
	in := newRun("r1", e.at(0))
	e.create(in)
	if in.Status != runs.Running || !in.Heartbeat.Equal(in.Started) {
		t.Errorf("Create left status %q, heartbeat %v", in.Status, in.Heartbeat)
	}
	got := e.run("r1")
	want := *newRun("r1", e.at(0))
	want.Status, want.Heartbeat = runs.Running, e.at(0)
	if !reflect.DeepEqual(*got, want) {
		t.Errorf("Run:\n got %+v\nwant %+v", *got, want)
	}

	// A broker's password is not kept, even if the runner passes it.
	r := newRun("secret", e.at(0))
	r.Broker = "amqp://omp:s3cret@mq.example:5672/prod"
	e.create(r)
	if got := e.run("secret").Broker; got != "amqp://omp:xxxxx@mq.example:5672/prod" {
		t.Errorf("broker recorded as %q", got)
	}

	// What a runner that knows little records: empty JSON is null, and
	// a zero start time is now.
	before := time.Now()
	e.create(&runs.Run{ID: "r2", File: "/f.omp", Pipeline: "main"})
	got = e.run("r2")
	if got.Params != nil || got.Graph != nil || got.Started.Before(before.Add(-time.Millisecond)) || !got.Finished.IsZero() {
		t.Errorf("minimal run read back as %+v", got)
	}
}

func testCreateRejects(t *testing.T, e *env) {
	e.create(newRun("r1", e.at(0)))
	for _, tc := range []struct {
		name string
		run  *runs.Run
		want string
	}{
		{"duplicate id", newRun("r1", e.at(time.Second)), "run r1 already exists"},
		{"no id", newRun("", e.at(0)), "a run needs an id"},
		{"params not JSON", func() *runs.Run { r := newRun("r3", e.at(0)); r.Params = json.RawMessage("{"); return r }(), "params is not valid JSON"},
		{"graph not JSON", func() *runs.Run { r := newRun("r4", e.at(0)); r.Graph = json.RawMessage("nope"); return r }(), "graph is not valid JSON"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			err := e.s.Create(e.ctx, tc.run)
			if err == nil || !strings.Contains(err.Error(), tc.want) {
				t.Errorf("error %v, want one saying %q", err, tc.want)
			}
		})
	}
	// The duplicate changed nothing.
	if got := e.run("r1"); !got.Started.Equal(e.at(0)) {
		t.Errorf("the duplicate Create changed the run: started %v", got.Started)
	}
	if _, err := e.s.Run(e.ctx, "r3"); !errors.Is(err, runs.ErrNotFound) {
		t.Errorf("a rejected run was recorded: %v", err)
	}
}

func task(node, state string) runs.Task {
	return runs.Task{Node: node, Kind: "echo", Name: "e_" + node, Action: "run", Label: "default", Pos: "train.omp:2:3", State: state}
}

func testTasksUpsert(t *testing.T, e *env) {
	e.create(newRun("r1", e.at(0)))
	// Written out of node-name order: Tasks keeps the order of first
	// recording (the graph's), not s10 < s2.
	e.write(runs.Batch{RunID: "r1", Tasks: []runs.Task{task("s2", "PENDING"), task("s10", "PENDING"), task("s1", "PENDING")}})

	full := task("s10", "SUCCESS")
	full.RunID = "r1"
	full.Worker, full.Attempts, full.Error = "w1", 3, "attempt 2: boom"
	full.Started, full.Finished = e.at(time.Second), e.at(3*time.Second)
	full.Result = json.RawMessage(`{"b": [1, 2.5, null], "a": "ü"}`)
	full.ResultRef, full.ResultDigest, full.CacheKey = "results/r1/s10.json", "sha256:aa", "sha256:bb"
	full.CacheParts = json.RawMessage(`[{"name": "kind", "value": "echo", "digest": "sha256:cc"}]`)
	full.NotCached = "not cached: cache=false"
	// Twice in one batch: the last one wins.
	mid := task("s2", "STARTED")
	e.write(runs.Batch{RunID: "r1", Tasks: []runs.Task{mid, full, task("s2", "RETRY"), task("s3", "PENDING")}})

	got := e.tasks("r1")
	var nodes []string
	for _, tk := range got {
		nodes = append(nodes, tk.Node)
	}
	if want := []string{"s2", "s10", "s1", "s3"}; !slices.Equal(nodes, want) {
		t.Fatalf("task order %v, want %v", nodes, want)
	}
	if !reflect.DeepEqual(got[1], full) {
		t.Errorf("s10:\n got %+v\nwant %+v", got[1], full)
	}
	if got[0].State != "RETRY" {
		t.Errorf("s2 state %q, want the batch's last, RETRY", got[0].State)
	}

	// An upsert replaces the whole row: a later, emptier record clears
	// what it does not carry.
	e.write(runs.Batch{RunID: "r1", Tasks: []runs.Task{task("s10", "STARTED")}})
	want := task("s10", "STARTED")
	want.RunID = "r1"
	if got := e.tasks("r1")[1]; !reflect.DeepEqual(got, want) {
		t.Errorf("s10 after replacing:\n got %+v\nwant %+v", got, want)
	}
}

func testWriteAppends(t *testing.T, e *env) {
	e.create(newRun("r1", e.at(0)))
	e.create(newRun("r2", e.at(time.Second)))
	e.write(runs.Batch{RunID: "r1",
		Transitions: []runs.Transition{{Node: "s1", Time: e.at(time.Second), State: "STARTED", Attempt: 1, Worker: "w1"}},
		Logs:        []runs.LogLine{{Node: "s1", Time: e.at(time.Second), Line: "one"}, {Node: "s1", Time: e.at(time.Second), Line: "two"}},
		Metrics:     []runs.Metric{{Node: "s1", Name: "loss", Value: 0.5, Step: 1, Time: e.at(time.Second)}},
		Counts:      &runs.Counts{Total: 2, Running: 1, Pending: 1},
	})
	// Another run's lines have seqs of their own.
	e.write(runs.Batch{RunID: "r2", Logs: []runs.LogLine{{Node: "s1", Time: e.at(time.Second), Line: "other"}}})
	// No counts: they stay.
	e.write(runs.Batch{RunID: "r1", Logs: []runs.LogLine{{RunID: "r1", Node: "s2", Time: e.at(2 * time.Second), Line: "three"}}})
	e.write(runs.Batch{RunID: "r1"})

	var got []string
	for _, l := range e.logs("r1", "", 0) {
		got = append(got, fmt.Sprintf("%d %s %s %v", l.Seq, l.RunID, l.Line, l.Time.Sub(e.now)))
	}
	if want := []string{"1 r1 one 1s", "2 r1 two 1s", "3 r1 three 2s"}; !slices.Equal(got, want) {
		t.Errorf("logs %q, want %q", got, want)
	}
	if ls := e.logs("r2", "", 0); len(ls) != 1 || ls[0].Seq != 1 {
		t.Errorf("r2's logs %+v, want one with seq 1", ls)
	}
	if c := e.run("r1").Counts; c != (runs.Counts{Total: 2, Running: 1, Pending: 1}) {
		t.Errorf("counts %+v", c)
	}
	if c := e.run("r2").Counts; c != (runs.Counts{Total: 1, Pending: 1}) {
		t.Errorf("r2's counts changed: %+v", c)
	}
	trs, err := e.s.Transitions(e.ctx, "r1", "")
	if err != nil {
		t.Fatal(err)
	}
	want := []runs.Transition{{RunID: "r1", Node: "s1", Time: e.at(time.Second), State: "STARTED", Attempt: 1, Worker: "w1"}}
	if !reflect.DeepEqual(trs, want) {
		t.Errorf("transitions\n got %+v\nwant %+v", trs, want)
	}
}

func testWriteRejects(t *testing.T, e *env) {
	e.create(newRun("r1", e.at(0)))
	e.write(runs.Batch{RunID: "r1", Logs: []runs.LogLine{{Node: "s1", Time: e.at(0), Line: "kept"}}, Counts: &runs.Counts{Total: 1}})
	big := task("s1", "SUCCESS")
	big.Result = json.RawMessage(`"` + strings.Repeat("x", runs.MaxInlineResult) + `"`)
	bad := task("s1", "SUCCESS")
	bad.Result = json.RawMessage(`{"a":`)
	badParts := task("s1", "SUCCESS")
	badParts.CacheParts = json.RawMessage(`[{"name":`)
	lines := []runs.LogLine{{Node: "s1", Time: e.at(0), Line: "never"}}
	for _, tc := range []struct {
		name  string
		batch runs.Batch
		want  string
		is    error
	}{
		{"unknown run", runs.Batch{RunID: "nope", Logs: lines}, "no such run: nope", runs.ErrNotFound},
		{"no run id", runs.Batch{Logs: lines}, "a batch needs a run id", nil},
		{"task of another run", runs.Batch{RunID: "r1", Logs: lines, Tasks: []runs.Task{{RunID: "r2", Node: "s1"}}}, "a batch of run r1 holds a task of run r2", nil},
		{"log of another run", runs.Batch{RunID: "r1", Logs: []runs.LogLine{{RunID: "r2", Line: "x"}}}, "holds a log line of run r2", nil},
		{"transition of another run", runs.Batch{RunID: "r1", Logs: lines, Transitions: []runs.Transition{{RunID: "r2"}}}, "holds a transition of run r2", nil},
		{"metric of another run", runs.Batch{RunID: "r1", Logs: lines, Metrics: []runs.Metric{{RunID: "r2"}}}, "holds a metric of run r2", nil},
		{"task without node", runs.Batch{RunID: "r1", Logs: lines, Tasks: []runs.Task{{State: "PENDING"}}}, "a task needs a node id", nil},
		{"result too large", runs.Batch{RunID: "r1", Logs: lines, Tasks: []runs.Task{big}}, "keep it in the store and set ResultRef", nil},
		{"result not JSON", runs.Batch{RunID: "r1", Logs: lines, Tasks: []runs.Task{bad}}, "task s1: result is not valid JSON", nil},
		{"cache parts not JSON", runs.Batch{RunID: "r1", Logs: lines, Tasks: []runs.Task{badParts}}, "task s1: cache parts is not valid JSON", nil},
		// PartsChecked vouches for the cache parts only.
		{"result not JSON, parts checked", runs.Batch{RunID: "r1", Logs: lines, Tasks: []runs.Task{bad}, PartsChecked: true}, "task s1: result is not valid JSON", nil},
	} {
		t.Run(tc.name, func(t *testing.T) {
			err := e.s.Write(e.ctx, tc.batch)
			if err == nil || !strings.Contains(err.Error(), tc.want) {
				t.Errorf("error %v, want one saying %q", err, tc.want)
			}
			if tc.is != nil {
				wantErr(t, tc.name, err, tc.is)
			}
		})
	}
	// None of them wrote anything: a batch is all or nothing.
	if ls := e.logs("r1", "", 0); len(ls) != 1 {
		t.Errorf("logs after rejected batches: %+v", ls)
	}
	if ts := e.tasks("r1"); len(ts) != 0 {
		t.Errorf("tasks after rejected batches: %+v", ts)
	}
	if c := e.run("r1").Counts; c.Total != 1 {
		t.Errorf("counts after rejected batches: %+v", c)
	}
}

// testWriteLarge writes batches bigger than one statement of a Store
// holds, as a 10,000-task run does.
func testWriteLarge(t *testing.T, e *env) {
	e.create(newRun("r1", e.at(0)))
	const n = 3000
	var b runs.Batch
	b.RunID = "r1"
	for i := range n {
		node := fmt.Sprintf("s%d", i)
		tk := task(node, "SUCCESS")
		tk.Result = json.RawMessage(fmt.Sprint(i))
		b.Tasks = append(b.Tasks, tk)
		b.Transitions = append(b.Transitions, runs.Transition{Node: node, Time: e.at(time.Duration(i)), State: "SUCCESS", Attempt: 1})
		b.Logs = append(b.Logs, runs.LogLine{Node: node, Time: e.at(time.Duration(i)), Line: node})
		b.Metrics = append(b.Metrics, runs.Metric{Node: node, Name: "m", Value: float64(i), Step: i, Time: e.at(0)})
	}
	e.write(b)
	ts := e.tasks("r1")
	ls := e.logs("r1", "", 0)
	trs, err := e.s.Transitions(e.ctx, "r1", "")
	if err != nil {
		t.Fatal(err)
	}
	ms, err := e.s.Metrics(e.ctx, runs.MetricFilter{RunIDs: []string{"r1"}})
	if err != nil {
		t.Fatal(err)
	}
	if len(ts) != n || len(ls) != n || len(trs) != n || len(ms) != n {
		t.Fatalf("%d tasks, %d logs, %d transitions, %d metrics; want %d each", len(ts), len(ls), len(trs), len(ms), n)
	}
	for i := range n {
		node := fmt.Sprintf("s%d", i)
		if ts[i].Node != node || string(ts[i].Result) != fmt.Sprint(i) || ls[i].Seq != int64(i+1) || ls[i].Line != node || trs[i].Node != node || ms[i].Value != float64(i) {
			t.Fatalf("row %d: task %+v, log %+v, transition %+v, metric %+v", i, ts[i], ls[i], trs[i], ms[i])
		}
	}
}

// testText: any string a task prints can be recorded, and reads back the
// same from either database.
func testText(t *testing.T, e *env) {
	e.create(newRun("r1", e.at(0)))
	for _, tc := range []struct{ in, want string }{
		{"plain", "plain"},
		{"", ""},
		{"ünïcödé ✓ 日本", "ünïcödé ✓ 日本"},
		{"nul\x00byte", "nul\uFFFDbyte"},
		{"bad\xffutf8", "bad\uFFFDutf8"},
		{"quote ' and \" and \\ and $1 and %_", "quote ' and \" and \\ and $1 and %_"},
		{"tab\tand\r\nnewline", "tab\tand\r\nnewline"},
	} {
		e.write(runs.Batch{RunID: "r1", Logs: []runs.LogLine{{Node: "s1", Time: e.at(0), Line: tc.in}}})
		ls := e.logs("r1", "", 0)
		if got := ls[len(ls)-1].Line; got != tc.want {
			t.Errorf("line %q read back as %q, want %q", tc.in, got, tc.want)
		}
	}
	tk := task("s1", "FAILURE")
	tk.Error = "exit status 1: \x00\xfe"
	e.write(runs.Batch{RunID: "r1", Tasks: []runs.Task{tk}})
	if got := e.tasks("r1")[0].Error; got != "exit status 1: \uFFFD\uFFFD" {
		t.Errorf("error read back as %q", got)
	}
}

func testMetricValues(t *testing.T, e *env) {
	e.create(newRun("r1", e.at(0)))
	vals := []float64{0, -1.5, 1e300, math.SmallestNonzeroFloat64, math.Inf(1), math.Inf(-1), math.NaN()}
	var ms []runs.Metric
	for i, v := range vals {
		ms = append(ms, runs.Metric{Node: "s1", Name: "v", Value: v, Step: i, Time: e.at(0)})
	}
	e.write(runs.Batch{RunID: "r1", Metrics: ms})
	got, err := e.s.Metrics(e.ctx, runs.MetricFilter{})
	if err != nil {
		t.Fatal(err)
	}
	if len(got) != len(vals) {
		t.Fatalf("%d metrics, want %d", len(got), len(vals))
	}
	for i, v := range vals {
		if g := got[i].Value; g != v && !(math.IsNaN(g) && math.IsNaN(v)) {
			t.Errorf("metric %v read back as %v", v, g)
		}
	}
}

func testFinish(t *testing.T, e *env) {
	e.create(newRun("r1", e.at(0)))
	e.create(newRun("r2", e.at(0)))
	if err := e.s.Finish(e.ctx, "r1", runs.Failure, 1, e.at(5*time.Second)); err != nil {
		t.Fatal(err)
	}
	got := e.run("r1")
	if got.Status != runs.Failure || got.ExitCode != 1 || !got.Finished.Equal(e.at(5*time.Second)) {
		t.Errorf("finished run: status %s, exit %d, finished %v", got.Status, got.ExitCode, got.Finished)
	}
	wantErr(t, "Finish twice", e.s.Finish(e.ctx, "r1", runs.Success, 0, e.at(6*time.Second)), runs.ErrDone)
	wantErr(t, "Finish unknown", e.s.Finish(e.ctx, "nope", runs.Success, 0, e.at(0)), runs.ErrNotFound)
	if err := e.s.Finish(e.ctx, "r2", runs.Running, 0, e.at(0)); err == nil {
		t.Error("Finish as RUNNING succeeded")
	}
	if got := e.run("r1"); got.Status != runs.Failure || got.ExitCode != 1 {
		t.Errorf("the second Finish changed the run: %s %d", got.Status, got.ExitCode)
	}
	if err := e.s.Finish(e.ctx, "r2", runs.Cancelled, 130, e.at(time.Second)); err != nil {
		t.Fatal(err)
	}
	if got := e.run("r2"); got.Status != runs.Cancelled || got.ExitCode != 130 || !got.Status.Done() {
		t.Errorf("cancelled run: %s %d", got.Status, got.ExitCode)
	}
}

func testBeatAndCancel(t *testing.T, e *env) {
	e.create(newRun("r1", e.at(0)))
	cancel, err := e.s.Beat(e.ctx, "r1", e.at(2*time.Second))
	if err != nil || cancel {
		t.Fatalf("Beat: %v, %v", cancel, err)
	}
	if got := e.run("r1").Heartbeat; !got.Equal(e.at(2 * time.Second)) {
		t.Errorf("heartbeat %v after Beat", got)
	}
	// A beat that arrives late does not move the heartbeat back.
	if _, err := e.s.Beat(e.ctx, "r1", e.at(time.Second)); err != nil {
		t.Fatal(err)
	}
	if got := e.run("r1").Heartbeat; !got.Equal(e.at(2 * time.Second)) {
		t.Errorf("heartbeat %v after an older Beat", got)
	}

	if err := e.s.RequestCancel(e.ctx, "r1"); err != nil {
		t.Fatal(err)
	}
	if !e.run("r1").CancelRequested {
		t.Error("CancelRequested not set")
	}
	// Asking twice is no error: two people may press Ctrl-C.
	if err := e.s.RequestCancel(e.ctx, "r1"); err != nil {
		t.Errorf("second RequestCancel: %v", err)
	}
	cancel, err = e.s.Beat(e.ctx, "r1", e.at(3*time.Second))
	if err != nil || !cancel {
		t.Errorf("Beat after RequestCancel: %v, %v; want true", cancel, err)
	}

	if err := e.s.Finish(e.ctx, "r1", runs.Cancelled, 130, e.at(4*time.Second)); err != nil {
		t.Fatal(err)
	}
	_, err = e.s.Beat(e.ctx, "r1", e.at(5*time.Second))
	wantErr(t, "Beat after Finish", err, runs.ErrDone)
	wantErr(t, "RequestCancel after Finish", e.s.RequestCancel(e.ctx, "r1"), runs.ErrDone)
	_, err = e.s.Beat(e.ctx, "nope", e.at(0))
	wantErr(t, "Beat unknown", err, runs.ErrNotFound)
	wantErr(t, "RequestCancel unknown", e.s.RequestCancel(e.ctx, "nope"), runs.ErrNotFound)
}

func testLost(t *testing.T, e *env) {
	stale := -runs.LostAfter - 5*time.Second
	// Heartbeats at the suite's start minus: …
	for _, tc := range []struct {
		id   string
		beat time.Duration
		want runs.Status
	}{
		{"fresh", 0, runs.Running},
		{"recent", -runs.LostAfter / 2, runs.Running},
		{"stale", stale, runs.Lost},
		{"ancient", -24 * time.Hour, runs.Lost},
	} {
		r := newRun(tc.id, e.at(-48*time.Hour))
		r.Heartbeat = e.at(tc.beat)
		e.create(r)
		if got := e.run(tc.id).Status; got != tc.want {
			t.Errorf("run with heartbeat %v: %s, want %s", tc.beat, got, tc.want)
		}
	}
	// Recorded, not only shown: a filter on the status finds them.
	lost, err := e.s.Runs(e.ctx, runs.Filter{Status: runs.Lost})
	if err != nil {
		t.Fatal(err)
	}
	if len(lost) != 2 {
		t.Errorf("Runs(Lost) = %d runs, want 2", len(lost))
	}

	// Runs marks them as Run does.
	r := newRun("listed", e.at(-time.Hour))
	r.Heartbeat = e.at(stale)
	e.create(r)
	all, err := e.s.Runs(e.ctx, runs.Filter{})
	if err != nil {
		t.Fatal(err)
	}
	for _, r := range all {
		if r.ID == "listed" && r.Status != runs.Lost {
			t.Errorf("Runs shows the stale run as %s", r.Status)
		}
	}

	// A lost run cannot be cancelled; it is gone.
	r = newRun("cancel", e.at(-time.Hour))
	r.Heartbeat = e.at(stale)
	e.create(r)
	wantErr(t, "RequestCancel of a lost run", e.s.RequestCancel(e.ctx, "cancel"), runs.ErrDone)

	// A runner that was only paused comes back: its beat makes the run
	// Running again, and its Finish is the last word.
	if _, err := e.s.Beat(e.ctx, "stale", e.at(0)); err != nil {
		t.Fatalf("Beat of a lost run: %v", err)
	}
	if got := e.run("stale").Status; got != runs.Running {
		t.Errorf("after a beat the lost run is %s, want RUNNING", got)
	}
	if err := e.s.Finish(e.ctx, "ancient", runs.Success, 0, e.at(0)); err != nil {
		t.Fatalf("Finish of a lost run: %v", err)
	}
	if got := e.run("ancient").Status; got != runs.Success {
		t.Errorf("finished lost run is %s", got)
	}
}

func testResolve(t *testing.T, e *env) {
	_, err := e.s.Resolve(e.ctx, "last")
	wantErr(t, "last of an empty history", err, runs.ErrNotFound)
	for i, id := range []string{"abc123", "abd456", "abd789", "xyz", "ABC999", "a%c"} {
		e.create(newRun(id, e.at(time.Duration(i)*time.Second)))
	}
	for _, tc := range []struct {
		ref        string
		want       string
		candidates []string
		err        error
	}{
		{ref: "abc123", want: "abc123"},
		{ref: "abc", want: "abc123"},
		{ref: "x", want: "xyz"},
		{ref: "last", want: "a%c"},
		{ref: "abd", candidates: []string{"abd789", "abd456"}},
		{ref: "ab", candidates: []string{"abd789", "abd456", "abc123"}},
		{ref: "AB", want: "ABC999"}, // ids are case-sensitive
		{ref: "a%", want: "a%c"},    // no wildcards
		{ref: "a_c", err: runs.ErrNotFound},
		{ref: "abc1234", err: runs.ErrNotFound},
		{ref: "nope", err: runs.ErrNotFound},
		{ref: "", err: runs.ErrNotFound},
	} {
		t.Run(tc.ref, func(t *testing.T) {
			got, err := e.s.Resolve(e.ctx, tc.ref)
			var amb *runs.AmbiguousError
			switch {
			case tc.candidates != nil:
				if !errors.As(err, &amb) || amb.Ref != tc.ref || !slices.Equal(amb.Candidates, tc.candidates) {
					t.Errorf("Resolve = %q, %v; want ambiguous between %v", got, err, tc.candidates)
				}
			case tc.err != nil:
				wantErr(t, "Resolve", err, tc.err)
			case err != nil || got != tc.want:
				t.Errorf("Resolve = %q, %v; want %q", got, err, tc.want)
			}
		})
	}
	// Many candidates: the newest few, not thousands.
	for i := range 15 {
		e.create(newRun(fmt.Sprintf("many%02d", i), e.at(time.Minute+time.Duration(i)*time.Second)))
	}
	_, err = e.s.Resolve(e.ctx, "many")
	var amb *runs.AmbiguousError
	if !errors.As(err, &amb) || len(amb.Candidates) != 10 || amb.Candidates[0] != "many14" {
		t.Errorf("Resolve(many) = %v, want the newest 10 candidates", err)
	}
}

func testRuns(t *testing.T, e *env) {
	type spec struct {
		id, file, pipeline string
		status             runs.Status
	}
	specs := []spec{
		{"r1", "/a.omp", "main", runs.Success},
		{"r2", "/a.omp", "other", runs.Failure},
		{"r3", "/b.omp", "main", runs.Running},
		{"r4", "/a.omp", "main", runs.Failure},
	}
	for i, s := range specs {
		r := newRun(s.id, e.at(time.Duration(i)*time.Second))
		r.File, r.Pipeline = s.file, s.pipeline
		r.Heartbeat = e.at(0)
		e.create(r)
		if s.status != runs.Running {
			if err := e.s.Finish(e.ctx, s.id, s.status, 1, e.at(10*time.Second)); err != nil {
				t.Fatal(err)
			}
		}
	}
	for _, tc := range []struct {
		name string
		f    runs.Filter
		want []string
	}{
		{"all newest first", runs.Filter{}, []string{"r4", "r3", "r2", "r1"}},
		{"file", runs.Filter{File: "/a.omp"}, []string{"r4", "r2", "r1"}},
		{"pipeline", runs.Filter{Pipeline: "main"}, []string{"r4", "r3", "r1"}},
		{"status", runs.Filter{Status: runs.Failure}, []string{"r4", "r2"}},
		{"all of them", runs.Filter{File: "/a.omp", Pipeline: "main", Status: runs.Failure}, []string{"r4"}},
		{"limit", runs.Filter{Limit: 2}, []string{"r4", "r3"}},
		{"limit with filter", runs.Filter{File: "/a.omp", Limit: 1}, []string{"r4"}},
		{"no match", runs.Filter{File: "/c.omp"}, nil},
	} {
		t.Run(tc.name, func(t *testing.T) {
			rs, err := e.s.Runs(e.ctx, tc.f)
			if err != nil {
				t.Fatal(err)
			}
			var got []string
			for _, r := range rs {
				got = append(got, r.ID)
			}
			if !slices.Equal(got, tc.want) {
				t.Errorf("Runs(%+v) = %v, want %v", tc.f, got, tc.want)
			}
		})
	}
	// Runs gives whole runs, as Run does.
	rs, err := e.s.Runs(e.ctx, runs.Filter{Limit: 1})
	if err != nil {
		t.Fatal(err)
	}
	if one := e.run("r4"); len(rs) != 1 || !reflect.DeepEqual(rs[0], *one) {
		t.Errorf("Runs gave %+v\nRun gives %+v", rs, one)
	}
}

func testReadsOfUnknownRun(t *testing.T, e *env) {
	e.create(newRun("empty", e.at(0)))
	_, err := e.s.Run(e.ctx, "nope")
	wantErr(t, "Run", err, runs.ErrNotFound)
	_, err = e.s.Tasks(e.ctx, "nope")
	wantErr(t, "Tasks", err, runs.ErrNotFound)
	_, err = e.s.Transitions(e.ctx, "nope", "")
	wantErr(t, "Transitions", err, runs.ErrNotFound)
	_, err = e.s.Logs(e.ctx, "nope", "", 0)
	wantErr(t, "Logs", err, runs.ErrNotFound)
	// A run with nothing recorded yet is no error.
	if ts := e.tasks("empty"); len(ts) != 0 {
		t.Errorf("tasks %+v", ts)
	}
	if ls := e.logs("empty", "s1", 0); len(ls) != 0 {
		t.Errorf("logs %+v", ls)
	}
	if trs, err := e.s.Transitions(e.ctx, "empty", ""); err != nil || len(trs) != 0 {
		t.Errorf("transitions %+v, %v", trs, err)
	}
	if ms, err := e.s.Metrics(e.ctx, runs.MetricFilter{RunIDs: []string{"nope"}}); err != nil || len(ms) != 0 {
		t.Errorf("metrics of an unknown run %+v, %v", ms, err)
	}
}

func testTransitions(t *testing.T, e *env) {
	e.create(newRun("r1", e.at(0)))
	tr := func(node string, sec int, state string) runs.Transition {
		return runs.Transition{Node: node, Time: e.at(time.Duration(sec) * time.Second), State: state, Attempt: 1}
	}
	// Two batches whose times interleave (two workers' events arrive
	// out of order): time order wins, then the order written.
	e.write(runs.Batch{RunID: "r1", Transitions: []runs.Transition{tr("s1", 1, "STARTED"), tr("s1", 4, "SUCCESS")}})
	e.write(runs.Batch{RunID: "r1", Transitions: []runs.Transition{tr("s2", 2, "STARTED"), tr("s2", 4, "FAILURE"), tr("s2", 3, "RETRY")}})
	for _, tc := range []struct {
		node string
		want []string
	}{
		{"", []string{"s1 STARTED", "s2 STARTED", "s2 RETRY", "s1 SUCCESS", "s2 FAILURE"}},
		{"s2", []string{"s2 STARTED", "s2 RETRY", "s2 FAILURE"}},
		{"s9", nil},
	} {
		trs, err := e.s.Transitions(e.ctx, "r1", tc.node)
		if err != nil {
			t.Fatal(err)
		}
		var got []string
		for _, x := range trs {
			got = append(got, x.Node+" "+x.State)
		}
		if !slices.Equal(got, tc.want) {
			t.Errorf("Transitions(%q) = %v, want %v", tc.node, got, tc.want)
		}
	}
}

func testLogs(t *testing.T, e *env) {
	e.create(newRun("r1", e.at(0)))
	var ls []runs.LogLine
	for i := range 6 {
		ls = append(ls, runs.LogLine{Node: fmt.Sprintf("s%d", i%2), Time: e.at(time.Duration(i)), Line: fmt.Sprint("line ", i)})
	}
	e.write(runs.Batch{RunID: "r1", Logs: ls[:4]})
	e.write(runs.Batch{RunID: "r1", Logs: ls[4:]})
	for _, tc := range []struct {
		node  string
		after int64
		want  []string
	}{
		{"", 0, []string{"1 s0", "2 s1", "3 s0", "4 s1", "5 s0", "6 s1"}},
		{"", 4, []string{"5 s0", "6 s1"}},
		{"", 6, nil},
		{"", -1, []string{"1 s0", "2 s1", "3 s0", "4 s1", "5 s0", "6 s1"}},
		{"s1", 0, []string{"2 s1", "4 s1", "6 s1"}},
		{"s1", 2, []string{"4 s1", "6 s1"}},
		{"s7", 0, nil},
	} {
		var got []string
		for _, l := range e.logs("r1", tc.node, tc.after) {
			got = append(got, fmt.Sprint(l.Seq, " ", l.Node))
		}
		if !slices.Equal(got, tc.want) {
			t.Errorf("Logs(%q, %d) = %v, want %v", tc.node, tc.after, got, tc.want)
		}
	}
}

func testMetrics(t *testing.T, e *env) {
	// Two runs of train.omp and one of other.omp; the newest first.
	for i, id := range []string{"old", "new"} {
		r := newRun(id, e.at(time.Duration(i)*time.Second))
		r.File = "/train.omp"
		e.create(r)
	}
	r := newRun("other", e.at(5*time.Second))
	r.File = "/other.omp"
	e.create(r)
	m := func(node, name string, step int, v float64) runs.Metric {
		return runs.Metric{Node: node, Name: name, Value: v, Step: step, Time: e.at(0)}
	}
	fit := task("s2", "SUCCESS")
	fit.Name = "fit"
	prep := task("s10", "SUCCESS")
	prep.Name = "prep"
	for _, id := range []string{"old", "new", "other"} {
		// s10 is recorded before s2: node order is the graph's.
		e.write(runs.Batch{RunID: id, Tasks: []runs.Task{prep, fit}})
		e.write(runs.Batch{RunID: id, Metrics: []runs.Metric{
			m("s2", "loss", 2, 0.2), m("s2", "accuracy", 1, 0.8), m("s2", "loss", 1, 0.4), m("s10", "rows", 0, 100),
		}})
	}
	all := []string{
		"other s10 rows 0", "other s2 accuracy 1", "other s2 loss 1", "other s2 loss 2",
		"new s10 rows 0", "new s2 accuracy 1", "new s2 loss 1", "new s2 loss 2",
		"old s10 rows 0", "old s2 accuracy 1", "old s2 loss 1", "old s2 loss 2",
	}
	for _, tc := range []struct {
		name string
		f    runs.MetricFilter
		want []string
	}{
		{"all", runs.MetricFilter{}, all},
		{"runs", runs.MetricFilter{RunIDs: []string{"old", "other"}}, []string{
			"other s10 rows 0", "other s2 accuracy 1", "other s2 loss 1", "other s2 loss 2",
			"old s10 rows 0", "old s2 accuracy 1", "old s2 loss 1", "old s2 loss 2"}},
		{"file and name", runs.MetricFilter{File: "/train.omp", Name: "accuracy"}, []string{"new s2 accuracy 1", "old s2 accuracy 1"}},
		{"task by node", runs.MetricFilter{Task: "s10"}, []string{"other s10 rows 0", "new s10 rows 0", "old s10 rows 0"}},
		{"task by name", runs.MetricFilter{Task: "fit", RunIDs: []string{"new"}}, []string{"new s2 accuracy 1", "new s2 loss 1", "new s2 loss 2"}},
		{"everything", runs.MetricFilter{RunIDs: []string{"new"}, File: "/train.omp", Name: "loss", Task: "fit"}, []string{"new s2 loss 1", "new s2 loss 2"}},
		{"file of no run", runs.MetricFilter{File: "/none.omp"}, nil},
		{"unknown task", runs.MetricFilter{Task: "nope"}, nil},
	} {
		t.Run(tc.name, func(t *testing.T) {
			ms, err := e.s.Metrics(e.ctx, tc.f)
			if err != nil {
				t.Fatal(err)
			}
			var got []string
			for _, m := range ms {
				got = append(got, fmt.Sprint(m.RunID, " ", m.Node, " ", m.Name, " ", m.Step))
			}
			if !slices.Equal(got, tc.want) {
				t.Errorf("Metrics(%+v) =\n%q\nwant\n%q", tc.f, got, tc.want)
			}
		})
	}
	ms, err := e.s.Metrics(e.ctx, runs.MetricFilter{RunIDs: []string{"new"}, Name: "loss"})
	if err != nil {
		t.Fatal(err)
	}
	wantJSON(t, "a metric", ms[0], fmt.Sprintf(`{"run_id":"new","node":"s2","name":"loss","value":0.4,"step":1,"time":%s}`, mustJSON(e.at(0))))
}

func mustJSON(v any) string {
	b, err := json.Marshal(v)
	if err != nil {
		panic(err)
	}
	return string(b)
}

func testPrune(t *testing.T, e *env) {
	day := 24 * time.Hour
	fill := func(id string, started time.Duration, finish bool) {
		r := newRun(id, e.at(started))
		r.Heartbeat = e.at(0)
		e.create(r)
		e.write(runs.Batch{RunID: id,
			Tasks:       []runs.Task{task("s1", "SUCCESS")},
			Transitions: []runs.Transition{{Node: "s1", Time: e.at(started), State: "SUCCESS"}},
			Logs:        []runs.LogLine{{Node: "s1", Time: e.at(started), Line: "x"}},
			Metrics:     []runs.Metric{{Node: "s1", Name: "m", Time: e.at(started)}},
		})
		if finish {
			if err := e.s.Finish(e.ctx, id, runs.Success, 0, e.at(started+time.Minute)); err != nil {
				t.Fatal(err)
			}
		}
	}
	fill("old1", -40*day, true)
	fill("old2", -31*day, true)
	fill("new", -29*day, true)
	fill("oldrunning", -40*day, false) // a long run, still beating
	lost := newRun("oldlost", e.at(-40*day))
	e.create(lost) // its heartbeat is 40 days old: Lost, so pruned

	n, err := e.s.Prune(e.ctx, e.at(-30*day))
	if err != nil {
		t.Fatal(err)
	}
	if n != 3 {
		t.Errorf("Prune = %d, want 3", n)
	}
	rs, err := e.s.Runs(e.ctx, runs.Filter{})
	if err != nil {
		t.Fatal(err)
	}
	var left []string
	for _, r := range rs {
		left = append(left, r.ID)
	}
	if want := []string{"new", "oldrunning"}; !slices.Equal(left, want) {
		t.Errorf("left %v, want %v", left, want)
	}
	for _, id := range []string{"old1", "old2"} {
		_, err := e.s.Tasks(e.ctx, id)
		wantErr(t, "Tasks of a pruned run", err, runs.ErrNotFound)
	}
	// Everything about them went, not only the run rows.
	ms, err := e.s.Metrics(e.ctx, runs.MetricFilter{})
	if err != nil {
		t.Fatal(err)
	}
	if len(ms) != 2 {
		t.Errorf("%d metrics left, want 2", len(ms))
	}
	if ls := e.logs("new", "", 0); len(ls) != 1 {
		t.Errorf("the kept run lost its logs: %+v", ls)
	}
	if n, err := e.s.Prune(e.ctx, e.at(-30*day)); err != nil || n != 0 {
		t.Errorf("second Prune = %d, %v", n, err)
	}
}

// testConcurrentWriters: the runner's recorder and its heartbeat, or
// several runners' recorders in one process, write at once.
func testConcurrentWriters(t *testing.T, e *env) {
	const writers, batches, lines = 4, 20, 25
	for i := range writers {
		e.create(newRun(fmt.Sprint("r", i), e.at(0)))
	}
	e.create(newRun("shared", e.at(0)))
	var wg sync.WaitGroup
	errs := make(chan error, writers*batches*3)
	for w := range writers {
		wg.Go(func() {
			own := fmt.Sprint("r", w)
			for b := range batches {
				for _, id := range []string{own, "shared"} {
					var ls []runs.LogLine
					for l := range lines {
						ls = append(ls, runs.LogLine{Node: fmt.Sprint("w", w), Time: e.at(0), Line: fmt.Sprint(b, " ", l)})
					}
					tk := task(fmt.Sprintf("w%d-%d", w, b), "SUCCESS")
					if err := e.s.Write(e.ctx, runs.Batch{RunID: id, Logs: ls, Tasks: []runs.Task{tk}}); err != nil {
						errs <- err
					}
				}
				if _, err := e.s.Beat(e.ctx, own, e.at(time.Duration(b))); err != nil {
					errs <- err
				}
			}
		})
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		t.Error(err)
	}
	for i := range writers {
		id := fmt.Sprint("r", i)
		if n := len(e.logs(id, "", 0)); n != batches*lines {
			t.Errorf("%s: %d lines, want %d", id, n, batches*lines)
		}
	}
	wantSeqs(t, e.logs("shared", "", 0), writers*batches*lines)
	if n := len(e.tasks("shared")); n != writers*batches {
		t.Errorf("shared: %d tasks, want %d", n, writers*batches)
	}
}

// wantSeqs checks that ls are n lines numbered 1…n, and that each
// writer's lines kept their order.
func wantSeqs(t *testing.T, ls []runs.LogLine, n int) {
	t.Helper()
	if len(ls) != n {
		t.Fatalf("%d lines, want %d", len(ls), n)
	}
	last := map[string]string{}
	for i, l := range ls {
		if l.Seq != int64(i+1) {
			t.Fatalf("line %d has seq %d", i, l.Seq)
		}
		// Within one node's lines, "b l" increases: compare as numbers.
		var b, k int
		fmt.Sscan(l.Line, &b, &k)
		cur := fmt.Sprintf("%06d %06d", b, k)
		if prev, ok := last[l.Node]; ok && cur <= prev {
			t.Fatalf("%s's lines out of order: %q after %q", l.Node, cur, prev)
		}
		last[l.Node] = cur
	}
}

func open(t *testing.T, url string) runs.Store {
	t.Helper()
	s, err := runs.Open(t.Context(), url)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { s.Close() })
	return s
}

// testConcurrentStores: two omp processes on one new database open it
// (both migrating it) and record at once; neither fails, nothing is lost.
func testConcurrentStores(t *testing.T, url string) {
	const stores, batches, lines = 3, 30, 20
	ss := make([]runs.Store, stores)
	var wg sync.WaitGroup
	errs := make(chan error, stores*(batches+2))
	for i := range stores {
		wg.Go(func() {
			s, err := runs.Open(t.Context(), url)
			if err != nil {
				errs <- err
				return
			}
			ss[i] = s
		})
	}
	wg.Wait()
	for _, s := range ss {
		if s != nil {
			t.Cleanup(func() { s.Close() })
		}
	}
	select {
	case err := <-errs:
		t.Fatalf("opening at once: %v", err)
	default:
	}
	now := time.Unix(0, time.Now().UnixNano())
	if err := ss[0].Create(t.Context(), newRun("shared", now)); err != nil {
		t.Fatal(err)
	}
	for i, s := range ss {
		wg.Go(func() {
			own := fmt.Sprint("r", i)
			if err := s.Create(t.Context(), newRun(own, now)); err != nil {
				errs <- err
				return
			}
			for b := range batches {
				var ls []runs.LogLine
				for l := range lines {
					ls = append(ls, runs.LogLine{Node: fmt.Sprint("w", i), Time: now, Line: fmt.Sprint(b, " ", l)})
				}
				for _, id := range []string{own, "shared"} {
					if err := s.Write(t.Context(), runs.Batch{RunID: id, Logs: ls, Tasks: []runs.Task{task(fmt.Sprint("b", b), "SUCCESS")}}); err != nil {
						errs <- fmt.Errorf("store %d: %w", i, err)
					}
				}
				// Readers read while the others write.
				if _, err := s.Runs(t.Context(), runs.Filter{}); err != nil {
					errs <- fmt.Errorf("store %d: %w", i, err)
				}
			}
			if err := s.Finish(t.Context(), own, runs.Success, 0, now); err != nil {
				errs <- err
			}
		})
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		t.Error(err)
	}
	check := open(t, url)
	for i := range stores {
		ls, err := check.Logs(t.Context(), fmt.Sprint("r", i), "", 0)
		if err != nil || len(ls) != batches*lines {
			t.Errorf("r%d: %d lines, %v; want %d", i, len(ls), err, batches*lines)
		}
		if r, err := check.Run(t.Context(), fmt.Sprint("r", i)); err != nil || r.Status != runs.Success {
			t.Errorf("r%d: %+v, %v", i, r, err)
		}
	}
	ls, err := check.Logs(t.Context(), "shared", "", 0)
	if err != nil {
		t.Fatal(err)
	}
	wantSeqs(t, ls, stores*batches*lines)
}

// testReopen: what one Store wrote, another opened later reads.
func testReopen(t *testing.T, url string) {
	now := time.Unix(0, time.Now().UnixNano())
	s := open(t, url)
	if err := s.Create(t.Context(), newRun("r1", now)); err != nil {
		t.Fatal(err)
	}
	if err := s.Write(t.Context(), runs.Batch{RunID: "r1", Logs: []runs.LogLine{{Node: "s1", Time: now, Line: "x"}}}); err != nil {
		t.Fatal(err)
	}
	if err := s.Close(); err != nil {
		t.Fatal(err)
	}
	s2 := open(t, url)
	r, err := s2.Run(t.Context(), "r1")
	if err != nil {
		t.Fatal(err)
	}
	want := newRun("r1", now)
	want.Status, want.Heartbeat = runs.Running, now
	if !reflect.DeepEqual(r, want) {
		t.Errorf("reopened:\n got %+v\nwant %+v", r, want)
	}
	// Its log seqs go on where they stopped.
	if err := s2.Write(t.Context(), runs.Batch{RunID: "r1", Logs: []runs.LogLine{{Node: "s1", Time: now, Line: "y"}}}); err != nil {
		t.Fatal(err)
	}
	ls, err := s2.Logs(t.Context(), "r1", "", 1)
	if err != nil || len(ls) != 1 || ls[0].Seq != 2 {
		t.Errorf("logs after 1: %+v, %v", ls, err)
	}
}
