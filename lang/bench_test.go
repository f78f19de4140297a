package lang

import (
	"testing"

	"github.com/ompdev/omp/internal/testsrc"
)

// source10k is a file of 10,000 statements of the usual shapes.
func source10k() []byte { return testsrc.Mixed(10000) }

func BenchmarkLex10kStatements(b *testing.B) {
	src := source10k()
	b.SetBytes(int64(len(src)))
	b.ReportAllocs()
	for b.Loop() {
		if _, errs := Lex("bench.omp", src); len(errs) > 0 {
			b.Fatal(errs)
		}
	}
}

func BenchmarkParse10kStatements(b *testing.B) {
	src := source10k()
	b.SetBytes(int64(len(src)))
	b.ReportAllocs()
	for b.Loop() {
		if _, err := Parse("bench.omp", src); err != nil {
			b.Fatal(err)
		}
	}
}

// BenchmarkFormat10kStatements measures omp fmt on a large file: a parse,
// a second lex for the tokens, and the layout.
func BenchmarkFormat10kStatements(b *testing.B) {
	src := source10k()
	b.SetBytes(int64(len(src)))
	b.ReportAllocs()
	for b.Loop() {
		if _, err := Format(src, "bench.omp"); err != nil {
			b.Fatal(err)
		}
	}
}
