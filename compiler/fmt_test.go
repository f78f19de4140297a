package compiler

import (
	"bytes"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"testing"

	"github.com/rogpeppe/go-internal/txtar"

	"github.com/ompdev/omp/lang"
)

// FuzzFormat checks that lang.Format means no change: whatever parses
// formats to a file that formats to itself, keeps every comment, and
// compiles to the same graph, node ids included, or fails with the same
// errors. Seeds are FuzzCompile's and the formatter's golden inputs.
func FuzzFormat(f *testing.F) {
	for _, data := range fuzzSeeds(f) {
		f.Add(data)
	}
	goldens, _ := filepath.Glob("../lang/testdata/format/*.txtar")
	for _, file := range goldens {
		ar, err := txtar.ParseFile(file)
		if err != nil {
			f.Fatal(err)
		}
		for _, af := range ar.Files {
			f.Add(af.Data)
		}
	}
	// A graph of a million nodes compiled four times and written as JSON
	// twice stalls the fuzzer for seconds; a small one shows as well
	// whether formatting changed it.
	defer func(n int) { maxNodes = n }(maxNodes)
	maxNodes = 2000
	f.Fuzz(func(t *testing.T, src []byte) {
		out, err := lang.Format(src, "fuzz.omp")
		if err != nil {
			return
		}
		checkRoundTrip(t, src, out)
		again, err := lang.Format(out, "fuzz.omp")
		if err != nil {
			t.Fatalf("formatted file does not parse: %v\n%s", err, out)
		}
		if !bytes.Equal(again, out) {
			t.Fatalf("Format is not idempotent:\n%s\n---\n%s", out, again)
		}
	})
}

// checkRoundTrip checks that out, the formatted form of src, keeps src's
// comments and compiles as src does.
func checkRoundTrip(t *testing.T, src, out []byte) {
	t.Helper()
	f1, err := lang.Parse("f.omp", src)
	if err != nil {
		t.Fatal(err)
	}
	f2, err := lang.Parse("f.omp", out)
	if err != nil {
		t.Fatalf("formatted file does not parse: %v\n%s", err, out)
	}
	if texts(f1.Comments) != texts(f2.Comments) {
		t.Fatalf("comments changed:\n%s\n---\n%s", texts(f1.Comments), texts(f2.Comments))
	}
	cfg := Config{Registry: testRegistry()}
	if e1, e2 := errorText(Check(f1, cfg)), errorText(Check(f2, cfg)); e1 != e2 {
		t.Fatalf("Check of the formatted file differs:\n%s\n---\n%s\n--- formatted:\n%s", e1, e2, out)
	}
	g1, err1 := Compile(f1, cfg)
	g2, err2 := Compile(f2, cfg)
	if e1, e2 := errorText(err1), errorText(err2); e1 != e2 {
		t.Fatalf("Compile of the formatted file differs:\n%s\n---\n%s\n--- formatted:\n%s", e1, e2, out)
	}
	if err1 != nil {
		return
	}
	if a, b := graphText(t, g1), graphText(t, g2); a != b {
		t.Fatalf("graphs differ:\n%s\n---\n%s\n--- formatted:\n%s", a, b, out)
	}
}

func texts(cs []lang.Comment) string {
	var b strings.Builder
	for _, c := range cs {
		b.WriteString(c.Text + "\n")
	}
	return b.String()
}

var positionRx = regexp.MustCompile(`\d+:\d+`)

// errorText is err's messages without positions, which formatting moves.
func errorText(err error) string {
	list, ok := err.(lang.ErrorList)
	if !ok {
		if err == nil {
			return ""
		}
		return err.Error()
	}
	var b strings.Builder
	for _, e := range list {
		b.WriteString(positionRx.ReplaceAllString(e.Msg, "L:C") + "\n")
	}
	return b.String()
}

// graphText is the JSON form of g without positions.
func graphText(t *testing.T, g *Graph) string {
	for _, n := range g.Nodes {
		n.Pos = Pos{}
	}
	for i := range g.Outputs {
		g.Outputs[i].Pos = Pos{}
	}
	var b strings.Builder
	if err := g.WriteJSON(&b); err != nil {
		t.Fatal(err)
	}
	return b.String()
}

// TestExamplesFormatted: every example is in canonical form, so a change
// to the formatter or an example that breaks that fails here, in CI.
func TestExamplesFormatted(t *testing.T) {
	files, _ := filepath.Glob("../examples/*.omp")
	if len(files) == 0 {
		t.Fatal("no examples")
	}
	for _, file := range files {
		t.Run(filepath.Base(file), func(t *testing.T) {
			src, err := os.ReadFile(file)
			if err != nil {
				t.Fatal(err)
			}
			out, err := lang.Format(src, file)
			if err != nil {
				t.Fatal(err)
			}
			checkRoundTrip(t, src, out)
			if !bytes.Equal(out, src) {
				t.Errorf("%s is not formatted: run omp fmt -w %s; it would be\n%s", file, file, out)
			}
		})
	}
}

// TestSpecFormatted: every ```omp block of spec.md that parses is in
// canonical form. The blocks that show syntax errors cannot be formatted.
func TestSpecFormatted(t *testing.T) {
	data, err := os.ReadFile("../spec.md")
	if err != nil {
		t.Fatal(err)
	}
	blocks := regexp.MustCompile("(?ms)^```omp\n(.*?)^```").FindAllSubmatchIndex(data, -1)
	formatted := 0
	for _, m := range blocks {
		src := data[m[2]:m[3]]
		line := bytes.Count(data[:m[2]], []byte("\n")) + 1
		out, err := lang.Format(src, "spec.md")
		if err != nil {
			continue
		}
		formatted++
		checkRoundTrip(t, src, out)
		if !bytes.Equal(out, src) {
			t.Errorf("spec.md:%d: the block is not formatted; it would be\n%s", line, out)
		}
	}
	if formatted == 0 {
		t.Fatal("spec.md has no omp block that parses")
	}
}
