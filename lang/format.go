package lang

import (
	"strconv"
	"strings"
)

// Format prints a file in canonical form: one statement a line, single
// spaces, blocks and pipelines on one line each. Parsing the output gives
// back an equal tree, which makes Format useful in tests and diagnostics.
func Format(f *File) string {
	var b strings.Builder
	for _, s := range f.Stmts {
		formatStmt(&b, s)
		b.WriteByte('\n')
	}
	return b.String()
}

// String is the statement in canonical form, on one line unless it is a
// pipeline block.
func (s *Stmt) String() string {
	var b strings.Builder
	formatStmt(&b, s)
	return b.String()
}

// String is the block in canonical form, on one line.
func (bl *Block) String() string {
	var b strings.Builder
	formatBlock(&b, bl)
	return b.String()
}

func formatStmt(b *strings.Builder, s *Stmt) {
	switch {
	case s.Param != nil:
		b.WriteString("param " + s.Param.Name + " = ")
		formatValue(b, s.Param.Value)
	case s.Let != nil:
		b.WriteString("let " + s.Let.Name + " = ")
		formatChain(b, s.Let.Chain)
	case s.Pipeline != nil:
		b.WriteString("pipeline " + s.Pipeline.Name + " {")
		for _, st := range s.Pipeline.Stmts {
			b.WriteString("\n\t")
			formatStmt(b, st)
		}
		b.WriteString("\n}")
	case s.Chain != nil:
		formatChain(b, s.Chain)
	}
}

func formatChain(b *strings.Builder, c *Chain) {
	for i, st := range c.Stages {
		if i > 0 {
			b.WriteString(" -> ")
		}
		switch {
		case st.Block != nil:
			formatBlock(b, st.Block)
		case st.Reduce != nil:
			b.WriteString("reduce ")
			formatTask(b, st.Reduce.Task)
		case st.Task != nil:
			formatTask(b, st.Task)
		}
	}
}

func formatBlock(b *strings.Builder, bl *Block) {
	b.WriteString(bl.Kind + " < ")
	for i, m := range bl.Members {
		if i > 0 {
			b.WriteString(", ")
		}
		formatChain(b, m)
	}
	if bl.For != nil {
		b.WriteString(" for " + bl.For.Var + " in ")
		formatValue(b, bl.For.From)
		if bl.For.To != nil {
			b.WriteString("..")
			formatValue(b, bl.For.To)
		}
	}
	b.WriteString(" >")
	formatTail(b, bl.Label, bl.Opts)
}

func formatTask(b *strings.Builder, t *Task) {
	b.WriteString(t.Kind)
	if t.Name != nil {
		b.WriteByte(' ')
		if t.Name.Ident != nil {
			b.WriteString(*t.Name.Ident)
		} else {
			b.WriteString(strconv.Quote(string(*t.Name.Quoted)))
		}
		if t.Action != nil {
			b.WriteString("." + t.Action.Name)
		}
		b.WriteByte('(')
		for i, a := range t.Args {
			if i > 0 {
				b.WriteString(", ")
			}
			formatValue(b, a.Value)
			if a.Kw != nil {
				b.WriteByte('=')
				formatValue(b, a.Kw)
			}
		}
		b.WriteByte(')')
	}
	formatTail(b, t.Label, t.Opts)
}

func formatTail(b *strings.Builder, l *Label, opts []*Option) {
	if l != nil {
		b.WriteString(" @" + l.Name)
	}
	for i, o := range opts {
		if i == 0 {
			b.WriteString(" with ")
		} else {
			b.WriteString(", ")
		}
		b.WriteString(o.Key + "=")
		formatValue(b, o.Value)
	}
}

func formatValue(b *strings.Builder, v *Value) {
	switch {
	case v.Str != nil:
		b.WriteString(strconv.Quote(string(*v.Str)))
	case v.Float != nil:
		s := strconv.FormatFloat(float64(*v.Float), 'g', -1, 64)
		b.WriteString(s)
		// Keep a float a float when read back: 2.0 must not print as 2.
		if !strings.ContainsAny(s, ".eEIN") {
			b.WriteString(".0")
		}
	case v.Int != nil:
		b.WriteString(strconv.FormatInt(int64(*v.Int), 10))
	case v.Duration != nil:
		b.WriteString(*v.Duration)
	case v.Bool != nil:
		b.WriteString(strconv.FormatBool(bool(*v.Bool)))
	case v.Null:
		b.WriteString("null")
	case v.List != nil:
		b.WriteByte('[')
		for i, it := range v.List.Items {
			if i > 0 {
				b.WriteString(", ")
			}
			formatValue(b, it)
		}
		b.WriteByte(']')
	case v.Map != nil:
		b.WriteByte('{')
		for i, e := range v.Map.Entries {
			if i > 0 {
				b.WriteString(", ")
			}
			b.WriteString(strconv.Quote(string(e.Key)) + ": ")
			formatValue(b, e.Value)
		}
		b.WriteByte('}')
	case v.Name != nil:
		b.WriteString(*v.Name)
	}
}
