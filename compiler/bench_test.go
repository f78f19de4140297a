package compiler

import (
	"testing"

	"github.com/ompdev/omp/lang"

	"github.com/ompdev/omp/internal/testsrc"
)

// source10k is a file of 10,000 statements of the usual shapes.
func source10k() []byte { return testsrc.Mixed(10000) }

func BenchmarkCompile10kStatements(b *testing.B) {
	f, err := lang.Parse("bench.omp", source10k())
	if err != nil {
		b.Fatal(err)
	}
	b.ReportAllocs()
	for b.Loop() {
		if _, err := Compile(f, Config{Registry: testRegistry()}); err != nil {
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
		if _, err := Compile(f, Config{Registry: testRegistry()}); err != nil {
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
		g, err := Compile(f, Config{Registry: testRegistry()})
		if err != nil {
			b.Fatal(err)
		}
		if len(g.Nodes) != 100001 {
			b.Fatalf("%d nodes", len(g.Nodes))
		}
	}
}
