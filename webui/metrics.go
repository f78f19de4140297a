package webui

import (
	"context"
	"net/http"
	"net/url"
	"sort"
	"time"

	"github.com/ompdev/omp/runs"
)

// Point is one run's value of a metric: its last report (highest step)
// in that run.
type Point struct {
	RunID   string    `json:"run_id"`
	Started time.Time `json:"started"`
	Status  string    `json:"status"`
	Node    string    `json:"node"`
	Step    int       `json:"step"`
	Value   float64   `json:"value"`
}

// MetricsView is what the metrics page shows: the file and metric picked,
// the choices, the metric across runs (oldest first) and over the steps of
// one run.
type MetricsView struct {
	Files []string `json:"files"`
	// FileNames are Files' names in the select: short, and unique.
	FileNames map[string]string `json:"-"`
	File      string            `json:"file"`
	Names     []string          `json:"names"`
	Name      string            `json:"name"`
	Points    []Point           `json:"points"`
	// Steps are every value of the metric in run StepsRun (the one asked
	// for, else the newest), in step order.
	StepsRun string        `json:"steps_run"`
	Steps    []runs.Metric `json:"steps"`
	CSV      string        `json:"csv"`
}

// LoadMetrics reads the metrics page's data: file and name may be "" (the
// page then offers the choices), run picks the run whose steps are shown.
func LoadMetrics(ctx context.Context, db runs.Store, file, name, run string) (*MetricsView, error) {
	v := &MetricsView{File: file, Name: name, Points: []Point{}, Steps: []runs.Metric{}, Names: []string{}}
	all, err := db.Runs(ctx, runs.Filter{Limit: 1000})
	if err != nil {
		return nil, err
	}
	v.Files = distinct(all, func(r runs.Run) string { return r.File }, file)
	v.FileNames = shortNames(v.Files)
	if file == "" {
		return v, nil
	}
	ms, err := db.Metrics(ctx, runs.MetricFilter{File: file})
	if err != nil {
		return nil, err
	}
	names := map[string]bool{}
	for _, m := range ms {
		names[m.Name] = true
	}
	if name != "" {
		names[name] = true
	}
	for n := range names {
		v.Names = append(v.Names, n)
	}
	sort.Strings(v.Names)
	if name == "" {
		return v, nil
	}
	v.CSV = "/api/metrics?" + url.Values{"file": {file}, "name": {name}, "format": {"csv"}}.Encode()
	fileRuns, err := db.Runs(ctx, runs.Filter{File: file})
	if err != nil {
		return nil, err
	}
	byID := make(map[string]runs.Run, len(fileRuns))
	for _, r := range fileRuns {
		byID[r.ID] = r
	}
	last := map[string]int{} // run → index in Points
	for _, m := range ms {
		if m.Name != name {
			continue
		}
		if run == "" {
			run = m.RunID // the newest run with the metric
		}
		if m.RunID == run {
			v.Steps = append(v.Steps, m)
		}
		p := Point{RunID: m.RunID, Node: m.Node, Step: m.Step, Value: m.Value, Started: m.Time}
		if r, ok := byID[m.RunID]; ok {
			p.Started, p.Status = r.Started, string(r.Status)
		}
		i, ok := last[m.RunID]
		switch {
		case !ok:
			last[m.RunID] = len(v.Points)
			v.Points = append(v.Points, p)
		case m.Step >= v.Points[i].Step:
			v.Points[i] = p
		}
	}
	v.StepsRun = run
	sort.SliceStable(v.Points, func(i, j int) bool { return v.Points[i].Started.Before(v.Points[j].Started) })
	sort.SliceStable(v.Steps, func(i, j int) bool { return v.Steps[i].Step < v.Steps[j].Step })
	return v, nil
}

func (u *UI) metricsPage(w http.ResponseWriter, r *http.Request) {
	q := r.URL.Query()
	v, err := LoadMetrics(r.Context(), u.cfg.DB, q.Get("file"), q.Get("name"), q.Get("run"))
	if err != nil {
		u.serverError(w, err)
		return
	}
	u.render(w, http.StatusOK, "metrics.html", page{Page: "metrics", Title: "Metrics", Data: v, Body: v})
}
