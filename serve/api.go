package serve

import (
	"context"
	"crypto/subtle"
	"encoding/csv"
	"encoding/json"
	"errors"
	"fmt"
	"net"
	"net/http"
	"path/filepath"
	"strconv"
	"strings"
	"time"

	"github.com/ompdev/omp/compiler"
	"github.com/ompdev/omp/runs"
	"github.com/ompdev/omp/runs/record"
	"github.com/ompdev/omp/webui"
)

// SubmitRequest is the body of POST /api/runs.
type SubmitRequest struct {
	// File is relative to a served path.
	File     string            `json:"file"`
	Pipeline string            `json:"pipeline,omitempty"`
	Params   map[string]string `json:"params,omitempty"`
}

// RunInfo is GET /api/runs/{id}: the run and every task.
type RunInfo struct {
	Run   *runs.Run   `json:"run"`
	Tasks []runs.Task `json:"tasks"`
}

// ScheduleInfo is one entry of GET /api/schedules.
type ScheduleInfo struct {
	File     string      `json:"file"`
	Pipeline string      `json:"pipeline"`
	Schedule string      `json:"schedule"`
	Timezone string      `json:"timezone"`
	Overlap  string      `json:"overlap"`
	Catchup  bool        `json:"catchup"`
	Next     []time.Time `json:"next"`
}

// FileInfo is a served file with a problem, in GET /api/schedules.
type FileInfo struct {
	File  string `json:"file"`
	Error string `json:"error"`
}

// Handler is the HTTP API.
func (s *Server) Handler() http.Handler {
	mux := http.NewServeMux()
	mux.HandleFunc("GET /healthz", func(w http.ResponseWriter, r *http.Request) {
		writeJSON(w, http.StatusOK, map[string]any{"ok": true, "server": s.name})
	})
	mux.HandleFunc("POST /api/runs", s.submit)
	mux.HandleFunc("GET /api/runs", s.list)
	mux.HandleFunc("GET /api/runs/{id}", s.get)
	mux.HandleFunc("GET /api/runs/{id}/logs", s.logs)
	mux.HandleFunc("GET /api/runs/{id}/events", s.events)
	mux.HandleFunc("POST /api/runs/{id}/cancel", s.cancel)
	mux.HandleFunc("GET /api/runs/{id}/transitions", s.transitions)
	mux.HandleFunc("GET /api/runs/{id}/metrics", s.runMetrics)
	mux.HandleFunc("GET /api/metrics", s.metrics)
	mux.HandleFunc("GET /api/schedules", s.schedules)
	// The pages name a run's file as the API keys it: by its path in a
	// served directory.
	ui := webui.New(webui.Config{DB: s.cfg.DB, Schedules: s.uiSchedules, Logger: s.cfg.Logger, Name: s.key})
	ui.Register(mux)
	mux.HandleFunc("/", func(w http.ResponseWriter, r *http.Request) {
		if strings.HasPrefix(r.URL.Path, "/api/") || r.Method != http.MethodGet {
			writeError(w, http.StatusNotFound, "no such endpoint: %s %s", r.Method, r.URL.Path)
			return
		}
		ui.NotFound(w, "no page "+r.URL.Path)
	})
	return s.guard(s.auth(mux))
}

// guard refuses what a web page on another site could make a browser send
// to a server on this machine: a state-changing request from another
// origin (a form that submits or cancels runs), and, on a server without a
// token, any request addressed to a name other than loopback, which is how
// a DNS-rebinding page reaches 127.0.0.1 as "its own" origin.
func (s *Server) guard(next http.Handler) http.Handler {
	cop := http.NewCrossOriginProtection()
	cop.SetDenyHandler(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		writeError(w, http.StatusForbidden, "a %s from another site's page is refused", r.Method)
	}))
	next = cop.Handler(next)
	if s.cfg.Token != "" {
		return next
	}
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if !loopbackHost(r.Host) {
			writeError(w, http.StatusForbidden, "a server without a token answers only requests to localhost or a loopback address, not %q", r.Host)
			return
		}
		next.ServeHTTP(w, r)
	})
}

// loopbackHost reports whether an HTTP Host (with or without a port) names
// this machine's loopback.
func loopbackHost(host string) bool {
	if h, _, err := net.SplitHostPort(host); err == nil {
		host = h
	}
	host = strings.TrimSuffix(strings.TrimPrefix(host, "["), "]")
	if strings.EqualFold(host, "localhost") {
		return true
	}
	ip := net.ParseIP(host)
	return ip != nil && ip.IsLoopback()
}

// tokenCookie carries the token for a browser, which cannot send an
// Authorization header with a page or an EventSource: opening any page
// with ?token=TOKEN once sets it.
const tokenCookie = "omp_token"

func (s *Server) auth(next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if s.cfg.Token != "" && r.URL.Path != "/healthz" {
			got, ok := strings.CutPrefix(r.Header.Get("Authorization"), "Bearer ")
			if !ok {
				if c, err := r.Cookie(tokenCookie); err == nil {
					got, ok = c.Value, true
				}
			}
			if q := r.URL.Query().Get("token"); q != "" && r.Method == http.MethodGet && !strings.HasPrefix(r.URL.Path, "/api/") {
				if subtle.ConstantTimeCompare([]byte(q), []byte(s.cfg.Token)) == 1 {
					// The token leaves the address bar (and the history)
					// at once; the cookie goes only to this server.
					http.SetCookie(w, &http.Cookie{Name: tokenCookie, Value: q, Path: "/", HttpOnly: true, SameSite: http.SameSiteStrictMode})
					u := *r.URL
					qs := u.Query()
					qs.Del("token")
					u.RawQuery = qs.Encode()
					http.Redirect(w, r, u.String(), http.StatusSeeOther)
					return
				}
			}
			if !ok || subtle.ConstantTimeCompare([]byte(got), []byte(s.cfg.Token)) != 1 {
				w.Header().Set("WWW-Authenticate", "Bearer")
				writeError(w, http.StatusUnauthorized, "a valid token is required: Authorization: Bearer TOKEN")
				return
			}
		}
		r.Body = http.MaxBytesReader(w, r.Body, MaxBody)
		next.ServeHTTP(w, r)
	})
}

func writeJSON(w http.ResponseWriter, code int, v any) {
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(code)
	enc := json.NewEncoder(w)
	enc.SetIndent("", "  ")
	_ = enc.Encode(v)
}

// writeList writes what a Store's list method returned: the error as a
// 500, or the list, empty as [] rather than null, so that clients need not
// tell the two apart.
func writeList[T any](w http.ResponseWriter, list []T, err error) {
	if err != nil {
		writeError(w, http.StatusInternalServerError, "%v", err)
		return
	}
	if list == nil {
		list = []T{}
	}
	writeJSON(w, http.StatusOK, list)
}

// apiError is every error's body.
type apiError struct {
	Error      string   `json:"error"`
	Candidates []string `json:"candidates,omitempty"`
}

func writeError(w http.ResponseWriter, code int, format string, args ...any) {
	writeJSON(w, code, apiError{Error: fmt.Sprintf(format, args...)})
}

func (s *Server) submit(w http.ResponseWriter, r *http.Request) {
	var req SubmitRequest
	dec := json.NewDecoder(r.Body)
	dec.DisallowUnknownFields()
	if err := dec.Decode(&req); err != nil {
		var tooBig *http.MaxBytesError
		if errors.As(err, &tooBig) {
			writeError(w, http.StatusRequestEntityTooLarge, "the request body exceeds %d bytes", MaxBody)
			return
		}
		writeError(w, http.StatusBadRequest, "bad request body: %v", err)
		return
	}
	path, err := s.resolve(req.File)
	if err != nil {
		code := http.StatusBadRequest
		if strings.Contains(err.Error(), "no such file") {
			code = http.StatusNotFound
		}
		writeError(w, code, "%v", err)
		return
	}
	src, err := readFile(path)
	if err != nil {
		writeError(w, http.StatusNotFound, "%v", err)
		return
	}
	id, err := s.start(path, src, req.Pipeline, req.Params, runs.TriggerAPI, time.Time{})
	var ce *CompileError
	switch {
	case errors.As(err, &ce):
		writeError(w, http.StatusUnprocessableEntity, "%v", ce)
		return
	case err != nil:
		writeError(w, http.StatusInternalServerError, "%v", err)
		return
	}
	writeJSON(w, http.StatusAccepted, map[string]string{"id": id})
}

func (s *Server) list(w http.ResponseWriter, r *http.Request) {
	q := r.URL.Query()
	f := runs.Filter{File: q.Get("file"), Pipeline: q.Get("pipeline"), Status: runs.Status(q.Get("status")), Limit: 100}
	if l := q.Get("limit"); l != "" {
		n, err := strconv.Atoi(l)
		if err != nil || n < 1 {
			writeError(w, http.StatusBadRequest, "limit %q: want a positive integer", l)
			return
		}
		f.Limit = n
	}
	list, err := s.cfg.DB.Runs(r.Context(), f)
	for i := range list {
		// The list is for overviews: GET /api/runs/{id} has the rest.
		list[i].Source, list[i].Graph = "", nil
	}
	writeList(w, list, err)
}

// run resolves {id} (an id, a unique prefix or "last") and writes the
// error if it cannot.
func (s *Server) run(w http.ResponseWriter, r *http.Request) (*runs.Run, bool) {
	ref := r.PathValue("id")
	id, err := s.cfg.DB.Resolve(r.Context(), ref)
	var amb *runs.AmbiguousError
	switch {
	case errors.As(err, &amb):
		writeJSON(w, http.StatusConflict, apiError{Error: fmt.Sprintf("run %s is ambiguous", ref), Candidates: amb.Candidates})
		return nil, false
	case errors.Is(err, runs.ErrNotFound):
		writeError(w, http.StatusNotFound, "no run %s", ref)
		return nil, false
	case err != nil:
		writeError(w, http.StatusInternalServerError, "%v", err)
		return nil, false
	}
	run, err := s.cfg.DB.Run(r.Context(), id)
	if err != nil {
		writeError(w, http.StatusInternalServerError, "%v", err)
		return nil, false
	}
	return run, true
}

func (s *Server) tasks(ctx context.Context, run *runs.Run) ([]runs.Task, error) {
	recorded, err := s.cfg.DB.Tasks(ctx, run.ID)
	if err != nil {
		return nil, err
	}
	return record.Tasks(run, recorded)
}

func (s *Server) get(w http.ResponseWriter, r *http.Request) {
	run, ok := s.run(w, r)
	if !ok {
		return
	}
	tasks, err := s.tasks(r.Context(), run)
	if err != nil {
		writeError(w, http.StatusInternalServerError, "%v", err)
		return
	}
	writeJSON(w, http.StatusOK, RunInfo{Run: run, Tasks: tasks})
}

func (s *Server) logs(w http.ResponseWriter, r *http.Request) {
	run, ok := s.run(w, r)
	if !ok {
		return
	}
	var after int64
	if a := r.URL.Query().Get("after"); a != "" {
		n, err := strconv.ParseInt(a, 10, 64)
		if err != nil || n < 0 {
			writeError(w, http.StatusBadRequest, "after %q: want a log sequence number", a)
			return
		}
		after = n
	}
	lines, err := s.cfg.DB.Logs(r.Context(), run.ID, r.URL.Query().Get("node"), after)
	writeList(w, lines, err)
}

func (s *Server) cancel(w http.ResponseWriter, r *http.Request) {
	run, ok := s.run(w, r)
	if !ok {
		return
	}
	err := s.cfg.DB.RequestCancel(r.Context(), run.ID)
	switch {
	case errors.Is(err, runs.ErrDone):
		writeError(w, http.StatusConflict, "run %s has ended (%s)", run.ID, run.Status)
	case err != nil:
		writeError(w, http.StatusInternalServerError, "%v", err)
	default:
		writeJSON(w, http.StatusAccepted, map[string]string{"id": run.ID, "status": "cancel requested"})
	}
}

func (s *Server) transitions(w http.ResponseWriter, r *http.Request) {
	run, ok := s.run(w, r)
	if !ok {
		return
	}
	list, err := s.cfg.DB.Transitions(r.Context(), run.ID, r.URL.Query().Get("node"))
	writeList(w, list, err)
}

// runMetrics is GET /api/runs/{id}/metrics?name=&task=.
func (s *Server) runMetrics(w http.ResponseWriter, r *http.Request) {
	run, ok := s.run(w, r)
	if !ok {
		return
	}
	q := r.URL.Query()
	s.writeMetrics(w, r, runs.MetricFilter{RunIDs: []string{run.ID}, Name: q.Get("name"), Task: q.Get("task")})
}

// metrics is GET /api/metrics?file=&name=&task=[&format=csv]: the values
// of every run, newest run first; file is as the runs record it (absolute).
func (s *Server) metrics(w http.ResponseWriter, r *http.Request) {
	q := r.URL.Query()
	s.writeMetrics(w, r, runs.MetricFilter{File: q.Get("file"), Name: q.Get("name"), Task: q.Get("task")})
}

func (s *Server) writeMetrics(w http.ResponseWriter, r *http.Request, f runs.MetricFilter) {
	format := r.URL.Query().Get("format")
	if format != "" && format != "json" && format != "csv" {
		writeError(w, http.StatusBadRequest, "format %q: want json or csv", format)
		return
	}
	list, err := s.cfg.DB.Metrics(r.Context(), f)
	if err != nil {
		writeError(w, http.StatusInternalServerError, "%v", err)
		return
	}
	if list == nil {
		list = []runs.Metric{}
	}
	if format != "csv" {
		writeJSON(w, http.StatusOK, list)
		return
	}
	name := "metrics.csv"
	if f.Name != "" {
		name = strings.Map(func(r rune) rune {
			if r == '"' || r == '\\' || r < ' ' {
				return '_'
			}
			return r
		}, f.Name) + ".csv"
	}
	w.Header().Set("Content-Type", "text/csv; charset=utf-8")
	w.Header().Set("Content-Disposition", `attachment; filename="`+name+`"`)
	cw := csv.NewWriter(w)
	_ = cw.Write([]string{"run_id", "node", "name", "step", "value", "time"})
	for _, m := range list {
		_ = cw.Write([]string{m.RunID, m.Node, m.Name, strconv.Itoa(m.Step), strconv.FormatFloat(m.Value, 'g', -1, 64), m.Time.UTC().Format(time.RFC3339Nano)})
	}
	cw.Flush()
}

// nextFires are a schedule's next three ticks after now.
func nextFires(sc *compiler.Schedule, now time.Time) []time.Time {
	var next []time.Time
	at := now
	for range 3 {
		at = sc.Next(at)
		next = append(next, at)
	}
	return next
}

// uiSchedules is what the schedules page shows.
func (s *Server) uiSchedules() ([]webui.Schedule, map[string]string) {
	now := time.Now()
	var list []webui.Schedule
	problems := map[string]string{}
	s.mu.Lock()
	defer s.mu.Unlock()
	for _, f := range s.sortedFiles() {
		if f.err != "" {
			problems[f.key] = f.err
		}
		abs, _ := filepath.Abs(f.path)
		for _, sc := range f.scheds {
			list = append(list, webui.Schedule{File: f.key, Path: abs, Pipeline: sc.Pipeline, Spec: sc.Spec, Zone: sc.Zone, Next: nextFires(sc, now)})
		}
	}
	return list, problems
}

func (s *Server) schedules(w http.ResponseWriter, r *http.Request) {
	now := time.Now()
	out := SchedulesReport{Schedules: []ScheduleInfo{}, Errors: []FileInfo{}}
	s.mu.Lock()
	for _, f := range s.sortedFiles() {
		if f.err != "" {
			out.Errors = append(out.Errors, FileInfo{File: f.key, Error: f.err})
		}
		for _, sc := range f.scheds {
			out.Schedules = append(out.Schedules, ScheduleInfo{File: f.key, Pipeline: sc.Pipeline, Schedule: sc.Spec,
				Timezone: sc.Zone, Overlap: sc.Overlap, Catchup: sc.Catchup, Next: nextFires(sc, now)})
		}
	}
	s.mu.Unlock()
	writeJSON(w, http.StatusOK, out)
}

// events streams a run's state changes and log lines as server-sent
// events until it ends: "run" (the run, at the start and when its status or
// counts change), "task" (a task whose state changed), "log" (a line),
// "end" (the run, finished). It reads the history, so it follows a run of
// any replica.
func (s *Server) events(w http.ResponseWriter, r *http.Request) {
	run, ok := s.run(w, r)
	if !ok {
		return
	}
	flusher, ok := w.(http.Flusher)
	if !ok {
		writeError(w, http.StatusInternalServerError, "streaming is not supported")
		return
	}
	w.Header().Set("Content-Type", "text/event-stream")
	w.Header().Set("Cache-Control", "no-cache")
	w.WriteHeader(http.StatusOK)
	send := func(event string, v any) {
		b, _ := json.Marshal(v)
		fmt.Fprintf(w, "event: %s\ndata: %s\n\n", event, b)
	}
	ctx := r.Context()
	states := map[string]string{}
	var lastLog int64
	var lastRun string
	tick := time.NewTicker(200 * time.Millisecond)
	defer tick.Stop()
	for {
		cur, err := s.cfg.DB.Run(ctx, run.ID)
		if err != nil {
			send("error", apiError{Error: err.Error()})
			return
		}
		cur.Source, cur.Graph = "", nil
		if tasks, err := s.cfg.DB.Tasks(ctx, run.ID); err == nil {
			for _, t := range tasks {
				if states[t.Node] != t.State {
					states[t.Node] = t.State
					send("task", t)
				}
			}
		}
		if lines, err := s.cfg.DB.Logs(ctx, run.ID, "", lastLog); err == nil {
			for _, l := range lines {
				send("log", l)
				lastLog = l.Seq
			}
		}
		key := fmt.Sprint(cur.Status, cur.Counts)
		if cur.Status.Done() {
			send("end", cur)
			flusher.Flush()
			return
		}
		if key != lastRun {
			lastRun = key
			send("run", cur)
		}
		flusher.Flush()
		select {
		case <-ctx.Done():
			return
		case <-tick.C:
		}
	}
}
