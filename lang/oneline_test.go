package lang

import "testing"

// TestOneLiner checks that a statement or block prints on one line as
// Format prints it where it fits, literals as written, however the source
// breaks it; and that a File that Parse did not make prints nothing.
func TestOneLiner(t *testing.T) {
	src := `let a = echo x(1e3,   "q")   # c
parallel <
  sequence < echo a(i) -> echo b(i) >
  for i in 1..n
> @gpu with retries=2 -> reduce sum
`
	f, err := Parse("o.omp", []byte(src))
	if err != nil {
		t.Fatal(err)
	}
	line := f.OneLiner()
	outer := f.Stmts[1].Chain.Stages[0].Block
	inner := outer.Members[0].Stages[0].Block
	for _, tc := range []struct {
		x    any
		want string
	}{
		{f.Stmts[0], `let a = echo x(1e3, "q")`},
		{f.Stmts[1], `parallel < sequence < echo a(i) -> echo b(i) > for i in 1..n > @gpu with retries=2 -> reduce sum`},
		{outer, `parallel < sequence < echo a(i) -> echo b(i) > for i in 1..n > @gpu with retries=2`},
		{inner, `sequence < echo a(i) -> echo b(i) >`},
		{"neither", ""},
	} {
		if got := line(tc.x); got != tc.want {
			t.Errorf("OneLiner(%T) = %q, want %q", tc.x, got, tc.want)
		}
	}
	if got := (&File{Stmts: f.Stmts}).OneLiner()(f.Stmts[0]); got != "" {
		t.Errorf("a File not from Parse printed %q", got)
	}
}
