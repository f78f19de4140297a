package webui_test

import (
	"context"
	"encoding/json"
	"flag"
	"fmt"
	"net/url"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/chromedp/chromedp"

	"github.com/ompdev/omp/internal/browsertest"
	"github.com/ompdev/omp/internal/testbin"
	"github.com/ompdev/omp/plugins/builtin"
	"github.com/ompdev/omp/plugins/host"
	"github.com/ompdev/omp/runs"
	"github.com/ompdev/omp/runtime"
	"github.com/ompdev/omp/serve"
)

// The tests here open the pages of a real omp serve, running real
// pipelines on a SQLite history, and a report written by the omp binary,
// in a real headless Chromium; each saves a screenshot for a person to
// look at.

var updateDocs = flag.Bool("update-docs", false, "write TestRunPage's screenshot to docs/run-page.png, the README's picture")

func TestMain(m *testing.M) {
	code := m.Run()
	browsertest.Shutdown()
	if ompDir != "" {
		os.RemoveAll(ompDir)
	}
	os.Exit(code)
}

var (
	buildOnce sync.Once
	ompDir    string
	ompBin    string
	buildErr  error
)

// omp builds the omp binary once per test binary: it serves the built-in
// kinds to the server's plugin host, and writes the report.
func omp(t *testing.T) string {
	t.Helper()
	buildOnce.Do(func() {
		if ompDir, buildErr = os.MkdirTemp("", "omp-webui-test-"); buildErr != nil {
			return
		}
		ompBin = filepath.Join(ompDir, "omp")
		buildErr = testbin.Build(testbin.Target{Pkg: "github.com/ompdev/omp/cmd/omp", Out: ompBin})
	})
	if buildErr != nil {
		t.Fatal(buildErr)
	}
	return ompBin
}

// writeFiles writes files, by path relative to dir, and returns dir.
func writeFiles(t *testing.T, dir string, files map[string]string) string {
	t.Helper()
	for name, src := range files {
		p := filepath.Join(dir, name)
		if err := os.MkdirAll(filepath.Dir(p), 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(p, []byte(src), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	return dir
}

// The pipelines and scripts the tests run. A script's stderr lines are its
// task's log; wait.sh sleeps until the test lets it go, so the test sees
// its task running for as long as it needs, however loaded the machine.
const graphOmp = "echo prepare(\"raw.csv\") -> parallel < echo train(i) for i in 1..3 > -> reduce collect\n"

var files = map[string]string{
	"graph.omp": graphOmp,
	// The README's picture: a file as a project keeps it.
	"pipelines/train.omp": graphOmp,
	"live.omp":            "echo before() -> script wait()\n",
	"fail.omp":            "echo load() -> script broken()\n",
	// Its tick comes once a year: served, not fired while a test runs.
	"nightly.omp": "pipeline nightly with schedule=\"0 3 1 1 *\" {\n  echo report()\n}\n",
	"metric.omp": "param v = 0.5\n" +
		"script score(v)\n",
	"scripts/wait.sh": `echo "waiting for ./release" >&2
i=0
while [ ! -e release ]; do
	i=$((i + 1))
	if [ $i -gt 1200 ]; then echo "never released" >&2; exit 1; fi
	sleep 0.1
done
echo "released" >&2
`,
	"scripts/broken.sh": `echo "reading 3 rows" >&2
echo "error: column 'price' not found" >&2
exit 3
`,
	"scripts/score.py": `import json, os, sys
v = json.load(sys.stdin)["args"][0]
print("scoring", v, file=sys.stderr)
with open(os.environ["OMP_METRICS"], "a") as f:
    f.write(json.dumps({"name": "accuracy", "value": v, "step": 0}) + "\n")
print(json.dumps(v))
`,
}

// server is an omp serve of files on a SQLite history, with its API's
// base URL.
type server struct {
	url    string
	dir    string
	client *serve.Client
}

// startServer starts an omp serve in-process on the test's files, with
// embedded workers; it stops when t ends.
func startServer(t *testing.T) *server {
	t.Helper()
	dir := writeFiles(t, t.TempDir(), files)
	db, err := runs.Open(context.Background(), "sqlite:"+filepath.Join(dir, "omp.db"))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { db.Close() })
	h, err := host.New(host.Config{Builtins: builtin.Kinds(), Self: []string{omp(t)}, Store: dir})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { h.Close() })
	s, err := serve.New(serve.Config{
		Paths: []string{dir}, DB: db, Host: h, Bus: runtime.NewEmbeddedBus(runtime.EmbeddedConfig{}),
		Embedded: true, Store: dir, Listen: "127.0.0.1:0", Version: "test",
	})
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	addr := make(chan string, 1)
	done := make(chan error, 1)
	go func() { done <- s.Serve(ctx, func(a string) { addr <- a }) }()
	t.Cleanup(func() {
		cancel()
		select {
		case err := <-done:
			if err != nil {
				t.Errorf("omp serve: %v", err)
			}
		case <-time.After(time.Minute):
			t.Errorf("omp serve did not stop within a minute of its shutdown")
		}
	})
	var base string
	select {
	case a := <-addr:
		base = "http://" + a
	case err := <-done:
		t.Fatalf("omp serve: %v", err)
	case <-time.After(time.Minute):
		t.Fatal("omp serve did not listen within a minute")
	}
	c, err := serve.NewClient(base, "")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { c.Close() })
	return &server{url: base, dir: dir, client: c}
}

// submit starts a run of file's pipeline, with params as name, value
// pairs, and returns its id.
func (s *server) submit(t *testing.T, file string, params ...string) string {
	t.Helper()
	req := serve.SubmitRequest{File: file, Params: map[string]string{}}
	for i := 0; i+1 < len(params); i += 2 {
		req.Params[params[i]] = params[i+1]
	}
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	id, err := s.client.Submit(ctx, req)
	if err != nil {
		t.Fatalf("submitting %s: %v", file, err)
	}
	return id
}

// finish waits, two minutes at most, for run id to end, and returns it
// with its tasks; it fails t unless the run ended with status want.
func (s *server) finish(t *testing.T, id string, want runs.Status) (*runs.Run, []runs.Task) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	if err := s.client.Follow(ctx, id, func(serve.Event) error { return nil }); err != nil {
		t.Fatalf("waiting for run %s to end: %v", id, err)
	}
	r, err := s.client.Run(ctx, id)
	if err != nil {
		t.Fatal(err)
	}
	tasks, err := s.client.Tasks(ctx, id)
	if err != nil {
		t.Fatal(err)
	}
	if r.Status != want {
		t.Fatalf("run %s ended %s, want %s; its tasks: %+v", id, r.Status, want, tasks)
	}
	return r, tasks
}

// taskOf waits, a minute at most, for run id to record a task of kind,
// and returns its node id.
func (s *server) taskOf(t *testing.T, id, kind string) string {
	t.Helper()
	deadline := time.Now().Add(time.Minute)
	for {
		ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
		tasks, err := s.client.Tasks(ctx, id)
		cancel()
		if err != nil {
			t.Fatal(err)
		}
		for _, task := range tasks {
			if task.Kind == kind {
				return task.Node
			}
		}
		if time.Now().After(deadline) {
			t.Fatalf("run %s recorded no %s task within a minute: %+v", id, kind, tasks)
		}
		time.Sleep(50 * time.Millisecond)
	}
}

// sel quotes v for a CSS attribute selector.
func sel(format string, v ...any) string {
	for i, x := range v {
		b, _ := json.Marshal(fmt.Sprint(x))
		v[i] = string(b)
	}
	return fmt.Sprintf(format, v...)
}

// checkTasks checks that the run page or report p shows each task once,
// as a graph node and as a table row, in its recorded state.
func checkTasks(t *testing.T, p *browsertest.Page, tasks []runs.Task) {
	t.Helper()
	p.WaitCount("svg#graph g.node", len(tasks))
	p.WaitCount("table#tasks tr[data-node]", len(tasks))
	var nodes []string
	for _, task := range tasks {
		nodes = append(nodes, task.Node)
		p.WaitAttr(sel("svg#graph g.node[data-node=%s]", task.Node), "data-state", task.State)
		p.WaitText(sel("table#tasks tr[data-node=%s] td.state", task.Node), task.State)
	}
	got := p.Attrs("svg#graph g.node", "data-node")
	slices.Sort(got)
	slices.Sort(nodes)
	if !slices.Equal(got, nodes) {
		t.Errorf("graph nodes %q, want the run's tasks %q", got, nodes)
	}
}

// TestRunsPage: the runs page lists a finished run with its status, and a
// run started while it is open appears, and finishes, without a reload,
// above the first.
func TestRunsPage(t *testing.T) {
	p := browsertest.New(t)
	s := startServer(t)
	first := s.submit(t, "graph.omp")
	r, _ := s.finish(t, first, runs.Success)

	p.Navigate(s.url + "/")
	p.WaitAttr("main", "data-page", "runs")
	p.WaitAttr("main", "data-ready", "true")
	row := sel("table#runs tr[data-run=%s]", first)
	p.WaitText(row+" td.state", "SUCCESS")
	p.Wait(row + sel(" a[href=%s]", "/runs/"+first))
	// A run of a file's statements, not of a named pipeline.
	p.WaitText(row, "default")
	p.Screenshot("runs")

	mark(t, p)
	second := s.submit(t, "graph.omp")
	s.finish(t, second, runs.Success)
	p.WaitText(sel("table#runs tr[data-run=%s] td.state", second), "SUCCESS")
	checkMark(t, p)
	// The page says when it last looked as its table says times: in UTC.
	p.WaitFor("#live to say when it was updated, in UTC", `/updated \d{4}-\d\d-\d\d \d\d:\d\d:\d\dZ$/.test(document.querySelector("#live").textContent)`, `document.querySelector("#live").textContent`)
	if got, want := p.Attrs("table#runs tr[data-run]", "data-run"), []string{second, first}; !slices.Equal(got, want) {
		t.Errorf("runs listed %q, want newest first %q", got, want)
	}
	p.Screenshot("runs-live")

	failed := s.submit(t, "fail.omp")
	s.finish(t, failed, runs.Failure)
	p.WaitText(sel("table#runs tr[data-run=%s] td.state", failed), "FAILURE")
	// The filters are query parameters, and the page's selects show them.
	p.Navigate(s.url + "/?status=FAILURE")
	p.WaitAttr("main", "data-ready", "true")
	if got := p.Attrs("table#runs tr[data-run]", "data-run"); !slices.Equal(got, []string{failed}) {
		t.Errorf("?status=FAILURE lists %q, want only %s", got, failed)
	}
	if v := browsertest.Eval[string](p, `document.querySelector("select#status").value`); v != "FAILURE" {
		t.Errorf("?status=FAILURE: select#status shows %q", v)
	}
	p.Navigate(s.url + "/?" + url.Values{"file": {r.File}}.Encode())
	p.WaitAttr("main", "data-ready", "true")
	if got := p.Attrs("table#runs tr[data-run]", "data-run"); !slices.Equal(got, []string{second, first}) {
		t.Errorf("?file=%s lists %q, want %q", r.File, got, []string{second, first})
	}
}

// mark leaves a value in the page's window, which a reload would lose.
func mark(t *testing.T, p *browsertest.Page) {
	t.Helper()
	browsertest.Eval[bool](p, "window.ompTestMark = true")
}

// checkMark fails t if the page was reloaded since mark.
func checkMark(t *testing.T, p *browsertest.Page) {
	t.Helper()
	if !browsertest.Eval[bool](p, "window.ompTestMark === true") {
		t.Error("the page was reloaded")
	}
}

// TestRunPage: a run page shows one node per task, in the task's state,
// and a row per task. With -update-docs its screenshot becomes the
// README's picture.
func TestRunPage(t *testing.T) {
	p := browsertest.New(t)
	s := startServer(t)
	id := s.submit(t, "pipelines/train.omp")
	_, tasks := s.finish(t, id, runs.Success)
	if len(tasks) != 5 {
		t.Fatalf("pipelines/train.omp ran %d tasks, want 5: %+v", len(tasks), tasks)
	}

	p.Navigate(s.url + "/runs/" + id)
	p.WaitAttr("main", "data-page", "run")
	p.WaitAttr("main", "data-ready", "true")
	checkTasks(t, p, tasks)
	// The file is named by its path in the served directory.
	p.WaitText("dl.facts", "pipelines/train.omp")
	p.WaitText("#results", "pipelines/train.omp:1:1")
	if strings.Contains(browsertest.Eval[string](p, `document.querySelector("main").innerText`), s.dir) {
		t.Errorf("the run page shows the served directory %s", s.dir)
	}
	if n := browsertest.Eval[int](p, `document.querySelectorAll("button#cancel:not([hidden])").length`); n != 0 {
		t.Errorf("a finished run shows a Cancel button")
	}
	shot := p.Screenshot("run")
	if *updateDocs {
		b, err := os.ReadFile(shot)
		if err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(filepath.Join("..", "docs", "run-page.png"), b, 0o644); err != nil {
			t.Fatal(err)
		}
	}
	p.Dark()
	p.Screenshot("run-dark")
	// Each task ran once: one bar each, however fast it was.
	for _, task := range tasks {
		p.Wait(sel("#timeline .bar[data-node=%s][data-attempt=\"1\"]", task.Node))
	}
	checkTimeline(t, p)
}

// checkTimeline fails t unless the timeline's axis starts where its lanes
// do and every bar's word is whole, inside its lane.
func checkTimeline(t *testing.T, p *browsertest.Page) {
	t.Helper()
	if d := browsertest.Eval[float64](p, `(() => {
		const lanes = document.querySelectorAll("#timeline .lane"), zero = document.querySelector("#timeline .tick");
		return zero.getBoundingClientRect().left - lanes[1].getBoundingClientRect().left;
	})()`); d < -0.5 || d > 0.5 {
		t.Errorf("the timeline's 0 is %.1fpx from where its lanes start", d)
	}
	if bad := browsertest.Eval[[]string](p, `[...document.querySelectorAll("#timeline .blabel")].filter(l =>
		l.offsetLeft < 0 || l.offsetLeft + l.offsetWidth > l.parentElement.clientWidth).map(l => l.textContent)`); len(bad) > 0 {
		t.Errorf("timeline words cut at a lane's edge: %q", bad)
	}
}

// TestLiveState: while a script runs, its node shows STARTED; when it
// ends, the same page, not reloaded, shows SUCCESS.
func TestLiveState(t *testing.T) {
	p := browsertest.New(t)
	s := startServer(t)
	id := s.submit(t, "live.omp")
	node := s.taskOf(t, id, "script")

	p.Navigate(s.url + "/runs/" + id)
	p.WaitAttr("main", "data-ready", "true")
	nodeSel := sel("svg#graph g.node[data-node=%s]", node)
	p.WaitAttr(nodeSel, "data-state", "STARTED")
	p.WaitText(nodeSel, "STARTED")
	p.Wait("button#cancel:enabled")
	mark(t, p)
	// The timeline follows the run: the running attempt is a bar already.
	p.Wait(sel("#timeline .bar[data-node=%s][data-attempt=\"1\"]", node))
	p.WaitText("#results .noresult", "no result yet")
	p.Screenshot("running")

	if err := os.WriteFile(filepath.Join(s.dir, "release"), nil, 0o644); err != nil {
		t.Fatal(err)
	}
	p.WaitAttr(nodeSel, "data-state", "SUCCESS")
	p.WaitText(nodeSel, "SUCCESS")
	p.WaitCount("button#cancel:enabled", 0)
	p.WaitCount("button#cancel:not([hidden])", 0)
	// The results come when the run ends, without a reload either.
	p.WaitCount("#results .noresult", 0)
	checkMark(t, p)
	s.finish(t, id, runs.Success)
	p.Screenshot("finished")
	// The timeline follows the run too: the script's attempt is a bar.
	p.Wait(sel("#timeline .bar[data-node=%s][data-attempt=\"1\"]", node))
}

// TestFailedTaskLog: clicking a failed task's row shows its log and its
// error.
func TestFailedTaskLog(t *testing.T) {
	p := browsertest.New(t)
	s := startServer(t)
	id := s.submit(t, "fail.omp")
	_, tasks := s.finish(t, id, runs.Failure)
	var failed *runs.Task
	for i := range tasks {
		if tasks[i].State == "FAILURE" {
			failed = &tasks[i]
		}
	}
	if failed == nil {
		t.Fatalf("no task of run %s failed: %+v", id, tasks)
	}

	p.Navigate(s.url + "/runs/" + id)
	p.WaitAttr("main", "data-ready", "true")
	checkTasks(t, p, tasks)
	p.Click(sel("table#tasks tr[data-node=%s]", failed.Node))
	p.WaitVisible("section#task pre#task-log")
	p.WaitText("section#task pre#task-log", "error: column 'price' not found")
	p.WaitText("section#task pre#task-log", "reading 3 rows")
	p.WaitVisible("section#task #task-error")
	p.WaitText("section#task #task-error", "status 3")
	p.WaitText("#results .noresult", "no result (failed)")
	if gap := browsertest.Eval[float64](p, `document.querySelector("section#task").getBoundingClientRect().top -
		document.querySelector("header.top").getBoundingClientRect().bottom`); gap < -0.5 {
		t.Errorf("the task's panel covers %.0fpx of the nav bar", -gap)
	}
	// The error's two lines stay two lines in its attempt's message.
	if msg := browsertest.Eval[string](p, `[...document.querySelectorAll("#task-attempts tbody tr td:last-child")].map(td => td.innerText).join("|")`); !strings.Contains(msg, "rows\nerror:") {
		t.Errorf("the attempts' messages %q join the error's lines", msg)
	}
	// The log is the point of the picture: scroll the task's panel to it.
	browsertest.Eval[int](p, `document.querySelector("pre#task-log").scrollIntoView({block: "end"}), 0`)
	p.Screenshot("failed-task")

	// Without a mouse: Escape closes the task, Enter on its box opens it.
	p.Press("section#task pre#task-log", "\x1b")
	p.WaitFor("section#task to close on Escape", `document.querySelector("section#task").hidden`, "")
	p.Press(sel("svg#graph g.node[data-node=%s]", failed.Node), "\r")
	p.WaitFor("section#task to open on Enter", `!document.querySelector("section#task").hidden`, `document.activeElement.outerHTML.slice(0, 200)`)
	p.WaitText("section#task pre#task-log", "error: column 'price' not found")
}

// TestNotFound: an unknown run is a page that says so, with HTTP 404.
func TestNotFound(t *testing.T) {
	p := browsertest.New(t)
	s := startServer(t)
	for _, path := range []string{"/runs/nosuch", "/nowhere"} {
		resp := browsertest.Run(p, "opening "+path, chromedp.NavigateResponse(s.url+path))
		if resp.Status != 404 {
			t.Errorf("%s: HTTP %d, want 404", path, resp.Status)
		}
		p.WaitAttr("main", "data-page", "notfound")
	}
	p.WaitText("main", "/nowhere")
	p.Navigate(s.url + "/runs/nosuch")
	p.WaitText("main", "no run nosuch")
	p.Screenshot("notfound")
}

// TestMetricsPage: a metric logged by three runs is drawn as one point per
// run, with a table row per point.
func TestMetricsPage(t *testing.T) {
	p := browsertest.New(t)
	s := startServer(t)
	var file string
	for _, v := range []string{"0.5", "0.75", "0.625"} {
		id := s.submit(t, "metric.omp", "v", v)
		r, _ := s.finish(t, id, runs.Success)
		file = r.File
	}

	p.Navigate(s.url + "/metrics?" + url.Values{"file": {file}, "name": {"accuracy"}}.Encode())
	p.WaitAttr("main", "data-page", "metrics")
	p.WaitAttr("main", "data-ready", "true")
	p.WaitAttr("#chart", "data-points", "3")
	p.WaitCount("table#metric-table tbody tr", 3)
	for _, v := range []string{"0.5", "0.75", "0.625"} {
		p.WaitText("table#metric-table tbody", v)
	}
	p.Wait("a#csv[href]")
	// With nothing hovered the legends give the last values, not "--".
	legends := browsertest.Eval[[]string](p, `[...document.querySelectorAll(".u-legend")].map(l => l.textContent)`)
	if len(legends) != 2 {
		t.Errorf("%d chart legends, want 2", len(legends))
	}
	for _, legend := range legends {
		if strings.Contains(legend, "--") || !strings.Contains(legend, "0.625") {
			t.Errorf("a legend reads %q with nothing hovered, want the last value, 0.625", legend)
		}
	}
	p.Screenshot("metrics")
}

// TestReportFile: omp run --report run.html writes a page that shows the
// run's tasks from disk, with the network cut off, asking it for nothing.
func TestReportFile(t *testing.T) {
	p := browsertest.New(t)
	dir := writeFiles(t, t.TempDir(), files)
	cmd := exec.Command(omp(t), "run", "--report", "run.html", "--db", filepath.Join(dir, "omp.db"), "graph.omp")
	cmd.Dir = dir
	if out, err := cmd.CombinedOutput(); err != nil {
		t.Fatalf("omp run --report run.html: %v\n%s", err, out)
	}
	db, err := runs.Open(context.Background(), "sqlite:"+filepath.Join(dir, "omp.db"))
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	ctx := context.Background()
	list, err := db.Runs(ctx, runs.Filter{})
	if err != nil || len(list) != 1 {
		t.Fatalf("the history holds %d runs, %v; want 1", len(list), err)
	}
	tasks, err := db.Tasks(ctx, list[0].ID)
	if err != nil {
		t.Fatal(err)
	}

	p.Offline()
	page := "file://" + filepath.Join(dir, "run.html")
	p.Navigate(page)
	p.WaitAttr("main", "data-page", "report")
	p.WaitAttr("main", "data-ready", "true")
	checkTasks(t, p, tasks)
	if n := browsertest.Eval[int](p, `document.querySelectorAll("button#cancel").length`); n != 0 {
		t.Errorf("the report has a Cancel button")
	}
	p.Screenshot("report")
	for _, u := range p.Requests() {
		if !strings.HasPrefix(u, "file:") && !strings.HasPrefix(u, "data:") && !strings.HasPrefix(u, "blob:") {
			t.Errorf("the report asked the network for %s", u)
		}
	}
}

// TestSchedulesPage: a served file's schedule is listed with its next
// fire times.
func TestSchedulesPage(t *testing.T) {
	p := browsertest.New(t)
	s := startServer(t)
	p.Navigate(s.url + "/schedules")
	p.WaitAttr("main", "data-page", "schedules")
	p.WaitAttr("main", "data-ready", "true")
	row := sel("table#schedules tr[data-pipeline=%s]", "nightly.omp:nightly")
	p.WaitText(row, "0 3 1 1 *")
	p.WaitCount(row+" time", 3)
	p.Screenshot("schedules")
}
