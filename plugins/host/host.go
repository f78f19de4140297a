// Package host starts task kinds as go-plugin processes and runs tasks on
// them. The runtime and the CLI use it; kinds never see it.
//
// Guarantees:
//   - One plugin process per Host and kind, started on first use and reused by
//     every task after it; concurrent Runs share it (gRPC multiplexes them).
//   - A plugin that exits or crashes while one task runs on it fails that
//     task with an *ExitError ("plugin echo exited: exit status 2: panic:
//     boom") and is started afresh for the next task. When several tasks ran
//     on it, which of them crashed it is unknown: each is run again, within
//     the same Run call, alone on a fresh process of its own. The one that
//     crashes that process too fails with its own ExitError; the others
//     get their results, and a log line saying why they ran twice.
//   - A Run's context reaches the kind: cancelling it cancels the task in
//     the plugin process.
//   - No plugin outlives its Host: Close kills them all, and each is started
//     with Pdeathsig so the kernel kills it should omp die without Close.
//     Each plugin leads a process group of its own, killed whole when the
//     plugin fails to start, exits or is stopped, so that nothing it started
//     lingers or holds omp up.
//   - A plugin that cannot be started within Config.StartTimeout is reported
//     as an error for which sdk.IsInfra is true; the CLI exits 3 for those.
//   - A third-party kind's name is its executable's name (omp-kind-NAME), so
//     using or describing one kind starts that kind's plugin and no other.
package host

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"log/slog"
	"os"
	"os/exec"
	"path/filepath"
	"sort"
	"strings"
	"sync"
	"time"

	"github.com/hashicorp/go-hclog"
	"github.com/hashicorp/go-plugin"
	"github.com/hashicorp/go-plugin/runner"
	"google.golang.org/grpc"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"

	"github.com/ompdev/omp/plugins/internal/wire"
	"github.com/ompdev/omp/plugins/sdk"
)

// ExecPrefix starts the name of every third-party kind's executable:
// omp-kind-NAME serves the kind NAME.
const ExecPrefix = "omp-kind-"

// Config configures a Host. The zero value is ready to use.
type Config struct {
	// PluginPath are the directories searched, in order, for omp-kind-NAME
	// executables. Nil means DefaultPluginPath().
	PluginPath []string
	// Builtins are the kinds that Self serves, by name (cmd/omp gives
	// plugins/builtin's); they are described without starting a process.
	// Nil means none: every kind is then a plugin on PluginPath. They are
	// given rather than imported so that a program that hosts plugins does
	// not build every kind and its dependencies.
	Builtins map[string]sdk.Kind
	// Self is the command that serves the built-in kinds: Self[0] is the
	// executable and the rest its arguments, to which the kind's name is
	// appended. Nil means the running executable with "plugin-serve"; a
	// single element gets "plugin-serve" too.
	Self []string
	// Store is given to tasks whose Task.Store is empty.
	Store string
	// Logger receives go-plugin's own errors, with the kind as an
	// attribute; nil discards them. What explains a failure is in the
	// returned error.
	Logger *slog.Logger
	// Warnings receives the host's warnings to the user (a plugin that a
	// built-in kind hides), one line each; nil discards them.
	Warnings io.Writer
	// StartTimeout bounds a plugin's start and handshake; 0 means
	// $OMP_PLUGIN_START_TIMEOUT, else DefaultStartTimeout.
	StartTimeout time.Duration
}

// DefaultStartTimeout is how long a plugin may take to start and complete
// its handshake: a plugin takes milliseconds, so one that takes this long
// hangs.
const DefaultStartTimeout = 10 * time.Second

// StartTimeoutEnv names the environment variable that overrides
// DefaultStartTimeout, as a Go duration ("30s").
const StartTimeoutEnv = "OMP_PLUGIN_START_TIMEOUT"

// DefaultPluginPath is $OMP_PLUGIN_PATH (colon-separated) followed by
// ./plugins/bin.
func DefaultPluginPath() []string {
	var dirs []string
	for _, d := range filepath.SplitList(os.Getenv("OMP_PLUGIN_PATH")) {
		if d != "" {
			dirs = append(dirs, d)
		}
	}
	return append(dirs, filepath.Join("plugins", "bin"))
}

// KindInfo is a kind and where it comes from.
type KindInfo struct {
	// Spec is what the kind describes; of a kind that is unavailable, only
	// the name, which its file name gives.
	Spec sdk.KindSpec `json:"spec"`
	// Source is "builtin" or the path of the plugin's executable.
	Source string `json:"source"`
	// Error is why the kind is unavailable: its plugin could not be
	// started or described. Empty for a kind that can run.
	Error string `json:"error,omitempty"`
}

// SourceBuiltin is the Source of the kinds the omp binary serves.
const SourceBuiltin = "builtin"

// Host runs tasks on plugin processes. Its methods are safe for concurrent
// use.
type Host struct {
	cfg Config

	mu      sync.Mutex
	kinds   map[string]*kind // by name
	aliases map[string]*kind // by alias, once described
	alone   map[*proc]bool   // the processes that run one task each
	closed  bool
}

// kind is one kind and its plugin process, if started.
type kind struct {
	name   string
	source string
	argv   []string
	h      *Host

	mu   sync.Mutex // held while starting or describing
	spec *sdk.KindSpec
	proc *proc
}

// New returns a host for the built-in kinds and the omp-kind-* executables
// on cfg.PluginPath. It starts nothing: plugins start when first used.
func New(cfg Config) (*Host, error) {
	if cfg.PluginPath == nil {
		cfg.PluginPath = DefaultPluginPath()
	}
	switch len(cfg.Self) {
	case 0:
		exe, err := os.Executable()
		if err != nil {
			return nil, fmt.Errorf("plugin host: finding omp's own executable: %w", err)
		}
		cfg.Self = []string{exe, "plugin-serve"}
	case 1:
		cfg.Self = []string{cfg.Self[0], "plugin-serve"}
	}
	if cfg.StartTimeout == 0 {
		cfg.StartTimeout = DefaultStartTimeout
		if v := os.Getenv(StartTimeoutEnv); v != "" {
			d, err := time.ParseDuration(v)
			if err != nil || d <= 0 {
				return nil, fmt.Errorf("$%s: %q is not a duration such as 30s", StartTimeoutEnv, v)
			}
			cfg.StartTimeout = d
		}
	}
	if cfg.Logger == nil {
		cfg.Logger = slog.New(slog.DiscardHandler)
	}
	if cfg.Warnings == nil {
		cfg.Warnings = io.Discard
	}
	h := &Host{cfg: cfg, kinds: map[string]*kind{}, aliases: map[string]*kind{}, alone: map[*proc]bool{}}
	for name, k := range cfg.Builtins {
		spec := k.Describe()
		argv := append(append([]string(nil), cfg.Self...), name)
		kd := &kind{name: name, source: SourceBuiltin, argv: argv, h: h, spec: &spec}
		h.kinds[name] = kd
		for _, a := range spec.Aliases {
			h.aliases[a] = kd
		}
	}
	for _, dir := range cfg.PluginPath {
		entries, err := os.ReadDir(dir)
		if err != nil {
			if errors.Is(err, fs.ErrNotExist) {
				continue
			}
			return nil, fmt.Errorf("plugin path: %w", err)
		}
		for _, ent := range entries {
			name, ok := strings.CutPrefix(ent.Name(), ExecPrefix)
			if !ok || name == "" || ent.IsDir() {
				continue
			}
			path, err := filepath.Abs(filepath.Join(dir, ent.Name()))
			if err != nil {
				return nil, err
			}
			if fi, err := os.Stat(path); err != nil || fi.IsDir() || fi.Mode()&0o111 == 0 {
				continue
			}
			if k, ok := h.aliases[name]; ok {
				fmt.Fprintf(cfg.Warnings, "omp: warning: ignoring plugin %s: %s is another name for the built-in kind %s, which is used\n", path, name, k.name)
				continue
			}
			if k, taken := h.kinds[name]; taken {
				// Earlier directories, and the built-in kinds, win. A
				// directory before another is how PATH works too; a
				// plugin that a built-in kind hides is a surprise.
				if k.source == SourceBuiltin {
					fmt.Fprintf(cfg.Warnings, "omp: warning: ignoring plugin %s: %s is a built-in kind, and the built-in one is used\n", path, name)
				}
				continue
			}
			h.kinds[name] = &kind{name: name, source: path, argv: []string{path}, h: h}
		}
	}
	return h, nil
}

// Kinds returns every kind, sorted by name. Built-in kinds are described
// without starting a process; the third-party kinds' plugins are started
// and asked at once, each within the start timeout, and kept running for
// the tasks that follow. A plugin that cannot be started or described is
// listed with its Error set, and err joins those errors (sdk.IsInfra), so that
// one broken plugin neither hides the others nor holds them up.
func (h *Host) Kinds(ctx context.Context) ([]KindInfo, error) {
	h.mu.Lock()
	all := make([]*kind, 0, len(h.kinds))
	for _, k := range h.kinds {
		all = append(all, k)
	}
	h.mu.Unlock()
	sort.Slice(all, func(i, j int) bool { return all[i].name < all[j].name })

	infos := make([]KindInfo, len(all))
	errs := make([]error, len(all))
	var wg sync.WaitGroup
	for i, k := range all {
		wg.Go(func() { infos[i], errs[i] = k.info(ctx) })
	}
	wg.Wait()
	return infos, errors.Join(errs...)
}

// Kind returns the kind called name, or aliased so, described: a built-in
// kind without starting anything, a third-party kind by starting its plugin
// (and no other, unless name is none of their file names: then it may be
// an alias, which only describing them all tells). An unknown name gives an
// *UnknownKindError; a plugin that cannot start or be described, an error
// for which sdk.IsInfra is true.
func (h *Host) Kind(ctx context.Context, name string) (KindInfo, error) {
	k, err := h.lookup(ctx, name)
	if err != nil {
		return KindInfo{}, err
	}
	return k.info(ctx)
}

// Names lists the kinds and aliases known without starting a plugin: the
// built-in ones, the file names of the plugins, and the aliases of those
// described so far. It is meant for "did you mean" hints.
func (h *Host) Names() []string {
	h.mu.Lock()
	defer h.mu.Unlock()
	names := make([]string, 0, len(h.kinds)+len(h.aliases))
	for n := range h.kinds {
		names = append(names, n)
	}
	for n := range h.aliases {
		names = append(names, n)
	}
	sort.Strings(names)
	return names
}

// info describes k as a KindInfo, with the error that kept it from being
// described.
func (k *kind) info(ctx context.Context) (KindInfo, error) {
	spec, err := k.describe(ctx)
	if err != nil {
		// "could not start: …": the kind's name is in the KindInfo.
		msg := strings.TrimPrefix(err.Error(), "plugin "+k.name+" ")
		return KindInfo{Spec: sdk.KindSpec{Name: k.name}, Source: k.source, Error: msg}, err
	}
	return KindInfo{Spec: *spec, Source: k.source}, nil
}

// Run runs one task attempt on its kind's plugin and returns the task's
// result as JSON. Log lines, metrics and progress go to e while the task
// runs. An error the kind marked with sdk.Permanent is still so
// (sdk.IsPermanent); a plugin that cannot start gives an error for which
// sdk.IsInfra is true; when ctx ends first the error matches ctx.Err().
func (h *Host) Run(ctx context.Context, t sdk.Task, e sdk.Emitter) (json.RawMessage, error) {
	if err := ctx.Err(); err != nil {
		return nil, context.Cause(ctx)
	}
	k, err := h.lookup(ctx, t.Kind)
	if err != nil {
		var unknown *UnknownKindError
		if errors.As(err, &unknown) && unknown.Broken == nil {
			err = sdk.Permanent(err)
		}
		return nil, err
	}
	if t.Store == "" {
		t.Store = h.cfg.Store
	}
	if e == nil {
		e = discard{}
	}
	p, err := k.process()
	if err != nil {
		return nil, err
	}
	res, err := p.run(ctx, k, t, e)
	var shared *sharedExitError
	if errors.As(err, &shared) {
		e.Log(shared.explain())
		return k.runAlone(ctx, t, e)
	}
	return res, err
}

// Prestart starts, in the background, the plugin processes of the kinds
// named that are not running yet, so that the first task of each does not
// wait for its process to start. A name that is no kind is ignored, and a
// plugin that fails to start here is started again by the first task that
// needs it, which reports the failure. Close stops what Prestart started.
func (h *Host) Prestart(names ...string) {
	h.mu.Lock()
	defer h.mu.Unlock()
	if h.closed {
		return
	}
	for _, name := range names {
		k, ok := h.kinds[name]
		if !ok {
			k, ok = h.aliases[name]
		}
		if ok {
			go k.process()
		}
	}
}

// runAlone runs t on a plugin process of its own, stopped when the task
// ends, so that a crash of that process is the task's own doing.
func (k *kind) runAlone(ctx context.Context, t sdk.Task, e sdk.Emitter) (json.RawMessage, error) {
	h := k.h
	p, err := start(k.name, k.argv, h.cfg)
	if err != nil {
		return nil, err
	}
	h.mu.Lock()
	if h.closed {
		h.mu.Unlock()
		p.kill()
		return nil, cannotStart(k.name, errors.New("plugin host is closed"))
	}
	h.alone[p] = true
	h.mu.Unlock()
	defer func() {
		h.mu.Lock()
		delete(h.alone, p)
		h.mu.Unlock()
		p.kill()
	}()
	return p.run(ctx, k, t, e)
}

// Close stops every plugin process and waits for them to exit. Runs still
// in flight fail. Close may be called more than once.
func (h *Host) Close() error {
	h.mu.Lock()
	h.closed = true
	all := make([]*kind, 0, len(h.kinds))
	for _, k := range h.kinds {
		all = append(all, k)
	}
	var wg sync.WaitGroup
	for p := range h.alone {
		wg.Go(p.kill)
	}
	h.mu.Unlock()
	for _, k := range all {
		k.mu.Lock()
		p := k.proc
		k.proc = nil
		k.mu.Unlock()
		if p != nil {
			wg.Go(p.kill)
		}
	}
	wg.Wait()
	return nil
}

func (h *Host) isClosed() bool {
	h.mu.Lock()
	defer h.mu.Unlock()
	return h.closed
}

// lookup finds the kind called name or aliased so. Aliases of third-party
// kinds are known only once they are described, so an unknown name
// describes them all before giving up.
func (h *Host) lookup(ctx context.Context, name string) (*kind, error) {
	find := func() (*kind, bool) {
		h.mu.Lock()
		defer h.mu.Unlock()
		if k, ok := h.kinds[name]; ok {
			return k, true
		}
		k, ok := h.aliases[name]
		return k, ok
	}
	if k, ok := find(); ok {
		return k, nil
	}
	_, err := h.Kinds(ctx)
	if k, ok := find(); ok {
		return k, nil
	}
	return nil, &UnknownKindError{Name: name, Broken: err}
}

// UnknownKindError is the error of a kind that neither omp nor any plugin
// serves.
type UnknownKindError struct {
	Name string
	// Broken are the errors of the plugins that could not be described,
	// one of which might have served the kind under another name.
	Broken error
}

func (e *UnknownKindError) Error() string {
	if e.Broken != nil {
		return fmt.Sprintf("unknown kind %q (and some plugins could not be described: %v)", e.Name, e.Broken)
	}
	return fmt.Sprintf("unknown kind %q", e.Name)
}

// Unwrap gives the plugins' errors: with some, the unknown kind may be an
// infrastructure failure (sdk.IsInfra).
func (e *UnknownKindError) Unwrap() error { return e.Broken }

func (k *kind) describe(ctx context.Context) (*sdk.KindSpec, error) {
	k.mu.Lock()
	if k.spec != nil {
		defer k.mu.Unlock()
		return k.spec, nil
	}
	p, err := k.processLocked()
	k.mu.Unlock()
	if err != nil {
		return nil, err
	}
	w, err := p.kind.Describe(ctx, &wire.DescribeRequest{})
	if err != nil {
		if ctx.Err() != nil {
			return nil, ctx.Err()
		}
		return nil, cannotDescribe(k.name, p.failure(k.name, err))
	}
	spec := specFromWire(w)
	if spec.Name != k.name {
		return nil, cannotDescribe(k.name, fmt.Errorf("%s describes itself as kind %q; the file name and the kind's name must agree", k.source, spec.Name))
	}
	k.mu.Lock()
	k.spec = &spec
	k.mu.Unlock()
	k.h.mu.Lock()
	for _, a := range spec.Aliases {
		if _, taken := k.h.kinds[a]; !taken {
			k.h.aliases[a] = k
		}
	}
	k.h.mu.Unlock()
	return &spec, nil
}

// process returns the kind's running plugin, starting one if there is none
// or the last one exited.
func (k *kind) process() (*proc, error) {
	k.mu.Lock()
	defer k.mu.Unlock()
	return k.processLocked()
}

func (k *kind) processLocked() (*proc, error) {
	if k.h.isClosed() {
		return nil, cannotStart(k.name, errors.New("plugin host is closed"))
	}
	if k.proc != nil && !k.proc.client.Exited() {
		return k.proc, nil
	}
	if k.proc != nil {
		k.proc.kill()
		k.proc = nil
	}
	p, err := start(k.name, k.argv, k.h.cfg)
	if err != nil {
		return nil, err
	}
	k.proc = p
	return p, nil
}

// drop forgets p if it is still the kind's process, so the next task starts
// a new one.
func (k *kind) drop(p *proc) {
	k.mu.Lock()
	if k.proc == p {
		k.proc = nil
	}
	k.mu.Unlock()
	p.kill()
}

// proc is one running plugin process.
type proc struct {
	client *plugin.Client
	runner *groupRunner // set by go-plugin's call of RunnerFunc
	kind   wire.KindClient
	stderr *stderrTail
	sink   *logSink

	mu sync.Mutex
	// running counts the tasks in flight; atExit is how many were when the
	// process was first seen to have exited, 0 before.
	running int
	atExit  int
	// mux is the Tasks stream, once opened; legacy is set when the plugin
	// does not implement it.
	mux    *mux
	legacy bool
}

func start(name string, argv []string, cfg Config) (*proc, error) {
	stderr := newStderrTail(50)
	sink := &logSink{log: cfg.Logger, kind: name}
	p := &proc{stderr: stderr, sink: sink}
	var self string
	if len(cfg.Self) > 0 {
		self = cfg.Self[0]
	}
	client := plugin.NewClient(&plugin.ClientConfig{
		HandshakeConfig: wire.Handshake,
		Plugins:         plugin.PluginSet{wire.PluginName: &grpcPlugin{}},
		RunnerFunc: func(_ hclog.Logger, spec *exec.Cmd, _ string) (runner.Runner, error) {
			p.runner = newGroupRunner(argv, self, spec)
			return p.runner, nil
		},
		AllowedProtocols: []plugin.Protocol{plugin.ProtocolGRPC},
		Logger:           sink.logger(),
		Stderr:           stderr,
		// What the kind writes to os.Stderr comes over gRPC, not fd 2;
		// it may explain an exit just as well (best effort: a process
		// that exits at once may lose its last lines).
		SyncStderr:   stderr,
		StartTimeout: cfg.StartTimeout,
		GRPCDialOptions: []grpc.DialOption{grpc.WithDefaultCallOptions(
			grpc.MaxCallRecvMsgSize(wire.MaxMessage),
			grpc.MaxCallSendMsgSize(wire.MaxMessage))},
	})
	p.client = client
	rpc, err := client.Client()
	if err != nil {
		client.Kill()
		return nil, cannotStart(name, startError(err, stderr, cfg.StartTimeout))
	}
	raw, err := rpc.Dispense(wire.PluginName)
	if err != nil {
		client.Kill()
		return nil, cannotStart(name, startError(err, stderr, cfg.StartTimeout))
	}
	p.kind = raw.(wire.KindClient)
	return p, nil
}

// startError makes go-plugin's start errors, some of which are a page of
// advice, one line, ending with what the plugin said on stderr.
func startError(err error, stderr *stderrTail, timeout time.Duration) error {
	full := err.Error()
	msg, _, _ := strings.Cut(full, "\n")
	msg = strings.TrimRight(strings.TrimSpace(msg), ":")
	switch {
	case strings.Contains(full, "Failed to read any lines from plugin's stdout"),
		msg == "plugin exited before we could connect":
		msg = "exited before its handshake"
	case strings.HasPrefix(msg, "Unrecognized remote plugin message"):
		msg = "handshake failed: not an omp plugin"
	case msg == "timeout while waiting for plugin to start":
		msg = fmt.Sprintf("timeout: no handshake within %v ($%s)", timeout, StartTimeoutEnv)
	}
	if line := stderr.reason(); line != "" {
		msg += ": stderr: " + line
	}
	return startErr{msg: msg, err: err}
}

// startErr is a start error with a readable message that still wraps what
// go-plugin returned.
type startErr struct {
	msg string
	err error
}

func (e startErr) Error() string { return e.msg }
func (e startErr) Unwrap() error { return e.err }

// killGrace is how long a plugin gets to exit after it was asked to: the SDK
// gives tasks still running 1.5s to clean up (a script's process group, a
// notebook's kernel). A plugin with nothing running exits in about a
// millisecond. go-plugin's own Kill would wait as long, but a plugin that
// never exits must not hold omp up any longer.
const killGrace = 2 * time.Second

// kill asks the plugin to exit and kills it if it has not within killGrace.
func (p *proc) kill() {
	done := make(chan struct{})
	go func() {
		p.client.Kill()
		close(done)
	}()
	select {
	case <-done:
	case <-time.After(killGrace):
		// go-plugin notices the exit and returns from Kill at once.
		_ = p.runner.Kill(context.Background())
		<-done
	}
}

// enter and leave count a task in and out of the process.
func (p *proc) enter() {
	p.mu.Lock()
	p.running++
	p.mu.Unlock()
}

func (p *proc) leave() {
	p.mu.Lock()
	p.running--
	p.mu.Unlock()
}

// tasksAtExit is how many tasks were running when the process exited. It
// is called by each task that the exit broke, all of them still counted
// in: the first call takes the count.
func (p *proc) tasksAtExit() int {
	p.mu.Lock()
	defer p.mu.Unlock()
	if p.atExit == 0 {
		p.atExit = p.running
	}
	return p.atExit
}

func (p *proc) run(ctx context.Context, k *kind, t sdk.Task, e sdk.Emitter) (json.RawMessage, error) {
	p.enter()
	defer p.leave()
	w := taskToWire(t)
	if m, err := p.tasks(); err != nil {
		return nil, p.lost(ctx, k, err)
	} else if m != nil {
		res, err := m.run(ctx, w, e)
		var broken streamBroken
		if !errors.As(err, &broken) {
			return res, err
		}
		if status.Code(broken.err) != codes.Unimplemented {
			return nil, p.lost(ctx, k, broken.err)
		}
		p.mu.Lock()
		p.legacy, p.mux = true, nil
		p.mu.Unlock()
	}
	// A plugin built with an SDK older than Tasks: one Run call a task.
	ctx, cancel := context.WithCancel(ctx)
	defer cancel()
	stream, err := p.kind.Run(ctx, w)
	if err != nil {
		return nil, p.lost(ctx, k, err)
	}
	for {
		ev, err := stream.Recv()
		if err != nil {
			if err == io.EOF {
				err = errors.New("the plugin ended the task without a result")
			}
			return nil, p.lost(ctx, k, err)
		}
		if res, over, err := handle(ev, e); over {
			return res, err
		}
	}
}

// tasks returns the process's Tasks stream, opening it on first use, or
// nil if the plugin has none.
func (p *proc) tasks() (*mux, error) {
	p.mu.Lock()
	defer p.mu.Unlock()
	if p.legacy {
		return nil, nil
	}
	if p.mux == nil {
		m, err := openMux(p.kind)
		if err != nil {
			return nil, err
		}
		p.mux = m
	}
	return p.mux, nil
}

// lost explains why a call to the plugin broke: the task's context ended,
// or the plugin went away. A plugin that broke a call is dropped, so the
// next task gets a fresh one. A plugin that exited while other tasks ran
// on it gives a *sharedExitError: any of them may have caused it.
func (p *proc) lost(ctx context.Context, k *kind, err error) error {
	if ctx.Err() != nil {
		return context.Cause(ctx)
	}
	if k.h.isClosed() {
		return cannotStart(k.name, errors.New("plugin host closed while the task ran"))
	}
	err = p.failure(k.name, err)
	k.drop(p)
	var ee *ExitError
	if errors.As(err, &ee) {
		if n := p.tasksAtExit(); n > 1 {
			return &sharedExitError{exit: ee, tasks: n}
		}
	}
	return err
}

// sharedExitError is the exit of a plugin process on which several tasks
// ran: the task that gets it may or may not be the one that caused it.
// Run does not return it: it runs the task again, alone.
type sharedExitError struct {
	exit  *ExitError
	tasks int
}

func (e *sharedExitError) Error() string { return e.exit.Error() }

// explain is the log line of a task that is run again.
func (e *sharedExitError) explain() string {
	how := strings.TrimPrefix(strings.TrimPrefix(e.exit.Error(), "plugin "+e.exit.Kind+" exited"), ": ")
	if how != "" {
		how = " (" + how + ")"
	}
	return fmt.Sprintf("plugin %s exited%s while %d tasks ran on it, this one among them: running it again alone on a fresh process, in the same attempt", e.exit.Kind, how, e.tasks)
}
func (e *sharedExitError) Unwrap() error { return e.exit }

// failure waits a little for the process to be seen exiting, which happens
// just after the connection drops (or pipeDelay later, when a process it
// left behind holds its pipes), to report how it ended.
func (p *proc) failure(name string, err error) error {
	deadline := time.Now().Add(pipeDelay + 2*time.Second)
	for !p.client.Exited() && time.Now().Before(deadline) {
		time.Sleep(5 * time.Millisecond)
	}
	if p.client.Exited() {
		return &ExitError{Kind: name, Status: p.sink.exitStatus(), Reason: p.stderr.reason(), Stderr: p.stderr.lines()}
	}
	return fmt.Errorf("plugin %s: %w", name, err)
}

// ExitError is the error of a task whose plugin exited while it ran.
type ExitError struct {
	Kind string
	// Status is how the process ended ("exit status 2"), if known.
	Status string
	// Reason is the line of the plugin's stderr that best explains the end
	// (a panic's message), if any.
	Reason string
	// Stderr are the plugin's last stderr lines.
	Stderr []string
}

func (e *ExitError) Error() string {
	msg := "plugin " + e.Kind + " exited"
	if e.Status != "" {
		msg += ": " + e.Status
	}
	if e.Reason != "" {
		msg += ": " + e.Reason
	}
	return msg
}

// cannotStart is the error of a plugin that could not be started: the
// infrastructure failed, not the task (sdk.IsInfra).
func cannotStart(kind string, err error) error {
	return sdk.Infra(fmt.Errorf("plugin %s could not start: %w", kind, err))
}

// cannotDescribe is the error of a plugin that started but whose Describe
// failed or did not fit (sdk.IsInfra).
func cannotDescribe(kind string, err error) error {
	return sdk.Infra(fmt.Errorf("plugin %s could not be described: %w", kind, err))
}

// grpcPlugin is the client half of go-plugin's plugin; package sdk has the
// server half.
type grpcPlugin struct {
	plugin.NetRPCUnsupportedPlugin
}

func (grpcPlugin) GRPCServer(*plugin.GRPCBroker, *grpc.Server) error {
	return errors.New("host: the host calls kinds; use sdk.Serve to serve one")
}

func (grpcPlugin) GRPCClient(_ context.Context, _ *plugin.GRPCBroker, c *grpc.ClientConn) (any, error) {
	return wire.NewKindClient(c), nil
}

type discard struct{}

func (discard) Log(string)                  {}
func (discard) Metric(string, float64, int) {}
func (discard) Progress(int, int)           {}

func specFromWire(w *wire.KindSpec) sdk.KindSpec {
	s := sdk.KindSpec{Name: w.Name, Aliases: w.Aliases, Description: w.Description, Version: w.Version}
	for _, a := range w.Actions {
		var reads []sdk.Read
		for _, r := range a.Reads {
			reads = append(reads, sdk.Read{Object: r.Object, Arg: int(r.Arg), Kwarg: r.Kwarg, Cut: r.Cut})
		}
		s.Actions = append(s.Actions, sdk.ActionSpec{
			Reads:     reads,
			NoCache:   a.NoCache,
			Name:      a.Name,
			MinArgs:   int(a.MinArgs),
			MaxArgs:   int(a.MaxArgs),
			Args:      a.Args,
			Kwargs:    a.Kwargs,
			AnyKwargs: a.AnyKwargs,
			Doc:       a.Doc,
		})
	}
	return s
}

func taskToWire(t sdk.Task) *wire.Task {
	w := &wire.Task{
		RunId:   t.RunID,
		TaskId:  t.TaskID,
		Attempt: int32(t.Attempt),
		Kind:    t.Kind,
		Name:    t.Name,
		Action:  t.Action,
		Input:   t.Input,
		Label:   t.Label,
		Store:   t.Store,
	}
	for _, a := range t.Args {
		w.Args = append(w.Args, a)
	}
	if len(t.Kwargs) > 0 {
		w.Kwargs = make(map[string][]byte, len(t.Kwargs))
		for k, v := range t.Kwargs {
			w.Kwargs[k] = v
		}
	}
	if !t.Deadline.IsZero() {
		w.DeadlineUnixNano = t.Deadline.UnixNano()
	}
	return w
}
