package lang

import (
	"strings"
	"testing"
)

// tokString renders tokens compactly: NL as ⏎, others by value.
func tokString(src string) (string, string) {
	toks, errs := Lex("t.omp", []byte(src))
	var b []string
	for _, t := range toks {
		switch t.Type {
		case TokNL:
			b = append(b, "⏎")
		case TokEOF:
			b = append(b, "EOF")
		case TokLabel:
			b = append(b, "@"+t.Value)
		default:
			b = append(b, t.Value)
		}
	}
	return strings.Join(b, " "), errs.Error()
}

func TestLex(t *testing.T) {
	tests := []struct {
		name, src, want string
	}{
		{"empty", "", "EOF"},
		{"blank lines and comments", "\n\n# c\n  \n", "EOF"},
		{"two statements", "job a()\njob b()", "job a ( ) ⏎ job b ( ) EOF"},
		{"newline runs collapse", "job a()\n\n# x\n\njob b()\n", "job a ( ) ⏎ job b ( ) EOF"},
		{"one line is one statement", "job a() job b()", "job a ( ) job b ( ) EOF"},
		{"continue after arrow", "a ->\n b", "a -> b EOF"},
		{"continue before arrow", "a\n  -> b", "a -> b EOF"},
		{"continue inside angle brackets", "parallel <\n a,\n b\n>\nc", "parallel < a , b > ⏎ c EOF"},
		{"continue inside parens and lists", "f x(1,\n[2,\n3])", "f x ( 1 , [ 2 , 3 ] ) EOF"},
		{"map braces ignore newlines", "f x({\n\"a\": 1\n})", "f x ( { \"a\" : 1 } ) EOF"},
		{"pipeline braces keep newlines", "pipeline p {\n a\n b\n}\nc", "pipeline p { a ⏎ b } ⏎ c EOF"},
		{"names with dashes and slashes", "script data-prep/clean()", "script data-prep/clean ( ) EOF"},
		{"arrow after a name", "a->b", "a -> b EOF"},
		{"range", "1..5", "1 .. 5 EOF"},
		{"numbers", "1 -2 3.5 1e3 -0.5", "1 -2 3.5 1e3 -0.5 EOF"},
		{"durations", "30s 1h30m 500ms 1.5s", "30s 1h30m 500ms 1.5s EOF"},
		{"action", "model m1.fit()", "model m1 . fit ( ) EOF"},
		{"string escapes kept raw", `"a\"b\n"`, `"a\"b\n" EOF`},
		{"label", "a @gpu-large", "a @gpu-large EOF"},
		{"label of digits first", "a @1gpu", "a @1gpu EOF"},
		{"label that is a keyword", "a @in with", "a @in with EOF"},
		{"label before an arrow", "a @gpu->b", "a @gpu -> b EOF"},
		{"label ending in a dash", "a @gpu- -> b", "a @gpu- -> b EOF"},
		{"byte order mark", "\ufeffjob a()", "job a ( ) EOF"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			got, errs := tokString(tc.src)
			if errs != "no errors" {
				t.Fatalf("errors: %s", errs)
			}
			if got != tc.want {
				t.Errorf("Lex(%q)\n got %s\nwant %s", tc.src, got, tc.want)
			}
		})
	}
}

func TestLexKeywordsHaveTheirOwnType(t *testing.T) {
	toks, _ := Lex("", []byte("parallel prep"))
	if toks[0].Type != TokKeyword || toks[1].Type != TokIdent {
		t.Errorf("types = %v, %v; want Keyword, Ident", toks[0].Type, toks[1].Type)
	}
}

func TestLexErrors(t *testing.T) {
	tests := []struct {
		name, src, want string
	}{
		{"unterminated string", `job "abc`, "t.omp:1:5: string literal not terminated"},
		{"newline in string", "job \"ab\nc\"", "t.omp:1:5: string literal not terminated\nt.omp:2:2: string literal not terminated"},
		{"bad escape", `job "a\q"()`, `t.omp:1:7: invalid escape \q in string literal`},
		{"bad hex escape", `job "a\x4"()`, `t.omp:1:7: invalid escape \x4 in string literal`},
		{"surrogate", `job "\ud800"()`, `t.omp:1:6: invalid escape \ud800 in string literal`},
		{"escaped control character", "job \"\\\x1b\"()", `t.omp:1:6: invalid escape "\\\x1b" in string literal`},
		{"long literal is not echoed", `job "` + strings.Repeat("x", 1000) + `\q"()`, `t.omp:1:1006: invalid escape \q in string literal`},
		{"invalid UTF-8 in a string", "job \"é\xff\"()", `t.omp:1:7: invalid UTF-8 encoding in string literal`},
		{"bad character", "job a() ; job b()", "t.omp:1:9: invalid character ';'"},
		{"column counts runes", "\"é\" $", "t.omp:1:5: invalid character '$'"},
		{"integer overflow", "x(99999999999999999999)", "t.omp:1:3: integer literal 99999999999999999999 out of range"},
		{"all errors reported", "$\n%", "t.omp:1:1: invalid character '$'\nt.omp:2:1: invalid character '%'"},
		{"a run of bad characters is one error", "echo a() $%! echo", `t.omp:1:10: invalid characters "$%!"`},
		{"control characters are escaped", "echo a()\x1b[2J", `t.omp:1:9: invalid character '\x1b'`},
		{"non-ASCII letter in an identifier", "echo héllo()", "t.omp:1:6: identifier héllo is not ASCII: identifiers are ASCII letters, digits and _"},
		{"non-ASCII identifier", "echo ラベル-x/y()", "t.omp:1:6: identifier ラベル-x/y is not ASCII: identifiers are ASCII letters, digits and _"},
		{"non-ASCII label", "echo a() @ラベル", `t.omp:1:10: invalid label "ラベル": a label is ASCII letters, digits, _ and -`},
		{"label with a slash", "echo a() @gpu/large, b", `t.omp:1:10: invalid label "gpu/large": a label is ASCII letters, digits, _ and -`},
		{"non-ASCII symbols", "echo a() → b", `t.omp:1:10: invalid character '→'`},
		{"space after @", "echo a() @ gpu", `t.omp:1:11: expected a label right after "@", found a space`},
		{"newline after @", "echo a() @\ngpu", `t.omp:1:11: expected a label right after "@", found newline`},
		{"nothing after @", "echo a() @", `t.omp:1:11: expected a label right after "@", found end of file`},
		{"invalid UTF-8", "echo a() \xff\xfe", "t.omp:1:10: invalid UTF-8 encoding"},
		{"too deep", strings.Repeat("(", maxNesting+1), "t.omp:1:201: brackets nested more than 200 deep"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			_, got := tokString(tc.src)
			if got != tc.want {
				t.Errorf("Lex(%q) errors\n got %s\nwant %s", tc.src, got, tc.want)
			}
		})
	}
}
