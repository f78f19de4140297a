package host

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/ompdev/omp/internal/testbin"
	"github.com/ompdev/omp/plugins/builtin"
	"github.com/ompdev/omp/plugins/sdk"
	"github.com/ompdev/omp/plugins/sdk/sdktest"
)

// hangScript is a plugin that never completes its handshake: it waits for
// a child of its own, which holds the plugin's stdout and stderr, and whose
// pid it writes to pidfile.
func hangScript(pidfile string) string {
	return "#!/bin/sh\nsleep 1000 &\necho $! > " + pidfile + "\nwait\n"
}

func writeExec(t *testing.T, path, text string) {
	t.Helper()
	if err := os.WriteFile(path, []byte(text), 0o755); err != nil {
		t.Fatal(err)
	}
}

// readPID waits for a pid file to be written.
func readPID(t *testing.T, path string) int {
	t.Helper()
	deadline := time.Now().Add(10 * time.Second)
	for {
		data, err := os.ReadFile(path)
		if n, convErr := strconv.Atoi(strings.TrimSpace(string(data))); err == nil && convErr == nil {
			return n
		}
		if time.Now().After(deadline) {
			t.Fatalf("%s was never written", path)
		}
		time.Sleep(10 * time.Millisecond)
	}
}

// runWithin runs h.Run in a goroutine and fails the test if it does not
// return within limit: a host that hangs must fail the test, not stall it.
func runWithin(t *testing.T, limit time.Duration, h *Host, tk sdk.Task, e sdk.Emitter) (json.RawMessage, error) {
	t.Helper()
	type result struct {
		res json.RawMessage
		err error
	}
	done := make(chan result, 1)
	go func() {
		res, err := h.Run(context.Background(), tk, e)
		done <- result{res, err}
	}()
	select {
	case r := <-done:
		return r.res, r.err
	case <-time.After(limit):
		t.Fatalf("%s %s did not return within %v", tk.Kind, tk.Action, limit)
		return nil, nil
	}
}

// TestStartTimeoutKillsTheGroup: a plugin that hangs before its handshake
// fails within the start timeout, and what it started dies with it, so
// nothing holds the host's pipes (go-plugin would wait for them).
func TestStartTimeoutKillsTheGroup(t *testing.T) {
	dir := t.TempDir()
	pidfile := filepath.Join(dir, "hang.pid")
	writeExec(t, filepath.Join(dir, "omp-kind-hang"), hangScript(pidfile))
	h, err := New(Config{Builtins: builtin.Kinds(), Self: []string{ompBin}, PluginPath: []string{dir}, StartTimeout: 500 * time.Millisecond})
	if err != nil {
		t.Fatal(err)
	}
	defer h.Close()

	_, err = runWithin(t, 20*time.Second, h, task("hang", "run"), nil)
	want := "plugin hang could not start: timeout: no handshake within 500ms ($OMP_PLUGIN_START_TIMEOUT)"
	if !sdk.IsInfra(err) || err.Error() != want {
		t.Errorf("err = %v, want an infra error %q", err, want)
	}
	child := readPID(t, pidfile)
	if !testbin.Exits(child, 5*time.Second) {
		t.Fatalf("process %d, started by the plugin, outlived its failed start", child)
	}
}

// TestExitLeavesNothingBehind: a plugin that exits with a process of its
// own still holding its stdout and stderr is seen to exit, with its status
// and last words, and that process is killed.
func TestExitLeavesNothingBehind(t *testing.T) {
	h := newHost(t)
	pidfile := filepath.Join(t.TempDir(), "orphan.pid")
	_, err := runWithin(t, 20*time.Second, h, task("crashy", "orphan", strconv.Quote(pidfile)), nil)
	orphan := readPID(t, pidfile)
	var ee *ExitError
	if !errors.As(err, &ee) || ee.Status != "exit status 3" || ee.Reason != "leaving "+strconv.Itoa(orphan)+" behind" {
		t.Errorf("err = %#v, want the plugin's exit with status 3 and its last stderr line", err)
	}
	if !testbin.Exits(orphan, 5*time.Second) {
		t.Fatalf("process %d, started by the plugin, outlived it", orphan)
	}
}

// TestKindStartsOnlyItsPlugin: describing a kind starts its plugin, found
// by file name, and no other; a built-in kind starts nothing.
func TestKindStartsOnlyItsPlugin(t *testing.T) {
	dir := t.TempDir()
	pidfile := filepath.Join(dir, "hang.pid")
	writeExec(t, filepath.Join(dir, "omp-kind-hang"), hangScript(pidfile))
	crashy, err := os.ReadFile(filepath.Join(pluginDir, "omp-kind-crashy"))
	if err != nil {
		t.Fatal(err)
	}
	writeExec(t, filepath.Join(dir, "omp-kind-crashy"), string(crashy))
	h, err := New(Config{Builtins: builtin.Kinds(), Self: []string{ompBin}, PluginPath: []string{dir}, StartTimeout: 500 * time.Millisecond})
	if err != nil {
		t.Fatal(err)
	}
	defer h.Close()

	for _, name := range []string{"echo", "notebook"} {
		info, err := h.Kind(context.Background(), name)
		if err != nil || info.Source != SourceBuiltin {
			t.Errorf("Kind(%s) = %+v, %v", name, info, err)
		}
	}
	if kids := testbin.Children(os.Getpid()); len(kids) != 0 {
		t.Errorf("built-in kinds described by starting %v", kids)
	}
	info, err := h.Kind(context.Background(), "crashy")
	if err != nil || info.Spec.Name != "crashy" || info.Source != filepath.Join(dir, "omp-kind-crashy") {
		t.Errorf("Kind(crashy) = %+v, %v", info, err)
	}
	if kids := testbin.Children(os.Getpid()); len(kids) != 1 {
		t.Errorf("plugin processes %v, want crashy's alone", kids)
	}
	if _, err := os.Stat(pidfile); err == nil {
		t.Error("the hang plugin was started, though no kind of it was asked for")
	}
	names := h.Names()
	for _, want := range []string{"crash", "crashy", "echo", "hang", "job", "notebook"} {
		if !slices.Contains(names, want) {
			t.Errorf("Names() = %v, want %s among them", names, want)
		}
	}
	_, err = h.Kind(context.Background(), "nope")
	var unknown *UnknownKindError
	if !errors.As(err, &unknown) || unknown.Name != "nope" {
		t.Errorf("Kind(nope): %v, want an *UnknownKindError", err)
	}
}

// TestKindsStartsPluginsAtOnce: plugins that hang are waited for side by
// side, each within the start timeout, not one after another.
func TestKindsStartsPluginsAtOnce(t *testing.T) {
	dir := t.TempDir()
	const n = 4
	timeout := time.Second
	for i := range n {
		name := "hang" + strconv.Itoa(i)
		writeExec(t, filepath.Join(dir, "omp-kind-"+name), hangScript(filepath.Join(dir, name+".pid")))
	}
	h, err := New(Config{Builtins: builtin.Kinds(), Self: []string{ompBin}, PluginPath: []string{dir}, StartTimeout: timeout})
	if err != nil {
		t.Fatal(err)
	}
	defer h.Close()
	start := time.Now()
	kinds, err := h.Kinds(context.Background())
	took := time.Since(start)
	if took >= n*timeout {
		t.Errorf("Kinds took %v: the plugins were started one after another", took)
	}
	if !sdk.IsInfra(err) {
		t.Errorf("err = %v, want an infra error", err)
	}
	var broken int
	for _, k := range kinds {
		if k.Source == SourceBuiltin {
			continue
		}
		broken++
		if want := "could not start: timeout: no handshake within 1s ($OMP_PLUGIN_START_TIMEOUT)"; k.Error != want {
			t.Errorf("%s: error %q, want %q", k.Spec.Name, k.Error, want)
		}
	}
	if broken != n {
		t.Errorf("%d plugins listed, want %d", broken, n)
	}
}

// TestBuiltinHidesPlugin: a plugin named like a built-in kind, or one of its
// aliases, is ignored with one warning each, and the built-in kind is used.
func TestBuiltinHidesPlugin(t *testing.T) {
	dir := t.TempDir()
	for _, name := range []string{"echo", "notebook"} {
		writeExec(t, filepath.Join(dir, "omp-kind-"+name), "#!/bin/sh\nexit 1\n")
	}
	var warnings bytes.Buffer
	h, err := New(Config{Builtins: builtin.Kinds(), Self: []string{ompBin}, PluginPath: []string{dir}, Warnings: &warnings})
	if err != nil {
		t.Fatal(err)
	}
	defer h.Close()
	res, err := h.Run(context.Background(), task("echo", "run", `"built-in"`), nil)
	if err != nil || string(res) != `"built-in"` {
		t.Errorf("echo: %s, %v", res, err)
	}
	if _, err := h.Kinds(context.Background()); err != nil {
		t.Errorf("Kinds: %v", err)
	}
	want := "omp: warning: ignoring plugin " + filepath.Join(dir, "omp-kind-echo") + ": echo is a built-in kind, and the built-in one is used\n" +
		"omp: warning: ignoring plugin " + filepath.Join(dir, "omp-kind-notebook") + ": notebook is another name for the built-in kind job, which is used\n"
	if warnings.String() != want {
		t.Errorf("warnings:\n%s\nwant:\n%s", warnings.String(), want)
	}
}

// TestCrashSparesOtherTasks: when a task crashes the plugin process that
// other tasks run on too, it fails with its own exit, and the others run
// again on a fresh process, in the same attempt, and say why.
func TestCrashSparesOtherTasks(t *testing.T) {
	tests := []struct {
		action string
		want   string
	}{
		{"crash", "plugin crashy exited: exit status 2: panic: crash in goroutine"},
		{"exit", "plugin crashy exited: exit status 1"},
	}
	how := map[string]string{"crash": "exit status 2: panic: crash in goroutine", "exit": "exit status 1"}
	for _, tc := range tests {
		t.Run(tc.action, func(t *testing.T) {
			h := newHost(t)
			ctx := context.Background()
			gate := filepath.Join(t.TempDir(), "go")
			waiting := make(chan struct{}, 2)
			rec := &sdktest.Recorder{OnLog: func(line string) {
				if line == "waiting" {
					waiting <- struct{}{}
				}
			}}
			bystander := task("crashy", "await", strconv.Quote(gate))
			bystander.Attempt = 3
			type result struct {
				res json.RawMessage
				err error
			}
			done := make(chan result, 1)
			go func() {
				res, err := h.Run(ctx, bystander, rec)
				done <- result{res, err}
			}()
			select {
			case <-waiting:
			case <-time.After(20 * time.Second):
				t.Fatal("the bystander never started")
			}
			shared := pid(t, h)

			_, err := runWithin(t, 20*time.Second, h, task("crashy", tc.action), nil)
			if err == nil || err.Error() != tc.want {
				t.Errorf("the crashing task: err = %v, want %q", err, tc.want)
			}
			if err := os.WriteFile(gate, nil, 0o644); err != nil {
				t.Fatal(err)
			}
			var r result
			select {
			case r = <-done:
			case <-time.After(20 * time.Second):
				t.Fatal("the bystander never ended")
			}
			if r.err != nil {
				t.Fatalf("the bystander failed: %v", r.err)
			}
			var got struct{ PID, Attempt int }
			if err := json.Unmarshal(r.res, &got); err != nil {
				t.Fatal(err)
			}
			if got.PID == shared || got.Attempt != 3 {
				t.Errorf("the bystander ran again in process %d, attempt %d; want a process other than %d, attempt 3", got.PID, got.Attempt, shared)
			}
			wantLog := []string{
				"waiting",
				"plugin crashy exited (" + how[tc.action] + ") while 2 tasks ran on it, this one among them: running it again alone on a fresh process, in the same attempt",
				"waiting",
			}
			if logs := rec.Logs(); !slices.Equal(logs, wantLog) {
				t.Errorf("the bystander's log:\n%s\nwant:\n%s", strings.Join(logs, "\n"), strings.Join(wantLog, "\n"))
			}
			// The process it ran on alone is gone; the kind's next task
			// gets a fresh shared one.
			if kids := testbin.Children(os.Getpid()); len(kids) != 0 {
				t.Errorf("plugin processes left: %v", kids)
			}
			if p := pid(t, h); p == shared || p == got.PID {
				t.Errorf("next task ran in process %d, want a new one", p)
			}
		})
	}
}
