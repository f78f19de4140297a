// Package serve is omp serve: it fires the schedules of the pipeline files
// it serves and runs pipelines submitted over its HTTP API, every run
// recorded in the run history.
//
// Its guarantees: each tick of each schedule is fired once across every
// server sharing a PostgreSQL run history (package schedule); a server on
// a SQLite history is the only one on it (a second is refused at start); a
// file that stops compiling keeps its last good version's schedules; a
// submitted path runs only if it resolves, symlinks followed, inside a
// served path; the API and the web pages (package webui) answer on
// loopback only unless the server has a token, which they then require;
// and on shutdown running runs get Grace to finish before they are
// cancelled, and are recorded either way.
package serve

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"time"

	"github.com/ompdev/omp/compiler"
	"github.com/ompdev/omp/internal/kinds"
	"github.com/ompdev/omp/internal/ompfiles"
	"github.com/ompdev/omp/lang"
	"github.com/ompdev/omp/plugins/host"
	"github.com/ompdev/omp/plugins/sdk"
	"github.com/ompdev/omp/runs"
	"github.com/ompdev/omp/runs/record"
	"github.com/ompdev/omp/runtime"
	"github.com/ompdev/omp/schedule"
)

// Config configures a Server. Paths, DB, Host and Bus are required.
type Config struct {
	// Paths are the served .omp files and directories.
	Paths []string
	DB    runs.Store
	// Host runs the tasks of embedded runs and describes the kinds.
	Host *host.Host
	// Bus carries the runs' tasks: embedded (Embedded set: the server
	// starts workers on it) or RabbitMQ (Broker names it, redacted).
	Bus      runtime.Bus
	Embedded bool
	Workers  int
	Broker   string
	// Store is the store the tasks see; Blobs keeps large results.
	Store string
	Blobs record.Blobs
	// Listen is the API's address; Token, if set, is required of every
	// request as "Authorization: Bearer TOKEN" and is required itself
	// when Listen is not a loopback address.
	Listen string
	Token  string
	// Grace is how long running runs may go on after shutdown begins.
	Grace time.Duration
	// Poll is how often the files are looked at for changes. Default 1s.
	Poll time.Duration
	// Version is omp's, for the record.
	Version string
	// Logger gets a record per event worth one (a file that does not
	// compile, a run that ended, a skipped tick), with the file, pipeline,
	// run and error as attributes. Default: nothing is logged.
	Logger *slog.Logger
}

// MaxBody bounds a request's body.
const MaxBody = 1 << 20

// Server is one omp serve.
type Server struct {
	cfg   Config
	roots []root
	sched *schedule.Scheduler
	name  string

	mu     sync.Mutex
	files  map[string]*servedFile // by key
	active map[string]*activeRun  // runs of this server, by id
	wg     sync.WaitGroup         // the active runs
}

// root is one served path: a directory, or a single file.
type root struct {
	path string // as given
	abs  string // symlinks resolved
	dir  bool
}

// servedFile is a file's last good version and its current problem.
type servedFile struct {
	key, path string
	mod       time.Time
	size      int64
	src       []byte // the last version that compiled; nil if none has
	scheds    []*compiler.Schedule
	err       string // why the file on disk is not served, or ""
}

type activeRun struct {
	cancel context.CancelFunc
	done   chan struct{}
}

// ErrNeedToken is New's error for a non-loopback Listen without a Token.
var ErrNeedToken = errors.New("listening on an address other than loopback needs a token: give --token or $OMP_TOKEN")

// New checks cfg and reads the served files once.
func New(cfg Config) (*Server, error) {
	if cfg.Poll <= 0 {
		cfg.Poll = time.Second
	}
	if cfg.Workers <= 0 {
		cfg.Workers = 4
	}
	if cfg.Logger == nil {
		cfg.Logger = slog.New(slog.DiscardHandler)
	}
	if cfg.DB == nil || cfg.Host == nil || cfg.Bus == nil {
		return nil, errors.New("serve: Config needs DB, Host and Bus")
	}
	if cfg.Token == "" && !IsLoopback(cfg.Listen) {
		return nil, fmt.Errorf("--listen %s: %w", cfg.Listen, ErrNeedToken)
	}
	if len(cfg.Paths) == 0 {
		cfg.Paths = []string{"."}
	}
	s := &Server{cfg: cfg, files: map[string]*servedFile{}, active: map[string]*activeRun{}}
	for _, p := range cfg.Paths {
		fi, err := os.Stat(p)
		if err != nil {
			return nil, ompfiles.ReadError(err)
		}
		abs, err := filepath.Abs(p)
		if err == nil {
			abs, err = filepath.EvalSymlinks(abs)
		}
		if err != nil {
			return nil, ompfiles.ReadError(err)
		}
		s.roots = append(s.roots, root{path: p, abs: abs, dir: fi.IsDir()})
	}
	hostName, _ := os.Hostname()
	s.name = fmt.Sprintf("%s-%d", hostName, os.Getpid())
	s.sched = schedule.New(cfg.DB, s.name, s.fire, cfg.Logger)
	if _, err := ompfiles.Expand(cfg.Paths); err != nil {
		return nil, err
	}
	s.rescan(context.Background())
	return s, nil
}

// IsLoopback reports whether a listen address stays on this machine.
func IsLoopback(addr string) bool {
	h, _, err := net.SplitHostPort(addr)
	if err != nil {
		return false
	}
	if h == "localhost" {
		return true
	}
	ip := net.ParseIP(h)
	return ip != nil && ip.IsLoopback()
}

// Serve serves until ctx is done, then shuts down: the API stops, the
// schedules stop, running runs get Grace to finish and are then
// cancelled. ready, if not nil, is called with the API's address once it
// listens.
func (s *Server) Serve(ctx context.Context, ready func(addr string)) error {
	ln, err := net.Listen("tcp", s.cfg.Listen)
	if err != nil {
		return fmt.Errorf("--listen %s: %w", s.cfg.Listen, err)
	}
	stopWorkers := func() {}
	if s.cfg.Embedded {
		if stopWorkers, err = runtime.StartEmbedded(s.cfg.Bus, s.cfg.Host, s.cfg.Workers); err != nil {
			ln.Close()
			return err
		}
	}
	defer stopWorkers()

	schedCtx, stopSched := context.WithCancel(context.Background())
	s.sched.Start(schedCtx)
	watchDone := make(chan struct{})
	go func() {
		defer close(watchDone)
		t := time.NewTicker(s.cfg.Poll)
		defer t.Stop()
		for {
			select {
			case <-schedCtx.Done():
				return
			case <-t.C:
				s.rescan(schedCtx)
			}
		}
	}()
	srv := &http.Server{Handler: s.Handler(), ReadHeaderTimeout: 10 * time.Second}
	errc := make(chan error, 1)
	go func() { errc <- srv.Serve(ln) }()
	if ready != nil {
		ready(ln.Addr().String())
	}
	select {
	case <-ctx.Done():
	case err = <-errc:
	}
	s.cfg.Logger.Info("shutting down", "grace", s.cfg.Grace.String())
	sctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	_ = srv.Shutdown(sctx)
	cancel()
	stopSched()
	s.sched.Wait()
	<-watchDone
	s.drain()
	return err
}

// drain waits Grace for the active runs, then cancels them and waits for
// them to be recorded.
func (s *Server) drain() {
	done := make(chan struct{})
	go func() { s.wg.Wait(); close(done) }()
	select {
	case <-done:
		return
	case <-time.After(s.cfg.Grace):
	}
	s.mu.Lock()
	for id, r := range s.active {
		s.cfg.Logger.Warn("run cancelled: the grace period ended", "run", id)
		r.cancel()
	}
	s.mu.Unlock()
	<-done
}

// rescan reads every served file that changed, and gives the scheduler
// the schedules of the files' last good versions.
func (s *Server) rescan(ctx context.Context) {
	paths, err := ompfiles.Expand(s.cfg.Paths)
	if err != nil {
		s.cfg.Logger.Error("cannot list the served files", "error", err)
	}
	seen := map[string]bool{}
	var entries []schedule.Entry
	for _, p := range paths {
		key := s.key(p)
		seen[key] = true
		s.mu.Lock()
		f := s.files[key]
		s.mu.Unlock()
		fi, err := os.Stat(p)
		if err != nil {
			continue
		}
		if f == nil || !fi.ModTime().Equal(f.mod) || fi.Size() != f.size {
			f = s.load(ctx, key, p, f, fi)
			s.mu.Lock()
			s.files[key] = f
			s.mu.Unlock()
		}
		for _, sc := range f.scheds {
			entries = append(entries, schedule.Entry{File: key, Schedule: sc})
		}
	}
	s.mu.Lock()
	for k := range s.files {
		if !seen[k] {
			// A removed file's schedules stop: removing it was meant.
			delete(s.files, k)
		}
	}
	s.mu.Unlock()
	s.sched.Set(entries)
}

// load reads a file anew; a version that does not compile is reported and
// the previous good one stays.
func (s *Server) load(ctx context.Context, key, path string, prev *servedFile, fi os.FileInfo) *servedFile {
	f := &servedFile{key: key, path: path, mod: fi.ModTime(), size: fi.Size()}
	if prev != nil {
		f.src, f.scheds = prev.src, prev.scheds
	}
	src, err := os.ReadFile(path)
	if err != nil {
		f.err = ompfiles.ReadError(err).Error()
		s.cfg.Logger.Error("cannot read file", "file", path, "error", f.err)
		return f
	}
	scheds, err := s.check(ctx, path, src)
	if err != nil {
		f.err = oneLine(err)
		if prev != nil && prev.src != nil {
			s.cfg.Logger.Error("file no longer compiles: its previous version keeps its schedules", "file", path, "error", f.err)
		} else {
			s.cfg.Logger.Error("file does not compile", "file", path, "error", f.err)
		}
		return f
	}
	f.src, f.scheds = src, scheds
	if prev != nil {
		s.cfg.Logger.Info("file re-read", "file", path, "schedules", len(scheds))
	}
	return f
}

// check compiles every block of a file and returns its schedules.
func (s *Server) check(ctx context.Context, path string, src []byte) ([]*compiler.Schedule, error) {
	f, err := lang.Parse(path, src)
	if err != nil {
		return nil, err
	}
	reg := kinds.New(ctx, s.cfg.Host)
	if err := compiler.Check(f, compiler.Config{Registry: reg}); err != nil {
		if rerr := reg.Err(); rerr != nil {
			return nil, rerr
		}
		return nil, err
	}
	return compiler.Schedules(f)
}

func oneLine(err error) string {
	var list lang.ErrorList
	if errors.As(err, &list) {
		msgs := make([]string, len(list))
		for i, e := range list {
			msgs[i] = e.Error()
		}
		return strings.Join(msgs, "; ")
	}
	return strings.ReplaceAll(err.Error(), "\n", "; ")
}

// key names a file alike on every replica serving the same paths: its path
// relative to the served directory, or as given for a served file.
func (s *Server) key(path string) string {
	abs, _ := filepath.Abs(path)
	for _, r := range s.roots {
		if !r.dir {
			continue
		}
		ra, _ := filepath.Abs(r.path)
		if rel, err := filepath.Rel(ra, abs); err == nil && !strings.HasPrefix(rel, "..") {
			return filepath.ToSlash(rel)
		}
	}
	return filepath.ToSlash(filepath.Clean(path))
}

// resolve turns a submitted path into a served file's path: relative, no
// "..", and once symlinks are resolved inside a served path.
func (s *Server) resolve(p string) (string, error) {
	if p == "" {
		return "", errors.New("no file given")
	}
	if filepath.IsAbs(p) || strings.HasPrefix(p, "/") {
		return "", fmt.Errorf("file %q: give a path relative to a served path, not an absolute one", p)
	}
	clean := filepath.Clean(filepath.FromSlash(p))
	if slices.Contains(strings.Split(filepath.ToSlash(p), "/"), "..") {
		return "", fmt.Errorf("file %q: a path with .. is not served", p)
	}
	for _, r := range s.roots {
		var cand string
		if r.dir {
			cand = filepath.Join(r.path, clean)
		} else if clean == filepath.Clean(r.path) || clean == filepath.Base(r.path) {
			cand = r.path
		} else {
			continue
		}
		real, err := filepath.EvalSymlinks(cand)
		if err != nil {
			continue
		}
		real, _ = filepath.Abs(real)
		if real == r.abs || r.dir && strings.HasPrefix(real, r.abs+string(filepath.Separator)) {
			if fi, err := os.Stat(real); err != nil || fi.IsDir() {
				continue
			}
			return cand, nil
		}
		return "", fmt.Errorf("file %q: it leads outside the served paths", p)
	}
	return "", fmt.Errorf("file %q: no such file in the served paths", p)
}

// fire runs a claimed tick: the file's last good version, params' defaults.
func (s *Server) fire(ctx context.Context, e schedule.Entry, tick time.Time) (string, error) {
	s.mu.Lock()
	f := s.files[e.File]
	s.mu.Unlock()
	if f == nil || f.src == nil {
		return "", fmt.Errorf("the file is no longer served")
	}
	return s.start(f.path, f.src, e.Schedule.Pipeline, nil, runs.TriggerSchedule, tick)
}

// CompileError is start's error for a file that does not compile.
type CompileError struct{ Err error }

func (e *CompileError) Error() string { return oneLine(e.Err) }

// start compiles and starts a run, recorded, and returns its id once its
// row exists.
func (s *Server) start(path string, src []byte, pipeline string, params map[string]string, trigger string, tick time.Time) (string, error) {
	ctx := context.Background()
	f, err := lang.Parse(path, src)
	if err != nil {
		return "", &CompileError{err}
	}
	reg := kinds.New(ctx, s.cfg.Host)
	g, err := compiler.Compile(f, compiler.Config{Registry: reg, Params: params, Pipeline: pipeline})
	if err != nil {
		if rerr := reg.Err(); rerr != nil {
			return "", rerr
		}
		return "", &CompileError{err}
	}
	var graph bytes.Buffer
	if err := g.WriteJSON(&graph); err != nil {
		return "", err
	}
	pj, err := json.Marshal(g.Params)
	if err != nil {
		return "", err
	}
	abs, _ := filepath.Abs(path)
	hostName, _ := os.Hostname()
	id := runtime.NewRunID()
	runCtx, cancel := context.WithCancel(ctx)
	rec, err := record.Start(ctx, record.Config{
		Store: s.cfg.DB,
		Run: runs.Run{ID: id, File: abs, Source: string(src), Pipeline: g.Pipeline, Params: pj,
			Graph: bytes.TrimSpace(graph.Bytes()), Broker: s.cfg.Broker, Host: hostName, User: record.UserName(),
			Version: s.cfg.Version, Trigger: trigger, Tick: tick},
		Graph:  g,
		Blobs:  s.cfg.Blobs,
		Cancel: cancel,
		Logf: func(format string, args ...any) {
			s.cfg.Logger.Error("cannot record the run", "run", id, "error", fmt.Sprintf(format, args...))
		},
	})
	if err != nil {
		cancel()
		return "", fmt.Errorf("recording run %s: %w", id, err)
	}
	// The recorder writes the row off the caller's path; the id goes out
	// only once it exists, for the client follows it at once.
	if err := rec.Created(ctx); err != nil {
		cancel()
		_ = rec.Close(runs.Failure, 3)
		return "", fmt.Errorf("recording run %s: %w", id, err)
	}
	a := &activeRun{cancel: cancel, done: make(chan struct{})}
	s.mu.Lock()
	s.active[id] = a
	s.mu.Unlock()
	s.wg.Add(1)
	go func() {
		defer s.wg.Done()
		defer close(a.done)
		defer cancel()
		r, runErr := runtime.Run(runCtx, g, runtime.Config{Bus: s.cfg.Bus, Store: s.cfg.Store, RunID: id, Listener: rec})
		status, code := outcome(r, runErr)
		_ = rec.Close(status, code)
		s.mu.Lock()
		delete(s.active, id)
		s.mu.Unlock()
		attrs := []any{"run", id, "file", path, "pipeline", g.Pipeline, "trigger", trigger}
		if trigger == runs.TriggerSchedule {
			attrs = append(attrs, "tick", tick.UTC().Format(time.RFC3339))
		}
		s.cfg.Logger.Info("run ended", append(attrs, "status", status, "exit_code", code)...)
	}()
	return id, nil
}

// outcome is a run's status and exit status, as omp run's.
func outcome(r *runtime.Report, runErr error) (runs.Status, int) {
	switch {
	case r == nil || runErr != nil && sdk.IsInfra(runErr):
		return runs.Failure, 3
	case runErr != nil:
		return runs.Failure, 1
	case r.Status == runtime.Cancelled:
		return runs.Cancelled, 130
	case r.Status != runtime.Success:
		return runs.Failure, 1
	}
	return runs.Success, 0
}

func readFile(path string) ([]byte, error) {
	src, err := os.ReadFile(path)
	if err != nil {
		return nil, ompfiles.ReadError(err)
	}
	return src, nil
}

// sortedFiles are the served files by key; s.mu is held.
func (s *Server) sortedFiles() []*servedFile {
	out := make([]*servedFile, 0, len(s.files))
	for _, f := range s.files {
		out = append(out, f)
	}
	slices.SortFunc(out, func(a, b *servedFile) int { return strings.Compare(a.key, b.key) })
	return out
}
