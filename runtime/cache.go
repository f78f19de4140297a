package runtime

import (
	"context"
	"encoding/json"
	"fmt"

	"github.com/ompdev/omp/plugins/sdk"
	"github.com/ompdev/omp/runtime/cachekey"
)

// Cache gives every task a cache key and, with Resume, reuses the results
// of the run a run resumes. The runner computes the keys, so that they are
// the same whether the workers are embedded or behind a broker.
type Cache struct {
	// Kind returns a kind's version (see cachekey.Task.KindVersion) and
	// spec; ok false for a kind it does not know, whose tasks then get no
	// key and always run.
	Kind func(kind string) (version string, spec sdk.KindSpec, ok bool)
	// Objects digests the store objects that tasks read.
	Objects cachekey.Objects
	// Resume is the run this run resumes, or nil.
	Resume Resumed
	// DigestsOnly leaves in a task's TaskReport.CacheKey only its Digest
	// once the Listener heard the task end: the Parts, most of a key's
	// memory, then live only as long as the Listener keeps them. For a
	// caller whose Listener (the run history) is the only reader of the
	// Parts; a run of 100,000 tasks holds 50 MB less.
	DigestsOnly bool
}

// Resumed is the run that a run resumes.
type Resumed interface {
	// Result returns the result, and its digest, of the resumed run's
	// task that has cache key key and succeeded. ok is false when there
	// is none; err says why a result that was recorded cannot be read.
	// Called from the run's goroutine: it should be quick.
	Result(ctx context.Context, key string) (result json.RawMessage, digest string, ok bool, err error)
}

// cached computes t's cache key, whose message m is ready, and reports
// whether t ended CACHED with the resumed run's result.
func (s *scheduler) cached(t *task, m *TaskMessage) bool {
	c := s.cfg.Cache
	if c == nil || c.Kind == nil {
		return false
	}
	version, spec, ok := c.Kind(t.n.Kind)
	if !ok {
		return false
	}
	var action sdk.ActionSpec
	for _, a := range spec.Actions {
		if a.Name == t.n.Action {
			action = a
		}
	}
	st := sdk.Task{Name: m.Name, Args: m.Args, Kwargs: m.Kwargs}
	var reads []string
	for _, r := range action.Reads {
		if obj, ok := r.Expand(st); ok {
			reads = append(reads, obj)
		}
	}
	key, err := cachekey.Compute(s.ctx, cachekey.Task{
		Node: t.n, KindVersion: version, Reads: reads,
		Result: func(id string) string { return s.byID[id].digest },
		Shared: &s.sharedDigests,
	}, c.Objects)
	if err != nil {
		t.rep.NotCached = fmt.Sprintf("no cache key: %v", err)
		return false
	}
	t.rep.CacheKey = &key
	if c.Resume == nil {
		return false
	}
	switch {
	case t.n.Opts.NoCache:
		t.rep.NotCached = "not cached: cache=false"
		return false
	case action.NoCache:
		t.rep.NotCached = fmt.Sprintf("not cached: %s.%s is never cached", t.n.Kind, t.n.Action)
		return false
	}
	res, digest, ok, err := c.Resume.Result(s.ctx, key.Digest)
	switch {
	case err != nil:
		t.rep.NotCached = "not cached: " + err.Error()
		return false
	case !ok:
		return false
	}
	t.digest = digest
	s.finish(t, Cached, res, "")
	return true
}
