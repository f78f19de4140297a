package compiler

import (
	"bytes"
	"flag"
	"fmt"
	"os"
	"path/filepath"
	"regexp"
	"sort"
	"strconv"
	"strings"
	"testing"

	"github.com/rogpeppe/go-internal/txtar"

	"github.com/ompdev/omp/lang"
)

var update = flag.Bool("update", false, "rewrite golden files and inline error expectations")

// testRegistry is the built-in kinds (see kinds_test.go) plus a kind with a required argument,
// standing in for one a plugin declares.
func testRegistry() Registry {
	r := builtinKinds()
	r.Add(KindSpec{Name: "train", Aliases: []string{"fit"}, Actions: []ActionSpec{{Name: "run", MinArgs: 1, MaxArgs: 2}}})
	return r
}

func compileSrc(t testing.TB, name, src string, params map[string]string, pipeline string) (*Graph, error) {
	t.Helper()
	f, err := lang.Parse(name, []byte(src))
	if err != nil {
		return nil, err
	}
	return Compile(f, Config{Registry: testRegistry(), Params: params, Pipeline: pipeline})
}

var idRx = regexp.MustCompile(`^[a-z0-9._-]+$`)

// checkInvariants asserts what the package doc promises of a graph.
func checkInvariants(t testing.TB, g *Graph) {
	t.Helper()
	seen := map[string]bool{}
	for _, n := range g.Nodes {
		if !idRx.MatchString(n.ID) {
			t.Errorf("node id %q has characters outside [a-z0-9._-]", n.ID)
		}
		if seen[n.ID] {
			t.Errorf("duplicate node id %q", n.ID)
		}
		if n.Op == OpTask && len(n.Inputs) > 1 {
			t.Errorf("task %s has %d inputs", n.ID, len(n.Inputs))
		}
		if n.Spread && len(n.Inputs) != 1 {
			t.Errorf("spread reduce %s has %d inputs", n.ID, len(n.Inputs))
		}
		if !sort.StringsAreSorted(n.Deps) {
			t.Errorf("deps of %s not sorted: %v", n.ID, n.Deps)
		}
		deps := map[string]bool{}
		for _, d := range n.Deps {
			if !seen[d] {
				t.Errorf("%s depends on %s, which does not come before it", n.ID, d)
			}
			if deps[d] {
				t.Errorf("%s lists dep %s twice", n.ID, d)
			}
			deps[d] = true
		}
		for _, in := range n.Inputs {
			if !deps[in] {
				t.Errorf("input %s of %s missing from deps", in, n.ID)
			}
		}
		for _, r := range refsIn(n) {
			if !deps[r] {
				t.Errorf("ref %s of %s missing from deps", r, n.ID)
			}
		}
		if n.Op == OpTask && n.Label == "" {
			t.Errorf("task %s has no label", n.ID)
		}
		seen[n.ID] = true
	}
	for _, o := range g.Outputs {
		if !seen[o.Node] {
			t.Errorf("output %s is not a node", o.Node)
		}
	}
}

func refsIn(n *Node) []string {
	var out []string
	var walk func(v any)
	walk = func(v any) {
		switch x := v.(type) {
		case Ref:
			out = append(out, x.Node)
		case []any:
			for _, e := range x {
				walk(e)
			}
		case map[string]any:
			for _, e := range x {
				walk(e)
			}
		}
	}
	walk([]any(n.Args))
	for _, v := range n.Kwargs {
		walk(v)
	}
	return out
}

// TestGraphs compiles testdata/graphs/*.txtar. Each archive holds
// input.omp, optionally params (NAME=VALUE lines) and pipeline (a name), and
// the golden graph.json and graph.mmd.
func TestGraphs(t *testing.T) {
	files, _ := filepath.Glob("testdata/graphs/*.txtar")
	if len(files) == 0 {
		t.Fatal("no testdata/graphs/*.txtar")
	}
	for _, file := range files {
		t.Run(strings.TrimSuffix(filepath.Base(file), ".txtar"), func(t *testing.T) {
			ar, err := txtar.ParseFile(file)
			if err != nil {
				t.Fatal(err)
			}
			get := func(name string) (string, bool) {
				for _, f := range ar.Files {
					if f.Name == name {
						return string(f.Data), true
					}
				}
				return "", false
			}
			src, ok := get("input.omp")
			if !ok {
				t.Fatal("no input.omp")
			}
			params := map[string]string{}
			if p, ok := get("params"); ok {
				for _, line := range strings.Split(strings.TrimSpace(p), "\n") {
					k, v, _ := strings.Cut(line, "=")
					params[k] = v
				}
			}
			pipeline, _ := get("pipeline")
			g, err := compileSrc(t, "input.omp", src, params, strings.TrimSpace(pipeline))
			if err != nil {
				t.Fatalf("compile: %v", err)
			}
			checkInvariants(t, g)
			var js, mmd bytes.Buffer
			if err := g.WriteJSON(&js); err != nil {
				t.Fatal(err)
			}
			if err := g.WriteMermaid(&mmd); err != nil {
				t.Fatal(err)
			}
			got := map[string]string{"graph.json": js.String(), "graph.mmd": mmd.String()}
			if *update {
				var out []txtar.File
				for _, f := range ar.Files {
					if _, golden := got[f.Name]; !golden {
						out = append(out, f)
					}
				}
				for _, name := range []string{"graph.json", "graph.mmd"} {
					out = append(out, txtar.File{Name: name, Data: []byte(got[name])})
				}
				ar.Files = out
				if err := os.WriteFile(file, txtar.Format(ar), 0o644); err != nil {
					t.Fatal(err)
				}
				return
			}
			for name, data := range got {
				want, ok := get(name)
				if !ok {
					t.Errorf("no %s in %s (run with -update)", name, file)
					continue
				}
				if data != want {
					t.Errorf("%s differs (run with -update to accept):\n got:\n%s\nwant:\n%s", name, data, want)
				}
			}
		})
	}
}

// TestErrors compiles testdata/errors/*.omp. A file holds chunks separated
// by "---" lines, each compiled on its own (keeping its line numbers); a
// chunk's first lines may set "#! params NAME=VALUE ..." and "#! pipeline
// NAME". Expected errors sit on the line they are reported for, after ###,
// as COLUMN: "MESSAGE" pairs; errors without a line are expected by a line
// `### file: "MESSAGE"`. With -update the expectations are rewritten.
func TestErrors(t *testing.T) {
	files, _ := filepath.Glob("testdata/errors/*.omp")
	if len(files) == 0 {
		t.Fatal("no testdata/errors/*.omp")
	}
	for _, file := range files {
		t.Run(strings.TrimSuffix(filepath.Base(file), ".omp"), func(t *testing.T) {
			data, err := os.ReadFile(file)
			if err != nil {
				t.Fatal(err)
			}
			lines := strings.Split(strings.TrimSuffix(string(data), "\n"), "\n")
			var out []string
			start := 0
			for i := 0; i <= len(lines); i++ {
				if i < len(lines) && lines[i] != "---" {
					continue
				}
				out = append(out, checkChunk(t, file, lines, start, i)...)
				if i < len(lines) {
					out = append(out, "---")
				}
				start = i + 1
			}
			if *update {
				if err := os.WriteFile(file, []byte(strings.Join(out, "\n")+"\n"), 0o644); err != nil {
					t.Fatal(err)
				}
			}
		})
	}
}

var expectRx = regexp.MustCompile(`(^|\s)###`)

// checkChunk compiles lines[start:end] and compares the errors with the
// expectations; it returns the chunk with expectations as they are now.
func checkChunk(t *testing.T, file string, lines []string, start, end int) []string {
	t.Helper()
	var src strings.Builder
	src.WriteString(strings.Repeat("\n", start))
	want := map[int][]string{}
	params := map[string]string{}
	pipeline := ""
	var body []string
	for i := start; i < end; i++ {
		line := lines[i]
		code := line
		if loc := expectRx.FindStringIndex(line); loc != nil {
			code = strings.TrimRight(line[:loc[0]], " \t")
			exp := strings.TrimSpace(line[loc[1]:])
			n := i + 1
			if strings.HasPrefix(exp, "file:") {
				n = 0
			}
			want[n] = append(want[n], parseExpect(t, file, i+1, exp)...)
			if n == 0 {
				continue
			}
		}
		if f, ok := strings.CutPrefix(code, "#! params "); ok {
			for _, kv := range strings.Fields(f) {
				k, v, _ := strings.Cut(kv, "=")
				params[k] = v
			}
		}
		if f, ok := strings.CutPrefix(code, "#! pipeline "); ok {
			pipeline = strings.TrimSpace(f)
		}
		body = append(body, code)
		src.WriteString(code + "\n")
	}
	got := map[int][]string{}
	_, err := compileSrc(t, file, src.String(), params, pipeline)
	if err != nil {
		list, ok := err.(lang.ErrorList)
		if !ok {
			t.Fatalf("%s:%d: error is %T, not lang.ErrorList: %v", file, start+1, err, err)
		}
		for _, e := range list {
			if e.Pos.Filename != file {
				t.Errorf("error %q has file %q", e.Msg, e.Pos.Filename)
			}
			got[e.Pos.Line] = append(got[e.Pos.Line], formatExpect(e))
		}
	}
	if !*update {
		for line := range union(want, got) {
			w, g := strings.Join(want[line], " "), strings.Join(got[line], " ")
			if w != g {
				t.Errorf("%s:%d:\n got ### %s\nwant ### %s", file, line, g, w)
			}
		}
	}
	// The chunk with the expectations as they are now, for -update.
	var out []string
	for k, code := range body {
		n := start + k + 1
		if len(got[n]) > 0 {
			code += "  ### " + strings.Join(got[n], " ")
		}
		out = append(out, code)
	}
	if len(got[0]) > 0 {
		out = append(out, "### "+strings.Join(got[0], " "))
	}
	return out
}

func formatExpect(e *lang.Error) string {
	if e.Pos.Line == 0 {
		return "file: " + strconv.Quote(e.Msg)
	}
	return strconv.Itoa(e.Pos.Column) + ": " + strconv.Quote(e.Msg)
}

func parseExpect(t *testing.T, file string, line int, s string) []string {
	var out []string
	for s = strings.TrimSpace(s); s != ""; s = strings.TrimSpace(s) {
		head, rest, ok := strings.Cut(s, ": ")
		if !ok {
			t.Fatalf("%s:%d: bad expectation %q: want COL: \"MSG\"", file, line, s)
		}
		q, err := strconv.QuotedPrefix(rest)
		if err != nil {
			t.Fatalf("%s:%d: bad expectation %q: %v", file, line, rest, err)
		}
		out = append(out, head+": "+q)
		s = rest[len(q):]
	}
	return out
}

func union(a, b map[int][]string) map[int]bool {
	m := map[int]bool{}
	for k := range a {
		m[k] = true
	}
	for k := range b {
		m[k] = true
	}
	return m
}

// TestExamples compiles every examples/*.omp with the built-in kinds.
func TestExamples(t *testing.T) {
	// [^.]: not .omp/, the run history that running the examples makes.
	files, _ := filepath.Glob("../examples/[^.]*.omp")
	if len(files) == 0 {
		t.Fatal("found no examples/*.omp to compile: have they moved?")
	}
	for _, file := range files {
		t.Run(filepath.Base(file), func(t *testing.T) {
			checkInvariants(t, compileExample(t, file))
		})
	}
}

// compileExample checks and compiles an example with the built-in kinds.
func compileExample(t *testing.T, file string) *Graph {
	t.Helper()
	src, err := os.ReadFile(file)
	if err != nil {
		t.Fatal(err)
	}
	f, err := lang.Parse(file, src)
	if err != nil {
		t.Fatal(err)
	}
	if err := Check(f, Config{Registry: testRegistry()}); err != nil {
		t.Fatal(err)
	}
	g, err := Compile(f, Config{Registry: testRegistry()})
	if err != nil {
		t.Fatal(err)
	}
	return g
}

// TestSpecExamples compiles every ```omp block of spec.md. A block with ###
// expectations must fail with exactly those errors; any other must compile.
func TestSpecExamples(t *testing.T) {
	data, err := os.ReadFile("../spec.md")
	if err != nil {
		t.Fatal(err)
	}
	lines := strings.Split(string(data), "\n")
	n := 0
	for i := 0; i < len(lines); i++ {
		if strings.TrimSpace(lines[i]) != "```omp" {
			continue
		}
		j := i + 1
		for j < len(lines) && strings.TrimSpace(lines[j]) != "```" {
			j++
		}
		n++
		block := lines[:j]
		first := i + 1
		t.Run(fmt.Sprintf("line%d", first+1), func(t *testing.T) {
			// Keep the spec's line numbers: blank out what precedes the
			// block.
			padded := make([]string, len(block))
			copy(padded[first:], block[first:])
			checkChunk(t, "spec.md", padded, first, len(block))
		})
		i = j
	}
	if n == 0 {
		t.Fatal("spec.md has no ```omp examples")
	}
}

// TestMaxNodes: comprehensions nested in comprehensions multiply; the
// compiler stops at maxNodes with an error instead of running out of memory.
func TestMaxNodes(t *testing.T) {
	defer func(n int) { maxNodes = n }(maxNodes)
	maxNodes = 1000
	_, err := compileSrc(t, "big.omp", "echo a()\nparallel < parallel < echo a(i) for i in 1..1000000 > for j in 1..1000000 >\n", nil, "")
	want := "big.omp:2:1: the pipeline expands to more than 1000 nodes"
	if err == nil || err.Error() != want {
		t.Fatalf("got %v, want %s", err, want)
	}
}

// TestNodeIDsStable: compiling the same source with the same params twice
// gives the same ids; a -p value that changes the expansion changes them.
func TestNodeIDsStable(t *testing.T) {
	src := "param n = 2\nlet d = script prep()\nd -> parallel < echo \"e{i}\"(i) for i in 1..n > -> reduce sum\n"
	ids := func(params map[string]string) string {
		g, err := compileSrc(t, "ids.omp", src, params, "")
		if err != nil {
			t.Fatal(err)
		}
		var out []string
		for _, n := range g.Nodes {
			out = append(out, n.ID)
		}
		return strings.Join(out, " ")
	}
	a, b := ids(nil), ids(nil)
	if a != b || a != "s1 s2.2.1 s2.2.2 s2.3" {
		t.Errorf("ids %q then %q", a, b)
	}
	if c := ids(map[string]string{"n": "3"}); c != "s1 s2.2.1 s2.2.2 s2.2.3 s2.3" {
		t.Errorf("with n=3: %q", c)
	}
}

// TestCheckEveryBlock: Compile (omp run, omp graph) checks only the selected
// block, so that another can be work in progress; Check (omp check) checks
// them all, with or without a pipeline named.
func TestCheckEveryBlock(t *testing.T) {
	src := "pipeline eval {\n  echo e(1)\n}\npipeline train {\n  script train(epohcs)\n}\n"
	f, err := lang.Parse("p.omp", []byte(src))
	if err != nil {
		t.Fatal(err)
	}
	if _, err := Compile(f, Config{Registry: testRegistry(), Pipeline: "eval"}); err != nil {
		t.Errorf("Compile eval: %v", err)
	}
	want := "p.omp:5:16: undefined: epohcs"
	if _, err := Compile(f, Config{Registry: testRegistry(), Pipeline: "train"}); err == nil || err.Error() != want {
		t.Errorf("Compile train: got %v, want %s", err, want)
	}
	for _, p := range []string{"", "eval"} {
		if err := Check(f, Config{Registry: testRegistry(), Pipeline: p}); err == nil || err.Error() != want {
			t.Errorf("Check with pipeline %q: got %v, want %s", p, err, want)
		}
	}
	want = "p.omp: no pipeline evla (did you mean eval?)\n" + want
	if err := Check(f, Config{Registry: testRegistry(), Pipeline: "evla"}); err == nil || err.Error() != want {
		t.Errorf("Check evla: got %v, want %s", err, want)
	}
}

// TestSequenceChainsMembers: `sequence < a, b >` is `a -> b`, the block's
// input going to the first member, as spec.md's composition table says.
func TestSequenceChainsMembers(t *testing.T) {
	g, err := compileSrc(t, "s.omp", "echo x() -> sequence < echo a(1), echo b(), parallel < echo c(), echo d() > >", nil, "")
	if err != nil {
		t.Fatal(err)
	}
	checkInvariants(t, g)
	var got []string
	for _, n := range g.Nodes {
		got = append(got, fmt.Sprintf("%s<-%v", n.ID, n.Inputs))
	}
	want := "s1.1<-[] s1.2.1<-[s1.1] s1.2.2<-[s1.2.1] s1.2.3.1<-[s1.2.2] s1.2.3.2<-[s1.2.2] s1.2.3.c<-[s1.2.3.1 s1.2.3.2]"
	if s := strings.Join(got, " "); s != want {
		t.Errorf("nodes\n got %s\nwant %s", s, want)
	}
	if o := g.Outputs[0].Node; o != "s1.2.3.c" {
		t.Errorf("result is %s, want the last member's, s1.2.3.c", o)
	}
}
