package compiler

import (
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/ompdev/omp/lang"
)

// FuzzCompile checks that the compiler never panics and that whatever it
// accepts satisfies the package's guarantees. Seeds are the same files
// FuzzParse starts from.
func FuzzCompile(f *testing.F) {
	for _, data := range fuzzSeeds(f) {
		f.Add(data, "n=2")
	}
	f.Fuzz(func(t *testing.T, src []byte, param string) {
		file, err := lang.Parse("fuzz.omp", src)
		if err != nil {
			return
		}
		k, v, _ := strings.Cut(param, "=")
		cfg := Config{Registry: testRegistry(), Params: map[string]string{k: v}}
		if err := Check(file, cfg); err != nil {
			if _, ok := err.(lang.ErrorList); !ok {
				t.Fatalf("error is %T: %v", err, err)
			}
		}
		g, err := Compile(file, cfg)
		if err != nil {
			return
		}
		checkInvariants(t, g)
		var sb strings.Builder
		if err := g.WriteMermaid(&sb); err != nil {
			t.Fatal(err)
		}
	})
}

// fuzzSeeds are the .omp files the compiler's fuzz tests start from: the
// parser's seeds, the examples and the error tests.
func fuzzSeeds(f *testing.F) [][]byte {
	var seeds [][]byte
	// [^.]: not .omp/, the run history that running the examples makes.
	for _, pattern := range []string{"../lang/testdata/fuzz/*.omp", "../examples/[^.]*.omp", "testdata/errors/*.omp"} {
		files, _ := filepath.Glob(pattern)
		for _, file := range files {
			data, err := os.ReadFile(file)
			if err != nil {
				f.Fatal(err)
			}
			seeds = append(seeds, data)
		}
	}
	return seeds
}
