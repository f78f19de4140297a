package main

import (
	"context"
	"crypto/sha256"
	"debug/elf"
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
	if id := goBuildID(exe); id != "" {
		k.version = "go-build:" + id
		return k
	}
	d, err := fileDigest(exe)
	if err != nil {
		return kindVersion{}
	}
	k.version = d
	return k
}

// goBuildID returns the build ID that the go command wrote into an ELF
// executable it built, "" for any other file. Its last part hashes the
// executable's content, as fileDigest does, but it is read from a note at
// the start of the file: hashing omp's own 90 MB took every run of a
// development build 80 ms of CPU before its first task could start.
func goBuildID(path string) string {
	f, err := elf.Open(path)
	if err != nil {
		return ""
	}
	defer f.Close()
	s := f.Section(".note.go.buildid")
	if s == nil || s.Size > 1<<10 {
		return ""
	}
	note, err := s.Data()
	if err != nil || len(note) < 16 {
		return ""
	}
	// An ELF note: name size, descriptor size, type 4, the name "Go\0\0",
	// and the descriptor, the build ID.
	nameSize, descSize, typ := f.ByteOrder.Uint32(note), f.ByteOrder.Uint32(note[4:]), f.ByteOrder.Uint32(note[8:])
	if nameSize != 4 || typ != 4 || string(note[12:16]) != "Go\x00\x00" || uint64(descSize) > uint64(len(note)-16) {
		return ""
	}
	id := string(note[16 : 16+descSize])
	if strings.Count(id, "/") < 1 || strings.ContainsAny(id, "\x00\n\"") {
		return ""
	}
	return id
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
