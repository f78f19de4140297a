package webui

import (
	"bytes"
	"context"
	"encoding/json"
	"flag"
	"fmt"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/ompdev/omp/compiler"
	"github.com/ompdev/omp/runs"
)

var update = flag.Bool("update", false, "rewrite the golden files under testdata/")

// t0 is when the seeded runs start: fixed, so that the report's golden
// file does not change from one run of the tests to the next.
var t0 = time.Date(2026, 1, 2, 3, 4, 5, 0, time.UTC)

const seedFile = "/data/train.omp"

// graphJSON is a graph of members comprehension members (one statement's
// tasks, sharing its position) that a sum reduces, as omp graph --format
// json writes it.
func graphJSON(t *testing.T, members int) []byte {
	t.Helper()
	g := &compiler.Graph{File: seedFile, Params: compiler.ValueMap{}}
	var ids []string
	for i := range members {
		id := fmt.Sprintf("s1.1.%d", i+1)
		ids = append(ids, id)
		g.Nodes = append(g.Nodes, &compiler.Node{ID: id, Op: compiler.OpTask, Kind: "script", Name: "train", Action: "run",
			Args: compiler.Values{int64(i + 1)}, Label: "default", Pos: compiler.Pos{File: seedFile, Line: 3, Column: 5}})
	}
	g.Nodes = append(g.Nodes, &compiler.Node{ID: "s1.2", Op: compiler.OpReduce, Reducer: "sum", Inputs: ids, Deps: ids,
		Pos: compiler.Pos{File: seedFile, Line: 3, Column: 40}})
	g.Outputs = []compiler.Output{{Node: "s1.2", Pos: compiler.Pos{File: seedFile, Line: 3, Column: 1}, Let: "total"}}
	var b bytes.Buffer
	if err := g.WriteJSON(&b); err != nil {
		t.Fatal(err)
	}
	return b.Bytes()
}

// seed records in a real SQLite history: run r1 (SUCCESS: two tasks,
// the first retried once, logs and a loss per step), r2 (FAILURE: a
// task failed with a log line) and r3 (RUNNING), each a run of seedFile.
func seed(t *testing.T) runs.Store {
	t.Helper()
	ctx := context.Background()
	db, err := runs.Open(ctx, "sqlite:"+filepath.Join(t.TempDir(), "omp.db"))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { db.Close() })
	at := func(s float64) time.Time { return t0.Add(time.Duration(s * float64(time.Second))) }
	for i, r := range []struct {
		id     string
		status runs.Status
		states []string
		loss   float64
	}{
		{"r1", runs.Success, []string{"SUCCESS", "SUCCESS", "SUCCESS"}, 0.5},
		{"r2", runs.Failure, []string{"FAILURE", "SUCCESS", "CANCELLED"}, 0.4},
		{"r3", runs.Running, []string{"STARTED", "PENDING", "PENDING"}, 0.3},
	} {
		start := at(float64(i * 100))
		run := &runs.Run{ID: r.id, File: seedFile, Pipeline: "nightly", Graph: graphJSON(t, 2), Params: json.RawMessage(`{}`),
			Started: start, Heartbeat: start, Host: "box", User: "ann", Version: "test", Trigger: runs.TriggerRun}
		if r.status == runs.Running {
			// Far in the future, so that readers do not count it as lost.
			run.Heartbeat = time.Now().Add(time.Hour)
		}
		if err := db.Create(ctx, run); err != nil {
			t.Fatal(err)
		}
		b := runs.Batch{RunID: r.id}
		for j, node := range []string{"s1.1.1", "s1.1.2", "s1.2"} {
			task := runs.Task{RunID: r.id, Node: node, Kind: "script", Name: "train", Action: "run", State: r.states[j], Attempts: 1,
				Worker: "w1", Started: start.Add(time.Second), Result: json.RawMessage(`null`)}
			if node == "s1.2" {
				task.Kind, task.Name, task.Action, task.Worker = "reduce", "", "sum", ""
			}
			if r.states[j] != "STARTED" && r.states[j] != "PENDING" {
				task.Finished = start.Add(3 * time.Second)
			}
			if r.states[j] == "FAILURE" {
				task.Error = "exit status 3: boom"
			}
			if node == "s1.2" && r.states[j] == "SUCCESS" {
				task.Result = json.RawMessage(`42`)
			}
			b.Tasks = append(b.Tasks, task)
			if node == "s1.2" || r.states[j] == "PENDING" {
				continue
			}
			attempts := 1
			if node == "s1.1.1" && r.id == "r1" {
				attempts = 2
				b.Transitions = append(b.Transitions,
					runs.Transition{RunID: r.id, Node: node, Time: start.Add(time.Second), State: "STARTED", Attempt: 1, Worker: "w1"},
					runs.Transition{RunID: r.id, Node: node, Time: start.Add(2 * time.Second), State: "RETRY", Attempt: 1, Worker: "w1", Message: "worker w1 lost"})
			}
			b.Transitions = append(b.Transitions, runs.Transition{RunID: r.id, Node: node, Time: start.Add(2 * time.Second), State: "STARTED", Attempt: attempts, Worker: "w1"})
			if task.Finished.IsZero() {
				continue
			}
			b.Transitions = append(b.Transitions, runs.Transition{RunID: r.id, Node: node, Time: task.Finished, State: r.states[j], Attempt: attempts, Worker: "w1", Message: task.Error})
			b.Logs = append(b.Logs, runs.LogLine{RunID: r.id, Node: node, Time: task.Finished, Line: "log of " + node + " in " + r.id})
		}
		c := runs.Counts{Total: 3}
		for _, st := range r.states {
			switch st {
			case "SUCCESS":
				c.Succeeded++
			case "FAILURE":
				c.Failed++
			case "CANCELLED":
				c.Cancelled++
			case "STARTED":
				c.Running++
			default:
				c.Pending++
			}
		}
		b.Counts = &c
		for step := range 3 {
			b.Metrics = append(b.Metrics, runs.Metric{RunID: r.id, Node: "s1.1.1", Name: "loss", Value: r.loss + float64(2-step)/10, Step: step, Time: start.Add(time.Second)})
		}
		if err := db.Write(ctx, b); err != nil {
			t.Fatal(err)
		}
		if r.status != runs.Running {
			if err := db.Finish(ctx, r.id, r.status, 0, start.Add(4*time.Second)); err != nil {
				t.Fatal(err)
			}
		}
	}
	return db
}

func newHandler(t *testing.T, db runs.Store) http.Handler {
	mux := http.NewServeMux()
	ui := New(Config{DB: db, Name: func(f string) string { return strings.TrimPrefix(f, "/data/") }, Schedules: func() ([]Schedule, map[string]string) {
		return []Schedule{{File: "train.omp", Path: seedFile, Pipeline: "nightly", Spec: "@daily", Zone: "UTC", Next: []time.Time{t0.Add(24 * time.Hour)}}},
			map[string]string{"broken.omp": "broken.omp:1:1: unknown kind ehco"}
	}})
	ui.Register(mux)
	mux.HandleFunc("/", func(w http.ResponseWriter, r *http.Request) { ui.NotFound(w, "no page "+r.URL.Path) })
	return mux
}

func get(t *testing.T, h http.Handler, path string) *httptest.ResponseRecorder {
	t.Helper()
	rec := httptest.NewRecorder()
	h.ServeHTTP(rec, httptest.NewRequest("GET", path, nil))
	return rec
}

// count is how many times re matches body.
func count(body, re string) int { return len(regexp.MustCompile(re).FindAllString(body, -1)) }

// TestPages: each page answers with its code, its data-page and the
// elements of the DOM contract that its data fills in.
func TestPages(t *testing.T) {
	h := newHandler(t, seed(t))
	tests := []struct {
		path string
		code int
		page string
		want map[string]int // regexp → how many matches
	}{
		{"/", 200, "runs", map[string]int{
			`<tr data-run="r\d"`: 3, `<tr data-run="r3" data-state="RUNNING"`: 1, `<a href="/runs/r1">`: 1,
			`<td class="state"><span class="badge s-FAILURE"><span aria-hidden="true">✗</span> FAILURE`: 1,
			`<select id="status"`: 1, `<select id="file"`: 1, `<select id="pipeline"`: 1, `<option value="nightly">`: 1}},
		{"/?status=FAILURE", 200, "runs", map[string]int{`<tr data-run="r\d"`: 1, `<tr data-run="r2"`: 1, `<option value="FAILURE" selected>`: 1}},
		{"/?pipeline=other", 200, "runs", map[string]int{`<tr data-run=`: 0, `No runs match these filters`: 1}},
		{"/runs/r1", 200, "run", map[string]int{
			`<svg id="graph"`: 1, `<table id="tasks"`: 1, `<tr data-node="[^"]+" data-state="SUCCESS"`: 3,
			`<button id="cancel"`: 0, `<div id="timeline"`: 1, `<pre id="task-log"`: 1,
			`<div id="results">`: 1, `<pre>42</pre>`: 1, `<code>total</code>`: 1,
			// A task says what it runs as its graph node does.
			`<td class="label" title="script train\(2\)">script train\(2\)</td>`: 1,
			// The file as the server names it, the recorded path its title.
			`<code title="/data/train.omp">train.omp</code>`: 1, `<div class="muted"><code>total</code> · train.omp:3:1 · `: 1, `<td class="label" title="reduce sum">reduce sum</td>`: 1,
			`<table id="run-metrics"`: 1, `<a href="/metrics\?file=%2fdata%2ftrain.omp&amp;name=loss&amp;run=r1">loss</a></td><td class="num">2</td><td class="num">0.5</td>`: 1}},
		{"/runs/r3", 200, "run", map[string]int{`<button id="cancel" type="button">`: 1, `data-state="STARTED"`: 1, `data-state="PENDING"`: 2,
			`<p class="noresult muted">no result yet</p>`: 1, `<pre>null</pre>`: 0}},
		{"/runs/last", 200, "run", map[string]int{`data-run="r3"`: 1}},
		{"/runs/r2", 200, "run", map[string]int{`<td class="error">exit status 3: boom</td>`: 1, `<p class="noresult muted">no result \(cancelled\)</p>`: 1}},
		{"/runs/nosuch", 404, "notfound", map[string]int{`no run nosuch`: 1}},
		{"/runs/r", 404, "notfound", map[string]int{`run r is ambiguous`: 1}},
		{"/nowhere", 404, "notfound", map[string]int{`no page /nowhere`: 1}},
		{"/metrics", 200, "metrics", map[string]int{`<select id="file"`: 1, `<option value="/data/train.omp" title="/data/train.omp">train.omp</option>`: 1, `id="chart"`: 0}},
		{"/metrics?file=/data/train.omp", 200, "metrics", map[string]int{`<option value="loss">`: 1, `Pick a metric`: 1}},
		{"/metrics?file=/data/train.omp&name=loss", 200, "metrics", map[string]int{
			`<div id="chart"`: 1, `<tr data-run="r\d"><td class="num">\d</td>`: 3, `<tr data-run="r3"><td class="num">3</td>`: 1, `<a id="csv" href="/api/metrics\?file=%2Fdata%2Ftrain.omp&amp;format=csv&amp;name=loss"`: 1,
			`<div id="steps-chart"`: 1, `over the steps of run <a href="/runs/r3">`: 1}},
		{"/metrics?file=/data/train.omp&name=loss&run=r1", 200, "metrics", map[string]int{`over the steps of run <a href="/runs/r1">`: 1}},
		{"/schedules", 200, "schedules", map[string]int{`<table id="schedules"`: 1, `<tr data-pipeline="train.omp:nightly">`: 1,
			`<a href="/runs/r\d">`: 3, `unknown kind ehco`: 1}},
	}
	for _, tt := range tests {
		rec := get(t, h, tt.path)
		body := rec.Body.String()
		if rec.Code != tt.code {
			t.Errorf("GET %s: %d, want %d", tt.path, rec.Code, tt.code)
		}
		if ct := rec.Header().Get("Content-Type"); ct != "text/html; charset=utf-8" {
			t.Errorf("GET %s: Content-Type %q", tt.path, ct)
		}
		if n := count(body, `<main data-page="`+tt.page+`"`); n != 1 {
			t.Errorf("GET %s: %d <main data-page=%q>, want 1", tt.path, n, tt.page)
		}
		for re, want := range tt.want {
			if got := count(body, re); got != want {
				t.Errorf("GET %s: %d matches of %s, want %d", tt.path, got, re, want)
			}
		}
		if t.Failed() && testing.Verbose() {
			t.Logf("GET %s:\n%s", tt.path, body)
		}
	}
}

// TestRunData: the run page's script gets the run's graph, transitions
// and metrics, and no logs (it reads them from the API as it needs them).
func TestRunData(t *testing.T) {
	h := newHandler(t, seed(t))
	v := pageData[RunView](t, get(t, h, "/runs/r1").Body.String())
	if len(v.Graph.Nodes) != 3 || len(v.Graph.Edges) != 2 {
		t.Errorf("graph: %d nodes, %d edges, want 3 and 2: %+v", len(v.Graph.Nodes), len(v.Graph.Edges), v.Graph)
	}
	if len(v.Transitions) != 6 || len(v.Metrics) != 3 || len(v.Logs) != 0 {
		t.Errorf("%d transitions, %d metrics, %d logs; want 6, 3, 0", len(v.Transitions), len(v.Metrics), len(v.Logs))
	}
	// Numbers read back from the recorded JSON are written as omp graph
	// writes them: 1, not 1.0.
	if n := v.Graph.Nodes[0]; n.Label != "script train(1)" || v.Graph.Nodes[2].Label != "reduce sum" || !v.Graph.Nodes[2].Reduce || !v.Graph.Nodes[2].Output {
		t.Errorf("nodes %+v", v.Graph.Nodes)
	}
	if got := string(v.Args["s1.1.1"]); got != `{"args":[1]}` {
		t.Errorf("args of s1.1.1: %s", got)
	}
	if v.Run.Source != "" || (v.Run.Graph != nil && string(v.Run.Graph) != "null") {
		t.Errorf("the page carries the run's source or raw graph")
	}
}

// pageData decodes a page's <script id="data">.
func pageData[T any](t *testing.T, body string) T {
	t.Helper()
	m := regexp.MustCompile(`(?s)<script type="application/json" id="data">(.*?)</script>`).FindStringSubmatch(body)
	var v T
	if m == nil {
		t.Fatalf("no data in the page:\n%s", body)
	}
	if err := json.Unmarshal([]byte(m[1]), &v); err != nil {
		t.Fatalf("the page's data: %v", err)
	}
	return v
}

// TestMetricsPoints: one point per run, its last step's value, oldest run
// first; the steps are those of the newest run.
func TestMetricsPoints(t *testing.T) {
	v, err := LoadMetrics(context.Background(), seed(t), seedFile, "loss", "")
	if err != nil {
		t.Fatal(err)
	}
	var got []string
	for _, p := range v.Points {
		got = append(got, fmt.Sprintf("%s:%d:%.1f", p.RunID, p.Step, p.Value))
	}
	if want := "r1:2:0.5 r2:2:0.4 r3:2:0.3"; strings.Join(got, " ") != want {
		t.Errorf("points %v, want %s", got, want)
	}
	if v.StepsRun != "r3" || len(v.Steps) != 3 || v.Steps[0].Step != 0 {
		t.Errorf("steps of %s: %+v", v.StepsRun, v.Steps)
	}
}

// TestGraphGroups: a comprehension of more than GroupOver members is one
// node with them all; one of GroupOver is drawn node by node.
func TestGraphGroups(t *testing.T) {
	for _, tt := range []struct {
		members, nodes, edges int
	}{
		{GroupOver, GroupOver + 1, GroupOver},
		{GroupOver + 1, 2, 1},
		{1000, 2, 1},
	} {
		var g compiler.Graph
		if err := json.Unmarshal(graphJSON(t, tt.members), &g); err != nil {
			t.Fatal(err)
		}
		v := graphView(&g, nil)
		if len(v.Nodes) != tt.nodes || len(v.Edges) != tt.edges {
			t.Errorf("%d members: %d nodes, %d edges; want %d, %d", tt.members, len(v.Nodes), len(v.Edges), tt.nodes, tt.edges)
			continue
		}
		if tt.nodes == 2 {
			if n := v.Nodes[0]; n.ID != "s1.1.*" || len(n.Members) != tt.members || n.Label != "script train(…)" {
				t.Errorf("%d members: group %s %q with %d members", tt.members, n.ID, n.Label, len(n.Members))
			}
			if e := v.Edges[0]; e.From != "s1.1.*" || e.To != "s1.2" {
				t.Errorf("%d members: edge %+v", tt.members, e)
			}
		}
	}
}

// TestAssets: the assets are served; with the current version their URLs
// are cached for good, without it not.
func TestAssets(t *testing.T) {
	h := newHandler(t, seed(t))
	for _, tt := range []struct {
		path, cache string
		code        int
	}{
		{"/assets/app.js?v=" + version, "public, max-age=31536000, immutable", 200},
		{"/assets/app.css", "no-cache", 200},
		{"/assets/vendor/dagre/dagre.min.js?v=" + version, "public, max-age=31536000, immutable", 200},
		{"/assets/vendor/uplot/LICENSE", "no-cache", 200},
		{"/assets/nosuch.js", "", 404}, // an error's headers are its own
	} {
		rec := get(t, h, tt.path)
		if rec.Code != tt.code || rec.Header().Get("Cache-Control") != tt.cache {
			t.Errorf("GET %s: %d, Cache-Control %q; want %d, %q", tt.path, rec.Code, rec.Header().Get("Cache-Control"), tt.code, tt.cache)
		}
	}
}

// TestReport: the report is one page that needs nothing else: no
// stylesheet, script or image by URL, every task in its table, its logs in
// its data; and it is what the golden file says (go test -update rewrites
// it).
func TestReport(t *testing.T) {
	db := seed(t)
	v, err := LoadRun(context.Background(), db, "r2", true)
	if err != nil {
		t.Fatal(err)
	}
	var b bytes.Buffer
	if err := WriteReport(&b, v); err != nil {
		t.Fatal(err)
	}
	body := b.String()
	for re, want := range map[string]int{
		`<main data-page="report"`:                         1,
		`<tr data-node="[^"]+" data-state=`:                3,
		`<td class="state"><span class="badge s-FAILURE">`: 1,
		`(?i)<(script|img|iframe)[^>]+src=`:                0,
		`(?i)<link[^>]+href=`:                              1, // the icon, which is data:
		`<link rel="icon" href="data:,">`:                  1,
		`(?i)(src|href)\s*=\s*["']?(https?:)?//`:           0,
		`(?i)(url\(|@import)\s*["']?(https?:)?//`:          0,
		`<button id="cancel"`:                              0,
		`<script>`:                                         2,
		`</script>`:                                        3,
		`<script type="application/json" id="data">`:       1,
		`<style>`:            2,
		`it does not update`: 1,
	} {
		if got := count(body, re); got != want {
			t.Errorf("%d matches of %s, want %d", got, re, want)
		}
	}
	d := pageData[RunView](t, body)
	if len(d.Logs) != 2 || d.Logs[0].Line != "log of s1.1.1 in r2" {
		t.Errorf("logs in the report: %+v", d.Logs)
	}
	// The golden file is the page without its inline assets, which have
	// their own versions.
	golden := filepath.Join("testdata", "report.golden.html")
	got := regexp.MustCompile(`(?s)<(style|script)>.*?</(style|script)>`).ReplaceAllString(body, "<$1>…</$1>")
	if *update {
		if err := os.WriteFile(golden, []byte(got), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	want, err := os.ReadFile(golden)
	if err != nil {
		t.Fatal(err)
	}
	if got != string(want) {
		t.Errorf("the report differs from %s (go test -update rewrites it); got:\n%s", golden, got)
	}
}

// TestTaskLabel: a run recorded without a graph still names its tasks as
// a graph would: no stray dot before a reducer, the action after a name.
func TestTaskLabel(t *testing.T) {
	for _, tt := range []struct {
		task runs.Task
		want string
	}{
		{runs.Task{Kind: "echo", Name: "train", Action: "run"}, "echo train"},
		{runs.Task{Kind: "script", Name: "fit", Action: "eval"}, "script fit.eval"},
		{runs.Task{Kind: "reduce", Action: "collect"}, "reduce collect"},
		{runs.Task{Kind: "echo", Name: "x"}, "echo x"},
	} {
		if got := taskLabel(tt.task); got != tt.want {
			t.Errorf("taskLabel(%+v) = %q, want %q", tt.task, got, tt.want)
		}
	}
}

// TestMissingResult: an output without a result says why, and a task
// that ended well has its result, even null.
func TestMissingResult(t *testing.T) {
	for _, tt := range []struct {
		run  runs.Status
		task string // "" for no row
		want string
	}{
		{runs.Running, "", "no result yet"},
		{runs.Running, "STARTED", "no result yet"},
		{runs.Running, "SUCCESS", ""},
		{runs.Success, "CACHED", ""},
		{runs.Failure, "FAILURE", "no result (failed)"},
		{runs.Failure, "PENDING", "no result (the run failed)"},
		{runs.Cancelled, "CANCELLED", "no result (cancelled)"},
		{runs.Lost, "STARTED", "no result (the run was lost)"},
	} {
		var task *runs.Task
		if tt.task != "" {
			task = &runs.Task{State: tt.task}
		}
		if got := missingResult(&runs.Run{Status: tt.run}, task); got != tt.want {
			t.Errorf("run %s, task %q: %q, want %q", tt.run, tt.task, got, tt.want)
		}
	}
}

// TestShortNames: files are named by what follows their common directory.
func TestShortNames(t *testing.T) {
	for _, tt := range []struct {
		paths []string
		want  map[string]string
	}{
		{nil, map[string]string{}},
		{[]string{"/srv/omp/train.omp"}, map[string]string{"/srv/omp/train.omp": "train.omp"}},
		{[]string{"/srv/omp/a.omp", "/srv/omp/pipelines/b.omp"}, map[string]string{"/srv/omp/a.omp": "a.omp", "/srv/omp/pipelines/b.omp": "pipelines/b.omp"}},
		{[]string{"/srv/x/f.omp", "/srv/y/f.omp"}, map[string]string{"/srv/x/f.omp": "x/f.omp", "/srv/y/f.omp": "y/f.omp"}},
		{[]string{"/srv/ab/f.omp", "/srv/abc/g.omp"}, map[string]string{"/srv/ab/f.omp": "ab/f.omp", "/srv/abc/g.omp": "abc/g.omp"}},
		{[]string{"/a.omp", "/b/c.omp"}, map[string]string{"/a.omp": "a.omp", "/b/c.omp": "b/c.omp"}},
	} {
		got := shortNames(tt.paths)
		if fmt.Sprint(got) != fmt.Sprint(tt.want) {
			t.Errorf("shortNames(%q) = %q, want %q", tt.paths, got, tt.want)
		}
	}
}
