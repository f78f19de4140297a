package main

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"path/filepath"

	"github.com/ompdev/omp/compiler"
	"github.com/ompdev/omp/plugins/host"
	"github.com/ompdev/omp/runs"
	"github.com/ompdev/omp/runs/record"
	"github.com/ompdev/omp/runtime"
	"github.com/ompdev/omp/runtime/cachekey"
	"github.com/ompdev/omp/store"
)

// resumed is the recorded run that a run resumes. It is the run's
// runtime.Resumed: a task whose key a task of it that succeeded has, is
// that task's result.
type resumed struct {
	run    *runs.Run
	byNode map[string]runs.Task
	byKey  map[string]runs.Task // the tasks that succeeded, by cache key
	blobs  *store.Store         // where results over 1 MiB are; may be nil
}

// findResumed reads the run that --resume or --resume-from names, or
// returns nil when there is none to resume: no flag, or --resume and no
// recorded run of the file and pipeline (a warning says so).
func findResumed(ctx context.Context, s *streams, db runs.Store, opts runOptions, g *compiler.Graph, blobs *store.Store) (*resumed, error) {
	if !opts.resume && opts.resumeFrom == "" {
		return nil, nil
	}
	file, err := filepath.Abs(opts.file)
	if err != nil {
		return nil, withCode(ExitUsage, err)
	}
	id := ""
	if opts.resumeFrom != "" {
		if id, err = resolveRun(ctx, db, opts.resumeFrom); err != nil {
			return nil, err
		}
	} else {
		last, err := db.Runs(ctx, runs.Filter{File: file, Pipeline: g.Pipeline, Limit: 1})
		if err != nil {
			return nil, withCode(ExitInfra, err)
		}
		if len(last) == 0 || last[0].Pipeline != g.Pipeline {
			fmt.Fprintf(s.err, "omp: warning: --resume: no recorded run of %s%s: running every task\n", opts.file, pipelineSuffix(g.Pipeline))
			return nil, nil
		}
		id = last[0].ID
	}
	r, tasks, err := readRun(ctx, db, id)
	if err != nil {
		return nil, err
	}
	if r.File != file {
		return nil, withCode(ExitUsage, fmt.Errorf("--resume-from %s: run %s is of %s, not %s", opts.resumeFrom, r.ID, r.File, file))
	}
	res := &resumed{run: r, byNode: map[string]runs.Task{}, byKey: map[string]runs.Task{}, blobs: blobs}
	for _, t := range tasks {
		res.byNode[t.Node] = t
		if succeeded(t.State) && t.CacheKey != "" {
			res.byKey[t.CacheKey] = t
		}
	}
	return res, nil
}

func pipelineSuffix(p string) string {
	if p == "" {
		return ""
	}
	return " (pipeline " + p + ")"
}

func succeeded(state string) bool {
	return state == string(runtime.Success) || state == string(runtime.Cached)
}

// Result implements runtime.Resumed.
func (r *resumed) Result(ctx context.Context, key string) (json.RawMessage, string, bool, error) {
	t, ok := r.byKey[key]
	if !ok {
		return nil, "", false, nil
	}
	var blobs interface {
		Get(ctx context.Context, name string) ([]byte, error)
	}
	if r.blobs != nil {
		blobs = r.blobs
	}
	res, err := record.Result(ctx, t, blobs)
	if err != nil {
		return nil, "", false, fmt.Errorf("the result of %s of run %s is missing from the store (%s)", t.Node, r.run.ID, t.ResultRef)
	}
	digest := t.ResultDigest
	if digest == "" {
		digest = cachekey.Digest(res)
	}
	return res, digest, true, nil
}

// prior is what the resumed run recorded of node.
func (r *resumed) prior(node string) cachekey.Prior {
	t, ok := r.byNode[node]
	if !ok {
		return cachekey.Prior{}
	}
	return cachekey.Prior{Found: true, State: t.State, Key: keyOf(t)}
}

// keyOf is a recorded task's cache key, or nil.
func keyOf(t runs.Task) *cachekey.Key {
	if t.CacheKey == "" {
		return nil
	}
	k := &cachekey.Key{Digest: t.CacheKey}
	_ = json.Unmarshal(t.CacheParts, &k.Parts) // no parts: Explain names the digests
	return k
}

// taskTitle is how an explanation names a task: "script prep", "model m.fit".
func taskTitle(kind, name, action string) string {
	s := kind + " " + name
	if action != "" && action != "run" {
		s += "." + action
	}
	return s
}

// ranAgain reports whether a node of a run ran rather than being cached: a
// task that did not end CACHED, or a reduce node one of whose inputs ran
// again (the runner computes every reduce node anew).
func ranAgain(g *compiler.Graph, state func(node string) string) func(string) bool {
	memo := map[string]bool{}
	var f func(string) bool
	f = func(id string) bool {
		if v, ok := memo[id]; ok {
			return v
		}
		memo[id] = false
		n := g.Node(id)
		v := false
		if n != nil && n.Op == compiler.OpReduce {
			for _, in := range n.Inputs {
				v = v || f(in)
			}
		} else {
			v = state(id) != string(runtime.Cached)
		}
		memo[id] = v
		return v
	}
	return f
}

// explain writes, for each task of r that ran although it might have been
// reused, why: one line each, in graph order.
func explain(w io.Writer, res *resumed, g *compiler.Graph, r *runtime.Report) {
	states := make(map[string]string, len(r.Tasks))
	for _, t := range r.Tasks {
		states[t.ID] = string(t.State)
	}
	again := ranAgain(g, func(id string) string { return states[id] })
	for _, t := range r.Tasks {
		if t.Kind == "reduce" || t.State == runtime.Cached || t.Attempts == 0 {
			continue
		}
		fmt.Fprintf(w, "%s %s: %s\n", t.ID, taskTitle(t.Kind, t.Name, t.Action),
			cachekey.Reason(res.prior(t.ID), t.CacheKey, t.NotCached, again))
	}
}

func checkResumeFlags(opts runOptions) error {
	switch {
	case opts.resume && opts.resumeFrom != "":
		return withCode(ExitUsage, errors.New("--resume and --resume-from: give one"))
	case opts.explain && !opts.resume && opts.resumeFrom == "":
		return withCode(ExitUsage, errors.New("--explain says why tasks ran on --resume or --resume-from: give one"))
	case (opts.resume || opts.resumeFrom != "") && opts.noRecord:
		return withCode(ExitUsage, errors.New("--resume reads the run history and records the run: it cannot go with --no-record"))
	}
	return nil
}

// openCache gives the run its cache keys and, with --resume or
// --resume-from, the run it resumes (nil: none). The caller calls close
// when the run is over. The keys are for the run history (omp why, a later
// --resume) and the --json document: a run that keeps neither gets no
// cache, and does not digest each task and each object its tasks read.
func openCache(ctx context.Context, s *streams, h *host.Host, rec *recording, opts runOptions, g *compiler.Graph, loc string) (*runtime.Cache, *resumed, func(), error) {
	if opts.noRecord && !opts.json {
		return nil, nil, func() {}, nil
	}
	cache, st, err := newCache(ctx, h, loc)
	if err != nil {
		return nil, nil, nil, withCode(ExitInfra, err)
	}
	res, err := findResumed(ctx, s, rec.db, opts, g, st)
	if err != nil {
		st.Close()
		return nil, nil, nil, err
	}
	if res != nil {
		cache.Resume = res
		rec.resumedFrom = res.run.ID
	}
	// Only --json and --explain read the keys' parts from the report;
	// the run history has them from its listener.
	cache.DigestsOnly = !opts.json && !opts.explain
	return cache, res, func() { st.Close() }, nil
}
