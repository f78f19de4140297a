package main

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"io"
	"os"
	"strings"
	"sync"

	"github.com/ompdev/omp/plugins/host"
	"github.com/ompdev/omp/plugins/sdk"
	"github.com/ompdev/omp/runtime"
	"github.com/ompdev/omp/runtime/cachekey"
	"github.com/ompdev/omp/store"
)

// newCache is the run's cache: keys from the kinds of h and the objects
// of the store at loc. The caller closes the store it returns.
func newCache(ctx context.Context, h *host.Host, loc string) (*runtime.Cache, *store.Store, error) {
	st, err := store.Open(ctx, loc)
	if err != nil {
		return nil, nil, err
	}
	v := &kindVersions{h: h, ctx: ctx, known: map[string]kindVersion{}}
	return &runtime.Cache{Kind: v.kind, Objects: &cachekey.StoreObjects{Store: st}}, st, nil
}

// kindVersions gives each kind's version, part of its tasks' keys: what
// its spec declares, else the digest of the executable that serves it
// (omp itself for a built-in kind, unless omp is a release), so that a new
// build of a kind makes resume run its tasks again.
type kindVersions struct {
	h     *host.Host
	ctx   context.Context
	mu    sync.Mutex
	known map[string]kindVersion
}

type kindVersion struct {
	version string
	spec    sdk.KindSpec
	ok      bool
}

func (v *kindVersions) kind(name string) (string, sdk.KindSpec, bool) {
	v.mu.Lock()
	defer v.mu.Unlock()
	if k, ok := v.known[name]; ok {
		return k.version, k.spec, k.ok
	}
	k := v.lookup(name)
	v.known[name] = k
	return k.version, k.spec, k.ok
}

func (v *kindVersions) lookup(name string) kindVersion {
	info, err := v.h.Kind(v.ctx, name)
	if err != nil || info.Error != "" {
		return kindVersion{}
	}
	k := kindVersion{spec: info.Spec, ok: true, version: info.Spec.Version}
	if k.version != "" {
		return k
	}
	exe := info.Source
	if exe == host.SourceBuiltin {
		if ver := version(); ver != "(devel)" && !strings.HasSuffix(ver, "+dirty") {
			k.version = "omp " + ver
			return k
		}
		if exe, err = os.Executable(); err != nil {
			return kindVersion{} // no version: its tasks always run
		}
	}
	d, err := fileDigest(exe)
	if err != nil {
		return kindVersion{}
	}
	k.version = d
	return k
}

func fileDigest(path string) (string, error) {
	f, err := os.Open(path)
	if err != nil {
		return "", err
	}
	defer f.Close()
	h := sha256.New()
	if _, err := io.Copy(h, f); err != nil {
		return "", fmt.Errorf("digest of %s: %w", path, err)
	}
	return "sha256:" + hex.EncodeToString(h.Sum(nil)), nil
}
