// Package testsrc generates .omp sources for the benchmarks of the front
// end, so that the lexer, the parser and the compiler are measured on the
// same input.
package testsrc

import (
	"fmt"
	"strings"
)

// Mixed returns a file of a param followed by n statements of the usual
// shapes: lets with options, chains, mapreduce with a comment, and a
// comprehension.
func Mixed(n int) []byte {
	var b strings.Builder
	b.WriteString("param n = 3\n")
	for i := 0; i < n; i++ {
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
