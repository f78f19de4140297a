// Package vscode holds the VS Code extension for .omp files (a Node.js
// package, built with npm) and the Go test that keeps its files in step with
// the language.
package vscode

import (
	"encoding/json"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"slices"
	"strings"
	"testing"

	"github.com/ompdev/omp/lang"
)

func readJSON(t *testing.T, path string, v any) {
	t.Helper()
	b, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	if err := json.Unmarshal(b, v); err != nil {
		t.Fatalf("%s: %v", path, err)
	}
}

// TestManifest checks that package.json names the files it contributes and
// the client's dependency, and that the language configuration has omp's
// brackets and comments.
func TestManifest(t *testing.T) {
	var pkg struct {
		Main        string            `json:"main"`
		Engines     map[string]string `json:"engines"`
		Deps        map[string]string `json:"dependencies"`
		Contributes struct {
			Languages []struct {
				ID            string   `json:"id"`
				Extensions    []string `json:"extensions"`
				Configuration string   `json:"configuration"`
			} `json:"languages"`
			Grammars []struct {
				Language, ScopeName, Path string
			} `json:"grammars"`
		} `json:"contributes"`
	}
	readJSON(t, "package.json", &pkg)
	if pkg.Engines["vscode"] == "" || pkg.Deps["vscode-languageclient"] == "" {
		t.Errorf("package.json: engines.vscode %q, vscode-languageclient %q: want both", pkg.Engines["vscode"], pkg.Deps["vscode-languageclient"])
	}
	files := []string{pkg.Main}
	if len(pkg.Contributes.Languages) != 1 || len(pkg.Contributes.Grammars) != 1 {
		t.Fatalf("package.json contributes %d languages and %d grammars, want one each", len(pkg.Contributes.Languages), len(pkg.Contributes.Grammars))
	}
	l, g := pkg.Contributes.Languages[0], pkg.Contributes.Grammars[0]
	if l.ID != "omp" || !slices.Equal(l.Extensions, []string{".omp"}) || g.Language != "omp" || g.ScopeName != "source.omp" {
		t.Errorf("package.json: language %+v, grammar %+v", l, g)
	}
	files = append(files, l.Configuration, g.Path)
	for _, f := range files {
		if _, err := os.Stat(f); err != nil {
			t.Errorf("package.json names %s: %v", f, err)
		}
	}
	js, err := os.ReadFile(pkg.Main)
	if err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(string(js), "args: ['lsp']") {
		t.Errorf("%s does not start omp lsp", pkg.Main)
	}

	var conf struct {
		Comments struct {
			LineComment string `json:"lineComment"`
		} `json:"comments"`
		Brackets [][2]string `json:"brackets"`
	}
	readJSON(t, l.Configuration, &conf)
	if conf.Comments.LineComment != "#" {
		t.Errorf("line comment %q, want #", conf.Comments.LineComment)
	}
	for _, want := range [][2]string{{"<", ">"}, {"(", ")"}, {"[", "]"}, {"{", "}"}} {
		if !slices.Contains(conf.Brackets, want) {
			t.Errorf("brackets %v lack %v", conf.Brackets, want)
		}
	}
}

// rule is a TextMate grammar rule, as far as the test looks.
type rule struct {
	Name     string          `json:"name"`
	Match    string          `json:"match"`
	Begin    string          `json:"begin"`
	End      string          `json:"end"`
	Include  string          `json:"include"`
	Patterns []rule          `json:"patterns"`
	Captures map[string]rule `json:"captures"`
}

// TestGrammar checks the grammar's structure: every include names a rule of
// its repository, every scope ends in .omp, every word it highlights as a
// keyword is one of the language's, and its example parses.
func TestGrammar(t *testing.T) {
	var g struct {
		ScopeName  string          `json:"scopeName"`
		Patterns   []rule          `json:"patterns"`
		Repository map[string]rule `json:"repository"`
	}
	readJSON(t, "syntaxes/omp.tmLanguage.json", &g)
	if g.ScopeName != "source.omp" {
		t.Errorf("scopeName %q, want source.omp", g.ScopeName)
	}
	words := regexp.MustCompile(`\\b\((?:\?:)?([a-z|]+)\)`)
	var walk func(where string, r rule)
	walk = func(where string, r rule) {
		if name, ok := strings.CutPrefix(r.Include, "#"); ok {
			if _, ok := g.Repository[name]; !ok {
				t.Errorf("%s: include %s names no rule", where, r.Include)
			}
		}
		if r.Name != "" && !strings.HasSuffix(r.Name, ".omp") {
			t.Errorf("%s: scope %s does not end in .omp", where, r.Name)
		}
		if r.Match == "" && r.Begin == "" && r.Include == "" && len(r.Patterns) == 0 && where != "capture" {
			t.Errorf("%s: a rule that matches nothing", where)
		}
		if strings.HasPrefix(r.Name, "keyword.") || strings.HasPrefix(r.Name, "constant.language") {
			for _, m := range words.FindAllStringSubmatch(r.Match, -1) {
				for _, w := range strings.Split(m[1], "|") {
					if !lang.IsKeyword(w) {
						t.Errorf("%s: %s is highlighted as a keyword but is none", where, w)
					}
				}
			}
		}
		for _, p := range r.Patterns {
			walk(where, p)
		}
		for _, c := range r.Captures {
			walk("capture", c)
		}
	}
	for _, p := range g.Patterns {
		walk("patterns", p)
	}
	for name, r := range g.Repository {
		walk(name, r)
	}
	src, err := os.ReadFile("test/example.omp")
	if err != nil {
		t.Fatal(err)
	}
	if _, err := lang.Parse("test/example.omp", src); err != nil {
		t.Errorf("the grammar's example is no omp: %v", err)
	}
}

// TestTokenise runs test/grammar.test.js: VS Code's own TextMate engine
// tokenises test/example.omp with the grammar. It needs Node.js and npm ci
// in this directory (.ci/run does it).
func TestTokenise(t *testing.T) {
	node, err := exec.LookPath("node")
	if err != nil {
		missing(t, "Node.js is not installed")
	}
	if _, err := os.Stat(filepath.Join("node_modules", "vscode-textmate")); err != nil {
		missing(t, "vscode-textmate is not installed: run npm ci in editors/vscode")
	}
	out, err := exec.Command(node, "--test", "test/").CombinedOutput()
	if err != nil {
		t.Errorf("node --test: %v\n%s", err, out)
	}
}

// missing skips a test whose tools are not installed, except in CI, where
// .ci/run installs them.
func missing(t *testing.T, why string) {
	t.Helper()
	if os.Getenv("CI") != "" {
		t.Fatal(why + ", and CI is set: .ci/run should have installed it")
	}
	t.Skip(why)
}
