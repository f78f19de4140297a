package lang

import (
	"bytes"
	"fmt"
	"os"
	"path/filepath"
	"reflect"
	"strings"
	"testing"

	"github.com/alecthomas/participle/v2"
	"github.com/alecthomas/participle/v2/lexer"
	"github.com/rogpeppe/go-internal/txtar"
)

// fuzzSeeds are every .omp file the repository has: fuzz seeds, examples,
// the compiler's error tests and the inputs of its graph tests.
func fuzzSeeds(t testing.TB) [][]byte {
	var seeds [][]byte
	// [^.]: not .omp/, the run history that running the examples makes.
	for _, pattern := range []string{"testdata/fuzz/*.omp", "../examples/[^.]*.omp", "../compiler/testdata/errors/*.omp"} {
		files, _ := filepath.Glob(pattern)
		for _, f := range files {
			data, err := os.ReadFile(f)
			if err != nil {
				t.Fatal(err)
			}
			seeds = append(seeds, data)
		}
	}
	archives, _ := filepath.Glob("../compiler/testdata/graphs/*.txtar")
	for _, a := range archives {
		ar, err := txtar.ParseFile(a)
		if err != nil {
			t.Fatal(err)
		}
		for _, f := range ar.Files {
			if strings.HasSuffix(f.Name, ".omp") {
				seeds = append(seeds, f.Data)
			}
		}
	}
	return seeds
}

// FuzzParse checks that Parse never panics, that the fast parser and
// participle agree on every statement, that Parse agrees with participle
// parsing the whole file by File's grammar, and that Format's output parses
// to the same tree.
func FuzzParse(f *testing.F) {
	for _, s := range fuzzSeeds(f) {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, src []byte) {
		file, err := Parse("fuzz.omp", src)
		if err != nil {
			list, ok := err.(ErrorList)
			if !ok || len(list) == 0 {
				t.Fatalf("error is %T %v, want a non-empty ErrorList", err, err)
			}
			for _, e := range list {
				if strings.Contains(e.Msg, "internal error") {
					t.Fatalf("%v", e)
				}
				if e.Pos.Line < 1 || e.Pos.Column < 1 || e.Pos.Filename != "fuzz.omp" {
					t.Fatalf("error without a proper position: %#v", e.Pos)
				}
			}
		}
		compareParsers(t, src)
		compareFileParsers(t, src)
		if err != nil {
			return
		}
		out, err := Format(src, "fuzz.omp")
		if err != nil {
			t.Fatalf("Format fails on a file that parses: %v", err)
		}
		checkFormatted(t, file, out)
	})
}

// checkFormatted checks that out, the formatted form of file, parses to the
// same statements and keeps every comment, and that formatting it again
// changes nothing.
func checkFormatted(t *testing.T, file *File, out []byte) {
	t.Helper()
	again, err := Parse(file.Name, out)
	if err != nil {
		t.Fatalf("Format output does not parse: %v\n%s", err, out)
	}
	if a, b := dumpFile(file), dumpFile(again); a != b {
		t.Fatalf("Format changed the tree:\n%s\n---\n%s\n--- output:\n%s", a, b, out)
	}
	if len(again.Comments) != len(file.Comments) {
		t.Fatalf("Format kept %d of %d comments:\n%s", len(again.Comments), len(file.Comments), out)
	}
	for i, c := range file.Comments {
		if again.Comments[i].Text != c.Text {
			t.Fatalf("comment %d is %q, was %q:\n%s", i, again.Comments[i].Text, c.Text, out)
		}
	}
	out2, err := Format(out, file.Name)
	if err != nil {
		t.Fatal(err)
	}
	if !bytes.Equal(out2, out) {
		t.Fatalf("Format is not idempotent:\n%s\n---\n%s", out, out2)
	}
}

// compareParsers parses every statement of src with both parsers.
func compareParsers(t *testing.T, src []byte) {
	l := scan("fuzz.omp", src)
	if len(l.errs) > 0 {
		return
	}
	start := 0
	for _, end := range append(l.splits, len(l.toks)-1) {
		if start == end {
			break
		}
		stop := l.toks[end]
		stop.Type = TokEOF
		fast, ferr := fastParseStmt(l.toks[start:end], stop)
		if ferr != nil && (ferr.Pos.Line < 1 || ferr.Msg == "syntax error") {
			t.Fatalf("fast parser failed without saying why: %v", ferr)
		}
		slow, serr := parseStmt(l.toks[start:end], stop)
		switch {
		case ferr == nil && serr != nil:
			t.Fatalf("statement at %s: fast parser accepts, participle says %v", l.toks[start].Pos, serr)
		case ferr != nil && serr == nil:
			t.Fatalf("statement at %s: participle accepts, fast parser rejects", l.toks[start].Pos)
		case ferr == nil && !reflect.DeepEqual(fast, slow):
			t.Fatalf("statement at %s: trees differ:\nfast: %s\nslow: %s", l.toks[start].Pos, dump(fast), dump(slow))
		}
		start = end + 1
	}
}

// dump shows a tree without its positions, so that the trees of a file and
// of its formatted form compare equal.
func dump(s *Stmt) string {
	var b strings.Builder
	dumpValue(&b, reflect.ValueOf(s))
	return b.String()
}

func dumpFile(f *File) string {
	var b strings.Builder
	for _, s := range f.Stmts {
		dumpValue(&b, reflect.ValueOf(s))
		b.WriteByte('\n')
	}
	return b.String()
}

var positionType = reflect.TypeFor[lexer.Position]()

func dumpValue(b *strings.Builder, v reflect.Value) {
	switch v.Kind() {
	case reflect.Pointer:
		if v.IsNil() {
			b.WriteString("nil")
			return
		}
		dumpValue(b, v.Elem())
	case reflect.Struct:
		b.WriteString(v.Type().Name() + "{")
		for i := range v.NumField() {
			if v.Field(i).Type() == positionType {
				continue
			}
			b.WriteString(v.Type().Field(i).Name + ":")
			dumpValue(b, v.Field(i))
			b.WriteByte(' ')
		}
		b.WriteByte('}')
	case reflect.Slice:
		b.WriteByte('[')
		for i := range v.Len() {
			dumpValue(b, v.Index(i))
			b.WriteByte(' ')
		}
		b.WriteByte(']')
	default:
		fmt.Fprintf(b, "%q", fmt.Sprint(v.Interface()))
	}
}

// TestParsersAgree runs the comparison on the seeds without fuzzing, and on
// forms that exercise the grammar's one two-token decision.
func TestParsersAgree(t *testing.T) {
	extra := []string{
		"parallel < script a() with retries=2, script b() >",
		"parallel < script a() with retries=2, b >",
		"parallel < script a() with retries=2, timeout=1s, b, >",
		"parallel < a, for i in [1] >",
		"x y",
		"x @",
		"x with",
		"parallel < a > @",
		"echo a(1,)",
		"echo a(,)",
		"echo a(k=)",
		"pipeline p {\n}",
		"pipeline p {}",
		"pipeline p { a\n b }",
		"let x = \nparam",
		"echo a() @1gpu with retries=1, echo b()",
		"parallel < echo a() @in, echo b() @gpu- > @x->echo c()",
		"echo a() @gpu.x",
		"echo a() @gpu @cpu",
	}
	for _, s := range fuzzSeeds(t) {
		compareParsers(t, s)
		compareFileParsers(t, s)
	}
	for _, s := range extra {
		compareParsers(t, []byte(s))
	}
}

// fileParser parses a whole file with participle alone, by File's grammar
// tags, which Parse implements by splitting the file at top-level newlines.
var fileParser = participle.MustBuild[File](participle.Lexer(Definition{}), participle.UseLookahead(2))

// compareFileParsers checks that Parse and participle's whole-file parse
// agree on whether src parses and on the statements.
func compareFileParsers(t *testing.T, src []byte) {
	f, err := Parse("f.omp", src)
	whole, werr := fileParser.ParseBytes("f.omp", src)
	if (err == nil) != (werr == nil) {
		t.Fatalf("Parse error %v, whole-file participle error %v, for\n%s", err, werr, src)
	}
	if err == nil && (len(f.Stmts) > 0 || len(whole.Stmts) > 0) && !reflect.DeepEqual(f.Stmts, whole.Stmts) {
		t.Fatalf("Parse and whole-file participle differ for\n%s", src)
	}
}
