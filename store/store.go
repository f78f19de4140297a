// Package store reads and writes the named objects a pipeline refers to:
// scripts/, jobs/ (notebooks), datasets/, models/ and results/. Every kind and
// every worker goes through it, so a run's store and its broker are all that
// workers on different machines need to share.
//
// A store is a local directory or a gocloud.dev/blob bucket URL (file://,
// mem://, s3://, gs://, azblob://). The cloud drivers are not imported
// here, so that a kind that uses the store does not build their SDKs: a main
// package registers those it serves with a blank import, as it does
// database/sql drivers (cmd/omp registers s3blob, gcsblob and azureblob).
// Guarantees:
//
//   - Put is atomic: a reader sees the old object or the new one, never a
//     part of either. Local directories write a temporary file next to the
//     object and rename it into place (so the rename never crosses a device);
//     object stores replace an object in one request.
//   - Names are slash-separated and relative; CheckName rejects any name
//     that could reach outside the store. In a local directory, names are
//     resolved through os.Root: a symbolic link that leads outside the
//     directory is refused (ErrOutside) by every operation, while one that
//     stays inside works as its target does.
//   - A missing object is reported as an error that matches ErrNotFound and
//     names the object and the store.
package store

import (
	"context"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"net/url"
	"os"
	"path"
	"path/filepath"
	"regexp"
	"sort"
	"strings"
	"sync"
	"time"

	"gocloud.dev/blob"
	"gocloud.dev/blob/fileblob"
	_ "gocloud.dev/blob/memblob" // mem:// URLs
	"gocloud.dev/gcerrors"

	"github.com/ompdev/omp/internal/redact"
)

// ErrNotFound is matched (errors.Is) by the error for a missing object.
var ErrNotFound = errors.New("object not found")

// ErrOutside is matched (errors.Is) by the error for a name that a symbolic
// link in a local store leads outside its directory.
var ErrOutside = errors.New("leads outside the store")

// Object describes one stored object.
type Object struct {
	Name     string    `json:"name"`
	Size     int64     `json:"size"`
	Modified time.Time `json:"modified"`
}

// Store is an open store. Its methods are safe for concurrent use.
type Store struct {
	bucket *blob.Bucket
	loc    string // redacted
	dir    string // absolute local directory, or ""
	// root is dir as an os.Root, through which every object of a local
	// store is read and written, so that no symbolic link leads out of it.
	root *os.Root
	// sidecars: Put goes through fileblob, which writes the .attrs files.
	sidecars bool
}

// Open opens the store at loc: a directory path, or a URL with a scheme that
// gocloud.dev/blob knows. An empty loc means the current directory. A local
// directory must exist; Open does not create it, so a mistyped path is
// reported instead of silently starting an empty store.
func Open(ctx context.Context, loc string) (*Store, error) {
	if loc == "" {
		loc = "."
	}
	red := redactLoc(loc)
	if !strings.Contains(loc, "://") {
		return openDir(loc, red)
	}
	u, err := url.Parse(loc)
	if err != nil {
		return nil, fmt.Errorf("store %s: not a valid URL", red)
	}
	if u.Scheme == "file" {
		return openFileURL(u, red)
	}
	b, err := blob.OpenBucket(ctx, loc)
	if err != nil {
		return nil, fmt.Errorf("store %s: %s", red, scrub(unwrapOpen(err), loc, red))
	}
	return &Store{bucket: b, loc: red}, nil
}

func openDir(path, red string) (*Store, error) {
	abs, err := filepath.Abs(path)
	if err != nil {
		return nil, fmt.Errorf("store %s: %w", red, err)
	}
	return openLocal(abs, red, false)
}

// openFileURL opens a file:// URL as a local directory. It goes through
// fileblob like any other URL, but with two defaults changed: temporary files
// go next to the object instead of into os.TempDir (a rename from /tmp to a
// store on another file system fails, and a shared store usually is one), and
// no ".attrs" sidecar files, unless the URL asks for them with metadata=.
func openFileURL(u *url.URL, red string) (*Store, error) {
	q := u.Query()
	for k := range q {
		switch k {
		case "metadata", "no_tmp_dir":
		default:
			return nil, fmt.Errorf("store %s: unsupported query parameter %q", red, k)
		}
	}
	path := u.Path
	if u.Host == "." {
		path = "." + path
	} else if u.Host != "" && u.Host != "localhost" {
		return nil, fmt.Errorf("store %s: file URLs name a local directory; the host must be empty", red)
	}
	if path == "" {
		return nil, fmt.Errorf("store %s: no directory in URL", red)
	}
	sidecars := false
	if v, ok := q["metadata"]; ok {
		switch v[0] {
		case "":
			sidecars = true
		case "skip":
		default:
			return nil, fmt.Errorf("store %s: metadata must be empty (write .attrs sidecars) or skip", red)
		}
	}
	abs, err := filepath.Abs(filepath.FromSlash(path))
	if err != nil {
		return nil, fmt.Errorf("store %s: %w", red, err)
	}
	return openLocal(abs, red, sidecars)
}

// openLocal opens an existing directory through fileblob, with temporary
// files next to their objects and, unless sidecars, no .attrs files.
func openLocal(dir, red string, sidecars bool) (*Store, error) {
	fi, err := os.Stat(dir)
	switch {
	case errors.Is(err, os.ErrNotExist):
		return nil, fmt.Errorf("store %s: no such directory", red)
	case err != nil:
		return nil, fmt.Errorf("store %s: %w", red, err)
	case !fi.IsDir():
		return nil, fmt.Errorf("store %s: not a directory", red)
	}
	opts := &fileblob.Options{NoTempDir: true, Metadata: fileblob.MetadataDontWrite}
	if sidecars {
		opts.Metadata = fileblob.MetadataInSidecar
	}
	b, err := fileblob.OpenBucket(dir, opts)
	if err != nil {
		return nil, fmt.Errorf("store %s: %w", red, err)
	}
	root, err := os.OpenRoot(dir)
	if err != nil {
		b.Close()
		return nil, fmt.Errorf("store %s: %w", red, err)
	}
	return &Store{bucket: b, loc: red, dir: dir, root: root, sidecars: sidecars}, nil
}

// unwrapOpen drops gocloud's "open blob.Bucket: " prefixes, which say nothing
// to a user who typed --store.
func unwrapOpen(err error) string {
	msg := err.Error()
	for _, p := range []string{"open blob.Bucket: ", "blob (code=Unknown): "} {
		msg = strings.ReplaceAll(msg, p, "")
	}
	return msg
}

// scrub removes the secrets of loc from a driver's message, which may quote
// the URL verbatim.
func scrub(msg, loc, red string) string {
	return redact.Of(loc).Text(strings.ReplaceAll(msg, loc, red))
}

// redactLoc returns loc with a URL's credentials and secret-looking query
// values hidden, so it can go into logs and error messages; a directory,
// which has no secret and may have an "@" in its name, is left as it is.
func redactLoc(loc string) string {
	if !strings.Contains(loc, "://") {
		return loc
	}
	return redact.URL(loc)
}

// CheckName reports whether name is a valid object name: non-empty,
// slash-separated, relative, and without "." or ".." elements, backslashes,
// or NUL bytes.
func CheckName(name string) error {
	switch {
	case name == "":
		return errors.New("empty object name")
	case strings.ContainsRune(name, 0), strings.Contains(name, `\`),
		strings.HasPrefix(name, "/"), filepath.IsAbs(name):
		return fmt.Errorf("%q: name escapes the store", name)
	}
	for _, el := range strings.Split(name, "/") {
		switch el {
		case "..":
			return fmt.Errorf("%q: name escapes the store", name)
		case "", ".":
			return fmt.Errorf("%q: empty or \".\" element in object name", name)
		}
	}
	return nil
}

// Location returns what Open was given, with passwords and secret query
// values redacted.
func (s *Store) Location() string { return s.loc }

// Dir returns the store's local directory (absolute) when it is one, so that
// scripts and notebooks can run in place instead of being fetched.
func (s *Store) Dir() (string, bool) { return s.dir, s.dir != "" }

// Close releases the store.
func (s *Store) Close() error {
	if s.root != nil {
		s.root.Close()
	}
	return s.bucket.Close()
}

func (s *Store) notFound(name string) error {
	return &notFoundError{name: name, loc: s.loc}
}

type notFoundError struct{ name, loc string }

func (e *notFoundError) Error() string {
	return fmt.Sprintf("%s: not found in store %s", e.name, e.loc)
}

func (e *notFoundError) Is(target error) bool { return target == ErrNotFound }

// wrap turns a driver error into one that names the object.
func (s *Store) wrap(name string, err error) error {
	if gcerrors.Code(err) == gcerrors.NotFound {
		return s.notFound(name)
	}
	return fmt.Errorf("%s in store %s: %w", name, s.loc, err)
}

// Get returns the object's contents.
func (s *Store) Get(ctx context.Context, name string) ([]byte, error) {
	if err := CheckName(name); err != nil {
		return nil, err
	}
	if s.root != nil {
		r, err := s.open(name)
		if err != nil {
			return nil, err
		}
		defer r.Close()
		data, err := io.ReadAll(r)
		if err != nil {
			return nil, s.wrap(name, err)
		}
		return data, nil
	}
	data, err := s.bucket.ReadAll(ctx, name)
	if err != nil {
		return nil, s.wrap(name, err)
	}
	return data, nil
}

// Put replaces the object atomically.
func (s *Store) Put(ctx context.Context, name string, data []byte) error {
	if err := CheckName(name); err != nil {
		return err
	}
	if s.root != nil && !s.sidecars {
		return s.putLocal(name, data)
	}
	if s.root != nil {
		// fileblob writes the object and its sidecar by path: check
		// first that the object's directory stays inside the store.
		if err := s.root.MkdirAll(filepath.FromSlash(path.Dir(name)), 0o777); err != nil {
			return s.localErr(name, err)
		}
	}
	if err := s.bucket.WriteAll(ctx, name, data, nil); err != nil {
		return s.wrap(name, err)
	}
	return nil
}

// Exists reports whether the object exists.
func (s *Store) Exists(ctx context.Context, name string) (bool, error) {
	if err := CheckName(name); err != nil {
		return false, err
	}
	if s.root != nil {
		fi, err := s.root.Stat(filepath.FromSlash(name))
		switch {
		case errors.Is(err, fs.ErrNotExist):
			return false, nil
		case err != nil:
			return false, s.localErr(name, err)
		}
		return !fi.IsDir(), nil
	}
	ok, err := s.bucket.Exists(ctx, name)
	if err != nil {
		return false, s.wrap(name, err)
	}
	return ok, nil
}

// fileblobTemp matches the temporary files fileblob writes next to an object
// while a Put is in flight ("name.<unix nanos in hex>.tmp").
var fileblobTemp = regexp.MustCompile(`\.[0-9a-f]{8,}\.tmp$`)

// List returns the objects whose names start with prefix, sorted by name.
// In a local directory it skips hidden files and directories (".git",
// editor swap files) and the temporary files of Puts in flight, which are
// not objects.
func (s *Store) List(ctx context.Context, prefix string) ([]Object, error) {
	var out []Object
	it := s.bucket.List(&blob.ListOptions{Prefix: prefix})
	for {
		obj, err := it.Next(ctx)
		if err == io.EOF {
			break
		}
		if err != nil {
			return nil, fmt.Errorf("list %q in store %s: %w", prefix, s.loc, err)
		}
		if obj.IsDir {
			continue
		}
		if s.dir != "" && (hidden(obj.Key) || fileblobTemp.MatchString(obj.Key)) {
			continue
		}
		o := Object{Name: obj.Key, Size: obj.Size, Modified: obj.ModTime}
		var fi os.FileInfo
		if s.root != nil && obj.As(&fi) && fi.Mode()&fs.ModeSymlink != 0 {
			// fileblob lists a link as it is; the object is its target.
			t, err := s.root.Stat(filepath.FromSlash(obj.Key))
			if err != nil {
				return nil, s.localErr(obj.Key, err)
			}
			if t.IsDir() {
				continue
			}
			o.Size, o.Modified = t.Size(), t.ModTime()
		}
		out = append(out, o)
	}
	sort.Slice(out, func(i, j int) bool { return out[i].Name < out[j].Name })
	return out, nil
}

func hidden(key string) bool {
	for _, el := range strings.Split(key, "/") {
		if strings.HasPrefix(el, ".") {
			return true
		}
	}
	return false
}

// Fetch copies the object to the local file dst, atomically: dst is written
// under a temporary name in its directory and renamed into place. The file is
// created with mode 0644; a caller that runs it sets the executable bit.
func (s *Store) Fetch(ctx context.Context, name, dst string) (err error) {
	if err := CheckName(name); err != nil {
		return err
	}
	var r io.ReadCloser
	if s.root != nil {
		r, err = s.open(name)
	} else {
		r, err = s.bucket.NewReader(ctx, name, nil)
		if err != nil {
			err = s.wrap(name, err)
		}
	}
	if err != nil {
		return err
	}
	defer r.Close()
	f, err := os.CreateTemp(filepath.Dir(dst), "."+filepath.Base(dst)+".*")
	if err != nil {
		return fmt.Errorf("fetch %s: %w", name, err)
	}
	defer func() {
		if err != nil {
			f.Close()
			os.Remove(f.Name())
		}
	}()
	if _, err := io.Copy(f, r); err != nil {
		return fmt.Errorf("fetch %s from store %s: %w", name, s.loc, err)
	}
	if err := f.Chmod(0o644); err != nil {
		return fmt.Errorf("fetch %s: %w", name, err)
	}
	if err := f.Close(); err != nil {
		return fmt.Errorf("fetch %s: %w", name, err)
	}
	if err := os.Rename(f.Name(), dst); err != nil {
		return fmt.Errorf("fetch %s: %w", name, err)
	}
	return nil
}

// open opens an object of a local store for reading, through its root.
func (s *Store) open(name string) (*os.File, error) {
	f, err := s.root.Open(filepath.FromSlash(name))
	if err != nil {
		return nil, s.localErr(name, err)
	}
	if fi, err := f.Stat(); err == nil && fi.IsDir() {
		f.Close()
		return nil, s.notFound(name)
	}
	return f, nil
}

// putLocal writes an object of a local store as fileblob would, to a
// temporary file next to it renamed into place, but through the store's
// root: a directory of the name that is a link out of the store is refused.
// A link in the last element is replaced, not written through.
func (s *Store) putLocal(name string, data []byte) (err error) {
	file := filepath.FromSlash(name)
	if err := s.root.MkdirAll(filepath.Dir(file), 0o777); err != nil {
		return s.localErr(name, err)
	}
	tmp := fmt.Sprintf("%s.%x.tmp", file, time.Now().UnixNano())
	f, err := s.root.OpenFile(tmp, os.O_WRONLY|os.O_CREATE|os.O_EXCL, 0o666)
	if err != nil {
		return s.localErr(name, err)
	}
	defer func() {
		if err != nil {
			f.Close()
			s.root.Remove(tmp)
		}
	}()
	if _, err := f.Write(data); err != nil {
		return s.wrap(name, err)
	}
	if err := f.Close(); err != nil {
		return s.wrap(name, err)
	}
	if err := s.root.Rename(tmp, file); err != nil {
		return s.localErr(name, err)
	}
	return nil
}

// localErr words an error of the store's os.Root: a missing object, a name
// that a link leads outside the store (ErrOutside), or another failure.
func (s *Store) localErr(name string, err error) error {
	switch {
	case errors.Is(err, fs.ErrNotExist):
		return s.notFound(name)
	case isEscape(err):
		return &outsideError{name: name, loc: s.loc}
	}
	var pe *fs.PathError
	if errors.As(err, &pe) {
		err = pe.Err
	}
	return fmt.Errorf("%s in store %s: %w", name, s.loc, err)
}

type outsideError struct{ name, loc string }

func (e *outsideError) Error() string {
	return fmt.Sprintf("%s: a symbolic link leads outside store %s", e.name, e.loc)
}

func (e *outsideError) Is(target error) bool { return target == ErrOutside }

// isEscape reports whether err is os.Root's refusal of a path that leaves
// it. os does not export that error, so it is fetched once by asking a root
// for "..".
func isEscape(err error) bool {
	e := rootEscape()
	return e != nil && errors.Is(err, e)
}

var rootEscape = sync.OnceValue(func() error {
	r, err := os.OpenRoot(os.TempDir())
	if err != nil {
		return nil
	}
	defer r.Close()
	_, err = r.Stat("..")
	var pe *fs.PathError
	if errors.As(err, &pe) {
		return pe.Err
	}
	return nil
})
