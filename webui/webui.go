// Package webui is omp's web interface: the pages omp serve shows at / (runs,
// a run, metrics, schedules) and the self-contained HTML report of one run
// that omp run --report run.html writes.
//
// Its guarantee: pages and reports are built only from the run history (a
// runs.Store) and from assets embedded in the binary; nothing is loaded from
// the network. A report is one file, with its styles, scripts, libraries
// and data inline, that opens from disk with no server. Every page keeps the
// DOM contract in docs/web.md (the ids, classes and data- attributes that
// tests and scripts select), and shows a task's state as a word and an icon,
// never by colour alone.
package webui

import (
	"context"
	"crypto/sha256"
	"embed"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"html/template"
	"io"
	"io/fs"
	"log/slog"
	"math"
	"net/http"
	"path"
	"slices"
	"sort"
	"strings"
	"time"

	"github.com/ompdev/omp/compiler"
	"github.com/ompdev/omp/runs"
	"github.com/ompdev/omp/runs/record"
)

//go:embed assets templates
var files embed.FS

var (
	assets, _ = fs.Sub(files, "assets")
	// version changes with the assets, so that their URLs can be cached
	// for good.
	version = assetsVersion()
	pages   = template.Must(template.New("").Funcs(funcs).ParseFS(files, "templates/*.html"))
)

func assetsVersion() string {
	h := sha256.New()
	_ = fs.WalkDir(assets, ".", func(p string, d fs.DirEntry, err error) error {
		if err == nil && !d.IsDir() {
			b, _ := fs.ReadFile(assets, p)
			fmt.Fprintf(h, "%s %d\n", p, len(b))
			h.Write(b)
		}
		return nil
	})
	return hex.EncodeToString(h.Sum(nil))[:12]
}

// Schedule is one scheduled pipeline, as the server that serves it sees it.
type Schedule struct {
	// File is the served file's key (as GET /api/schedules names it);
	// Path is the file as its runs record it (absolute).
	File, Path string
	Pipeline   string
	Spec, Zone string
	Next       []time.Time
}

// Config configures the pages.
type Config struct {
	DB runs.Store
	// Schedules lists the scheduled pipelines and the files that have a
	// problem (file → error); nil shows none.
	Schedules func() ([]Schedule, map[string]string)
	Logger    *slog.Logger
	// Name names a run's file (absolute, as runs record it) as the pages
	// show it, e.g. relative to the served directory; nil shows it as
	// recorded.
	Name func(file string) string
}

// UI serves the pages.
type UI struct {
	cfg Config
}

// New returns the pages of cfg.DB.
func New(cfg Config) *UI {
	if cfg.Logger == nil {
		cfg.Logger = slog.New(slog.DiscardHandler)
	}
	if cfg.Name == nil {
		cfg.Name = func(file string) string { return file }
	}
	if cfg.Schedules == nil {
		cfg.Schedules = func() ([]Schedule, map[string]string) { return nil, nil }
	}
	return &UI{cfg: cfg}
}

// Register adds the pages and assets to mux: GET / (runs), /runs/{id},
// /metrics, /schedules and /assets/. Any other path is the caller's (see
// NotFound).
func (u *UI) Register(mux *http.ServeMux) {
	mux.HandleFunc("GET /{$}", u.runsPage)
	mux.HandleFunc("GET /runs/{id}", u.runPage)
	mux.HandleFunc("GET /metrics", u.metricsPage)
	mux.HandleFunc("GET /schedules", u.schedulesPage)
	mux.HandleFunc("GET /assets/", serveAssets)
}

func serveAssets(w http.ResponseWriter, r *http.Request) {
	if r.URL.Query().Get("v") == version {
		w.Header().Set("Cache-Control", "public, max-age=31536000, immutable")
	} else {
		w.Header().Set("Cache-Control", "no-cache")
	}
	http.StripPrefix("/assets/", http.FileServerFS(assets)).ServeHTTP(w, r)
}

// page is what every template gets.
type page struct {
	Page    string // data-page of <main>
	Title   string
	Version string
	// Inline, for a report: styles and scripts are written into the page.
	Inline bool
	CSS    []template.CSS
	JS     []template.JS
	Data   any // the page's data, as JSON for its script
	Body   any // what the page's template shows itself
}

func (u *UI) render(w http.ResponseWriter, code int, name string, p page) {
	p.Version = version
	w.Header().Set("Content-Type", "text/html; charset=utf-8")
	w.Header().Set("Content-Security-Policy", "default-src 'self'; img-src 'self' data:; style-src 'self' 'unsafe-inline'")
	w.WriteHeader(code)
	if err := pages.ExecuteTemplate(w, name, p); err != nil {
		u.cfg.Logger.Error("render page", "page", name, "err", err)
	}
}

// NotFound writes the HTML page for something that is not there, with HTTP
// 404; what says what ("no run abc123").
func (u *UI) NotFound(w http.ResponseWriter, what string) {
	u.render(w, http.StatusNotFound, "notfound.html", page{Page: "notfound", Title: "Not found", Body: what})
}

func (u *UI) serverError(w http.ResponseWriter, err error) {
	u.cfg.Logger.Error("page", "err", err)
	u.render(w, http.StatusInternalServerError, "notfound.html", page{Page: "notfound", Title: "Error", Body: err.Error()})
}

// RunView is a run as its page and its report show it.
type RunView struct {
	Run         *runs.Run         `json:"run"`
	Tasks       []runs.Task       `json:"tasks"`
	Graph       GraphView         `json:"graph"`
	Transitions []runs.Transition `json:"transitions"`
	Metrics     []runs.Metric     `json:"metrics"`
	Results     []Result          `json:"results"`
	// Logs are every line of the run in a report; the live page reads
	// them from the API instead.
	Logs []runs.LogLine `json:"logs"`
	// Args are each task's arguments (args, kwargs), by node.
	Args map[string]json.RawMessage `json:"args"`
	// FileName is the run's file as the page shows it (Run.File unless
	// the server names it otherwise; see Config.Name).
	FileName string `json:"file_name"`
	// Labels are what each task runs, by node, as its graph node says it
	// ("echo train(2)", "reduce collect"), so the table and the task's
	// panel say the same.
	Labels map[string]string `json:"labels"`
	// Last is each task's metrics, once per name: the value of its
	// last step, in Metrics' order.
	Last []runs.Metric `json:"-"`
}

// Result is one top-level statement's result.
type Result struct {
	Node  string          `json:"node"`
	Pos   string          `json:"pos"`
	Let   string          `json:"let,omitempty"`
	Value json.RawMessage `json:"value"`
	Ref   string          `json:"ref,omitempty"` // the store key of a result too large to keep inline
	// Missing says why there is no result yet or will be none ("no
	// result yet", "no result (failed)"); "" when the task ended well,
	// whose result may be null.
	Missing string `json:"missing,omitempty"`
	// Where is Pos as the page shows it, with the run's FileName.
	Where string `json:"-"`
}

// GroupOver is how many members a comprehension may have before its graph
// shows them as one box with a count: past it, a picture of each is noise.
const GroupOver = 50

// GraphView is a run's graph as the page draws it: nodes as `omp graph`
// writes them (tasks boxes, reducers rounded), comprehensions past
// GroupOver members folded into one node.
type GraphView struct {
	Nodes []GraphNode `json:"nodes"`
	Edges []GraphEdge `json:"edges"`
}

// GraphNode is one box of the picture.
type GraphNode struct {
	ID     string `json:"id"`
	Label  string `json:"label"` // as omp graph describes the node
	Reduce bool   `json:"reduce,omitempty"`
	Output bool   `json:"output,omitempty"`
	// Members are the nodes of a folded comprehension; nil for one node.
	Members []string `json:"members,omitempty"`
}

// GraphEdge is an input (solid) or a let reference (Ref, dashed).
type GraphEdge struct {
	From string `json:"from"`
	To   string `json:"to"`
	Ref  bool   `json:"ref,omitempty"`
}

// LoadRun reads everything a run's page shows from db; with logs, its log
// lines too (for a report). runs.ErrNotFound for an unknown id.
func LoadRun(ctx context.Context, db runs.Store, id string, logs bool) (*RunView, error) {
	run, err := db.Run(ctx, id)
	if err != nil {
		return nil, err
	}
	recorded, err := db.Tasks(ctx, id)
	if err != nil {
		return nil, err
	}
	tasks, err := record.Tasks(run, recorded)
	if err != nil {
		return nil, err
	}
	v := &RunView{Run: run, Tasks: tasks, Args: map[string]json.RawMessage{}, Labels: map[string]string{}, FileName: run.File}
	if v.Transitions, err = db.Transitions(ctx, id, ""); err != nil {
		return nil, err
	}
	if v.Metrics, err = db.Metrics(ctx, runs.MetricFilter{RunIDs: []string{id}}); err != nil {
		return nil, err
	}
	at := map[[2]string]int{}
	for _, m := range v.Metrics {
		k := [2]string{m.Node, m.Name}
		if i, ok := at[k]; ok {
			v.Last[i] = m // Metrics are in step order
			continue
		}
		at[k] = len(v.Last)
		v.Last = append(v.Last, m)
	}
	if logs {
		if v.Logs, err = db.Logs(ctx, id, "", 0); err != nil {
			return nil, err
		}
	}
	var g compiler.Graph
	if len(run.Graph) > 0 {
		if err := json.Unmarshal(run.Graph, &g); err != nil {
			return nil, fmt.Errorf("run %s: its recorded graph is not a graph: %w", id, err)
		}
	}
	// A task row's label stands in for a node the graph does not have.
	for _, t := range tasks {
		v.Labels[t.Node] = taskLabel(t)
	}
	for _, n := range g.Nodes {
		for i, a := range n.Args {
			n.Args[i] = integral(a)
		}
		for k, a := range n.Kwargs {
			n.Kwargs[k] = integral(a)
		}
		v.Labels[n.ID] = compiler.Describe(n)
		if n.Op == compiler.OpTask {
			// Only the parts a task has: no "kwargs": null.
			a := map[string]any{}
			if len(n.Args) > 0 {
				a["args"] = n.Args
			}
			if len(n.Kwargs) > 0 {
				a["kwargs"] = n.Kwargs
			}
			if b, err := json.Marshal(a); err == nil {
				v.Args[n.ID] = b
			}
		}
	}
	v.Graph = graphView(&g, tasks)
	byNode := make(map[string]*runs.Task, len(tasks))
	for i := range tasks {
		byNode[tasks[i].Node] = &tasks[i]
	}
	for _, o := range g.Outputs {
		t := byNode[o.Node]
		res := Result{Node: o.Node, Pos: o.Pos.String(), Where: o.Pos.String(), Let: o.Let, Value: json.RawMessage("null"), Missing: missingResult(run, t)}
		if t != nil {
			if len(t.Result) > 0 {
				res.Value = t.Result
			}
			res.Ref = t.ResultRef
		}
		v.Results = append(v.Results, res)
	}
	// The run's page has no use for its source, and the graph is in
	// GraphView.
	run.Source, run.Graph = "", nil
	// The page's script takes lists, never null.
	if v.Transitions == nil {
		v.Transitions = []runs.Transition{}
	}
	if v.Metrics == nil {
		v.Metrics = []runs.Metric{}
	}
	if v.Logs == nil {
		v.Logs = []runs.LogLine{}
	}
	return v, nil
}

// nameFile shows the run's file as name: in FileName and in the results'
// positions.
func (v *RunView) nameFile(name string) {
	if name == "" || name == v.Run.File {
		return
	}
	v.FileName = name
	for i, r := range v.Results {
		if rest, ok := strings.CutPrefix(r.Pos, v.Run.File+":"); ok {
			v.Results[i].Where = name + ":" + rest
		}
	}
}

// missingResult says why output task t of run has no result, or "" if
// it ended well (and its result, null or not, is the one).
func missingResult(run *runs.Run, t *runs.Task) string {
	st := ""
	if t != nil {
		st = t.State
	}
	switch {
	case st == "SUCCESS" || st == "CACHED":
		return ""
	case st == "FAILURE":
		return "no result (failed)"
	case st == "CANCELLED":
		return "no result (cancelled)"
	case !run.Status.Done():
		return "no result yet"
	}
	switch run.Status {
	case runs.Failure:
		return "no result (the run failed)"
	case runs.Cancelled:
		return "no result (the run was cancelled)"
	case runs.Lost:
		return "no result (the run was lost)"
	}
	return "no result"
}

// integral turns the whole numbers of a value read back from JSON (where
// every number is a float64) into ints again, so that a label reads
// square(10), as omp graph writes it, not square(10.0).
func integral(v any) any {
	switch x := v.(type) {
	case float64:
		if x == math.Trunc(x) && math.Abs(x) < 1<<53 {
			return int64(x)
		}
	case []any:
		for i := range x {
			x[i] = integral(x[i])
		}
	case map[string]any:
		for k := range x {
			x[k] = integral(x[k])
		}
	}
	return v
}

// graphView is g's picture. A run recorded without a graph (an old one)
// gets one node per task and no edges.
func graphView(g *compiler.Graph, tasks []runs.Task) GraphView {
	v := GraphView{Nodes: []GraphNode{}, Edges: []GraphEdge{}}
	if len(g.Nodes) == 0 {
		for _, t := range tasks {
			v.Nodes = append(v.Nodes, GraphNode{ID: t.Node, Label: taskLabel(t)})
		}
		return v
	}
	outputs := map[string]bool{}
	for _, o := range g.Outputs {
		outputs[o.Node] = true
	}
	// A comprehension's members share their statement's position and
	// what they run.
	groupKey := func(n *compiler.Node) string {
		return fmt.Sprint(n.Pos, n.Op, n.Kind, n.Action, n.Reducer)
	}
	members := map[string][]string{}
	for _, n := range g.Nodes {
		k := groupKey(n)
		members[k] = append(members[k], n.ID)
	}
	boxOf := make(map[string]string, len(g.Nodes))
	done := map[string]bool{}
	for _, n := range g.Nodes {
		k := groupKey(n)
		if m := members[k]; len(m) > GroupOver {
			id := groupID(m)
			boxOf[n.ID] = id
			if done[k] {
				continue
			}
			done[k] = true
			label := compiler.Describe(n)
			if n.Op == compiler.OpTask {
				label = n.Kind + " " + n.Name
				if n.Action != "run" {
					label += "." + n.Action
				}
				label += "(…)"
			}
			v.Nodes = append(v.Nodes, GraphNode{ID: id, Label: label, Reduce: n.Op == compiler.OpReduce, Members: m})
			continue
		}
		boxOf[n.ID] = n.ID
		v.Nodes = append(v.Nodes, GraphNode{ID: n.ID, Label: compiler.Describe(n), Reduce: n.Op == compiler.OpReduce, Output: outputs[n.ID]})
	}
	seen := map[GraphEdge]bool{}
	g.Edges(func(from, to string, ref bool) {
		e := GraphEdge{From: boxOf[from], To: boxOf[to], Ref: ref}
		if e.From == e.To || seen[e] || seen[GraphEdge{From: e.From, To: e.To}] {
			return
		}
		seen[e] = true
		v.Edges = append(v.Edges, e)
	})
	return v
}

// taskLabel says what a task runs from its row alone, for a run recorded
// without a graph: "echo train", "script fit.eval", "reduce collect" (a
// reducer's row has its reducer as its action).
func taskLabel(t runs.Task) string {
	if t.Kind == "reduce" {
		return strings.TrimSpace("reduce " + t.Action)
	}
	label := strings.TrimSpace(t.Kind + " " + t.Name)
	if t.Action != "" && t.Action != "run" {
		label += "." + t.Action
	}
	return label
}

// groupID names a folded comprehension by its members' common prefix:
// s1.1.1 … s1.1.100 is s1.1.*.
func groupID(members []string) string {
	p := members[0]
	for _, m := range members[1:] {
		for !strings.HasPrefix(m, p) {
			p = p[:len(p)-1]
		}
	}
	if i := strings.LastIndexByte(p, '.'); i >= 0 {
		return p[:i+1] + "*"
	}
	return members[0] + "+"
}

func (u *UI) runPage(w http.ResponseWriter, r *http.Request) {
	ref := r.PathValue("id")
	id, err := u.cfg.DB.Resolve(r.Context(), ref)
	var amb *runs.AmbiguousError
	switch {
	case errors.As(err, &amb):
		u.NotFound(w, fmt.Sprintf("run %s is ambiguous: it begins %s", ref, strings.Join(amb.Candidates, ", ")))
		return
	case errors.Is(err, runs.ErrNotFound):
		u.NotFound(w, "no run "+ref)
		return
	case err != nil:
		u.serverError(w, err)
		return
	}
	v, err := LoadRun(r.Context(), u.cfg.DB, id, false)
	if err != nil {
		u.serverError(w, err)
		return
	}
	v.nameFile(u.cfg.Name(v.Run.File))
	u.render(w, http.StatusOK, "run.html", page{Page: "run", Title: runTitle(v.Run), Data: v, Body: v})
}

func runTitle(r *runs.Run) string {
	t := "run " + r.ID + " · " + path.Base(r.File)
	if r.Pipeline != "" {
		t += " · " + r.Pipeline
	}
	return t
}

// WriteReport writes v as one self-contained HTML page: the run page, with
// its styles, scripts, libraries, data and logs inline, and nothing that
// needs a server or the network. v should come from LoadRun with logs.
func WriteReport(w io.Writer, v *RunView) error {
	p := page{Page: "report", Title: runTitle(v.Run), Inline: true, Data: v, Body: v, Version: version}
	for _, name := range []string{"app.css", "vendor/uplot/uPlot.min.css"} {
		b, err := fs.ReadFile(assets, name)
		if err != nil {
			return err
		}
		p.CSS = append(p.CSS, template.CSS(b))
	}
	for _, name := range []string{"vendor/dagre/dagre.min.js", "app.js"} {
		b, err := fs.ReadFile(assets, name)
		if err != nil {
			return err
		}
		// A script's text ends at the first "</script"; the libraries
		// only have it inside strings, where "<\/" means the same.
		s := strings.ReplaceAll(string(b), "</script", `<\/script`)
		p.JS = append(p.JS, template.JS(s))
	}
	return pages.ExecuteTemplate(w, "run.html", p)
}

// RunRow is one run in the runs table.
type RunRow struct {
	runs.Run
	Duration string
	FileName string // File as the page shows it (see Config.Name)
}

type runsBody struct {
	Rows                   []RunRow
	Status, File, Pipeline string
	Statuses               []runs.Status
	Files, Pipelines       []string
	// FileNames are Files' names in the filter: short, and unique.
	FileNames map[string]string
}

func (u *UI) runsPage(w http.ResponseWriter, r *http.Request) {
	q := r.URL.Query()
	b := runsBody{Status: q.Get("status"), File: q.Get("file"), Pipeline: q.Get("pipeline"),
		Statuses: []runs.Status{runs.Running, runs.Success, runs.Failure, runs.Cancelled, runs.Lost}}
	list, err := u.cfg.DB.Runs(r.Context(), runs.Filter{Status: runs.Status(b.Status), File: b.File, Pipeline: b.Pipeline, Limit: 200})
	if err != nil {
		u.serverError(w, err)
		return
	}
	for _, run := range list {
		run.Source, run.Graph = "", nil
		b.Rows = append(b.Rows, RunRow{Run: run, Duration: duration(run), FileName: u.cfg.Name(run.File)})
	}
	// The filters offer what the recent history has.
	all, err := u.cfg.DB.Runs(r.Context(), runs.Filter{Limit: 1000})
	if err != nil {
		u.serverError(w, err)
		return
	}
	b.Files, b.Pipelines = distinct(all, func(r runs.Run) string { return r.File }, b.File), distinct(all, func(r runs.Run) string { return r.Pipeline }, b.Pipeline)
	b.FileNames = shortNames(b.Files)
	u.render(w, http.StatusOK, "runs.html", page{Page: "runs", Title: "Runs", Body: b})
}

// distinct is the sorted set of key over list, with keep (a filter's
// value) in it even if no run has it.
func distinct(list []runs.Run, key func(runs.Run) string, keep string) []string {
	set := map[string]bool{}
	if keep != "" {
		set[keep] = true
	}
	for _, r := range list {
		if k := key(r); k != "" {
			set[k] = true
		}
	}
	out := make([]string, 0, len(set))
	for k := range set {
		out = append(out, k)
	}
	sort.Strings(out)
	return out
}

// shortNames names each of paths (absolute, as runs record them) by what
// follows their longest common directory, so that a select shows
// "pipelines/train.omp", not a long path cut short; one path is named by
// its base.
func shortNames(paths []string) map[string]string {
	names := make(map[string]string, len(paths))
	if len(paths) == 0 {
		return names
	}
	common := path.Dir(paths[0])
	for _, p := range paths[1:] {
		for common != "/" && common != "." && !strings.HasPrefix(p, common+"/") {
			common = path.Dir(common)
		}
	}
	for _, p := range paths {
		names[p] = strings.TrimPrefix(strings.TrimPrefix(p, common), "/")
		if names[p] == "" {
			names[p] = p
		}
	}
	return names
}

func duration(r runs.Run) string {
	end := r.Finished
	if end.IsZero() {
		if r.Status.Done() {
			return ""
		}
		end = time.Now()
	}
	return formatDuration(end.Sub(r.Started))
}

func formatDuration(d time.Duration) string {
	switch {
	case d < time.Second:
		return d.Round(time.Millisecond).String()
	case d < time.Minute:
		return d.Round(100 * time.Millisecond).String()
	default:
		return d.Round(time.Second).String()
	}
}

type schedRow struct {
	Schedule
	Last []runs.Run
}

type schedulesBody struct {
	Rows     []schedRow
	Problems map[string]string
}

func (u *UI) schedulesPage(w http.ResponseWriter, r *http.Request) {
	list, problems := u.cfg.Schedules()
	b := schedulesBody{Problems: problems}
	for _, s := range list {
		last, err := u.cfg.DB.Runs(r.Context(), runs.Filter{File: s.Path, Pipeline: s.Pipeline, Limit: 5})
		if err != nil {
			u.serverError(w, err)
			return
		}
		b.Rows = append(b.Rows, schedRow{Schedule: s, Last: last})
	}
	u.render(w, http.StatusOK, "schedules.html", page{Page: "schedules", Title: "Schedules", Body: b})
}

var funcs = template.FuncMap{
	"icon": stateIcon,
	"time": func(t time.Time) string {
		if t.IsZero() {
			return ""
		}
		return t.UTC().Format("2006-01-02 15:04:05Z")
	},
	"iso": func(t time.Time) string {
		if t.IsZero() {
			return ""
		}
		return t.UTC().Format(time.RFC3339Nano)
	},
	"base":   path.Base,
	"inc":    func(i int) int { return i + 1 },
	"rundur": func(r *runs.Run) string { return duration(*r) },
	"taskdur": func(start, end time.Time) string {
		if start.IsZero() || end.IsZero() {
			return ""
		}
		return formatDuration(end.Sub(start))
	},
	"trigger": triggerWord,
	"lower":   strings.ToLower,
	"has":     func(list []string, s string) bool { return slices.Contains(list, s) },
	"state": func(s string) string {
		return orDefault(s, "PENDING")
	},
}

// triggerWord says what started a run as people say it.
func triggerWord(t string) string {
	switch t {
	case runs.TriggerAPI:
		return "submit"
	case runs.TriggerSchedule:
		return "schedule"
	}
	return "manual"
}

func orDefault(s, def string) string {
	if s == "" {
		return def
	}
	return s
}

// stateIcon is the mark shown next to a state's word; app.js has the same
// table.
func stateIcon(state string) string {
	switch state {
	case "SUCCESS":
		return "✓"
	case "FAILURE":
		return "✗"
	case "RUNNING", "STARTED":
		return "▶"
	case "RETRY":
		return "↻"
	case "CANCELLED":
		return "⊘"
	case "CACHED":
		return "≡"
	case "LOST":
		return "?"
	}
	return "○"
}
