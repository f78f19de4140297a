package lang

import (
	"reflect"
	"strings"
	"testing"
)

func TestParse(t *testing.T) {
	tests := []struct {
		name, src, want string
	}{
		{"card example", "parallel < job myjob1(1) > -> reduce collect", "parallel < job myjob1(1) > -> reduce collect\n"},
		{"empty file", "\n\n", ""},
		{"only a comment", "# nothing\n\n", "# nothing\n"},
		{"sequence chain", "script a() -> script b() -> script c()", "script a() -> script b() -> script c()\n"},
		{"explicit sequence", "sequence < a x() -> a y() >", "sequence < a x() -> a y() >\n"},
		{"action and args", `model m1.fit("X", "Y", epochs=3)`, `model m1.fit("X", "Y", epochs=3)` + "\n"},
		{"literals", `echo e(1, -2.5, 2.0, "s\t", true, false, null, [1, [2]], {"a": 1, "b": {}})`,
			`echo e(1, -2.5, 2.0, "s\t", true, false, null, [1, [2]], {"a": 1, "b": {}})` + "\n"},
		{"trailing commas", "echo e(1, [2,], {\"a\": 1,},)", "echo e(1, [2], {\"a\": 1})\n"},
		{"quoted name", `parallel < job "myjob{i}"(i) for i in 1..5 >`, `parallel < job "myjob{i}"(i) for i in 1..5 >` + "\n"},
		{"comprehension over a list", "parallel < echo e(x) for x in [1, 2] >", "parallel < echo e(x) for x in [1, 2] >\n"},
		{"comprehension over a param", "parallel < echo e(x) for x in xs >", "parallel < echo e(x) for x in xs >\n"},
		{"label and options", "script a() @gpu with retries=3, timeout=30s",
			"script a() @gpu with retries=3, timeout=30s\n"},
		{"labels that are not identifiers", "echo c() @1gpu\necho a() @in\nparallel < echo b() @x-y- > @_ -> echo d()",
			"echo c() @1gpu\necho a() @in\nparallel < echo b() @x-y- > @_ -> echo d()\n"},
		{"block label and options", "parallel < a x(), a y() > @gpu with backoff=1s",
			"parallel < a x(), a y() > @gpu with backoff=1s\n"},
		{"reduce with a task", "mapreduce < a x(), a y() > -> reduce script combine()",
			"mapreduce < a x(), a y() > -> reduce script combine()\n"},
		{"nested blocks", `sequence < script prep() -> parallel < model m1.fit("X", "Y"), model m2.fit("X", "Y") > -> reduce collect >`,
			"sequence <\n  script prep() -> parallel < model m1.fit(\"X\", \"Y\"), model m2.fit(\"X\", \"Y\") > -> reduce collect,\n>\n"},
		{"param and let", "param n = 3\nlet x = echo e(n)\nx -> echo f()", "param n = 3\nlet x = echo e(n)\nx -> echo f()\n"},
		{"pipelines", "pipeline main {\n\n  echo a()\n  echo b()\n}\npipeline other { echo c() }",
			"pipeline main {\n  echo a()\n  echo b()\n}\npipeline other {\n  echo c()\n}\n"},
		{"multi-line block", "parallel <\n  echo a(),\n  echo b(),\n>\n  -> reduce sum\n", "parallel < echo a(), echo b() > -> reduce sum\n"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			got, err := Format([]byte(tc.src), "t.omp")
			if err != nil {
				t.Fatal(err)
			}
			if string(got) != tc.want {
				t.Errorf("Format(%q)\n got %q\nwant %q", tc.src, got, tc.want)
			}
			// The canonical form must parse back to itself.
			got2, err := Format(got, "t.omp")
			if err != nil {
				t.Fatalf("reparse: %v", err)
			}
			if string(got2) != tc.want {
				t.Errorf("not a fixed point: %q", got2)
			}
		})
	}
}

func TestParseErrors(t *testing.T) {
	tests := []struct {
		name, src, want string
	}{
		{"two statements on a line", "job a() job b()", "t.omp:1:9: unexpected name job (a statement ends at a newline; put each statement on its own line)"},
		{"unclosed paren", "job a(", `t.omp:1:7: expected a value or ")", found end of file`},
		{"missing comma", "job a(1 2)", `t.omp:1:9: expected "," or ")", found number 2`},
		{"unclosed block", "parallel < job a()", `t.omp:1:19: expected "," or ">", found end of file`},
		{"unclosed paren on an earlier line", "let a = echo a(1\necho b(2)", `t.omp:2:1: expected "," or ")", found name echo (unclosed "(" at 1:15)`},
		{"unclosed list on an earlier line", "parallel < echo a(),\n  echo b([1, 2)\n>", `t.omp:2:15: expected "," or "]", found ")"`},
		{"unclosed block on an earlier line", "let x = parallel < echo a(),\n  echo b()\necho c()", `t.omp:3:1: expected "," or ">", found name echo (unclosed "<" at 1:18)`},
		{"closed brackets are no excuse", "echo a(\n1 2)", `t.omp:2:3: expected "," or ")", found number 2`},
		{"missing in", "parallel < echo a() for i 1..3 >", `t.omp:1:27: expected "in", found number 1`},
		{"bad list", "echo a([1, 2 3])", `t.omp:1:14: expected "," or "]", found number 3`},
		{"label missing", "echo a() @ with retries=1", `t.omp:1:11: expected a label right after "@", found a space`},
		{"wrong closer leaves the bracket open", "echo a([1,\n  2)\necho b(1)", `t.omp:2:4: expected "," or "]", found ")" (unclosed "[" at 1:8)`},
		{"syntax errors after a lexical error", "echo a(\"\\q\")\necho c(1) echo d()", "t.omp:1:9: invalid escape \\q in string literal\nt.omp:2:11: unexpected name echo (a statement ends at a newline; put each statement on its own line)"},
		{"no syntax error for a statement with a lexical error", "job a() ; job b()", "t.omp:1:9: invalid character ';'"},
		{"a lexical error between statements belongs to the next", "echo a(1 2)\n$ echo b()\necho c(,)", "t.omp:1:10: expected \",\" or \")\", found number 2\nt.omp:2:1: invalid character '$'\nt.omp:3:8: expected a value or \")\", found \",\""},
		{"newline after =", "param n =\n  3", "t.omp:1:10: expected a value, found newline\nt.omp:2:3: expected a task or block, found number 3"},
		{"newline after let =", "let x =\n  echo a()", "t.omp:1:8: expected a task or block, found newline"},
		{"newline after with", "echo a() with\n  retries=1", "t.omp:1:14: expected an option name, found newline\nt.omp:2:10: unexpected \"=\""},
		{"each statement's first error", "echo a(\n1 2)\necho b(,)", "t.omp:2:3: expected \",\" or \")\", found number 2\nt.omp:3:8: expected a value or \")\", found \",\""},
		{"assignment without let", "x = 1", `t.omp:1:3: unexpected "="`},
		{"keyword as name", "job in()", `t.omp:1:5: unexpected keyword in (a statement ends at a newline; put each statement on its own line)`},
		{"lexical error first", "job a(\"x)", "t.omp:1:7: string literal not terminated"},
		{"arrow with nothing after", "job a() ->", "t.omp:1:11: expected a task or block, found end of file"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			_, err := Parse("t.omp", []byte(tc.src))
			if err == nil {
				t.Fatal("no error")
			}
			if _, ok := err.(ErrorList); !ok {
				t.Errorf("error is %T, want ErrorList", err)
			}
			if got := err.Error(); got != tc.want {
				t.Errorf("Parse(%q)\n got %s\nwant %s", tc.src, got, tc.want)
			}
		})
	}
}

func TestParsePositions(t *testing.T) {
	f, err := Parse("p.omp", []byte("\n  parallel < echo a(x) >"))
	if err != nil {
		t.Fatal(err)
	}
	bl := f.Stmts[0].Chain.Stages[0].Block
	task := bl.Members[0].Stages[0].Task
	arg := task.Args[0].Value
	for _, c := range []struct {
		what       string
		line, col  int
		gotL, gotC int
	}{
		{"block", 2, 3, bl.Pos.Line, bl.Pos.Column},
		{"task", 2, 14, task.Pos.Line, task.Pos.Column},
		{"arg", 2, 21, arg.Pos.Line, arg.Pos.Column},
	} {
		if c.gotL != c.line || c.gotC != c.col {
			t.Errorf("%s at %d:%d, want %d:%d", c.what, c.gotL, c.gotC, c.line, c.col)
		}
	}
	if task.Pos.Filename != "p.omp" {
		t.Errorf("filename %q", task.Pos.Filename)
	}
}

func TestParseValue(t *testing.T) {
	// A value on the command line reads as it does in a file.
	for _, src := range []string{"5", `"x"`, "[1, 2]", "2.5", `{"a": [true, null]}`, "30s", "name"} {
		v, err := ParseValue(src)
		if err != nil {
			t.Fatalf("%s: %v", src, err)
		}
		f, err := Parse("t.omp", []byte("param p = "+src))
		if err != nil {
			t.Fatal(err)
		}
		var got, want strings.Builder
		dumpValue(&got, reflect.ValueOf(v))
		dumpValue(&want, reflect.ValueOf(f.Stmts[0].Param.Value))
		if got.String() != want.String() {
			t.Errorf("ParseValue(%q) = %s, want %s", src, got.String(), want.String())
		}
	}
	if _, err := ParseValue("hello world"); err == nil {
		t.Error("ParseValue(\"hello world\"): no error")
	}
}
