package runtime_test

import (
	"os"
	"path/filepath"
	"testing"

	"github.com/ompdev/omp/internal/testbin"
	"github.com/ompdev/omp/plugins/builtin"
	"github.com/ompdev/omp/plugins/host"
	"github.com/ompdev/omp/runtime"
)

// ompBin serves the built-in kinds as plugin processes, built once per test
// binary from testdata/kinds: the same kinds and sdk.Serve as `omp
// plugin-serve`, so the plugin variants run tasks as `omp run` does.
var ompBin string

// pluginDir holds omp-kind-crashy, the plugin host's misbehaving test kind.
var pluginDir string

func TestMain(m *testing.M) {
	os.Exit(testbin.Main(m, func(dir string) []testbin.Target {
		ompBin = filepath.Join(dir, "omp")
		pluginDir = filepath.Join(dir, "plugins")
		return []testbin.Target{
			{Pkg: "github.com/ompdev/omp/runtime/testdata/kinds", Out: ompBin},
			{Pkg: "github.com/ompdev/omp/plugins/host/testdata/crashy", Out: filepath.Join(pluginDir, "omp-kind-crashy")},
		}
	}, nil))
}

// newHost returns a plugin host that serves the built-in kinds from ompBin
// and crashy from pluginDir; it is closed, killing its plugins, when tb ends.
func newHost(tb testing.TB) *host.Host {
	h, err := host.New(host.Config{Builtins: builtin.Kinds(), Self: []string{ompBin}, PluginPath: []string{pluginDir}})
	if err != nil {
		tb.Fatal(err)
	}
	tb.Cleanup(func() { h.Close() })
	return h
}

var _ runtime.Executor = (*host.Host)(nil)
