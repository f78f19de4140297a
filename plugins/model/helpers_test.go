package model

import (
	"context"
	"encoding/json"
	"os"
	"path/filepath"
	"strconv"
	"sync"
	"testing"

	"github.com/ompdev/omp/plugins/sdk"
	"github.com/ompdev/omp/store"
)

// emitter records what a task reports.
type emitter struct {
	mu      sync.Mutex
	logs    []string
	metrics map[string]float64
}

func (e *emitter) Log(line string) {
	e.mu.Lock()
	defer e.mu.Unlock()
	e.logs = append(e.logs, line)
}

func (e *emitter) Metric(name string, v float64, _ int) {
	e.mu.Lock()
	defer e.mu.Unlock()
	if e.metrics == nil {
		e.metrics = map[string]float64{}
	}
	e.metrics[name] = v
}

func (e *emitter) Progress(int, int) {}

// newStore writes files into a fresh directory store and returns its path.
func newStore(t *testing.T, files map[string]string) string {
	t.Helper()
	dir := t.TempDir()
	for name, data := range files {
		p := filepath.Join(dir, filepath.FromSlash(name))
		if err := os.MkdirAll(filepath.Dir(p), 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(p, []byte(data), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	return dir
}

// task builds a task; args and kwargs are Go values encoded as JSON.
func task(dir, name, action string, args []any, kwargs map[string]any) sdk.Task {
	t := sdk.Task{Kind: "model", Name: name, Action: action, Store: dir, Attempt: 1}
	for _, a := range args {
		b, _ := json.Marshal(a)
		t.Args = append(t.Args, b)
	}
	if len(kwargs) > 0 {
		t.Kwargs = map[string]json.RawMessage{}
		for k, v := range kwargs {
			b, _ := json.Marshal(v)
			t.Kwargs[k] = b
		}
	}
	return t
}

// run runs a task and returns its result as JSON-decoded Go values, as the
// runner would see it.
func run(t *testing.T, tk sdk.Task) (any, *emitter) {
	t.Helper()
	e := &emitter{}
	res, err := Kind{}.Run(context.Background(), tk, e)
	if err != nil {
		t.Fatalf("%s.%s: %v", tk.Name, tk.Action, err)
	}
	return roundTrip(t, res), e
}

func roundTrip(t *testing.T, v any) any {
	t.Helper()
	b, err := json.Marshal(v)
	if err != nil {
		t.Fatalf("result does not encode as JSON: %v", err)
	}
	var out any
	if err := json.Unmarshal(b, &out); err != nil {
		t.Fatal(err)
	}
	return out
}

// runErr runs a task that must fail and returns its error.
func runErr(t *testing.T, tk sdk.Task) error {
	t.Helper()
	res, err := Kind{}.Run(context.Background(), tk, &emitter{})
	if err == nil {
		t.Fatalf("%s.%s succeeded with %v, want an error", tk.Name, tk.Action, res)
	}
	return err
}

// readVersion reads a stored version record.
func readVersion(t *testing.T, dir, model, v string) *version {
	t.Helper()
	data, err := os.ReadFile(filepath.Join(dir, "models", model, v+".json"))
	if err != nil {
		t.Fatal(err)
	}
	var rec version
	if err := json.Unmarshal(data, &rec); err != nil {
		t.Fatalf("version %s: %v", v, err)
	}
	return &rec
}

func floatsOf(t *testing.T, v any) []float64 {
	t.Helper()
	list, ok := v.([]any)
	if !ok {
		t.Fatalf("result %v is not a list", v)
	}
	out := make([]float64, len(list))
	for i, x := range list {
		out[i] = x.(float64)
	}
	return out
}

func near(a, b, tol float64) bool {
	d := a - b
	return d <= tol && -d <= tol
}

func openStore(t *testing.T, dir string) *store.Store {
	t.Helper()
	st, err := store.Open(t.Context(), dir)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { st.Close() })
	return st
}

func jsonNumber(f float64) json.Number { return json.Number(strconv.FormatFloat(f, 'g', -1, 64)) }

func openStoreAt(dir string) (*store.Store, error) { return store.Open(context.Background(), dir) }
