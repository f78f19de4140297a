package store

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
)

// backends opens every store kind that runs here: a plain directory, a
// file:// URL and memory. S3, GCS and Azure are left to gocloud's own tests.
func backends(t *testing.T) map[string]*Store {
	t.Helper()
	ctx := context.Background()
	out := map[string]*Store{}
	for name, loc := range map[string]string{
		"dir":  t.TempDir(),
		"file": "file://" + filepath.ToSlash(t.TempDir()),
		"mem":  "mem://",
	} {
		s, err := Open(ctx, loc)
		if err != nil {
			t.Fatalf("Open(%q): %v", loc, err)
		}
		t.Cleanup(func() { s.Close() })
		out[name] = s
	}
	return out
}

func TestPutGetListExists(t *testing.T) {
	ctx := context.Background()
	for name, s := range backends(t) {
		t.Run(name, func(t *testing.T) {
			objs := map[string]string{
				"datasets/b.csv":     "x,y\n1,2\n",
				"datasets/a.csv":     "x\n1\n",
				"models/m.json":      `{"type":"ridge"}`,
				"models/m/v1.json":   "{}",
				"scripts/prep.sh":    "#!/bin/sh\n",
				"results/empty-file": "",
			}
			for n, d := range objs {
				if err := s.Put(ctx, n, []byte(d)); err != nil {
					t.Fatalf("Put(%s): %v", n, err)
				}
			}
			for n, d := range objs {
				got, err := s.Get(ctx, n)
				if err != nil {
					t.Fatalf("Get(%s): %v", n, err)
				}
				if string(got) != d {
					t.Errorf("Get(%s) = %q, want %q", n, got, d)
				}
				ok, err := s.Exists(ctx, n)
				if err != nil || !ok {
					t.Errorf("Exists(%s) = %v, %v; want true", n, ok, err)
				}
			}
			if ok, err := s.Exists(ctx, "models/none.json"); err != nil || ok {
				t.Errorf("Exists(missing) = %v, %v; want false, nil", ok, err)
			}

			list, err := s.List(ctx, "models/")
			if err != nil {
				t.Fatal(err)
			}
			var names []string
			for _, o := range list {
				names = append(names, fmt.Sprintf("%s:%d", o.Name, o.Size))
				if o.Modified.IsZero() {
					t.Errorf("%s: zero Modified time", o.Name)
				}
			}
			if got, want := strings.Join(names, " "), "models/m.json:16 models/m/v1.json:2"; got != want {
				t.Errorf("List(models/) = %s, want %s", got, want)
			}
			all, err := s.List(ctx, "")
			if err != nil {
				t.Fatal(err)
			}
			if len(all) != len(objs) {
				t.Errorf("List(\"\") has %d objects, want %d: %v", len(all), len(objs), all)
			}
			for i := 1; i < len(all); i++ {
				if all[i-1].Name >= all[i].Name {
					t.Errorf("List not sorted: %q before %q", all[i-1].Name, all[i].Name)
				}
			}

			// Put replaces.
			if err := s.Put(ctx, "models/m.json", []byte("new")); err != nil {
				t.Fatal(err)
			}
			if got, _ := s.Get(ctx, "models/m.json"); string(got) != "new" {
				t.Errorf("after replace Get = %q, want %q", got, "new")
			}
		})
	}
}

func TestNotFound(t *testing.T) {
	ctx := context.Background()
	dir := t.TempDir()
	s, err := Open(ctx, dir)
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	_, err = s.Get(ctx, "datasets/nope.csv")
	if !errors.Is(err, ErrNotFound) {
		t.Fatalf("Get(missing) error %v does not match ErrNotFound", err)
	}
	if got, want := err.Error(), "datasets/nope.csv: not found in store "+dir; got != want {
		t.Errorf("error = %q, want %q", got, want)
	}
	err = s.Fetch(ctx, "jobs/nb.ipynb", filepath.Join(t.TempDir(), "nb.ipynb"))
	if !errors.Is(err, ErrNotFound) {
		t.Errorf("Fetch(missing) error %v does not match ErrNotFound", err)
	}

	m, err := Open(ctx, "mem://")
	if err != nil {
		t.Fatal(err)
	}
	defer m.Close()
	_, err = m.Get(ctx, "models/x.json")
	if got, want := fmt.Sprint(err), "models/x.json: not found in store mem://"; got != want {
		t.Errorf("mem error = %q, want %q", got, want)
	}
}

func TestCheckName(t *testing.T) {
	tests := []struct {
		name string
		err  string
	}{
		{"datasets/a.csv", ""},
		{"models/m/20260101T000000.000000000Z-ab12.json", ""},
		{"a..b", ""},
		{".hidden", ""},
		{"", "empty object name"},
		{"/etc/passwd", `"/etc/passwd": name escapes the store`},
		{"../x", `"../x": name escapes the store`},
		{"datasets/../../x", `"datasets/../../x": name escapes the store`},
		{"datasets/..", `"datasets/..": name escapes the store`},
		{`datasets\a.csv`, `"datasets\\a.csv": name escapes the store`},
		{"a\x00b", `"a\x00b": name escapes the store`},
		{"datasets//a", `"datasets//a": empty or "." element in object name`},
		{"./a", `"./a": empty or "." element in object name`},
		{"datasets/", `"datasets/": empty or "." element in object name`},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			err := CheckName(tc.name)
			got := ""
			if err != nil {
				got = err.Error()
			}
			if got != tc.err {
				t.Errorf("CheckName(%q) = %q, want %q", tc.name, got, tc.err)
			}
		})
	}
	// Every method checks, so no driver ever sees an escaping name.
	s, err := Open(context.Background(), t.TempDir())
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	ctx := context.Background()
	if err := s.Put(ctx, "../x", nil); err == nil || !strings.Contains(err.Error(), "escapes") {
		t.Errorf("Put(../x) = %v", err)
	}
	if _, err := s.Get(ctx, "/etc/passwd"); err == nil || !strings.Contains(err.Error(), "escapes") {
		t.Errorf("Get(/etc/passwd) = %v", err)
	}
	if _, err := s.Exists(ctx, "a/../../b"); err == nil {
		t.Error("Exists(a/../../b) succeeded")
	}
	if err := s.Fetch(ctx, "..", filepath.Join(t.TempDir(), "x")); err == nil {
		t.Error("Fetch(..) succeeded")
	}
}

func TestOpen(t *testing.T) {
	ctx := context.Background()
	dir := t.TempDir()
	file := filepath.Join(dir, "f")
	if err := os.WriteFile(file, nil, 0o644); err != nil {
		t.Fatal(err)
	}
	tests := []struct {
		loc, err string
	}{
		{filepath.Join(dir, "missing"), filepath.Join(dir, "missing") + ": no such directory"},
		{file, file + ": not a directory"},
		{"file://" + dir + "/missing", "file://" + dir + "/missing: no such directory"},
		{"file://host/x", "file://host/x: file URLs name a local directory; the host must be empty"},
		{"file://" + dir + "?create_dir=1", "file://" + dir + "?create_dir=1: unsupported query parameter \"create_dir\""},
		{"file://" + dir + "?metadata=all", "file://" + dir + "?metadata=all: metadata must be empty (write .attrs sidecars) or skip"},
		{"nosuch://bucket", "nosuch://bucket: no driver registered for \"nosuch\" for URL \"nosuch://bucket\"; available schemes: azblob, file, gs, mem, s3"},
		{"s3://user:hunter2@bucket?secret_access_key=hunter2&region=x&foo=1",
			"s3://user:xxxxx@bucket?secret_access_key=xxxxx&region=x&foo=1: "},
	}
	for _, tc := range tests {
		t.Run(tc.loc, func(t *testing.T) {
			s, err := Open(ctx, tc.loc)
			if err == nil {
				s.Close()
				t.Fatalf("Open(%q) succeeded", tc.loc)
			}
			got := err.Error()
			if !strings.HasPrefix(got, "store "+tc.err) {
				t.Errorf("Open error = %q, want prefix %q", got, "store "+tc.err)
			}
			if strings.Contains(got, "hunter2") {
				t.Errorf("Open error leaks a secret: %q", got)
			}
		})
	}
}

func TestLocationAndDir(t *testing.T) {
	ctx := context.Background()
	dir := t.TempDir()
	tests := []struct {
		loc, wantLoc, wantDir string
	}{
		{dir, dir, dir},
		{"file://" + dir, "file://" + dir, dir},
		{"mem://", "mem://", ""},
	}
	for _, tc := range tests {
		s, err := Open(ctx, tc.loc)
		if err != nil {
			t.Fatal(err)
		}
		if got := s.Location(); got != tc.wantLoc {
			t.Errorf("Location() = %q, want %q", got, tc.wantLoc)
		}
		d, ok := s.Dir()
		if d != tc.wantDir || ok != (tc.wantDir != "") {
			t.Errorf("%s: Dir() = %q, %v; want %q", tc.loc, d, ok, tc.wantDir)
		}
		s.Close()
	}
	// A relative directory resolves against the working directory at Open.
	s, err := Open(ctx, "")
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	wd, _ := os.Getwd()
	if d, _ := s.Dir(); d != wd {
		t.Errorf("Open(\"\").Dir() = %q, want %q", d, wd)
	}
	for loc, want := range map[string]string{
		"azblob://c?sas_token=abc&sig=def&domain=x": "azblob://c?sas_token=xxxxx&sig=xxxxx&domain=x",
		"/data/me@host/store":                       "/data/me@host/store",
	} {
		if got := redactLoc(loc); got != want {
			t.Errorf("redactLoc(%q) = %q, want %q", loc, got, want)
		}
	}
}

func TestLocalLayout(t *testing.T) {
	// A local store is a plain directory tree: objects are files at their
	// names, with no sidecar files, so scripts can run in place and users can
	// edit datasets with any tool.
	ctx := context.Background()
	dir := t.TempDir()
	s, err := Open(ctx, "file://"+dir)
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	if err := s.Put(ctx, "datasets/a.csv", []byte("x\n1\n")); err != nil {
		t.Fatal(err)
	}
	got, err := os.ReadFile(filepath.Join(dir, "datasets", "a.csv"))
	if err != nil || string(got) != "x\n1\n" {
		t.Fatalf("file on disk = %q, %v", got, err)
	}
	ents, _ := os.ReadDir(filepath.Join(dir, "datasets"))
	if len(ents) != 1 {
		t.Errorf("datasets/ holds %d entries, want only a.csv", len(ents))
	}
	// Hidden entries and in-flight temporary files are not objects.
	os.MkdirAll(filepath.Join(dir, ".git"), 0o755)
	os.WriteFile(filepath.Join(dir, ".git", "HEAD"), []byte("x"), 0o644)
	os.WriteFile(filepath.Join(dir, "datasets", "b.csv.18a2b3c4d5e6f708.tmp"), []byte("x"), 0o644)
	list, err := s.List(ctx, "")
	if err != nil {
		t.Fatal(err)
	}
	if len(list) != 1 || list[0].Name != "datasets/a.csv" {
		t.Errorf("List = %v, want only datasets/a.csv", list)
	}

	dst := filepath.Join(t.TempDir(), "copy.csv")
	if err := s.Fetch(ctx, "datasets/a.csv", dst); err != nil {
		t.Fatal(err)
	}
	if got, _ := os.ReadFile(dst); string(got) != "x\n1\n" {
		t.Errorf("fetched %q", got)
	}
}

// TestAtomicPut runs writers that replace one object with large payloads of
// a single repeated byte while readers read it: a torn object would mix
// bytes or have the wrong length.
func TestAtomicPut(t *testing.T) {
	ctx := context.Background()
	const size = 1 << 20
	for name, s := range backends(t) {
		t.Run(name, func(t *testing.T) {
			const obj = "models/m/latest.json"
			if err := s.Put(ctx, obj, bytes.Repeat([]byte{'a'}, size)); err != nil {
				t.Fatal(err)
			}
			var wg sync.WaitGroup
			errs := make(chan error, 100)
			for w := range 4 {
				wg.Go(func() {
					for i := range 10 {
						b := byte('b' + (w*10+i)%20)
						if err := s.Put(ctx, obj, bytes.Repeat([]byte{b}, size)); err != nil {
							errs <- err
							return
						}
					}
				})
			}
			for range 4 {
				wg.Go(func() {
					for range 30 {
						data, err := s.Get(ctx, obj)
						if err != nil {
							errs <- fmt.Errorf("Get during Put: %w", err)
							return
						}
						if len(data) != size {
							errs <- fmt.Errorf("torn read: %d bytes, want %d", len(data), size)
							return
						}
						if n := bytes.Count(data, data[:1]); n != size {
							errs <- fmt.Errorf("torn read: mixed contents (%d of %d bytes are %q)", n, size, data[0])
							return
						}
					}
				})
			}
			wg.Wait()
			close(errs)
			for err := range errs {
				t.Error(err)
			}
			if d, ok := s.Dir(); ok {
				// No temporary files are left behind.
				ents, _ := os.ReadDir(filepath.Join(d, "models", "m"))
				if len(ents) != 1 {
					t.Errorf("models/m holds %d entries after the writers finished, want 1", len(ents))
				}
			}
		})
	}
}

// TestSymlinks: in a local store, a name that a symbolic link leads outside
// the store's directory is refused by every operation, while a link that
// stays inside works as its target.
func TestSymlinks(t *testing.T) {
	ctx := context.Background()
	outside := t.TempDir()
	if err := os.WriteFile(filepath.Join(outside, "secret.txt"), []byte("SECRET"), 0o644); err != nil {
		t.Fatal(err)
	}
	dir := t.TempDir()
	for _, d := range []string{"scripts", "datasets"} {
		if err := os.Mkdir(filepath.Join(dir, d), 0o755); err != nil {
			t.Fatal(err)
		}
	}
	if err := os.WriteFile(filepath.Join(dir, "datasets", "real.csv"), []byte("a\n1\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	for link, target := range map[string]string{
		"scripts/etcdir":      outside,
		"datasets/passwd.csv": filepath.Join(outside, "secret.txt"),
		"datasets/up.csv":     "../../" + filepath.Base(outside) + "/secret.txt",
		"datasets/alias.csv":  "real.csv",
		"linkdir":             "datasets",
	} {
		if err := os.Symlink(target, filepath.Join(dir, filepath.FromSlash(link))); err != nil {
			t.Fatal(err)
		}
	}
	s, err := Open(ctx, dir)
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()

	outsideErr := func(name string) string {
		return name + ": a symbolic link leads outside store " + dir
	}
	tests := []struct {
		name string
		op   func() (string, error)
		want string // the result, or the error when err is set
		err  bool
	}{
		{"get through a dir link out", func() (string, error) {
			b, err := s.Get(ctx, "scripts/etcdir/secret.txt")
			return string(b), err
		}, outsideErr("scripts/etcdir/secret.txt"), true},
		{"get a file link out", func() (string, error) {
			b, err := s.Get(ctx, "datasets/passwd.csv")
			return string(b), err
		}, outsideErr("datasets/passwd.csv"), true},
		{"get a relative link out", func() (string, error) {
			b, err := s.Get(ctx, "datasets/up.csv")
			return string(b), err
		}, outsideErr("datasets/up.csv"), true},
		{"get a link inside", func() (string, error) {
			b, err := s.Get(ctx, "datasets/alias.csv")
			return string(b), err
		}, "a\n1\n", false},
		{"get through a dir link inside", func() (string, error) {
			b, err := s.Get(ctx, "linkdir/real.csv")
			return string(b), err
		}, "a\n1\n", false},
		{"put through a dir link out", func() (string, error) {
			return "", s.Put(ctx, "scripts/etcdir/x", []byte("pwned"))
		}, outsideErr("scripts/etcdir/x"), true},
		{"put under a dir link out", func() (string, error) {
			return "", s.Put(ctx, "scripts/etcdir/sub/x", []byte("pwned"))
		}, outsideErr("scripts/etcdir/sub/x"), true},
		{"put through a dir link inside", func() (string, error) {
			if err := s.Put(ctx, "linkdir/new.csv", []byte("b\n2\n")); err != nil {
				return "", err
			}
			b, err := os.ReadFile(filepath.Join(dir, "datasets", "new.csv"))
			return string(b), err
		}, "b\n2\n", false},
		{"exists through a link out", func() (string, error) {
			ok, err := s.Exists(ctx, "scripts/etcdir/secret.txt")
			return fmt.Sprint(ok), err
		}, outsideErr("scripts/etcdir/secret.txt"), true},
		{"exists through a link inside", func() (string, error) {
			ok, err := s.Exists(ctx, "linkdir/alias.csv")
			return fmt.Sprint(ok), err
		}, "true", false},
		{"fetch a link out", func() (string, error) {
			return "", s.Fetch(ctx, "datasets/passwd.csv", filepath.Join(t.TempDir(), "f"))
		}, outsideErr("datasets/passwd.csv"), true},
		{"list a link out", func() (string, error) {
			_, err := s.List(ctx, "datasets/passwd")
			return "", err
		}, outsideErr("datasets/passwd.csv"), true},
		{"list a dir link out", func() (string, error) {
			_, err := s.List(ctx, "scripts/")
			return "", err
		}, outsideErr("scripts/etcdir"), true},
		{"list a link inside", func() (string, error) {
			objs, err := s.List(ctx, "datasets/a")
			if len(objs) != 1 {
				return fmt.Sprint(objs), err
			}
			return fmt.Sprint(objs[0].Name, " ", objs[0].Size), err
		}, "datasets/alias.csv 4", false},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			got, err := tc.op()
			switch {
			case tc.err && err == nil:
				t.Fatalf("got %q, want error %q", got, tc.want)
			case tc.err && err.Error() != tc.want:
				t.Fatalf("got error %q, want %q", err, tc.want)
			case tc.err && !errors.Is(err, ErrOutside):
				t.Fatalf("error %q does not match ErrOutside", err)
			case !tc.err && err != nil:
				t.Fatal(err)
			case !tc.err && got != tc.want:
				t.Fatalf("got %q, want %q", got, tc.want)
			}
		})
	}
	// With .attrs sidecars, Put goes through fileblob, after the same check.
	side, err := Open(ctx, "file://"+filepath.ToSlash(dir)+"?metadata=")
	if err != nil {
		t.Fatal(err)
	}
	defer side.Close()
	if err := side.Put(ctx, "scripts/etcdir/x", []byte("pwned")); !errors.Is(err, ErrOutside) {
		t.Errorf("Put with sidecars through a link out: got %v, want ErrOutside", err)
	}
	if err := side.Put(ctx, "linkdir/side.csv", []byte("c\n")); err != nil {
		t.Errorf("Put with sidecars through a link inside: %v", err)
	}
	entries, err := os.ReadDir(outside)
	if err != nil {
		t.Fatal(err)
	}
	if len(entries) != 1 {
		t.Errorf("the store wrote outside its directory: %v", entries)
	}
}
