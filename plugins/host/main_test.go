package host

import (
	"fmt"
	"os"
	"path/filepath"
	"testing"

	"go.uber.org/goleak"

	"github.com/ompdev/omp/internal/testbin"
)

// Binaries built once for the whole test binary: one that serves the
// built-in kinds as omp plugin-serve does (runtime/testdata/kinds, which
// links in a fraction of the time omp itself takes), the crashy test kind
// and the example third-party kind.
var (
	ompBin    string // for Config.Self
	pluginDir string // holds omp-kind-crashy and omp-kind-upper
	legacyDir string // holds omp-kind-legacy
)

func TestMain(m *testing.M) {
	if os.Getenv(helperEnv) != "" {
		os.Exit(helperMain())
	}
	os.Exit(testMain(m))
}

func testMain(m *testing.M) int {
	dir, err := os.MkdirTemp("", "omp-host-test-")
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		return 1
	}
	defer os.RemoveAll(dir)
	ompBin = filepath.Join(dir, "omp")
	pluginDir = filepath.Join(dir, "plugins")
	legacyDir = filepath.Join(dir, "legacy")
	if err := testbin.Build(
		testbin.Target{Pkg: "github.com/ompdev/omp/runtime/testdata/kinds", Out: ompBin},
		testbin.Target{Pkg: "github.com/ompdev/omp/plugins/host/testdata/crashy", Out: filepath.Join(pluginDir, "omp-kind-crashy")},
		testbin.Target{Pkg: "github.com/ompdev/omp/examples/plugins/upper", Out: filepath.Join(pluginDir, "omp-kind-upper")},
		testbin.Target{Pkg: "github.com/ompdev/omp/plugins/host/testdata/legacy", Out: filepath.Join(legacyDir, "omp-kind-legacy")},
	); err != nil {
		fmt.Fprintln(os.Stderr, err)
		return 1
	}
	code := m.Run()
	if code == 0 {
		if err := goleak.Find(); err != nil {
			fmt.Fprintf(os.Stderr, "goroutines leaked: %v\n", err)
			return 1
		}
		if kids := testbin.Children(os.Getpid()); len(kids) > 0 {
			fmt.Fprintf(os.Stderr, "processes leaked: %v\n", kids)
			return 1
		}
	}
	return code
}
