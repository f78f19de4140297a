package main

import (
	"bytes"
	"strings"
	"testing"
	"unicode/utf8"

	"github.com/alecthomas/participle/v2/lexer"

	"github.com/ompdev/omp/lang"
)

// TestPrintErrorEcho: the source line under an error is safe for a
// terminal and short, and the caret still points at the column.
func TestPrintErrorEcho(t *testing.T) {
	long := strings.Repeat("a", 500_000) + "X" + strings.Repeat("b", 500_000)
	tests := []struct {
		name, src string
		col       int
		want      string
	}{
		{"short line as it is", "\techo é(1 2)", 10, "\t\techo é(1 2)\n\t\t        ^\n"},
		{"control characters escaped", "echo a()\x1b[2J $", 14, "\techo a()\\x1b[2J $\n\t                ^\n"},
		{"bidirectional override escaped", "echo \"\u202e\" $", 10, "\techo \"\\u202e\" $\n\t              ^\n"},
		{"long line cut around the column", long, 500_001,
			"\t…" + strings.Repeat("a", 80) + "X" + strings.Repeat("b", 39) + "…\n\t" + strings.Repeat(" ", 81) + "^\n"},
		{"long line cut at its start", long, 1, "\t" + strings.Repeat("a", 120) + "…\n\t^\n"},
		{"column past the end", long, 1_000_002, "\t…" + strings.Repeat("b", 120) + "\n\t" + strings.Repeat(" ", 121) + "^\n"},
		{"escapes count in the width", strings.Repeat("\x01", 100) + "X", 101,
			"\t…" + strings.Repeat(`\x01`, 30) + "X\n\t" + strings.Repeat(" ", 121) + "^\n"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			var b bytes.Buffer
			e := &lang.Error{Pos: lexer.Position{Filename: "f.omp", Line: 1, Column: tc.col}, Msg: "m"}
			printError(&b, []byte(tc.src), e)
			got := strings.TrimPrefix(b.String(), e.Error()+"\n")
			if got != tc.want {
				t.Errorf("got\n%q\nwant\n%q", got, tc.want)
			}
			if n := utf8.RuneCountInString(got); n > 2*(echoWidth+10) {
				t.Errorf("echo is %d characters", n)
			}
		})
	}
}
