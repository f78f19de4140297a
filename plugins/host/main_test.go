package host

import (
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"testing"

	"go.uber.org/goleak"
)

// Binaries built once for the whole test binary: omp itself (which serves the
// built-in kinds), the crashy test kind and the example third-party kind.
var (
	ompBin    string // omp, for Config.Self
	pluginDir string // holds omp-kind-crashy and omp-kind-upper
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
	for _, b := range []struct{ out, pkg string }{
		{ompBin, "github.com/ompdev/omp/cmd/omp"},
		{filepath.Join(pluginDir, "omp-kind-crashy"), "github.com/ompdev/omp/plugins/host/testdata/crashy"},
		{filepath.Join(pluginDir, "omp-kind-upper"), "github.com/ompdev/omp/examples/plugins/upper"},
	} {
		cmd := exec.Command("go", "build", "-o", b.out, b.pkg)
		cmd.Stderr = os.Stderr
		if err := cmd.Run(); err != nil {
			fmt.Fprintf(os.Stderr, "building %s: %v\n", b.pkg, err)
			return 1
		}
	}
	code := m.Run()
	if code == 0 {
		if err := goleak.Find(); err != nil {
			fmt.Fprintf(os.Stderr, "goroutines leaked: %v\n", err)
			return 1
		}
		if kids := children(os.Getpid()); len(kids) > 0 {
			fmt.Fprintf(os.Stderr, "processes leaked: %v\n", kids)
			return 1
		}
	}
	return code
}
