package main

import (
	"strings"
	"testing"

	"github.com/ompdev/omp/compiler"
)

// TestWriteAnnotation: what GitHub's runner reads as separators or line
// ends is escaped, in the file name as in the message.
func TestWriteAnnotation(t *testing.T) {
	tests := []struct {
		name string
		d    compiler.Diagnostic
		want string
	}{
		{"plain", compiler.Diagnostic{File: "a.omp", Line: 2, Column: 3, EndColumn: 6, Severity: "error", Message: "unknown kind jbo (did you mean job?)"},
			"::error file=a.omp,line=2,col=3,endColumn=6::unknown kind jbo (did you mean job?)\n"},
		{"no end column", compiler.Diagnostic{File: "a.omp", Line: 1, Column: 8, Severity: "error", Message: "x"},
			"::error file=a.omp,line=1,col=8::x\n"},
		{"whole file", compiler.Diagnostic{File: "a.omp", Severity: "error", Message: "-p m: no param m is declared"},
			"::error file=a.omp::-p m: no param m is declared\n"},
		{"escapes", compiler.Diagnostic{File: "d,1:x%.omp", Line: 1, Column: 1, Severity: "error", Message: "100% wrong\r\nreally"},
			"::error file=d%2C1%3Ax%25.omp,line=1,col=1::100%25 wrong%0D%0Areally\n"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			var b strings.Builder
			writeAnnotation(&b, tc.d)
			if b.String() != tc.want {
				t.Errorf("got  %q\nwant %q", b.String(), tc.want)
			}
		})
	}
}
