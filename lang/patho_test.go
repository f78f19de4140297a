package lang

import (
	"strings"
	"testing"
	"time"
)

// TestPathological: inputs that make naive parsers and formatters slow or
// crash them parse and format (or fail) quickly.
func TestPathological(t *testing.T) {
	tests := map[string]string{
		"deep blocks":         strings.Repeat("parallel < ", 199) + "echo a()" + strings.Repeat(" >", 199),
		"deep blocks, broken": strings.Repeat("parallel < ", 199) + "echo a(" + strings.Repeat(" >", 199),
		"deep lists":          "echo a(" + strings.Repeat("[", 198) + strings.Repeat("]", 198) + ")",
		"too deep":            strings.Repeat("[", 100000),
		"long chain":          "echo a()" + strings.Repeat(" -> echo b()", 20000),
		"long broken chain":   "echo a()" + strings.Repeat(" -> echo b()", 20000) + " ->",
		"wide block":          "parallel < " + strings.Repeat("echo b(), ", 20000) + ">",
		"wide broken block":   "parallel < " + strings.Repeat("echo b(), ", 20000) + "echo c(",
		"long list":           "echo a([" + strings.Repeat("1, ", 100000) + "])",
		"many options":        "echo a() with " + strings.Repeat("retries=1, ", 10000) + "timeout=1s",
		"unclosed paren":      "echo a(\n" + strings.Repeat("echo b()\n", 20000),
		"many lex errors":     strings.Repeat("$", 100000),
		"many comments":       strings.Repeat("echo a() -> parallel < echo b(), # x\n echo c() > # y\n", 10000),
		"nested comments":     strings.Repeat("parallel < # c\n", 150) + "echo a()" + strings.Repeat(" > # d\n", 150),
	}
	for name, src := range tests {
		t.Run(name, func(t *testing.T) {
			// The bound catches quadratic work, which takes minutes on
			// these inputs; it is loose because CI machines are shared,
			// and the benchmarks measure the constant factors.
			start := time.Now()
			Format([]byte(src), "p.omp") // which parses first
			if d := time.Since(start); d > 30*time.Second {
				t.Errorf("took %v", d)
			}
		})
	}
}
