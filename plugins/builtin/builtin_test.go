package builtin

import (
	"os"
	"path/filepath"
	"regexp"
	"slices"
	"strings"
	"testing"
)

// kindsDoc is the page that documents the kinds of this package.
const kindsDoc = "../../docs/kinds.md"

// sections splits a Markdown page at its "## " headings: heading → text.
func sections(doc string) map[string]string {
	out := map[string]string{}
	var head string
	for _, part := range strings.SplitAfter(doc, "\n") {
		if h, ok := strings.CutPrefix(part, "## "); ok {
			head = strings.TrimSpace(h)
			continue
		}
		out[head] += part
	}
	return out
}

// codeSpan matches an inline code span of Markdown.
var codeSpan = regexp.MustCompile("`[^`\n]+`")

// TestKindsDocumented keeps docs/kinds.md honest: every built-in kind has a
// section whose heading names it and its aliases, and the section names each
// action and keyword argument that the kind declares, in backquotes.
func TestKindsDocumented(t *testing.T) {
	data, err := os.ReadFile(kindsDoc)
	if err != nil {
		t.Fatal(err)
	}
	secs := sections(string(data))
	for name, k := range Kinds() {
		spec := k.Describe()
		var text string
		for head, body := range secs {
			if strings.Contains(head, "`"+name+"`") {
				text = head + "\n" + body
			}
		}
		if text == "" {
			t.Errorf("%s: no section with `%s` in its heading", kindsDoc, name)
			continue
		}
		spans := codeSpan.FindAllString(text, -1)
		mentioned := func(what, word string) {
			// `fit`, `model NAME.fit(X)`, `sleep="250ms"` all count.
			w := regexp.MustCompile(`\b` + regexp.QuoteMeta(word) + `\b`)
			if !slices.ContainsFunc(spans, w.MatchString) {
				t.Errorf("%s, section %s: %s is not mentioned in backquotes", kindsDoc, name, what)
			}
		}
		prose := strings.Join(strings.Fields(text), " ")
		for _, a := range spec.Aliases {
			mentioned("alias "+a, a)
		}
		for _, a := range spec.Actions {
			mentioned("action "+a.Name, a.Name)
			for _, kw := range a.Kwargs {
				mentioned("keyword argument "+kw+" of "+a.Name, kw)
			}
			if a.AnyKwargs && !strings.Contains(prose, "any keyword argument") && !strings.Contains(prose, "any positional and keyword arguments") {
				t.Errorf("%s, section %s: action %s takes any keyword argument, which the section does not say", kindsDoc, name, a.Name)
			}
		}
	}
}

// TestEnvDocumented checks that each OMP_ environment variable that the
// kinds read or set appears in docs/kinds.md.
func TestEnvDocumented(t *testing.T) {
	data, err := os.ReadFile(kindsDoc)
	if err != nil {
		t.Fatal(err)
	}
	doc := string(data)
	env := regexp.MustCompile(`"(OMP_[A-Z_]+)[="]`)
	var vars []string
	for _, kind := range []string{"echo", "script", "job", "model"} {
		files, err := filepath.Glob(filepath.Join("..", kind, "*.go"))
		if err != nil || len(files) == 0 {
			t.Fatalf("no Go files of %s: %v", kind, err)
		}
		for _, f := range files {
			if strings.HasSuffix(f, "_test.go") {
				continue
			}
			src, err := os.ReadFile(f)
			if err != nil {
				t.Fatal(err)
			}
			for _, m := range env.FindAllStringSubmatch(string(src), -1) {
				if !slices.Contains(vars, m[1]) {
					vars = append(vars, m[1])
				}
			}
		}
	}
	if len(vars) < 5 {
		t.Fatalf("found only %v in the kinds' source: has the pattern gone stale?", vars)
	}
	for _, v := range vars {
		if !strings.Contains(doc, "`"+v+"`") {
			t.Errorf("%s does not mention `%s`, which the kinds use", kindsDoc, v)
		}
	}
}
