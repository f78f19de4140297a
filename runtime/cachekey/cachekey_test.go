package cachekey_test

import (
	"context"
	"os"
	"path/filepath"
	"reflect"
	"strings"
	"testing"

	"github.com/ompdev/omp/compiler"
	"github.com/ompdev/omp/runtime/cachekey"
	"github.com/ompdev/omp/store"
)

func write(t *testing.T, dir, name, data string) {
	t.Helper()
	p := filepath.Join(dir, filepath.FromSlash(name))
	if err := os.MkdirAll(filepath.Dir(p), 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(p, []byte(data), 0o644); err != nil {
		t.Fatal(err)
	}
}

// env is a store and the results of the nodes s1 and s2. Its keys share
// digests, as the keys of one run do, so that a change must show through
// what is shared.
type env struct {
	dir     string
	objs    *cachekey.StoreObjects
	results map[string]string
	shared  cachekey.Shared
}

func newEnv(t *testing.T) *env {
	dir := t.TempDir()
	write(t, dir, "scripts/prep.py", "print(1)")
	write(t, dir, "scripts/prepare", "other")
	write(t, dir, "datasets/train.csv", "a\n1\n")
	st, err := store.Open(context.Background(), dir)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { st.Close() })
	return &env{dir: dir, objs: &cachekey.StoreObjects{Store: st},
		results: map[string]string{"s1": cachekey.Digest([]byte("1")), "s2": cachekey.Digest([]byte(`"a"`))}}
}

func (e *env) key(t *testing.T, n *compiler.Node, version string, reads ...string) cachekey.Key {
	t.Helper()
	k, err := cachekey.Compute(context.Background(), cachekey.Task{
		Node: n, KindVersion: version, Reads: reads,
		Result: func(id string) string { return e.results[id] },
		Shared: &e.shared,
	}, e.objs)
	if err != nil {
		t.Fatal(err)
	}
	return k
}

func task() *compiler.Node {
	return &compiler.Node{ID: "s3", Op: compiler.OpTask, Kind: "script", Name: "prep", Action: "run",
		Args:   compiler.Values{"X", compiler.Ref{Node: "s1"}},
		Kwargs: compiler.ValueMap{"k": int64(2)},
		Inputs: []string{"s2"}, Label: "default",
		Opts: compiler.Options{Retries: 1}}
}

// Each change of what a result depends on changes the key, and Explain
// names it; what cannot change a result (options, label) does not.
func TestKeyAndExplain(t *testing.T) {
	tests := []struct {
		name    string
		change  func(t *testing.T, e *env, n *compiler.Node) string // returns the kind version
		ranAgan string
		want    string // "" : same key
	}{
		{"nothing", func(*testing.T, *env, *compiler.Node) string { return "v1" }, "", ""},
		{"options and label", func(_ *testing.T, _ *env, n *compiler.Node) string {
			n.Opts = compiler.Options{Retries: 5, Timeout: 7, Backoff: 3}
			n.Label = "gpu"
			return "v1"
		}, "", ""},
		{"argument", func(_ *testing.T, _ *env, n *compiler.Node) string { n.Args[0] = "X2"; return "v1" }, "",
			`argument 1: "X" → "X2"`},
		{"kwarg", func(_ *testing.T, _ *env, n *compiler.Node) string { n.Kwargs["k"] = int64(3); return "v1" }, "",
			`argument k: 2 → 3`},
		{"new argument", func(_ *testing.T, _ *env, n *compiler.Node) string { n.Args = append(n.Args, true); return "v1" }, "",
			`argument 3: new, true`},
		{"kind version", func(*testing.T, *env, *compiler.Node) string { return "v2" }, "", "kind version: v1 → v2"},
		{"referenced result", func(_ *testing.T, e *env, _ *compiler.Node) string {
			e.results["s1"] = cachekey.Digest([]byte("2"))
			return "v1"
		}, "s1", "argument 2 changed: s1 ran again"},
		{"input", func(_ *testing.T, e *env, _ *compiler.Node) string {
			e.results["s2"] = cachekey.Digest([]byte(`"b"`))
			return "v1"
		}, "s2", "input changed: s2 ran again"},
		{"script", func(t *testing.T, e *env, _ *compiler.Node) string {
			write(t, e.dir, "scripts/prep.py", "print(2)")
			return "v1"
		}, "", "scripts/prep.py changed (sha256 "},
		{"an object of another name", func(t *testing.T, e *env, _ *compiler.Node) string {
			write(t, e.dir, "scripts/prepare", "changed")
			return "v1"
		}, "", ""},
		{"dataset", func(t *testing.T, e *env, _ *compiler.Node) string {
			write(t, e.dir, "datasets/train.csv", "a\n2\n")
			return "v1"
		}, "", "datasets/train.csv changed (sha256 "},
		{"object appears", func(t *testing.T, e *env, _ *compiler.Node) string {
			write(t, e.dir, "scripts/prep/lib.py", "x")
			return "v1"
		}, "", "scripts/prep* changed (sha256 "},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			e := newEnv(t)
			reads := []string{"scripts/prep*", "datasets/train.csv", "models/m.json"}
			old := e.key(t, task(), "v1", reads...)
			n := task()
			v := tt.change(t, e, n)
			k := e.key(t, n, v, reads...)
			got := cachekey.Explain(old, k, func(id string) bool { return id == tt.ranAgan })
			if (k.Digest == old.Digest) != (tt.want == "") {
				t.Fatalf("key changed: %v, want a change: %v (%s)", k.Digest != old.Digest, tt.want != "", got)
			}
			if !strings.HasPrefix(got, tt.want) || (tt.want == "") != (got == "") {
				t.Errorf("Explain = %q, want %q", got, tt.want)
			}
		})
	}
}

// Shared digests change a key's memory, never the key.
func TestSharedDigests(t *testing.T) {
	noInput := task()
	noInput.Inputs = nil
	tests := []struct {
		name string
		node *compiler.Node
	}{
		{"with an input", task()},
		{"without an input", noInput},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			e := newEnv(t)
			for i := range 2 { // the second time from what the first kept
				k := e.key(t, tt.node, "v1", "datasets/train.csv")
				alone, err := cachekey.Compute(context.Background(), cachekey.Task{
					Node: tt.node, KindVersion: "v1", Reads: []string{"datasets/train.csv"},
					Result: func(id string) string { return e.results[id] },
				}, e.objs)
				if err != nil {
					t.Fatal(err)
				}
				if !reflect.DeepEqual(k, alone) {
					t.Fatalf("key %d with shared digests\n%+v\nwithout\n%+v", i+1, k, alone)
				}
			}
		})
	}
}

func TestMissingObjectAppears(t *testing.T) {
	e := newEnv(t)
	old := e.key(t, task(), "v1", "models/m.json")
	write(t, e.dir, "models/m.json", "{}")
	k := e.key(t, task(), "v1", "models/m.json")
	if got := cachekey.Explain(old, k, func(string) bool { return false }); got != "models/m.json appeared" {
		t.Errorf("Explain = %q", got)
	}
	if got := cachekey.Explain(k, old, func(string) bool { return false }); got != "models/m.json is gone" {
		t.Errorf("Explain = %q", got)
	}
}

func TestMatches(t *testing.T) {
	for _, tt := range []struct {
		pattern, name string
		want          bool
	}{
		{"scripts/prep*", "scripts/prep", true},
		{"scripts/prep*", "scripts/prep.py", true},
		{"scripts/prep*", "scripts/prep/main.py", true},
		{"scripts/prep*", "scripts/prepare", false},
		{"scripts/prep", "scripts/prep.py", false},
		{"scripts/prep", "scripts/prep", true},
	} {
		if got := cachekey.Matches(tt.pattern, tt.name); got != tt.want {
			t.Errorf("Matches(%q, %q) = %v", tt.pattern, tt.name, got)
		}
	}
}

func TestReason(t *testing.T) {
	e := newEnv(t)
	k := e.key(t, task(), "v1")
	k2 := e.key(t, task(), "v2")
	never := func(string) bool { return false }
	for _, tt := range []struct {
		prior     cachekey.Prior
		key       *cachekey.Key
		notCached string
		want      string
	}{
		{cachekey.Prior{}, &k, "", "new task"},
		{cachekey.Prior{Found: true, State: "FAILURE", Key: &k}, &k, "", "not cached: the resumed run's task failed"},
		{cachekey.Prior{Found: true, State: "CANCELLED"}, &k, "", "not cached: the resumed run's task was cancelled"},
		{cachekey.Prior{Found: true, State: "PENDING"}, &k, "", "not cached: the resumed run's task never finished"},
		{cachekey.Prior{Found: true, State: "SUCCESS", Key: &k}, &k, "not cached: cache=false", "not cached: cache=false"},
		{cachekey.Prior{Found: true, State: "CACHED", Key: &k}, &k2, "", "kind version: v1 → v2"},
		{cachekey.Prior{Found: true, State: "SUCCESS"}, &k, "", "not cached: the resumed run recorded no cache key for it"},
		{cachekey.Prior{Found: true, State: "SUCCESS", Key: &k}, nil, "", "not cached: it has no cache key"},
	} {
		if got := cachekey.Reason(tt.prior, tt.key, tt.notCached, never); got != tt.want {
			t.Errorf("Reason(%+v) = %q, want %q", tt.prior, got, tt.want)
		}
	}
}
