package host

import (
	"context"
	"encoding/json"
	"errors"
	"os"
	"path/filepath"
	"reflect"
	"slices"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/ompdev/omp/internal/testbin"
	"github.com/ompdev/omp/plugins/builtin"
	"github.com/ompdev/omp/plugins/sdk"
	"github.com/ompdev/omp/plugins/sdk/sdktest"
)

// newHost returns a host serving the built-in kinds from the test's omp
// binary and the test kinds from pluginDir, closed when the test ends.
func newHost(t testing.TB) *Host {
	t.Helper()
	h, err := New(Config{Builtins: builtin.Kinds(), Self: []string{ompBin}, PluginPath: []string{pluginDir}})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { h.Close() })
	return h
}

func raw(s string) json.RawMessage { return json.RawMessage(s) }

func task(kind, action string, args ...string) sdk.Task {
	t := sdk.Task{RunID: "r1", TaskID: "t1", Attempt: 1, Kind: kind, Name: "x", Action: action}
	for _, a := range args {
		t.Args = append(t.Args, raw(a))
	}
	return t
}

func TestEcho(t *testing.T) {
	h := newHost(t)
	tests := []struct {
		name string
		task sdk.Task
		want string
	}{
		{"argument", task("echo", "run", `{"a":[1,2]}`), `{"a":[1,2]}`},
		{"input", sdk.Task{Kind: "echo", Action: "run", Input: raw(`"up"`)}, `"up"`},
		{"nothing", task("echo", "run"), `null`},
		{"string", task("echo", "run", `"hi"`), `"hi"`},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			got, err := h.Run(context.Background(), tc.task, &sdktest.Recorder{})
			if err != nil {
				t.Fatal(err)
			}
			if string(got) != tc.want {
				t.Errorf("got %s, want %s", got, tc.want)
			}
		})
	}
}

func TestErrorsCrossTheBoundary(t *testing.T) {
	h := newHost(t)
	tests := []struct {
		name      string
		kwargs    map[string]json.RawMessage
		want      string
		permanent bool
	}{
		{"plain", map[string]json.RawMessage{"fail": raw(`"disk full"`)}, "disk full", false},
		{"permanent", map[string]json.RawMessage{"fail": raw(`"bad input"`), "permanent": raw(`true`)}, "bad input", true},
		{"bad kwarg", map[string]json.RawMessage{"sleep": raw(`"soon"`)}, `echo x: sleep: time: invalid duration "soon"`, true},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			tk := task("echo", "run")
			tk.Kwargs = tc.kwargs
			_, err := h.Run(context.Background(), tk, &sdktest.Recorder{})
			if err == nil || err.Error() != tc.want {
				t.Fatalf("err = %v, want %q", err, tc.want)
			}
			if got := sdk.IsPermanent(err); got != tc.permanent {
				t.Errorf("IsPermanent = %v, want %v", got, tc.permanent)
			}
			if sdk.IsInfra(err) {
				t.Errorf("IsInfra(%v) = true for a task's own error", err)
			}
		})
	}
}

func TestEmitterReachesHost(t *testing.T) {
	h := newHost(t)
	rec := &sdktest.Recorder{}
	res, err := h.Run(context.Background(), task("crashy", "report"), rec)
	if err != nil {
		t.Fatal(err)
	}
	if string(res) != `"done"` {
		t.Errorf("result %s", res)
	}
	if got := strings.Join(rec.Logs(), "|"); got != "one|two" {
		t.Errorf("logs = %q, want one|two", got)
	}
	if got := strings.Join(rec.Metrics(), " "); got != "loss=0.25@3" {
		t.Errorf("metrics = %q", got)
	}
	if got := strings.Join(rec.ProgressReports(), " "); got != "1/2" {
		t.Errorf("progress = %q", got)
	}
}

func TestTaskCrossesTheBoundary(t *testing.T) {
	h := newHost(t)
	sent := sdk.Task{
		RunID: "run-9", TaskID: "n3", Attempt: 2, Kind: "crashy", Name: "it", Action: "task",
		Args:     []json.RawMessage{raw(`1`), raw(`{"a":[true,null]}`)},
		Kwargs:   map[string]json.RawMessage{"k": raw(`"v"`)},
		Input:    raw(`[1,2]`),
		Label:    "gpu",
		Store:    "/data/store",
		Deadline: time.Date(2030, 1, 2, 3, 4, 5, 6, time.UTC),
	}
	res, err := h.Run(context.Background(), sent, nil)
	if err != nil {
		t.Fatal(err)
	}
	var got sdk.Task
	if err := json.Unmarshal(res, &got); err != nil {
		t.Fatal(err)
	}
	want, _ := json.Marshal(sent)
	again, _ := json.Marshal(got)
	if string(again) != string(want) || !got.Deadline.Equal(sent.Deadline) {
		t.Errorf("the kind received\n%s\nwant\n%s", again, want)
	}
	// An empty Store is filled from the host's Config.Store.
	h2, err := New(Config{Builtins: builtin.Kinds(), Self: []string{ompBin}, PluginPath: []string{pluginDir}, Store: "/default/store"})
	if err != nil {
		t.Fatal(err)
	}
	defer h2.Close()
	res, err = h2.Run(context.Background(), task("crashy", "task"), nil)
	if err != nil {
		t.Fatal(err)
	}
	if err := json.Unmarshal(res, &got); err != nil || got.Store != "/default/store" {
		t.Errorf("store %q, %v; want /default/store", got.Store, err)
	}
}

func pid(t *testing.T, h *Host) int {
	t.Helper()
	res, err := h.Run(context.Background(), task("crashy", "pid"), &sdktest.Recorder{})
	if err != nil {
		t.Fatal(err)
	}
	n, err := strconv.Atoi(string(res))
	if err != nil {
		t.Fatal(err)
	}
	return n
}

func TestProcessIsReused(t *testing.T) {
	h := newHost(t)
	first := pid(t, h)
	var wg sync.WaitGroup
	pids := make([]int, 20)
	for i := range pids {
		wg.Go(func() { pids[i] = pid(t, h) })
	}
	wg.Wait()
	for _, p := range pids {
		if p != first {
			t.Fatalf("task ran in process %d, want every task in %d", p, first)
		}
	}
	// The alias reaches the same kind.
	res, err := h.Run(context.Background(), task("crash", "pid"), &sdktest.Recorder{})
	if err != nil || string(res) != strconv.Itoa(first) {
		t.Errorf("alias: %s, %v; want %d", res, err, first)
	}
}

func TestPluginCrash(t *testing.T) {
	tests := []struct {
		action   string
		want     string
		restarts bool
	}{
		// The SDK recovers a panic in Run: the task fails, the process lives.
		{"panic", "panic: boom", false},
		{"crash", "plugin crashy exited: exit status 2: panic: crash in goroutine", true},
		{"exit", "plugin crashy exited: exit status 1", true},
	}
	for _, tc := range tests {
		t.Run(tc.action, func(t *testing.T) {
			h := newHost(t)
			before := pid(t, h)
			_, err := h.Run(context.Background(), task("crashy", tc.action), &sdktest.Recorder{})
			if err == nil || err.Error() != tc.want {
				t.Fatalf("err = %v, want %q", err, tc.want)
			}
			var ee *ExitError
			if errors.As(err, &ee) != tc.restarts {
				t.Errorf("errors.As(%v, *ExitError) = %v, want %v", err, !tc.restarts, tc.restarts)
			}
			if sdk.IsInfra(err) {
				t.Errorf("IsInfra(%v) = true for a crash during a task", err)
			}
			after := pid(t, h)
			if restarted := after != before; restarted != tc.restarts {
				t.Errorf("process %d then %d: restarted = %v, want %v", before, after, restarted, tc.restarts)
			}
		})
	}
}

func TestCancelReachesKind(t *testing.T) {
	cancelBlocked(t, newHost(t), "crashy")
}

// cancelBlocked runs a task of kind's action block, cancels it when it logs,
// and checks that the plugin saw its context cancelled: block writes the
// context's error to the file its argument names.
func cancelBlocked(t *testing.T, h *Host, kind string) {
	t.Helper()
	marker := filepath.Join(t.TempDir(), "cancelled")
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	rec := &sdktest.Recorder{OnLog: func(string) { cancel() }}
	_, err := h.Run(ctx, task(kind, "block", strconv.Quote(marker)), rec)
	if !errors.Is(err, context.Canceled) {
		t.Fatalf("err = %v, want context.Canceled", err)
	}
	deadline := time.Now().Add(5 * time.Second)
	for {
		data, err := os.ReadFile(marker)
		if err == nil {
			if string(data) != "context canceled" {
				t.Errorf("the kind saw %q, want %q", data, "context canceled")
			}
			break
		}
		if time.Now().After(deadline) {
			t.Fatal("the kind never saw its context cancelled")
		}
		time.Sleep(10 * time.Millisecond)
	}
}

func TestThirdPartyKindOnPluginPath(t *testing.T) {
	t.Setenv("OMP_PLUGIN_PATH", "/nonexistent:"+pluginDir)
	h, err := New(Config{Builtins: builtin.Kinds(), Self: []string{ompBin}})
	if err != nil {
		t.Fatal(err)
	}
	defer h.Close()
	kinds, err := h.Kinds(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	var got []string
	for _, k := range kinds {
		got = append(got, k.Spec.Name+" "+k.Source)
	}
	want := []string{
		"crashy " + filepath.Join(pluginDir, "omp-kind-crashy"),
		"upper " + filepath.Join(pluginDir, "omp-kind-upper"),
	}
	for name := range builtin.Kinds() {
		want = append(want, name+" builtin")
	}
	slices.Sort(want)
	if strings.Join(got, "\n") != strings.Join(want, "\n") {
		t.Errorf("kinds:\n%s\nwant:\n%s", strings.Join(got, "\n"), strings.Join(want, "\n"))
	}
	// What the kind describes reaches the compiler whole: a lost AnyKwargs
	// would turn every keyword argument of its tasks into an error.
	crashy := sdk.KindSpec{Name: "crashy", Aliases: []string{"crash"}, Description: "misbehaves on request", Actions: []sdk.ActionSpec{
		{Name: "pid"}, {Name: "panic"}, {Name: "crash"}, {Name: "exit"},
		{Name: "block", MaxArgs: 1, Args: []string{"seconds"}, Kwargs: []string{"until"}, Doc: "blocks"},
		{Name: "task", MaxArgs: -1, AnyKwargs: true}, {Name: "report"},
		{Name: "await", MinArgs: 1, MaxArgs: 1, Args: []string{"file"}, Doc: "waits for file to exist"},
		{Name: "orphan", MinArgs: 1, MaxArgs: 1, Args: []string{"pidfile"}, Doc: "exits, leaving a process behind"},
	}}
	if i := slices.IndexFunc(kinds, func(k KindInfo) bool { return k.Spec.Name == "crashy" }); i < 0 || !reflect.DeepEqual(kinds[i].Spec, crashy) {
		t.Errorf("the host got\n%+v\nwant\n%+v", kinds, crashy)
	}
	rec := &sdktest.Recorder{}
	res, err := h.Run(context.Background(), task("upper", "run", `"shout"`), rec)
	if err != nil {
		t.Fatal(err)
	}
	if string(res) != `"SHOUT"` || strings.Join(rec.Logs(), "|") != "upper-casing x" {
		t.Errorf("upper: %s, logs %q", res, rec.Logs())
	}
}

func TestInfraErrors(t *testing.T) {
	dir := t.TempDir()
	// An executable that is not a plugin fails the handshake.
	if err := os.WriteFile(filepath.Join(dir, "omp-kind-bogus"), []byte("#!/bin/sh\necho not a plugin >&2\nexit 1\n"), 0o755); err != nil {
		t.Fatal(err)
	}
	// A plugin whose file name and kind disagree.
	upper, err := os.ReadFile(filepath.Join(pluginDir, "omp-kind-upper"))
	if err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(dir, "omp-kind-shout"), upper, 0o755); err != nil {
		t.Fatal(err)
	}
	h, err := New(Config{Builtins: builtin.Kinds(), Self: []string{filepath.Join(dir, "no-such-omp")}, PluginPath: []string{dir}})
	if err != nil {
		t.Fatal(err)
	}
	defer h.Close()

	_, err = h.Run(context.Background(), task("echo", "run", `1`), nil)
	if !sdk.IsInfra(err) || !strings.HasPrefix(err.Error(), "plugin echo could not start: ") {
		t.Errorf("missing omp: err = %v, want an infra error", err)
	}
	_, err = h.Run(context.Background(), task("bogus", "run"), nil)
	if !sdk.IsInfra(err) || err.Error() != "plugin bogus could not start: exited before its handshake: stderr: not a plugin" {
		t.Errorf("bogus plugin: err = %v, want an infra error ending in its stderr", err)
	}
	kinds, err := h.Kinds(context.Background())
	var unavailable []string
	for _, k := range kinds {
		if k.Error != "" {
			unavailable = append(unavailable, k.Spec.Name+" "+k.Source+": "+k.Error)
		}
	}
	wantUnavailable := []string{
		"bogus " + filepath.Join(dir, "omp-kind-bogus") + ": could not start: exited before its handshake: stderr: not a plugin",
		"shout " + filepath.Join(dir, "omp-kind-shout") + `: could not be described: ` + filepath.Join(dir, "omp-kind-shout") + ` describes itself as kind "upper"; the file name and the kind's name must agree`,
	}
	if !sdk.IsInfra(err) || len(kinds) != len(builtin.Kinds())+2 || !slices.Equal(unavailable, wantUnavailable) {
		t.Errorf("Kinds = %d kinds, unavailable %q, %v; want the built-in kinds, %q and an infra error", len(kinds), unavailable, err, wantUnavailable)
	}
	want := `plugin shout could not be described: ` + filepath.Join(dir, "omp-kind-shout") + ` describes itself as kind "upper"; the file name and the kind's name must agree`
	if err == nil || !strings.Contains(err.Error(), want) {
		t.Errorf("Kinds: err = %v, want it to contain %q", err, want)
	}
	_, err = h.Run(context.Background(), task("nope", "run"), nil)
	if err == nil || !strings.HasPrefix(err.Error(), `unknown kind "nope" (and some plugins could not be described: plugin bogus could not start: `) {
		t.Errorf("unknown kind: err = %v", err)
	}
}

func TestRunAfterClose(t *testing.T) {
	h := newHost(t)
	pid(t, h)
	h.Close()
	_, err := h.Run(context.Background(), task("crashy", "pid"), nil)
	if !sdk.IsInfra(err) || err.Error() != "plugin crashy could not start: plugin host is closed" {
		t.Errorf("err = %v", err)
	}
}

func TestLargeValues(t *testing.T) {
	h := newHost(t)
	// Larger than gRPC's default 4 MiB message limit, both ways.
	big := `"` + strings.Repeat("x", 6<<20) + `"`
	got, err := h.Run(context.Background(), task("echo", "run", big), nil)
	if err != nil {
		t.Fatal(err)
	}
	if len(got) != len(big) {
		t.Errorf("got %d bytes back, want %d", len(got), len(big))
	}
}

func TestManyConcurrentTasks(t *testing.T) {
	h := newHost(t)
	var wg sync.WaitGroup
	errs := make([]error, 1000)
	for i := range errs {
		wg.Go(func() {
			res, err := h.Run(context.Background(), task("echo", "run", strconv.Itoa(i)), nil)
			if err == nil && string(res) != strconv.Itoa(i) {
				err = errors.New("wrong result " + string(res))
			}
			errs[i] = err
		})
	}
	wg.Wait()
	if err := errors.Join(errs...); err != nil {
		t.Fatal(err)
	}
	if kids := testbin.Children(os.Getpid()); len(kids) != 1 {
		t.Errorf("plugin processes: %v, want one", kids)
	}
}

func TestRunWithDoneContext(t *testing.T) {
	h := newHost(t)
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	if _, err := h.Run(ctx, task("crashy", "pid"), nil); !errors.Is(err, context.Canceled) {
		t.Errorf("err = %v, want context.Canceled", err)
	}
	if kids := testbin.Children(os.Getpid()); len(kids) != 0 {
		t.Errorf("a task whose context was done started %v", kids)
	}
}

// TestLegacyPlugin: a plugin built with an SDK older than the Tasks stream
// still runs tasks, with their reports and cancellation, one Run call each;
// tasks sent at once, before the host learns that, all run.
func TestLegacyPlugin(t *testing.T) {
	h, err := New(Config{Builtins: builtin.Kinds(), Self: []string{ompBin}, PluginPath: []string{legacyDir}})
	if err != nil {
		t.Fatal(err)
	}
	defer h.Close()
	var wg sync.WaitGroup
	for i := range 8 {
		wg.Go(func() {
			rec := &sdktest.Recorder{}
			res, err := h.Run(context.Background(), task("legacy", "run", strconv.Itoa(i)), rec)
			if err != nil || string(res) != strconv.Itoa(i) || strings.Join(rec.Logs(), "|") != "legacy run" {
				t.Errorf("task %d: %s, %v, logs %q", i, res, err, rec.Logs())
			}
		})
	}
	wg.Wait()
	cancelBlocked(t, h, "legacy")
}

// TestPrestart: Prestart starts a kind's process for the tasks that follow
// (by name or alias), ignores a name that is no kind, and after Close
// starts nothing.
func TestPrestart(t *testing.T) {
	h := newHost(t)
	h.Prestart("crash", "nope")
	k := h.kinds["crashy"]
	// process waits for the start that Prestart began, if it still runs.
	p, err := k.process()
	if err != nil {
		t.Fatal(err)
	}
	if got, want := pid(t, h), p.runner.cmd.Process.Pid; got != want {
		t.Errorf("task ran in process %d, want the prestarted %d", got, want)
	}
	h.Close()
	h.Prestart("crashy")
	k.mu.Lock()
	defer k.mu.Unlock()
	if k.proc != nil {
		t.Error("a process started after Close")
	}
}
