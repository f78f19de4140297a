package lang

import (
	"fmt"
	"strings"
	"testing"
)

// source10k is a file of 10,000 statements of the usual shapes.
func source10k() []byte {
	var b strings.Builder
	b.WriteString("param n = 3\n")
	for i := 0; i < 10000; i++ {
		switch i % 4 {
		case 0:
			fmt.Fprintf(&b, "let v%d = script prep%d(\"data/%d.csv\", n, k=%d) @gpu with retries=2, timeout=30s\n", i, i, i, i)
		case 1:
			fmt.Fprintf(&b, "v%d -> model m%d.fit(\"X\", \"Y\") -> echo done%d()\n", i-1, i, i)
		case 2:
			fmt.Fprintf(&b, "mapreduce < job j%d(1), job k%d(2) > -> reduce sum  # comment\n", i, i)
		case 3:
			fmt.Fprintf(&b, "parallel < echo \"e{i}\"(i) for i in 1..n > -> reduce collect\n")
		}
	}
	return []byte(b.String())
}

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
