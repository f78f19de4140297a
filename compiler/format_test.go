package compiler

import (
	"bytes"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/rogpeppe/go-internal/txtar"
)

// goldenGraphs compiles the inputs of testdata/graphs.
func goldenGraphs(t *testing.T) map[string]*Graph {
	files, _ := filepath.Glob("testdata/graphs/*.txtar")
	out := map[string]*Graph{}
	for _, file := range files {
		ar, err := txtar.ParseFile(file)
		if err != nil {
			t.Fatal(err)
		}
		for _, f := range ar.Files {
			if f.Name == "input.omp" {
				pipeline := ""
				for _, p := range ar.Files {
					if p.Name == "pipeline" {
						pipeline = strings.TrimSpace(string(p.Data))
					}
				}
				g, err := compileSrc(t, "input.omp", string(f.Data), nil, pipeline)
				if err != nil {
					t.Fatalf("%s: %v", file, err)
				}
				out[filepath.Base(file)] = g
			}
		}
	}
	return out
}

// renderedGraphs is every graph the DOT and Mermaid checks render: the
// golden graphs and the examples'.
func renderedGraphs(t *testing.T) map[string]*Graph {
	out := goldenGraphs(t)
	// [^.]: not .omp/, the run history that running the examples makes.
	files, _ := filepath.Glob("../examples/[^.]*.omp")
	for _, file := range files {
		out["example-"+filepath.Base(file)] = compileExample(t, file)
	}
	return out
}

// missing skips t for want of a tool, except under CI: .ci/run installs
// every tool these tests use, so there a missing one is a broken CI, not a
// reason to let the check pass unseen.
func missing(t *testing.T, why string) {
	t.Helper()
	if os.Getenv("CI") != "" {
		t.Fatal(why + ", and CI is set: .ci/run should have installed it")
	}
	t.Skip(why)
}

// TestDOTIsValid feeds every rendered graph to Graphviz, when it is installed.
func TestDOTIsValid(t *testing.T) {
	dot, err := exec.LookPath("dot")
	if err != nil {
		missing(t, "Graphviz dot is not installed")
	}
	for name, g := range renderedGraphs(t) {
		var b bytes.Buffer
		if err := g.WriteDOT(&b); err != nil {
			t.Fatal(err)
		}
		cmd := exec.Command(dot, "-Tsvg", "-o", "/dev/null")
		cmd.Stdin = &b
		if out, err := cmd.CombinedOutput(); err != nil {
			t.Errorf("%s: dot: %v\n%s", name, err, out)
		}
	}
}

// TestMermaidIsValid parses every rendered graph with Mermaid's own parser,
// when Node.js and the parser are installed (npm ci in testdata/mermaid;
// .ci/run does it).
func TestMermaidIsValid(t *testing.T) {
	node, err := exec.LookPath("node")
	if err != nil {
		missing(t, "Node.js is not installed")
	}
	if _, err := os.Stat("testdata/mermaid/node_modules/mermaid"); err != nil {
		missing(t, "Mermaid is not installed: run npm ci in compiler/testdata/mermaid")
	}
	dir := t.TempDir()
	args := []string{"testdata/mermaid/check.mjs"}
	for name, g := range renderedGraphs(t) {
		var b bytes.Buffer
		if err := g.WriteMermaid(&b); err != nil {
			t.Fatal(err)
		}
		file := filepath.Join(dir, name+".mmd")
		if err := os.WriteFile(file, b.Bytes(), 0o644); err != nil {
			t.Fatal(err)
		}
		args = append(args, file)
	}
	if out, err := exec.Command(node, args...).CombinedOutput(); err != nil {
		t.Errorf("Mermaid rejects the output: %v\n%s", err, out)
	}
}

func TestDescribe(t *testing.T) {
	tests := []struct {
		node Node
		want string
	}{
		{Node{Op: OpTask, Kind: "job", Name: "j", Action: "run", Args: []any{int64(1), "s", 2.0, nil, true}, Label: DefaultLabel},
			`job j(1, "s", 2.0, null, true)`},
		{Node{Op: OpTask, Kind: "model", Name: "m", Action: "fit", Kwargs: map[string]any{"b": []any{Ref{Node: "s1"}}, "a": map[string]any{"k": 1.5}}, Label: "gpu",
			Opts: Options{Retries: 2, Timeout: 5 * time.Minute, Backoff: 90 * time.Minute}},
			`model m.fit(a={"k": 1.5}, b=[$s1]) @gpu with retries=2, timeout=5m, backoff=1h30m`},
		{Node{Op: OpReduce, Reducer: "sum"}, "reduce sum"},
		{Node{Op: OpReduce, Reducer: "max", Spread: true}, "reduce max (spread)"},
	}
	for _, tc := range tests {
		if got := Describe(&tc.node); got != tc.want {
			t.Errorf("Describe = %s, want %s", got, tc.want)
		}
	}
}

func TestMermaidEscape(t *testing.T) {
	got := mermaidEscape("a\"b#c<d>e&f`g\nh")
	want := "a#quot;b#35;c#lt;d#gt;e#amp;f#96;g h"
	if got != want {
		t.Errorf("mermaidEscape = %s, want %s", got, want)
	}
}
