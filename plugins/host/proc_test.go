package host

import (
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"

	"github.com/ompdev/omp/plugins/sdk"
)

// children returns the commands of this process's live child processes.
func children() []string {
	self := strconv.Itoa(os.Getpid())
	stats, _ := filepath.Glob("/proc/[0-9]*/stat")
	var kids []string
	for _, path := range stats {
		data, err := os.ReadFile(path)
		if err != nil {
			continue // exited meanwhile
		}
		// The command is in parentheses and may contain spaces: the fields
		// after the last ')' are state, ppid, ...
		s := string(data)
		i := strings.LastIndexByte(s, ')')
		if i < 0 {
			continue
		}
		fields := strings.Fields(s[i+1:])
		if len(fields) < 2 || fields[1] != self || fields[0] == "Z" {
			continue
		}
		kids = append(kids, s[strings.IndexByte(s, '(')+1:i])
	}
	return kids
}

func TestCloseStopsEveryPlugin(t *testing.T) {
	h, err := New(Config{Self: []string{ompBin}, PluginPath: []string{pluginDir}})
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
	if n := len(children()); n != 4 {
		t.Errorf("%d plugin processes running (%v), want 4", n, children())
	}
	if err := h.Close(); err != nil {
		t.Fatal(err)
	}
	if kids := children(); len(kids) != 0 {
		t.Errorf("after Close, still running: %v", kids)
	}
}
