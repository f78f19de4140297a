package lang

import (
	"strings"
	"testing"
	"time"
)

// TestPathological: inputs that make naive parsers slow or crash them
// parse (or fail) quickly.
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
	}
	for name, src := range tests {
		t.Run(name, func(t *testing.T) {
			start := time.Now()
			Parse("p.omp", []byte(src))
			if d := time.Since(start); d > 2*time.Second {
				t.Errorf("took %v", d)
			}
		})
	}
}
