// Package cachekey computes a task's cache key: the SHA-256 digest that
// `omp run --resume` compares to decide whether a task of the resumed run can
// stand in for it.
//
// The guarantee: two tasks have the same key only if everything their
// result is known to depend on is equal: the kind and its version, the
// task's name and action, every argument and keyword argument (a let
// reference counting as the digest of the result it names), the digest of
// its input, and the content of every store object its kind declares it
// reads (sdk.ActionSpec.Reads). None of the options changes a result
// (retries, timeout and backoff change how often and how long a task may
// try, the label where it runs), so none is part of the key. What a kind
// does not declare (the clock, the network, an object it reads without
// declaring it) is not: such an action declares itself NoCache.
//
// A Key keeps its parts, each named and with its own digest, so that a
// differing key can be explained (Explain) and shown (omp why).
package cachekey

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"maps"
	"slices"
	"strconv"
	"strings"

	"github.com/ompdev/omp/compiler"
)

// Part is one thing a task's result depends on.
type Part struct {
	// Name says what the part is: "kind", "kind version", "name",
	// "action", "argument 1", "argument alpha" (a keyword argument),
	// "input", or "reads PATTERN" (see sdk.Read).
	Name string `json:"name"`
	// Value is the part in a readable form: an argument's JSON (a let
	// reference written as {"$ref": NODE, "digest": D}), the objects a
	// pattern matched; "" when longer than MaxValue.
	Value string `json:"value,omitempty"`
	// Digest is the SHA-256 of the whole value, "sha256:HEX".
	Digest string `json:"digest"`
	// Refs are the nodes whose results the part includes.
	Refs []string `json:"refs,omitempty"`
}

// Key is a task's cache key: Digest is the SHA-256 over the names and
// digests of its Parts, in order.
type Key struct {
	Digest string `json:"digest"`
	Parts  []Part `json:"parts"`
}

// none is the Value of a reads part that matched no object.
const none = "(none)"

// MaxValue is the longest Part.Value kept.
const MaxValue = 200

// Digest returns "sha256:" and the hex SHA-256 of data.
func Digest(data []byte) string {
	return digestOf(sha256.Sum256(data))
}

// digestOf formats a sum with one allocation: a key has a digest per part.
func digestOf(sum [sha256.Size]byte) string {
	var buf [len("sha256:") + 2*sha256.Size]byte
	copy(buf[:], "sha256:")
	hex.Encode(buf[len("sha256:"):], sum[:])
	return string(buf[:])
}

// Task is what a task's key is computed from.
type Task struct {
	Node *compiler.Node
	// KindVersion is the version of the task's kind: the version its
	// spec declares, else the digest of its plugin's executable, or for
	// a built-in kind omp's version.
	KindVersion string
	// Reads are the object patterns the task reads (sdk.Read.Expand).
	Reads []string
	// Result returns the digest of a node's result.
	Result func(node string) string
	// Shared, if not nil, keeps the digests of the parts that the tasks
	// of a run mostly have in common (kind, kind version, name, action, no
	// input), so that their keys hold one copy of each.
	Shared *Shared
}

// Shared remembers the digests of the values that many keys share. It is
// not safe for concurrent use. The zero value is ready.
type Shared struct{ digests map[string]string }

func (s *Shared) digest(value string) string {
	if s == nil {
		return digestOf(sha256.Sum256([]byte(value)))
	}
	d, ok := s.digests[value]
	if !ok {
		if s.digests == nil {
			s.digests = map[string]string{}
		}
		d = digestOf(sha256.Sum256([]byte(value)))
		s.digests[value] = d
	}
	return d
}

// Objects gives the content digest of the store objects a pattern names.
type Objects interface {
	// Digest returns the digest of the objects pattern names (their names
	// and contents) and their names, for people.
	Digest(ctx context.Context, pattern string) (digest string, names []string, err error)
}

// Compute returns t's key. objs may be nil when t reads nothing.
func Compute(ctx context.Context, t Task, objs Objects) (Key, error) {
	n := t.Node
	b := builder{parts: make([]Part, 0, 5+len(n.Args)+len(n.Kwargs)+len(t.Reads))}
	b.addShared("kind", n.Kind, t.Shared)
	b.addShared("kind version", t.KindVersion, t.Shared)
	b.addShared("name", n.Name, t.Shared)
	b.addShared("action", n.Action, t.Shared)
	for i, a := range n.Args {
		if err := b.value("argument "+strconv.Itoa(i+1), a, t.Result); err != nil {
			return Key{}, err
		}
	}
	if len(n.Kwargs) > 0 {
		for _, k := range slices.Sorted(maps.Keys(n.Kwargs)) {
			if err := b.value("argument "+k, n.Kwargs[k], t.Result); err != nil {
				return Key{}, err
			}
		}
	}
	if len(n.Inputs) == 1 {
		b.parts = append(b.parts, Part{Name: "input", Digest: t.Result(n.Inputs[0]), Refs: n.Inputs})
	} else {
		b.addShared("input", "none", t.Shared)
	}
	if len(t.Reads) > 0 && objs == nil {
		return Key{}, fmt.Errorf("cache key of %s: it reads %s, and there is no store to read", n.ID, strings.Join(t.Reads, ", "))
	}
	for _, r := range t.Reads {
		d, names, err := objs.Digest(ctx, r)
		if err != nil {
			return Key{}, fmt.Errorf("cache key of %s: %w", n.ID, err)
		}
		v := strings.Join(names, ", ")
		if len(names) == 0 {
			v = none
		}
		b.parts = append(b.parts, Part{Name: "reads " + r, Value: short(v), Digest: d})
	}
	return b.key(), nil
}

type builder struct{ parts []Part }

func (b *builder) add(name, value string, refs []string) {
	b.parts = append(b.parts, Part{Name: name, Value: short(value), Digest: digestOf(sha256.Sum256([]byte(value))), Refs: refs})
}

func (b *builder) addShared(name, value string, shared *Shared) {
	b.parts = append(b.parts, Part{Name: name, Value: short(value), Digest: shared.digest(value)})
}

func (b *builder) value(name string, v any, result func(string) string) error {
	var refs []string
	j, err := compiler.AppendValue(nil, v, func(out []byte, node string) ([]byte, error) {
		refs = append(refs, node)
		// Node ids and digests are plain ASCII: quoting is JSON's.
		out = strconv.AppendQuote(append(out, `{"$ref":`...), node)
		out = strconv.AppendQuote(append(out, `,"digest":`...), result(node))
		return append(out, '}'), nil
	})
	if err != nil {
		return fmt.Errorf("%s: %w", name, err)
	}
	b.add(name, string(j), refs)
	return nil
}

func (b *builder) key() Key {
	// The text hashed is built whole, in a buffer on the stack for a
	// key of a few parts: writing each piece to a hash.Hash made each
	// []byte conversion an allocation of its own.
	var buf [1024]byte
	text := buf[:0]
	for _, p := range b.parts {
		// A name never holds a newline or NUL, nor a digest: the
		// sequence reads back one way only.
		text = append(text, p.Name...)
		text = append(text, 0)
		text = append(text, p.Digest...)
		text = append(text, '\n')
	}
	return Key{Digest: digestOf(sha256.Sum256(text)), Parts: b.parts}
}

func short(s string) string {
	if len(s) > MaxValue {
		return ""
	}
	return s
}
