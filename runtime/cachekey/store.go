package cachekey

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"strings"
	"sync"
	"time"

	"github.com/ompdev/omp/store"
)

// StoreObjects digests the objects of a store. A pattern is an object name,
// or with a trailing "*" the object and every object whose name goes on
// with "." or "/" after it (see sdk.Read). It hashes an object's content
// once for each size and modification time, so a run whose tasks read one
// dataset reads it once.
type StoreObjects struct {
	Store *store.Store
	mu    sync.Mutex
	seen  map[stamp]string
}

// settle is how old an object's modification time must be for its stamp to
// stand for its content.
const settle = 2 * time.Second

type stamp struct {
	name string
	size int64
	mod  time.Time
}

// Digest implements Objects. Objects that match nothing have the digest of
// no objects, so a task that reads a missing object runs again once it
// appears.
func (s *StoreObjects) Digest(ctx context.Context, pattern string) (string, []string, error) {
	prefix, _ := strings.CutSuffix(pattern, "*")
	objs, err := s.Store.List(ctx, prefix)
	if err != nil {
		return "", nil, err
	}
	h := sha256.New()
	var names []string
	for _, o := range objs {
		if !Matches(pattern, o.Name) {
			continue
		}
		d, err := s.content(ctx, o)
		if err != nil {
			return "", nil, err
		}
		names = append(names, o.Name)
		h.Write([]byte(o.Name))
		h.Write([]byte{0})
		h.Write([]byte(d))
		h.Write([]byte{'\n'})
	}
	return "sha256:" + hex.EncodeToString(h.Sum(nil)), names, nil
}

func (s *StoreObjects) content(ctx context.Context, o store.Object) (string, error) {
	k := stamp{o.Name, o.Size, o.Modified}
	s.mu.Lock()
	d, ok := s.seen[k]
	s.mu.Unlock()
	if ok {
		return d, nil
	}
	data, err := s.Store.Get(ctx, o.Name)
	if err != nil {
		return "", err
	}
	d = Digest(data)
	if o.Modified.IsZero() || time.Since(o.Modified) < settle {
		// A file rewritten within a clock tick keeps its time: only a
		// settled object's stamp identifies its content.
		return d, nil
	}
	s.mu.Lock()
	if s.seen == nil {
		s.seen = map[stamp]string{}
	}
	s.seen[k] = d
	s.mu.Unlock()
	return d, nil
}

// Matches reports whether the object name matches pattern.
func Matches(pattern, name string) bool {
	prefix, star := strings.CutSuffix(pattern, "*")
	if !star || name == prefix {
		return name == prefix
	}
	rest, ok := strings.CutPrefix(name, prefix)
	return ok && (strings.HasPrefix(rest, ".") || strings.HasPrefix(rest, "/"))
}
