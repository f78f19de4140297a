package record_test

import (
	"bytes"
	"context"
	"encoding/json"
	"log/slog"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/ompdev/omp/compiler"
	"github.com/ompdev/omp/internal/logtest"
	"github.com/ompdev/omp/runs"
	"github.com/ompdev/omp/runs/record"
	"github.com/ompdev/omp/runtime"
	"github.com/ompdev/omp/store"
)

func openDB(t *testing.T) runs.Store {
	t.Helper()
	db, err := runs.Open(context.Background(), "sqlite:"+filepath.Join(t.TempDir(), "omp.db"))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { db.Close() })
	return db
}

// graph is two echo tasks and a reduce of them.
func graph() *compiler.Graph {
	pos := compiler.Pos{File: "p.omp", Line: 1, Column: 1}
	return &compiler.Graph{File: "p.omp", Nodes: []*compiler.Node{
		{ID: "a", Op: compiler.OpTask, Kind: "echo", Name: "a", Action: "run", Pos: pos},
		{ID: "b", Op: compiler.OpTask, Kind: "echo", Name: "b", Action: "run", Label: "gpu", Pos: pos},
		{ID: "s", Op: compiler.OpReduce, Reducer: "sum", Inputs: []string{"a", "b"}, Pos: pos},
	}, Outputs: []compiler.Output{{Node: "s"}}}
}

// state is the update the runtime sends when a task changes to st.
func state(node string, st runtime.State, at time.Time, result string) runtime.Update {
	u := runtime.Update{Type: runtime.UpdateState, Time: at, State: st,
		Task: &runtime.TaskReport{ID: node, Kind: "echo", Name: node, Action: "run", Label: "default",
			Worker: "w1", State: st, Attempts: 1, Started: at, Pos: "p.omp:1:1"}}
	if st.Done() {
		u.Task.Finished = at
	}
	if result != "" {
		u.Result = json.RawMessage(result)
	}
	return u
}

// A recorder writes everything the run told it: tasks, every state change,
// every log line, every metric and warning, the counts, and the run's end;
// a result over runs.MaxInlineResult goes to the store, and Result reads it
// back.
func TestRecorderRecordsTheRun(t *testing.T) {
	ctx := context.Background()
	db := openDB(t)
	dir := t.TempDir()
	blobs, err := store.Open(ctx, dir)
	if err != nil {
		t.Fatal(err)
	}
	defer blobs.Close()
	g := graph()
	rec, err := record.Start(ctx, record.Config{
		Store: db, Run: runs.Run{ID: "r1", File: "/p.omp", Source: "echo a(1)", Graph: json.RawMessage(`{"nodes":[]}`)},
		Graph: g, Blobs: blobs, FlushInterval: time.Millisecond, MaxBatch: 2,
	})
	if err != nil {
		t.Fatal(err)
	}
	big := `"` + strings.Repeat("x", runs.MaxInlineResult) + `"`
	t0 := time.Date(2026, 11, 30, 10, 0, 0, 0, time.UTC)
	updates := []runtime.Update{
		state("a", runtime.Started, t0, ""),
		{Type: runtime.UpdateLog, Time: t0, Task: &runtime.TaskReport{ID: "a"}, Line: "one"},
		{Type: runtime.UpdateMetric, Time: t0, Task: &runtime.TaskReport{ID: "a"}, Metric: runtime.Metric{Name: "loss", Value: 0.5, Step: 2}},
		{Type: runtime.UpdateProgress, Time: t0, Task: &runtime.TaskReport{ID: "a"}, Progress: runtime.Progress{Done: 1, Total: 2}},
		{Type: runtime.UpdateLog, Time: t0, Task: &runtime.TaskReport{ID: "a"}, Line: "two"},
		state("a", runtime.Success, t0.Add(time.Second), "1"),
		state("b", runtime.Started, t0.Add(1500*time.Millisecond), ""),
		{Type: runtime.UpdateWarning, Time: t0, Message: "no worker serves label gpu"},
		state("b", runtime.Success, t0.Add(2*time.Second), big),
	}
	updates[len(updates)-1].Counts = runtime.Counts{Total: 3, Succeeded: 2, Pending: 1}
	for _, u := range updates {
		rec.Notify(u)
	}
	if err := rec.Close(runs.Failure, 1); err != nil {
		t.Fatal(err)
	}

	r, err := db.Run(ctx, "r1")
	if err != nil {
		t.Fatal(err)
	}
	if r.Status != runs.Failure || r.ExitCode != 1 || r.Finished.IsZero() || r.Counts.Succeeded != 2 || r.Counts.Total != 3 {
		t.Errorf("run: %s exit %d finished %v counts %+v", r.Status, r.ExitCode, r.Finished, r.Counts)
	}
	tasks, err := db.Tasks(ctx, "r1")
	if err != nil {
		t.Fatal(err)
	}
	if len(tasks) != 2 || tasks[0].State != "SUCCESS" || string(tasks[0].Result) != "1" || tasks[0].Worker != "w1" {
		t.Fatalf("tasks: %+v", tasks)
	}
	b := tasks[1]
	if b.ResultRef != "results/r1/b.json" || string(b.Result) != "null" {
		t.Errorf("large result: ref %q, inline %.20s", b.ResultRef, b.Result)
	}
	res, err := record.Result(ctx, b, blobs)
	if err != nil || string(res) != big {
		t.Errorf("Result of b: %.20s…, %v", res, err)
	}
	trs, err := db.Transitions(ctx, "r1", "")
	if err != nil {
		t.Fatal(err)
	}
	var got []string
	for _, tr := range trs {
		got = append(got, tr.Node+" "+tr.State)
	}
	if want := []string{"a STARTED", "a SUCCESS", "b STARTED", "b SUCCESS"}; !slices.Equal(got, want) {
		t.Errorf("transitions %q, want %q", got, want)
	}
	logs, err := db.Logs(ctx, "r1", "", 0)
	if err != nil {
		t.Fatal(err)
	}
	got = nil
	for _, l := range logs {
		got = append(got, l.Node+": "+l.Line)
	}
	if want := []string{"a: one", "a: two", ": warning: no worker serves label gpu"}; !slices.Equal(got, want) {
		t.Errorf("logs %q, want %q", got, want)
	}
	ms, err := db.Metrics(ctx, runs.MetricFilter{RunIDs: []string{"r1"}})
	if err != nil {
		t.Fatal(err)
	}
	if len(ms) != 1 || ms[0].Name != "loss" || ms[0].Value != 0.5 || ms[0].Step != 2 || ms[0].Node != "a" {
		t.Errorf("metrics %+v", ms)
	}

	// Tasks fills in the nodes nothing happened to, in graph order.
	r.Graph = mustJSON(t, g)
	all, err := record.Tasks(r, tasks)
	if err != nil {
		t.Fatal(err)
	}
	got = nil
	for _, t := range all {
		got = append(got, t.Node+" "+t.Kind+" "+t.Action+" "+t.State+" "+t.Label)
	}
	if want := []string{"a echo run SUCCESS default", "b echo run SUCCESS default", "s reduce sum PENDING "}; !slices.Equal(got, want) {
		t.Errorf("Tasks %q, want %q", got, want)
	}
}

func mustJSON(t *testing.T, g *compiler.Graph) json.RawMessage {
	var buf bytes.Buffer
	if err := g.WriteJSON(&buf); err != nil {
		t.Fatal(err)
	}
	return buf.Bytes()
}

// A cancel request in the database reaches the runner's Cancel within a
// heartbeat interval, once.
func TestRecorderCancel(t *testing.T) {
	ctx := context.Background()
	db := openDB(t)
	cancelled := make(chan struct{}, 2)
	rec, err := record.Start(ctx, record.Config{
		Store: db, Run: runs.Run{ID: "r1", File: "/p.omp"},
		Cancel:       func() { cancelled <- struct{}{} },
		BeatInterval: 10 * time.Millisecond,
	})
	if err != nil {
		t.Fatal(err)
	}
	// The recorder creates the run's row from its own goroutine.
	for deadline := time.Now().Add(10 * time.Second); ; time.Sleep(5 * time.Millisecond) {
		if _, err := db.Run(ctx, "r1"); err == nil {
			break
		} else if time.Now().After(deadline) {
			t.Fatalf("run not created within 10s: %v", err)
		}
	}
	if err := db.RequestCancel(ctx, "r1"); err != nil {
		t.Fatal(err)
	}
	select {
	case <-cancelled:
	case <-time.After(10 * time.Second):
		t.Fatal("Cancel not called within 10s of the request")
	}
	time.Sleep(50 * time.Millisecond) // five more heartbeats
	if err := rec.Close(runs.Cancelled, 130); err != nil {
		t.Fatal(err)
	}
	if len(cancelled) != 0 {
		t.Error("Cancel called more than once")
	}
	r, err := db.Run(ctx, "r1")
	if err != nil {
		t.Fatal(err)
	}
	if r.Status != runs.Cancelled || r.ExitCode != 130 || !r.CancelRequested {
		t.Errorf("run: %s exit %d cancel requested %v", r.Status, r.ExitCode, r.CancelRequested)
	}
}

// A run that cannot be created is recorded no further: the logger says why, and
// Close returns it.
func TestRecorderCreateFails(t *testing.T) {
	db := openDB(t)
	if err := db.Create(context.Background(), &runs.Run{ID: "r1", File: "/p.omp"}); err != nil {
		t.Fatal(err)
	}
	cfg := record.Config{Store: db, Run: runs.Run{ID: "r1", File: "/p.omp"}}
	logged, log := logtest.New()
	cfg.Logger = log
	second, err := record.Start(context.Background(), cfg)
	if err != nil {
		t.Fatal(err)
	}
	if err := second.Created(context.Background()); err == nil || !strings.Contains(err.Error(), "already exists") {
		t.Errorf("Created of a second run r1: %v", err)
	}
	second.Notify(state("a", runtime.Started, time.Now(), ""))
	err = second.Close(runs.Success, 0)
	if err == nil || !strings.Contains(err.Error(), "already exists") {
		t.Errorf("a second run r1: %v", err)
	}
	recs := logged.Records()
	if len(recs) != 1 || recs[0].Level != slog.LevelError || recs[0].Message != "cannot record the run" ||
		!recs[0].Has("run", "r1") || !strings.Contains(recs[0].Attr("error"), "create: ") {
		t.Errorf("logged %v", recs)
	}
}

// Once Created returns, the run's row is there for whoever is given its id.
func TestRecorderCreated(t *testing.T) {
	db := openDB(t)
	rec, err := record.Start(context.Background(), record.Config{Store: db, Run: runs.Run{ID: "r1", File: "/p.omp"}, Graph: graph()})
	if err != nil {
		t.Fatal(err)
	}
	defer rec.Close(runs.Success, 0)
	if err := rec.Created(context.Background()); err != nil {
		t.Fatal(err)
	}
	if _, err := db.Run(context.Background(), "r1"); err != nil {
		t.Errorf("Run after Created: %v", err)
	}
}

// The recorded graph is the graph's JSON form, as json.Encoder without
// HTML escaping writes it, however the recorder builds it.
func TestRecorderRecordsTheGraph(t *testing.T) {
	withParams := graph()
	withParams.File = "<a&b>.omp"
	withParams.Pipeline = "p"
	withParams.Params = compiler.ValueMap{"nodes": nil, "outputs": "x"}
	noNodes := graph()
	noNodes.Nodes, noNodes.Outputs = nil, nil
	emptyNodes := graph()
	emptyNodes.Nodes, emptyNodes.Outputs = []*compiler.Node{}, []compiler.Output{}
	tests := []struct {
		name string
		g    *compiler.Graph
	}{
		{"nodes and outputs", graph()},
		{"params, pipeline and HTML", withParams},
		{"no nodes", noNodes},
		{"empty nodes", emptyNodes},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var want bytes.Buffer
			enc := json.NewEncoder(&want)
			enc.SetEscapeHTML(false)
			if err := enc.Encode(tt.g); err != nil {
				t.Fatal(err)
			}
			db := openDB(t)
			rec, err := record.Start(context.Background(), record.Config{Store: db, Run: runs.Run{ID: "r1", File: "/p.omp"}, Graph: tt.g})
			if err != nil {
				t.Fatal(err)
			}
			defer rec.Close(runs.Success, 0)
			if err := rec.Created(context.Background()); err != nil {
				t.Fatal(err)
			}
			r, err := db.Run(context.Background(), "r1")
			if err != nil {
				t.Fatal(err)
			}
			if got := string(r.Graph); got != strings.TrimSpace(want.String()) {
				t.Errorf("recorded graph\n%s\nwant\n%s", got, want.String())
			}
		})
	}
}
