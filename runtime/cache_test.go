package runtime_test

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"sync"
	"testing"

	"github.com/ompdev/omp/compiler"
	"github.com/ompdev/omp/lang"
	"github.com/ompdev/omp/plugins/builtin"
	"github.com/ompdev/omp/plugins/sdk"
	"github.com/ompdev/omp/runtime"
)

// counter is a kind that counts its executions per task name. run returns
// its argument; flaky fails until told otherwise; clock is never cached.
type counter struct {
	mu    sync.Mutex
	runs  map[string]int
	fails map[string]int // how many attempts of the task fail from now on
}

func (c *counter) Describe() sdk.KindSpec {
	return sdk.KindSpec{Name: "count", Version: "1", Actions: []sdk.ActionSpec{
		{Name: "run", MaxArgs: 1}, {Name: "clock", NoCache: true},
	}}
}

func (c *counter) Run(_ context.Context, t sdk.Task, _ sdk.Emitter) (any, error) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.runs[t.Name]++
	if c.fails[t.Name] > 0 {
		c.fails[t.Name]--
		return nil, errors.New("flaky")
	}
	var in, arg any
	_ = t.DecodeInput(&in)
	if len(t.Args) > 0 {
		_ = t.Arg(0, &arg)
	}
	return map[string]any{"name": t.Name, "arg": arg, "in": in}, nil
}

// history is a Resumed over the reports of earlier runs.
type history map[string]*runtime.TaskReport

func (h history) Result(_ context.Context, key string) (json.RawMessage, string, bool, error) {
	t, ok := h[key]
	if !ok {
		return nil, "", false, nil
	}
	if t.Name == "lost" {
		return nil, "", false, errors.New("its result is missing from the store")
	}
	return json.RawMessage(fmt.Sprintf("%q", "result of "+t.ID)), t.ResultDigest, true, nil
}

func historyOf(r *runtime.Report) history {
	h := history{}
	for _, t := range r.Tasks {
		if t.State.Succeeded() && t.CacheKey != nil {
			h[t.CacheKey.Digest] = t
		}
	}
	return h
}

func compileSrc(t *testing.T, src string, c *counter) *compiler.Graph {
	t.Helper()
	f, err := lang.Parse("c.omp", []byte(src))
	if err != nil {
		t.Fatal(err)
	}
	reg := builtin.Registry()
	reg.Add(builtin.CompilerSpec(c.Describe()))
	g, err := compiler.Compile(f, compiler.Config{Registry: reg})
	if err != nil {
		t.Fatal(err)
	}
	return g
}

// TestResume runs a pipeline, then runs it again resuming the first run:
// exactly the tasks whose key changed, or that did not succeed, or that
// opt out, run again; the others end CACHED, their results reused.
func TestResume(t *testing.T) {
	noLeaks(t)
	tests := []struct {
		name     string
		first    string
		fails    map[string]int // of the first run
		second   string
		want     string // the second run's executions
		cached   string
		notCache map[string]string
	}{
		{"unchanged", `let a = count a.run(1)
count b.run(a) -> count c.run()`, nil, `let a = count a.run(1)
count b.run(a) -> count c.run()`, "map[]", "a b c", nil},
		{"changed argument reruns what depends on it", `let a = count a.run(1)
count b.run(a) -> count c.run()
count d.run(5)`, nil, `let a = count a.run(2)
count b.run(a) -> count c.run()
count d.run(5)`, "map[a:1 b:1 c:1]", "d", nil},
		{"failed task and what follows", `count a.run(1) -> count b.run() -> count c.run()`, map[string]int{"b": 1},
			`count a.run(1) -> count b.run() -> count c.run()`, "map[b:1 c:1]", "a", nil},
		{"success on attempt 2 is cached", `count a.run(1) with retries=1 -> count b.run()`, map[string]int{"a": 1},
			`count a.run(1) with retries=1 -> count b.run()`, "map[]", "a b", nil},
		{"cache=false and never-cached actions run", `count a.run(1) -> count b.run()
count k.clock()`, nil, `sequence < count a.run(1) -> count b.run() > with cache=false
count k.clock()`, "map[a:1 b:1 k:1]", "", map[string]string{"a": "not cached: cache=false", "b": "not cached: cache=false", "k": "not cached: count.clock is never cached"}},
		{"a recorded result that cannot be read", `count lost.run(1)`, nil, `count lost.run(1)`, "map[lost:1]", "",
			map[string]string{"lost": "not cached: its result is missing from the store"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			c := &counter{runs: map[string]int{}, fails: map[string]int{}}
			for k, v := range tt.fails {
				c.fails[k] = v
			}
			bus := embedded(t, c)
			cache := &runtime.Cache{Kind: func(kind string) (string, sdk.KindSpec, bool) {
				return "v1", c.Describe(), kind == "count"
			}}
			first, err := runtime.Run(context.Background(), compileSrc(t, tt.first, c), runtime.Config{Bus: bus, Cache: cache})
			if err != nil {
				t.Fatal(err)
			}
			c.runs = map[string]int{}
			cache.Resume = historyOf(first)
			second, err := runtime.Run(context.Background(), compileSrc(t, tt.second, c), runtime.Config{Bus: bus, Cache: cache})
			if err != nil {
				t.Fatal(err)
			}
			if got := fmt.Sprint(c.runs); got != tt.want {
				t.Errorf("executions = %s, want %s", got, tt.want)
			}
			var cached string
			for _, r := range second.Tasks {
				if r.State == runtime.Cached {
					cached += " " + r.Name
				}
				if r.Kind == "count" && (r.CacheKey == nil || r.CacheKey.Digest == "") {
					t.Errorf("%s has no cache key", r.ID)
				}
				if w := tt.notCache[r.Name]; r.NotCached != w {
					t.Errorf("%s: NotCached = %q, want %q", r.Name, r.NotCached, w)
				}
			}
			if cached != "" {
				cached = cached[1:]
			}
			if cached != tt.cached {
				t.Errorf("cached = %q, want %q", cached, tt.cached)
			}
			if second.Status != runtime.Success {
				t.Errorf("status %s", second.Status)
			}
		})
	}
}

// TestDigestsOnly: with Cache.DigestsOnly the Listener hears each task end
// with its whole key, and the report keeps the key's digest only.
func TestDigestsOnly(t *testing.T) {
	noLeaks(t)
	c := &counter{runs: map[string]int{}, fails: map[string]int{}}
	bus := embedded(t, c)
	run := func(digestsOnly bool) (*runtime.Report, map[string]cachekeyHeard) {
		cache := &runtime.Cache{DigestsOnly: digestsOnly, Kind: func(kind string) (string, sdk.KindSpec, bool) {
			return "v1", c.Describe(), kind == "count"
		}}
		heard := map[string]cachekeyHeard{}
		l := runtime.ListenerFunc(func(u runtime.Update) {
			if u.Type == runtime.UpdateState && u.State.Done() && u.Task.CacheKey != nil {
				heard[u.Task.ID] = cachekeyHeard{u.Task.CacheKey.Digest, len(u.Task.CacheKey.Parts)}
			}
		})
		r, err := runtime.Run(context.Background(), compileSrc(t, `count a.run(1) -> count b.run()`, c),
			runtime.Config{Bus: bus, Cache: cache, Listener: l})
		if err != nil {
			t.Fatal(err)
		}
		return r, heard
	}
	whole, wholeHeard := run(false)
	slim, slimHeard := run(true)
	if fmt.Sprint(slimHeard) != fmt.Sprint(wholeHeard) || len(slimHeard) != 2 {
		t.Errorf("heard %v with DigestsOnly, %v without", slimHeard, wholeHeard)
	}
	for i, st := range slim.Tasks {
		wt := whole.Tasks[i]
		if st.CacheKey == nil || wt.CacheKey == nil || len(wt.CacheKey.Parts) == 0 {
			t.Fatalf("%s: no cache key", st.ID)
		}
		if st.CacheKey.Digest != wt.CacheKey.Digest || st.CacheKey.Parts != nil {
			t.Errorf("%s: key %+v with DigestsOnly, want digest %s and no parts", st.ID, st.CacheKey, wt.CacheKey.Digest)
		}
	}
}

type cachekeyHeard struct {
	digest string
	parts  int
}
