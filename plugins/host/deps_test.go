package host

import (
	"testing"

	"github.com/ompdev/omp/internal/testbin"
)

// TestHostDoesNotBuildTheKinds: the built-in kinds come through
// Config.Builtins, so a program that hosts plugins, such as a kind author's
// test, builds neither the kinds nor what they use.
func TestHostDoesNotBuildTheKinds(t *testing.T) {
	testbin.NoDeps(t, "github.com/ompdev/omp/plugins/host",
		"github.com/ompdev/omp/plugins/builtin", "gonum.org/", "gocloud.dev/", "github.com/aws/", "cloud.google.com/", "github.com/Azure/")
}
