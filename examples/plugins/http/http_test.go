package main

import (
	"context"
	"encoding/json"
	"io"
	"net/http"
	"net/http/httptest"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/ompdev/omp/internal/testbin"
	"github.com/ompdev/omp/plugins/host"
	"github.com/ompdev/omp/plugins/sdk"
	"github.com/ompdev/omp/plugins/sdk/sdktest"
)

// TestHTTPKind builds omp-kind-http, finds it through OMP_PLUGIN_PATH as omp
// does, and sends real requests through the plugin host to a server on
// loopback.
func TestHTTPKind(t *testing.T) {
	dir := t.TempDir()
	if err := testbin.Build(testbin.Target{Pkg: ".", Out: filepath.Join(dir, "omp-kind-http")}); err != nil {
		t.Fatal(err)
	}
	t.Setenv("OMP_PLUGIN_PATH", dir)

	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		switch r.URL.Path {
		case "/items":
			w.Header().Set("Content-Type", "application/json")
			if r.Method == http.MethodPost {
				body, _ := io.ReadAll(r.Body)
				w.WriteHeader(http.StatusCreated)
				io.WriteString(w, `{"method":"POST","type":"`+r.Header.Get("Content-Type")+`","got":`+string(body)+`}`)
				return
			}
			io.WriteString(w, `{"items":[1,2,3]}`)
		case "/text":
			w.Header().Set("X-Served-By", "omp-test")
			io.WriteString(w, "plain words")
		case "/broken":
			http.Error(w, "down", http.StatusInternalServerError)
		default:
			http.NotFound(w, r)
		}
	}))
	defer srv.Close()

	h, err := host.New(host.Config{})
	if err != nil {
		t.Fatal(err)
	}
	defer h.Close()
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()

	kinds, err := h.Kinds(ctx)
	if err != nil {
		t.Fatal(err)
	}
	var found bool
	for _, k := range kinds {
		if k.Spec.Name == "http" {
			found = true
			if k.Source != filepath.Join(dir, "omp-kind-http") {
				t.Errorf("http kind source = %s, want the built executable", k.Source)
			}
		}
	}
	if !found {
		t.Fatalf("the http kind is not among %v", kinds)
	}

	tests := []struct {
		name      string
		action    string
		args      []string
		input     string
		want      string // status and body, as JSON
		header    [2]string
		err       string
		permanent bool
	}{
		{name: "get json", action: "get", args: []string{`"` + srv.URL + `/items"`},
			want: `{"body":{"items":[1,2,3]},"status":200}`, header: [2]string{"Content-Type", "application/json"}},
		{name: "get text", action: "get", args: []string{`"` + srv.URL + `/text"`},
			want: `{"body":"plain words","status":200}`, header: [2]string{"X-Served-By", "omp-test"}},
		{name: "post body", action: "post", args: []string{`"` + srv.URL + `/items"`, `{"a":[1,"x"]}`},
			want: `{"body":{"got":{"a":[1,"x"]},"method":"POST","type":"application/json"},"status":201}`},
		{name: "post input", action: "post", args: []string{`"` + srv.URL + `/items"`}, input: `[4,5]`,
			want: `{"body":{"got":[4,5],"method":"POST","type":"application/json"},"status":201}`},
		{name: "not found", action: "get", args: []string{`"` + srv.URL + `/nope"`},
			err: "GET " + srv.URL + "/nope: 404 Not Found", permanent: true},
		{name: "server error", action: "get", args: []string{`"` + srv.URL + `/broken"`},
			err: "GET " + srv.URL + "/broken: 500 Internal Server Error"},
		{name: "url not a string", action: "get", args: []string{`42`},
			err: "http api: argument 1: json: cannot unmarshal number into Go value of type string", permanent: true},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			task := sdk.Task{RunID: "r", TaskID: tc.name, Attempt: 1, Kind: "http", Name: "api", Action: tc.action}
			for _, a := range tc.args {
				task.Args = append(task.Args, json.RawMessage(a))
			}
			if tc.input != "" {
				task.Input = json.RawMessage(tc.input)
			}
			var l sdktest.Recorder
			res, err := h.Run(ctx, task, &l)
			if tc.err != "" {
				if err == nil || !strings.Contains(err.Error(), tc.err) {
					t.Fatalf("error = %v, want %q", err, tc.err)
				}
				if sdk.IsPermanent(err) != tc.permanent {
					t.Errorf("permanent = %v, want %v", sdk.IsPermanent(err), tc.permanent)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			var got struct {
				Status  int               `json:"status"`
				Headers map[string]string `json:"headers"`
				Body    json.RawMessage   `json:"body"`
			}
			if err := json.Unmarshal(res, &got); err != nil {
				t.Fatalf("result %s: %v", res, err)
			}
			var body any
			_ = json.Unmarshal(got.Body, &body)
			b, _ := json.Marshal(map[string]any{"status": got.Status, "body": body})
			if string(b) != tc.want {
				t.Errorf("result = %s, want %s", b, tc.want)
			}
			if k := tc.header[0]; k != "" && got.Headers[k] != tc.header[1] {
				t.Errorf("header %s = %q, want %q (headers %v)", k, got.Headers[k], tc.header[1], got.Headers)
			}
			if lines := l.Logs(); len(lines) != 1 || !strings.HasPrefix(lines[0], strings.ToUpper(tc.action)+" "+srv.URL) {
				t.Errorf("logs = %q, want one line about the request", lines)
			}
		})
	}
}
