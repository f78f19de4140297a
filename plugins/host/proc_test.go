package host

import (
	"context"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/ompdev/omp/internal/testbin"
	"github.com/ompdev/omp/plugins/builtin"
	"github.com/ompdev/omp/plugins/sdk"
)

func TestCloseStopsEveryPlugin(t *testing.T) {
	h, err := New(Config{Builtins: builtin.Kinds(), Self: []string{ompBin}, PluginPath: []string{pluginDir}})
	if err != nil {
		t.Fatal(err)
	}
	store := t.TempDir()
	if err := os.MkdirAll(filepath.Join(store, "scripts"), 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(store, "scripts", "hi.sh"), []byte("echo hi\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	for _, tk := range []sdk.Task{
		task("echo", "run", `"x"`),
		{Kind: "script", Name: "hi", Action: "run", Store: store},
		task("crashy", "pid"),
		task("upper", "run", `"x"`),
	} {
		if _, err := h.Run(t.Context(), tk, nil); err != nil {
			t.Fatalf("%s: %v", tk.Kind, err)
		}
	}
	if kids := testbin.Children(os.Getpid()); len(kids) != 4 {
		t.Errorf("%d plugin processes running (%v), want 4", len(kids), kids)
	}
	start := time.Now()
	if err := h.Close(); err != nil {
		t.Fatal(err)
	}
	t.Logf("Close took %v", time.Since(start))
	if kids := testbin.Children(os.Getpid()); len(kids) != 0 {
		t.Errorf("after Close, still running: %v", kids)
	}
}

// helperEnv switches the test binary into helperMain, a stand-in for an omp
// process that the test kills with SIGKILL.
const helperEnv = "OMP_HOST_TEST_HELPER"

// helperMain runs the script scripts/wait in the store $OMP_HOST_TEST_HELPER
// through a host and waits for it; the script never ends.
func helperMain() int {
	h, err := New(Config{Builtins: builtin.Kinds(), Self: []string{os.Getenv("OMP_HOST_TEST_OMP")}, PluginPath: []string{}})
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		return 1
	}
	defer h.Close()
	_, err = h.Run(context.Background(), sdk.Task{Kind: "script", Name: "wait", Action: "run", Store: os.Getenv(helperEnv)}, nil)
	fmt.Fprintln(os.Stderr, "script ended:", err)
	return 1
}

// TestKilledHostTakesPluginsWithIt kills an omp-like process with SIGKILL,
// which no Close can handle: Pdeathsig must take its plugin down, and the
// plugin's script with it.
func TestKilledHostTakesPluginsWithIt(t *testing.T) {
	store := t.TempDir()
	if err := os.MkdirAll(filepath.Join(store, "scripts"), 0o755); err != nil {
		t.Fatal(err)
	}
	script := "#!/bin/sh\necho $$ > script.pid.tmp && mv script.pid.tmp script.pid\nexec sleep 300\n"
	if err := os.WriteFile(filepath.Join(store, "scripts", "wait"), []byte(script), 0o755); err != nil {
		t.Fatal(err)
	}
	helper := exec.Command(os.Args[0])
	helper.Env = append(os.Environ(), helperEnv+"="+store, "OMP_HOST_TEST_OMP="+ompBin)
	var stderr strings.Builder
	helper.Stderr = &stderr
	if err := helper.Start(); err != nil {
		t.Fatal(err)
	}
	defer helper.Process.Kill()

	var scriptPID int
	deadline := time.Now().Add(10 * time.Second)
	for scriptPID == 0 {
		if data, err := os.ReadFile(filepath.Join(store, "script.pid")); err == nil {
			scriptPID, _ = strconv.Atoi(strings.TrimSpace(string(data)))
		}
		if time.Now().After(deadline) {
			t.Fatalf("the script never started; helper stderr: %s", stderr.String())
		}
		time.Sleep(10 * time.Millisecond)
	}
	plugins := testbin.Children(helper.Process.Pid)
	if len(plugins) != 1 {
		t.Fatalf("helper's children: %v, want one plugin", plugins)
	}
	pluginPID, _ := strconv.Atoi(strings.Fields(plugins[0])[0])

	if err := helper.Process.Signal(syscall.SIGKILL); err != nil {
		t.Fatal(err)
	}
	var ee *exec.ExitError
	if err := helper.Wait(); !errors.As(err, &ee) {
		t.Fatalf("helper: %v", err)
	}
	for _, pid := range []int{pluginPID, scriptPID} {
		if !testbin.Exits(pid, 5*time.Second) {
			t.Fatalf("process %d outlived the killed host", pid)
		}
	}
}

func TestCloseKillsAStubbornPlugin(t *testing.T) {
	t.Setenv("OMP_CRASHY_STUBBORN", "1")
	h, err := New(Config{Builtins: builtin.Kinds(), Self: []string{ompBin}, PluginPath: []string{pluginDir}})
	if err != nil {
		t.Fatal(err)
	}
	pid(t, h)
	start := time.Now()
	h.Close()
	if d := time.Since(start); d < killGrace || d > killGrace+2*time.Second {
		t.Errorf("Close took %v, want a little over %v", d, killGrace)
	}
	if kids := testbin.Children(os.Getpid()); len(kids) != 0 {
		t.Errorf("after Close, still running: %v", kids)
	}
}
