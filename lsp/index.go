package lsp

import (
	"github.com/alecthomas/participle/v2/lexer"

	"github.com/ompdev/omp/lang"
)

// symKind is what a name is declared as.
type symKind int

const (
	symParam symKind = iota
	symLet
	symVar // a comprehension's loop variable
	symPipeline
)

func (k symKind) String() string {
	return [...]string{"param", "let", "loop variable", "pipeline"}[k]
}

// sym is a declared name.
type sym struct {
	name       string
	kind       symKind
	start, end int // the name
	// stmtStart and stmtEnd span the declaring statement (for a loop
	// variable, its `for` clause).
	stmtStart, stmtEnd int
	// from and to are where the name can be used.
	from, to int
	children []*sym // a pipeline's lets
}

// ref is a use of a declared name.
type ref struct {
	start, end int
	def        *sym
}

// task is a task as written: `KIND NAME[.ACTION](ARGS)`.
type task struct {
	kind               string
	kindStart, kindEnd int
	action             string // "" for the default action
	actStart, actEnd   int
	open, close        int // the offsets of its ( and ), -1 without
	reduce             bool
}

// kwarg is a keyword argument's name, in the call of a task.
type kwarg struct {
	name       string
	start, end int
	task       *task
}

// index is what the tokens of a document say about its names. It is built
// from the tokens alone, so that it is there while the document does not
// parse; it agrees with the compiler's scoping (a loop variable, then a
// let of the enclosing pipeline, then a param).
type index struct {
	toks      []lexer.Token
	ends      []int
	syms      []*sym // in the order declared
	byName    map[string][]*sym
	pipelines []*sym
	refs      []ref
	tasks     []*task
	kwargs    []kwarg
	reducers  []ref // `reduce NAME` with a built-in reducer's name
}

func tokEnd(t lexer.Token) int {
	switch t.Type {
	case lang.TokLabel:
		return t.Pos.Offset + 1 + len(t.Value)
	case lang.TokNL, lang.TokEOF:
		return t.Pos.Offset
	}
	return t.Pos.Offset + len(t.Value)
}

func isPunct(t lexer.Token, s string) bool { return t.Type == lang.TokPunct && t.Value == s }
func isKw(t lexer.Token, s string) bool    { return t.Type == lang.TokKeyword && t.Value == s }

func buildIndex(src string) *index {
	toks, _ := lang.Lex("", []byte(src))
	x := &index{toks: toks, ends: make([]int, len(toks)), byName: map[string][]*sym{}}
	for i, t := range toks {
		x.ends[i] = tokEnd(t)
	}
	n := len(toks)
	// Match brackets and note each token's depth, so that a statement's
	// end and a name's scope are known.
	match := make([]int, n)
	depth := make([]int, n)
	parent := make([]int, n) // the innermost opener around each token, or -1
	var stack []int
	for i, t := range toks {
		match[i] = -1
		depth[i] = len(stack)
		parent[i] = -1
		if len(stack) > 0 {
			parent[i] = stack[len(stack)-1]
		}
		if t.Type != lang.TokPunct {
			continue
		}
		switch t.Value {
		case "(", "[", "{", "<":
			stack = append(stack, i)
		case ")", "]", "}", ">":
			if len(stack) > 0 {
				o := stack[len(stack)-1]
				stack = stack[:len(stack)-1]
				match[o], match[i] = i, o
				depth[i] = len(stack)
				parent[i] = parent[o]
			}
		}
	}
	closeOf := func(open int) int {
		if match[open] >= 0 {
			return toks[match[open]].Pos.Offset
		}
		return len(src)
	}
	// stop[i] is the token that ends the statement token i is in: the
	// next NL at its depth, the closer of its bracket, or EOF. One pass
	// from the end, so that no input costs more than linear time.
	stop := make([]int, n)
	nl := map[int]int{}
	for j := n - 1; j >= 0; j-- {
		end := n - 1
		if k, ok := nl[depth[j]]; ok {
			end = k
		}
		if p := parent[j]; p >= 0 && match[p] > j && match[p] < end {
			end = match[p]
		}
		stop[j] = end
		if toks[j].Type == lang.TokNL {
			nl[depth[j]] = j
		}
	}
	stmtEnd := func(i int) int { return x.ends[max(stop[i]-1, i)] }
	// enclosing returns the innermost opener around token i whose value
	// is open, or -1.
	enclosing := func(i int, open string) int {
		for j := parent[i]; j >= 0; j = parent[j] {
			if toks[j].Value == open {
				return j
			}
		}
		return -1
	}

	// Declarations first: a let may be used before its statement (an
	// error the compiler reports, but the name is still the let's).
	var pipe *sym
	for i := 0; i+1 < n; i++ {
		t, next := toks[i], toks[i+1]
		if t.Type != lang.TokKeyword || next.Type != lang.TokIdent {
			continue
		}
		if pipe != nil && t.Pos.Offset > pipe.to {
			pipe = nil
		}
		s := &sym{name: next.Value, start: next.Pos.Offset, end: x.ends[i+1], stmtStart: t.Pos.Offset, stmtEnd: stmtEnd(i)}
		switch t.Value {
		case "param":
			s.kind, s.from, s.to = symParam, 0, len(src)
		case "let":
			s.kind, s.from, s.to = symLet, 0, len(src)
			if pipe != nil {
				s.from, s.to = pipe.from, pipe.to
				pipe.children = append(pipe.children, s)
			}
		case "for":
			s.kind = symVar
			s.stmtEnd = s.end
			if o := enclosing(i, "<"); o >= 0 {
				s.from, s.to = toks[o].Pos.Offset, closeOf(o)
				if c := match[o]; c > i {
					s.stmtEnd = x.ends[c-1] // the whole `for` clause
				}
			} else {
				s.from, s.to = s.start, s.end
			}
		case "pipeline":
			s.kind = symPipeline
			if i+2 < n && isPunct(toks[i+2], "{") {
				s.from, s.to = toks[i+2].Pos.Offset, closeOf(i+2)
				s.stmtEnd = min(max(s.to+1, s.stmtEnd), len(src))
			}
			pipe = s
			x.pipelines = append(x.pipelines, s)
		default:
			continue
		}
		x.syms = append(x.syms, s)
		x.byName[s.name] = append(x.byName[s.name], s)
	}

	// Then every other identifier: a task's kind, name and action, a
	// keyword argument, an option, a reducer, or a use of a name.
	var cur *task // the task whose call is open
	for i := 0; i < n; i++ {
		t := toks[i]
		if t.Type != lang.TokIdent {
			continue
		}
		var prev, next lexer.Token
		if i > 0 {
			prev = toks[i-1]
		}
		if i+1 < n {
			next = toks[i+1]
		}
		switch {
		case prev.Type == lang.TokKeyword && (prev.Value == "let" || prev.Value == "param" || prev.Value == "for" || prev.Value == "pipeline"):
			continue
		case isPunct(prev, "."):
			continue // an action, recorded with its task
		case isPunct(next, "="):
			if o := enclosing(i, "("); o >= 0 && cur != nil && cur.open == toks[o].Pos.Offset {
				x.kwargs = append(x.kwargs, kwarg{name: t.Value, start: t.Pos.Offset, end: x.ends[i], task: cur})
			}
			continue // a keyword argument or an option
		case next.Type == lang.TokIdent || next.Type == lang.TokString:
			tk := &task{kind: t.Value, kindStart: t.Pos.Offset, kindEnd: x.ends[i], open: -1, close: -1, actStart: -1, actEnd: -1,
				reduce: isKw(prev, "reduce")}
			j := i + 2
			if j+1 < n && isPunct(toks[j], ".") && toks[j+1].Type == lang.TokIdent {
				tk.action, tk.actStart, tk.actEnd = toks[j+1].Value, toks[j+1].Pos.Offset, x.ends[j+1]
				j += 2
			}
			if j < n && isPunct(toks[j], "(") {
				tk.open = toks[j].Pos.Offset
				tk.close = closeOf(j)
				cur = tk
			}
			x.tasks = append(x.tasks, tk)
			i++ // the task's name
			continue
		case isKw(prev, "reduce"):
			if d := x.resolve(t.Value, t.Pos.Offset); d == nil {
				x.reducers = append(x.reducers, ref{start: t.Pos.Offset, end: x.ends[i]})
				continue
			}
		}
		if d := x.resolve(t.Value, t.Pos.Offset); d != nil {
			x.refs = append(x.refs, ref{start: t.Pos.Offset, end: x.ends[i], def: d})
		}
	}
	return x
}

// resolve finds the declaration that name at off refers to, as the compiler
// does: a loop variable of an enclosing block, then a let of the enclosing
// pipeline, then a param.
func (x *index) resolve(name string, off int) *sym {
	var best *sym
	rank := func(s *sym) int {
		switch s.kind {
		case symVar:
			return 3
		case symLet:
			return 2
		case symParam:
			return 1
		}
		return 0
	}
	for _, s := range x.byName[name] {
		if s.kind == symPipeline || off < s.from || off > s.to {
			continue
		}
		if best == nil || rank(s) > rank(best) || s.kind == symVar && best.kind == symVar && s.from > best.from {
			best = s
		}
	}
	return best
}

// at returns what lies at offset off: a declaration, a use of one, or a task
// whose kind or action is there.
func (x *index) at(off int) (s *sym, r *ref, tk *task, onAction bool) {
	for _, d := range x.syms {
		if off >= d.start && off <= d.end {
			return d, nil, nil, false
		}
	}
	for i := range x.refs {
		if off >= x.refs[i].start && off <= x.refs[i].end {
			return nil, &x.refs[i], nil, false
		}
	}
	for _, t := range x.tasks {
		if off >= t.kindStart && off <= t.kindEnd {
			return nil, nil, t, false
		}
		if t.actStart >= 0 && off >= t.actStart && off <= t.actEnd {
			return nil, nil, t, true
		}
	}
	return nil, nil, nil, false
}

// tokenAt returns the end of the token that starts at off, or off when none
// does.
func (x *index) tokenEnd(off int) int {
	lo, hi := 0, len(x.toks)
	for lo < hi {
		m := (lo + hi) / 2
		if x.toks[m].Pos.Offset < off {
			lo = m + 1
		} else {
			hi = m
		}
	}
	if lo < len(x.toks) && x.toks[lo].Pos.Offset == off && x.toks[lo].Type != lang.TokNL && x.toks[lo].Type != lang.TokEOF {
		return x.ends[lo]
	}
	return off
}
