package cachekey

import (
	"fmt"
	"strings"
)

// Explain says, in words, the first part in which key differs from old,
// the key of the task of the resumed run with the same node id: "argument
// 1: \"X\" → \"X2\"", "scripts/prep changed (sha256 1f2e… → 9a0b…)", "input
// changed: s3 ran again". ranAgain reports whether a node of this run ran
// rather than being cached. It returns "" when the keys are equal.
func Explain(old, key Key, ranAgain func(node string) bool) string {
	if old.Digest == key.Digest {
		return ""
	}
	before := make(map[string]Part, len(old.Parts))
	for _, p := range old.Parts {
		before[p.Name] = p
	}
	for _, p := range key.Parts {
		o, ok := before[p.Name]
		if ok && o.Digest == p.Digest {
			continue
		}
		if !ok {
			return p.Name + ": new, " + show(p)
		}
		return differs(o, p, ranAgain)
	}
	now := make(map[string]bool, len(key.Parts))
	for _, p := range key.Parts {
		now[p.Name] = true
	}
	for _, p := range old.Parts {
		if !now[p.Name] {
			return p.Name + ": gone, was " + show(p)
		}
	}
	// Equal parts with different digests: a key of another omp version.
	return fmt.Sprintf("key changed (%s → %s)", Short(old.Digest), Short(key.Digest))
}

func differs(o, p Part, ranAgain func(string) bool) string {
	for _, r := range p.Refs {
		if ranAgain(r) {
			if p.Name == "input" {
				return "input changed: " + r + " ran again"
			}
			return p.Name + " changed: " + r + " ran again"
		}
	}
	if obj, ok := strings.CutPrefix(p.Name, "reads "); ok {
		switch {
		case o.Value == none:
			return obj + " appeared"
		case p.Value == none:
			return obj + " is gone"
		case p.Value != "" && p.Value == o.Value && !strings.Contains(p.Value, ", "):
			obj = p.Value // the one object the pattern matched
		}
		return fmt.Sprintf("%s changed (sha256 %s → %s)", obj, Short(o.Digest), Short(p.Digest))
	}
	if p.Name == "input" {
		return fmt.Sprintf("input changed (sha256 %s → %s)", Short(o.Digest), Short(p.Digest))
	}
	return p.Name + ": " + show(o) + " → " + show(p)
}

// show is a part's value, or its digest when the value is too long to keep.
func show(p Part) string {
	if p.Value == "" && p.Digest != Digest(nil) {
		return "sha256 " + Short(p.Digest)
	}
	return p.Value
}

// Short is a digest's first 4 hex digits and an ellipsis, for people.
func Short(d string) string {
	d = strings.TrimPrefix(d, "sha256:")
	if len(d) > 4 {
		return d[:4] + "…"
	}
	return d
}

// Prior is what the resumed run recorded of the task with a node's id.
type Prior struct {
	// Found: the resumed run had a task with the node's id.
	Found bool
	// State is its state: SUCCESS, CACHED, FAILURE, CANCELLED, PENDING…
	State string
	// Key is its cache key, or nil if it had none.
	Key *Key
}

// Reason says why a task ran on resume rather than being cached: "new
// task", "not cached: the resumed run's task failed", notCached (why a task
// that could have been cached was not: "not cached: cache=false"), or the
// first part of its key that differs from the resumed task's (Explain).
// key is the task's key, nil if it has none.
func Reason(p Prior, key *Key, notCached string, ranAgain func(node string) bool) string {
	switch {
	case !p.Found:
		return "new task"
	case p.State == "FAILURE":
		return "not cached: the resumed run's task failed"
	case p.State == "CANCELLED":
		return "not cached: the resumed run's task was cancelled"
	case p.State != "SUCCESS" && p.State != "CACHED":
		return "not cached: the resumed run's task never finished"
	case notCached != "":
		return notCached
	case key == nil:
		return "not cached: it has no cache key"
	case p.Key == nil:
		return "not cached: the resumed run recorded no cache key for it"
	}
	if why := Explain(*p.Key, *key, ranAgain); why != "" {
		return why
	}
	return "not cached: its key matched but its result could not be reused"
}
