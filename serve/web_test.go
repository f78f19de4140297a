package serve

import (
	"context"
	"encoding/json"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"github.com/ompdev/omp/runs"
)

// recordRun records a finished run of file with one task, its two state
// changes and a loss at two steps.
func recordRun(t *testing.T, db runs.Store, id, file string) {
	t.Helper()
	ctx := context.Background()
	at := time.Date(2026, 1, 2, 3, 4, 5, 0, time.UTC)
	if err := db.Create(ctx, &runs.Run{ID: id, File: file, Started: at, Params: json.RawMessage(`{}`)}); err != nil {
		t.Fatal(err)
	}
	err := db.Write(ctx, runs.Batch{RunID: id,
		Tasks: []runs.Task{{RunID: id, Node: "s1", Kind: "echo", Name: "a", State: "SUCCESS", Attempts: 1, Result: json.RawMessage(`1`)}},
		Transitions: []runs.Transition{
			{RunID: id, Node: "s1", Time: at, State: "STARTED", Attempt: 1},
			{RunID: id, Node: "s1", Time: at.Add(time.Second), State: "SUCCESS", Attempt: 1},
		},
		Metrics: []runs.Metric{
			{RunID: id, Node: "s1", Name: "loss", Value: 0.5, Step: 0, Time: at},
			{RunID: id, Node: "s1", Name: "loss", Value: 0.25, Step: 1, Time: at.Add(time.Second)},
			{RunID: id, Node: "s1", Name: "acc", Value: 0.9, Step: 1, Time: at.Add(time.Second)},
		}})
	if err != nil {
		t.Fatal(err)
	}
	if err := db.Finish(ctx, id, runs.Success, 0, at.Add(2*time.Second)); err != nil {
		t.Fatal(err)
	}
}

// TestWebEndpoints: the endpoints the pages use, and the pages beside the
// API: HTML 404 pages for pages, JSON ones for the API.
func TestWebEndpoints(t *testing.T) {
	s, _ := newTestServer(t, "")
	recordRun(t, s.cfg.DB, "abc", "/jobs/f.omp")
	h := s.Handler()
	tests := []struct {
		method, path string
		code         int
		ctype        string
		want         string // in the body
	}{
		{"GET", "/api/runs/abc/transitions", 200, "application/json", `"state": "SUCCESS"`},
		{"GET", "/api/runs/abc/transitions?node=nosuch", 200, "application/json", "[]"},
		{"GET", "/api/runs/nosuch/transitions", 404, "application/json", "no run nosuch"},
		{"GET", "/api/runs/abc/metrics?name=acc", 200, "application/json", `"value": 0.9`},
		{"GET", "/api/runs/nosuch/metrics", 404, "application/json", "no run nosuch"},
		{"GET", "/api/metrics?file=/jobs/f.omp&name=loss&format=csv", 200, "text/csv; charset=utf-8",
			"run_id,node,name,step,value,time\nabc,s1,loss,0,0.5,2026-01-02T03:04:05Z\nabc,s1,loss,1,0.25,2026-01-02T03:04:06Z\n"},
		{"GET", "/api/metrics?file=/jobs/other.omp", 200, "application/json", "[]"},
		{"GET", "/api/metrics?format=xml", 400, "application/json", `format \"xml\": want json or csv`},
		{"GET", "/", 200, "text/html; charset=utf-8", `<tr data-run="abc"`},
		{"GET", "/runs/abc", 200, "text/html; charset=utf-8", `<tr data-node="s1" data-state="SUCCESS"`},
		{"GET", "/runs/nosuch", 404, "text/html; charset=utf-8", "no run nosuch"},
		{"GET", "/metrics?file=/jobs/f.omp&name=loss", 200, "text/html; charset=utf-8", `<a id="csv"`},
		{"GET", "/schedules", 200, "text/html; charset=utf-8", `<table id="schedules"`},
		{"GET", "/nowhere", 404, "text/html; charset=utf-8", `data-page="notfound"`},
		{"GET", "/api/nowhere", 404, "application/json", "no such endpoint"},
		{"POST", "/runs/abc", 404, "application/json", "no such endpoint: POST /runs/abc"},
	}
	for _, tt := range tests {
		rec := httptest.NewRecorder()
		h.ServeHTTP(rec, httptest.NewRequest(tt.method, tt.path, nil))
		if rec.Code != tt.code || rec.Header().Get("Content-Type") != tt.ctype || !strings.Contains(rec.Body.String(), tt.want) {
			t.Errorf("%s %s: %d %q, want %d %q with %q; body:\n%s", tt.method, tt.path, rec.Code, rec.Header().Get("Content-Type"), tt.code, tt.ctype, tt.want, rec.Body)
		}
	}
}

// TestPageToken: with a token, a browser opens a page once with
// ?token=TOKEN, which becomes a cookie and leaves the address; the
// cookie then admits its pages, API calls and event streams.
func TestPageToken(t *testing.T) {
	s, _ := newTestServer(t, "tok")
	h := s.Handler()
	cookie := &http.Cookie{Name: tokenCookie, Value: "tok"}
	tests := []struct {
		path     string
		cookie   *http.Cookie
		code     int
		location string
	}{
		{"/", nil, 401, ""},
		{"/?token=nope", nil, 401, ""},
		{"/?token=tok&status=SUCCESS", nil, 303, "/?status=SUCCESS"},
		{"/", cookie, 200, ""},
		{"/api/runs", cookie, 200, ""},
		{"/", &http.Cookie{Name: tokenCookie, Value: "nope"}, 401, ""},
		{"/api/runs?token=tok", nil, 401, ""}, // the API takes a header or the cookie
		{"/healthz", nil, 200, ""},
	}
	for _, tt := range tests {
		req := httptest.NewRequest("GET", tt.path, nil)
		if tt.cookie != nil {
			req.AddCookie(tt.cookie)
		}
		rec := httptest.NewRecorder()
		h.ServeHTTP(rec, req)
		if rec.Code != tt.code || rec.Header().Get("Location") != tt.location {
			t.Errorf("GET %s (cookie %v): %d, Location %q; want %d, %q", tt.path, tt.cookie, rec.Code, rec.Header().Get("Location"), tt.code, tt.location)
		}
		if tt.code == 303 {
			c := rec.Result().Cookies()
			if len(c) != 1 || c[0].Name != tokenCookie || c[0].Value != "tok" || !c[0].HttpOnly || c[0].SameSite != http.SameSiteStrictMode {
				t.Errorf("GET %s: cookies %v, want an HttpOnly, SameSite=Strict %s", tt.path, c, tokenCookie)
			}
		}
	}
}
