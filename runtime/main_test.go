package runtime_test

import (
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"testing"

	"github.com/ompdev/omp/plugins/host"
	"github.com/ompdev/omp/runtime"
)

// ompBin serves the built-in kinds as plugin processes, built once per test
// binary from testdata/kinds: the same kinds and sdk.Serve as `omp
// plugin-serve`, so the plugin variants run tasks as `omp run` does.
var ompBin string

func TestMain(m *testing.M) {
	os.Exit(testMain(m))
}

func testMain(m *testing.M) int {
	dir, err := os.MkdirTemp("", "omp-runtime-test-")
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		return 1
	}
	defer os.RemoveAll(dir)
	ompBin = filepath.Join(dir, "omp")
	cmd := exec.Command("go", "build", "-o", ompBin, "github.com/ompdev/omp/runtime/testdata/kinds")
	cmd.Stderr = os.Stderr
	if err := cmd.Run(); err != nil {
		fmt.Fprintf(os.Stderr, "building the kinds server: %v\n", err)
		return 1
	}
	return m.Run()
}

// newHost returns a plugin host that serves the built-in kinds from ompBin
// and no third-party kinds; it is closed, killing its plugins, when tb ends.
func newHost(tb testing.TB) *host.Host {
	h, err := host.New(host.Config{Self: []string{ompBin}, PluginPath: []string{}})
	if err != nil {
		tb.Fatal(err)
	}
	tb.Cleanup(func() { h.Close() })
	return h
}

var _ runtime.Executor = (*host.Host)(nil)
