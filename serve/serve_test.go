package serve

import (
	"context"
	"encoding/json"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/ompdev/omp/internal/logtest"
	"github.com/ompdev/omp/plugins/builtin"
	"github.com/ompdev/omp/plugins/host"
	"github.com/ompdev/omp/runs"
	"github.com/ompdev/omp/runtime"
)

func TestIsLoopback(t *testing.T) {
	for addr, want := range map[string]bool{
		"127.0.0.1:8080": true, "localhost:1": true, "[::1]:80": true, "127.1.2.3:0": true,
		"0.0.0.0:8080": false, ":8080": false, "10.0.0.1:80": false, "example.com:80": false, "nonsense": false,
	} {
		if got := IsLoopback(addr); got != want {
			t.Errorf("IsLoopback(%q) = %v, want %v", addr, got, want)
		}
	}
}

// testConfig serves paths on a real SQLite history in dbDir, with the
// built-in kinds and an embedded bus.
func testConfig(t *testing.T, dbDir string, paths ...string) Config {
	t.Helper()
	db, err := runs.Open(context.Background(), "sqlite:"+filepath.Join(dbDir, "omp.db"))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { db.Close() })
	h, err := host.New(host.Config{Builtins: builtin.Kinds()})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { h.Close() })
	return Config{Paths: paths, DB: db, Host: h, Bus: runtime.NewEmbeddedBus(runtime.EmbeddedConfig{}), Listen: "127.0.0.1:0"}
}

// newTestServer serves a directory with ok.omp, sub/b.omp, a symlink out
// of it and one within, on a real SQLite history; no run is started.
func newTestServer(t *testing.T, token string) (*Server, string) {
	t.Helper()
	base := t.TempDir()
	dir := filepath.Join(base, "jobs")
	for name, src := range map[string]string{
		"jobs/ok.omp":    "echo a()\n",
		"jobs/sub/b.omp": "echo b()\n",
		"outside.omp":    "echo secret()\n",
	} {
		p := filepath.Join(base, name)
		if err := os.MkdirAll(filepath.Dir(p), 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(p, []byte(src), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	if err := os.Symlink(filepath.Join(base, "outside.omp"), filepath.Join(dir, "out.omp")); err != nil {
		t.Fatal(err)
	}
	if err := os.Symlink(filepath.Join(dir, "sub", "b.omp"), filepath.Join(dir, "in.omp")); err != nil {
		t.Fatal(err)
	}
	cfg := testConfig(t, base, dir)
	cfg.Token = token
	s, err := New(cfg)
	if err != nil {
		t.Fatal(err)
	}
	return s, dir
}

// TestResolve: a submitted path runs only if it stays inside a served path.
func TestResolve(t *testing.T) {
	s, dir := newTestServer(t, "")
	tests := []struct {
		path, want, err string
	}{
		{"ok.omp", filepath.Join(dir, "ok.omp"), ""},
		{"sub/b.omp", filepath.Join(dir, "sub", "b.omp"), ""},
		{"./sub/../ok.omp", "", "a path with .. is not served"},
		{"in.omp", filepath.Join(dir, "in.omp"), ""},
		{"../outside.omp", "", "a path with .. is not served"},
		{"out.omp", "", "it leads outside the served paths"},
		{filepath.Join(dir, "ok.omp"), "", "not an absolute one"},
		{"missing.omp", "", "no such file in the served paths"},
		{"sub", "", "no such file in the served paths"},
		{"", "", "no file given"},
	}
	for _, tt := range tests {
		got, err := s.resolve(tt.path)
		if tt.err != "" {
			if err == nil || !strings.Contains(err.Error(), tt.err) {
				t.Errorf("resolve(%q) = %q, %v; want an error with %q", tt.path, got, err, tt.err)
			}
			continue
		}
		if err != nil || got != tt.want {
			t.Errorf("resolve(%q) = %q, %v; want %q", tt.path, got, err, tt.want)
		}
	}
}

// TestAPIErrors: every error is JSON with a message and its status code.
func TestAPIErrors(t *testing.T) {
	s, _ := newTestServer(t, "tok")
	h := s.Handler()
	big := `{"file": "` + strings.Repeat("x", MaxBody) + `"}`
	tests := []struct {
		method, path, body, token string
		code                      int
		msg                       string
	}{
		{"GET", "/api/runs", "", "", 401, "a valid token is required"},
		{"GET", "/api/runs", "", "nope", 401, "a valid token is required"},
		{"GET", "/healthz", "", "", 200, ""},
		{"GET", "/api/runs", "", "tok", 200, ""},
		{"GET", "/api/schedules", "", "tok", 200, ""},
		{"GET", "/api/runs/nosuch", "", "tok", 404, "no run nosuch"},
		{"GET", "/api/runs/nosuch/logs", "", "tok", 404, "no run nosuch"},
		{"GET", "/api/runs/nosuch/events", "", "tok", 404, "no run nosuch"},
		{"POST", "/api/runs/nosuch/cancel", "", "tok", 404, "no run nosuch"},
		{"GET", "/api/runs?limit=x", "", "tok", 400, `limit "x"`},
		{"POST", "/api/runs", `{"file": "../outside.omp"}`, "tok", 400, "a path with .. is not served"},
		{"POST", "/api/runs", `{"file": "missing.omp"}`, "tok", 404, "no such file"},
		{"POST", "/api/runs", `{"fiel": "ok.omp"}`, "tok", 400, "unknown field"},
		{"POST", "/api/runs", `not json`, "tok", 400, "bad request body"},
		{"POST", "/api/runs", big, "tok", 413, "exceeds"},
		{"GET", "/api/nowhere", "", "tok", 404, "no such endpoint"},
		{"POST", "/nowhere", "", "tok", 404, "no such endpoint"},
	}
	for _, tt := range tests {
		req := httptest.NewRequest(tt.method, tt.path, strings.NewReader(tt.body))
		if tt.token != "" {
			req.Header.Set("Authorization", "Bearer "+tt.token)
		}
		rec := httptest.NewRecorder()
		h.ServeHTTP(rec, req)
		if rec.Code != tt.code {
			t.Errorf("%s %s: %d, want %d: %s", tt.method, tt.path, rec.Code, tt.code, rec.Body)
			continue
		}
		if ct := rec.Header().Get("Content-Type"); ct != "application/json" {
			t.Errorf("%s %s: Content-Type %q", tt.method, tt.path, ct)
		}
		if tt.msg == "" {
			continue
		}
		var e apiError
		if err := json.Unmarshal(rec.Body.Bytes(), &e); err != nil || !strings.Contains(e.Error, tt.msg) {
			t.Errorf("%s %s: body %s, want JSON with an error containing %q", tt.method, tt.path, rec.Body, tt.msg)
		}
	}
}

// TestNeedToken: a server on another address than loopback needs a token.
func TestNeedToken(t *testing.T) {
	s, _ := newTestServer(t, "")
	cfg := s.cfg
	cfg.Listen = "0.0.0.0:0"
	_, err := New(cfg)
	if err == nil || !strings.Contains(err.Error(), "needs a token") {
		t.Errorf("New on 0.0.0.0 without a token: %v", err)
	}
}

// TestLoadLogs: a file that does not compile, is fixed, and breaks again
// gives a record each time, with the file and the compiler's error as
// attributes.
func TestLoadLogs(t *testing.T) {
	dir := t.TempDir()
	p := filepath.Join(dir, "f.omp")
	broken := "pipeline p with schedule=\"@every 1h\" {\n  ehco a()\n}\n"
	good := "pipeline p with schedule=\"@every 1h\" {\n  echo a()\n}\n"
	write := func(src string) {
		t.Helper()
		if err := os.WriteFile(p, []byte(src), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	write(broken)
	cfg := testConfig(t, dir, dir)
	logs, log := logtest.New()
	cfg.Logger = log
	s, err := New(cfg)
	if err != nil {
		t.Fatal(err)
	}
	for _, step := range []struct {
		src, msg string
		attrs    []any
	}{
		{"", "file does not compile", nil}, // New read it
		{good, "file re-read", []any{"schedules", 1}},
		{broken + "\n", "file no longer compiles: its previous version keeps its schedules", nil},
	} {
		if step.src != "" {
			write(step.src)
			s.rescan(context.Background())
		}
		recs := logs.Find(step.msg, append([]any{"file", p}, step.attrs...)...)
		if len(recs) != 1 {
			t.Fatalf("%d %q records for %s, want 1; the log:\n%s", len(recs), step.msg, p, logs.Dump())
		}
		if e := recs[0].Attr("error"); step.attrs == nil && !strings.Contains(e, "f.omp:2:3: unknown kind ehco") {
			t.Errorf("%q: error = %q, want the compiler's error with its position", step.msg, e)
		}
	}
}
