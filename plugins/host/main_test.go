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
	os.Exit(testbin.Main(m, func(dir string) []testbin.Target {
		ompBin = filepath.Join(dir, "omp")
		pluginDir = filepath.Join(dir, "plugins")
		legacyDir = filepath.Join(dir, "legacy")
		return []testbin.Target{
			{Pkg: "github.com/ompdev/omp/runtime/testdata/kinds", Out: ompBin},
			{Pkg: "github.com/ompdev/omp/plugins/host/testdata/crashy", Out: filepath.Join(pluginDir, "omp-kind-crashy")},
			{Pkg: "github.com/ompdev/omp/examples/plugins/upper", Out: filepath.Join(pluginDir, "omp-kind-upper")},
			{Pkg: "github.com/ompdev/omp/plugins/host/testdata/legacy", Out: filepath.Join(legacyDir, "omp-kind-legacy")},
		}
	}, func() error {
		if err := goleak.Find(); err != nil {
			return fmt.Errorf("goroutines leaked: %w", err)
		}
		return nil
	}))
}
