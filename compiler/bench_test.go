package compiler

import (
	"fmt"
	"strings"
	"testing"

	"github.com/ompdev/omp/lang"
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

func BenchmarkCompile10kStatements(b *testing.B) {
	f, err := lang.Parse("bench.omp", source10k())
	if err != nil {
		b.Fatal(err)
	}
	b.ReportAllocs()
	for b.Loop() {
		if _, err := Compile(f, Config{}); err != nil {
			b.Fatal(err)
		}
	}
}

// BenchmarkCheck10kStatements is what `omp check` does, short of reading
// the file: parse and compile.
func BenchmarkCheck10kStatements(b *testing.B) {
	src := source10k()
	b.SetBytes(int64(len(src)))
	b.ReportAllocs()
	for b.Loop() {
		f, err := lang.Parse("bench.omp", src)
		if err != nil {
			b.Fatal(err)
		}
		if _, err := Compile(f, Config{}); err != nil {
			b.Fatal(err)
		}
	}
}

func BenchmarkCompile100kTasks(b *testing.B) {
	src := []byte(`param n = 100000
mapreduce < job "part-{i}"(i, "data.csv", row=i) for i in 1..n > -> reduce sum
`)
	f, err := lang.Parse("bench.omp", src)
	if err != nil {
		b.Fatal(err)
	}
	b.ReportAllocs()
	for b.Loop() {
		g, err := Compile(f, Config{})
		if err != nil {
			b.Fatal(err)
		}
		if len(g.Nodes) != 100001 {
			b.Fatalf("%d nodes", len(g.Nodes))
		}
	}
}
