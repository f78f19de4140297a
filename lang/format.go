package lang

import (
	"sort"
	"strings"
	"unicode/utf8"

	"github.com/alecthomas/participle/v2/lexer"
)

// The formatter's rules are spec.md's "Formatting" section; keep the two in
// step, and keep both stable: a change reformats every user's files.

// FormatWidth is the column a formatted line should not pass: a block or chain
// longer than that is broken over several lines. Comments do not count.
const FormatWidth = 100

// indent is one level of indentation.
const indent = "  "

// Format returns src in canonical form (see spec.md, "Formatting"). Every
// comment is kept. Literals are kept as written; only the space between
// tokens, line breaks, and trailing commas change, so the formatted file
// parses to the same tree. A file that does not parse is not formatted: the
// error is Parse's ErrorList.
func Format(src []byte, filename string) ([]byte, error) {
	f, err := Parse(filename, src)
	if err != nil {
		return nil, err
	}
	// Parse does not keep the tokens; the formatter needs them for the
	// spans of the statements and for literals as written.
	toks, _ := Lex(filename, src)
	return format(f, toks), nil
}

// node is a part of the file that comments attach to: the file, a
// statement, a chain, or a stage (a leaf unless it is a block).
type node struct {
	start, end         int // byte offsets of the first token and after the last
	startLine, endLine int
	children           []*node
	stmt               *Stmt
	chain              *Chain
	stage              *Stage
	leaf               bool
	parent             *node
	// lead are comments printed on their own lines before the node, trail
	// the comment at the end of its last line, foot the comments before
	// the closer of a block, a pipeline or the file.
	lead  []Comment
	trail *Comment
	foot  []Comment
	// forced is set when a comment inside the node needs a line break, so
	// that the node cannot be printed on one line.
	forced bool
	// forLine is the line a block's for clause ends on.
	forLine int
}

type formatter struct {
	toks  []lexer.Token
	offs  []int // offset of each token, for looking tokens up
	match []int // index of the matching bracket, for brackets
	out   strings.Builder
	col   int // columns written on the current line
	// flat caches the one-line form of chains, which is asked for again at
	// every level of nesting.
	flat map[*Chain]string
}

func format(f *File, toks []lexer.Token) []byte {
	ft := &formatter{toks: toks, offs: make([]int, len(toks)), match: make([]int, len(toks)), flat: map[*Chain]string{}}
	var open []int
	for i, t := range toks {
		ft.offs[i] = t.Pos.Offset
		if t.Type != TokPunct {
			continue
		}
		switch t.Value {
		case "(", "[", "{", "<":
			open = append(open, i)
		case ")", "]", "}", ">":
			if len(open) > 0 {
				o := open[len(open)-1]
				open = open[:len(open)-1]
				ft.match[o], ft.match[i] = i, o
			}
		}
	}
	root := &node{start: -1, end: int(^uint(0) >> 1)}
	root.children = ft.stmts(f.Stmts, len(toks)-1)
	link(root)
	for _, c := range f.Comments {
		ft.attach(root, c)
	}
	setForced(root)
	prev := ft.items(root.children, 0, nil, ft.stmt)
	ft.comments(root.foot, 0, &prev)
	return []byte(ft.out.String())
}

// idx returns the index of the token at offset off.
func (ft *formatter) idx(off int) int {
	return sort.SearchInts(ft.offs, off)
}

// tokEnd returns the offset just after token i.
func (ft *formatter) tokEnd(i int) int {
	t := ft.toks[i]
	switch t.Type {
	case TokLabel:
		return t.Pos.Offset + 1 + len(t.Value)
	case TokNL, TokEOF:
		return t.Pos.Offset
	}
	return t.Pos.Offset + len(t.Value)
}

// span makes a node of tokens [si, ei).
func (ft *formatter) span(si, ei int) *node {
	return &node{start: ft.offs[si], end: ft.tokEnd(ei - 1), startLine: ft.toks[si].Pos.Line, endLine: ft.toks[ei-1].Pos.Line}
}

// stmts makes the nodes of a list of statements that ends at token end
// (the "}" of a pipeline or EOF).
func (ft *formatter) stmts(list []*Stmt, end int) []*node {
	nodes := make([]*node, len(list))
	for k, s := range list {
		ei := end
		if k+1 < len(list) {
			ei = ft.idx(list[k+1].Pos.Offset)
			for ei > 0 && ft.toks[ei-1].Type == TokNL {
				ei--
			}
		}
		si := ft.idx(s.Pos.Offset)
		n := ft.span(si, ei)
		n.stmt = s
		switch {
		case s.Pipeline != nil:
			n.children = ft.stmts(s.Pipeline.Stmts, ei-1)
		case s.Let != nil:
			n.children = []*node{ft.chainNode(s.Let.Chain, ft.idx(s.Let.Chain.Pos.Offset), ei)}
		case s.Chain != nil:
			n.children = []*node{ft.chainNode(s.Chain, si, ei)}
		default:
			n.leaf = true
		}
		nodes[k] = n
	}
	return nodes
}

func (ft *formatter) chainNode(c *Chain, si, ei int) *node {
	n := ft.span(si, ei)
	n.chain = c
	for k, st := range c.Stages {
		sk, ek := ft.idx(st.Pos.Offset), ei
		if k+1 < len(c.Stages) {
			ek = ft.idx(c.Stages[k+1].Pos.Offset) - 1 // the "->"
		}
		sn := ft.span(sk, ek)
		sn.stage = st
		if b := st.Block; b != nil {
			gt := ft.match[sk+1]
			last := gt
			if b.For != nil {
				last = ft.idx(b.For.Pos.Offset)
				sn.forLine = ft.toks[gt-1].Pos.Line
			}
			if ft.toks[last-1].Type == TokPunct && ft.toks[last-1].Value == "," {
				last--
			}
			for j, m := range b.Members {
				ej := last
				if j+1 < len(b.Members) {
					ej = ft.idx(b.Members[j+1].Pos.Offset) - 1 // the ","
				}
				sn.children = append(sn.children, ft.chainNode(m, ft.idx(m.Pos.Offset), ej))
			}
		} else {
			sn.leaf = true
		}
		n.children = append(n.children, sn)
	}
	return n
}

// link sets the parent of every node under n.
func link(n *node) {
	for _, ch := range n.children {
		ch.parent = n
		link(ch)
	}
}

// attach gives comment c to the node it belongs to. A comment inside a
// leaf (a task with its arguments, a param) goes before the leaf; a comment
// at the end of a line goes after the outermost node that ends on that line
// before it; any other comment goes before the next node, or when none
// follows before the closer of the innermost block, pipeline or file around
// it.
func (ft *formatter) attach(root *node, c Comment) {
	off := c.Pos.Offset
	d := root
	for {
		// Children are in source order and do not overlap: the one that
		// may hold c is the first that ends after it.
		k := sort.Search(len(d.children), func(i int) bool { return d.children[i].end > off })
		if k == len(d.children) || d.children[k].start >= off {
			break
		}
		d = d.children[k]
	}
	if d.leaf {
		lead(d, c)
		return
	}
	if ft.endOfLine(c) {
		var best *node
		var walk func(n *node)
		walk = func(n *node) {
			// Only the children that end on c's line, or hold the
			// nodes that do, and start before c.
			k := sort.Search(len(n.children), func(i int) bool { return n.children[i].endLine >= c.Pos.Line })
			for _, ch := range n.children[k:] {
				if ch.start > off {
					break
				}
				// Pre-order, and only a later end replaces: of the nodes
				// that end at the same place, the outermost wins.
				if ch.end <= off && ch.endLine == c.Pos.Line && (best == nil || ch.end > best.end) {
					best = ch
				}
				walk(ch)
			}
		}
		walk(d)
		if best != nil {
			best.trail = &c
			return
		}
	}
	if k := sort.Search(len(d.children), func(i int) bool { return d.children[i].start > off }); k < len(d.children) {
		lead(d.children[k], c)
		return
	}
	d.foot = append(d.foot, c)
}

// endOfLine reports whether a token comes before c on its line.
func (ft *formatter) endOfLine(c Comment) bool {
	j := ft.idx(c.Pos.Offset) - 1
	for j >= 0 && ft.toks[j].Type == TokNL {
		j--
	}
	return j >= 0 && ft.toks[j].Pos.Line == c.Pos.Line
}

// lead adds c to the comments on the lines before n. The first stage of a
// chain and the chain of a statement start on their parent's line, so their
// comments go before the parent.
func lead(n *node, c Comment) {
	for p := n.parent; p != nil && p.children[0] == n && (p.chain != nil || p.stmt != nil && p.stmt.Pipeline == nil); p = n.parent {
		n = p
	}
	n.lead = append(n.lead, c)
}

// setForced marks the nodes that hold a comment that needs a line break.
func setForced(n *node) {
	n.forced = len(n.foot) > 0
	for _, ch := range n.children {
		setForced(ch)
		if ch.forced || len(ch.lead) > 0 || ch.trail != nil {
			n.forced = true
		}
	}
}

func (ft *formatter) write(s string) {
	ft.out.WriteString(s)
	ft.col += utf8.RuneCountInString(s)
}

func (ft *formatter) newline() {
	ft.out.WriteByte('\n')
	ft.col = 0
}

func (ft *formatter) startLine(ind int) {
	for range ind {
		ft.out.WriteString(indent)
	}
	ft.col = ind * len(indent)
}

// items prints nodes one a line at indentation ind, each after its leading
// comments and followed by its trailing one, keeping one empty line where
// the source has one or more. comma says whether item k is followed by a
// comma. It returns the last source line printed, for comments that follow.
func (ft *formatter) items(nodes []*node, ind int, comma func(k int) bool, item func(*node, int)) int {
	prev := 0
	for k, n := range nodes {
		ft.comments(n.lead, ind, &prev)
		ft.blank(n.startLine, &prev)
		ft.startLine(ind)
		item(n, ind)
		if comma != nil && comma(k) {
			ft.write(",")
		}
		if n.trail != nil {
			ft.write("  " + n.trail.Text)
		}
		ft.newline()
		prev = max(prev, n.endLine)
	}
	return prev
}

// comments prints comments one a line, at indentation ind.
func (ft *formatter) comments(list []Comment, ind int, prev *int) {
	for _, c := range list {
		ft.blank(c.Pos.Line, prev)
		ft.startLine(ind)
		ft.write(c.Text)
		ft.newline()
	}
}

// blank prints an empty line if the source has one between line prev and
// line, and moves prev to line.
func (ft *formatter) blank(line int, prev *int) {
	if *prev > 0 && line > *prev+1 {
		ft.newline()
	}
	*prev = max(*prev, line)
}

func (ft *formatter) stmt(n *node, ind int) {
	switch s := n.stmt; {
	case s.Param != nil:
		ft.write("param " + s.Param.Name + " = " + ft.value(s.Param.Value))
	case s.Let != nil:
		ft.write("let " + s.Let.Name + " = ")
		ft.chain(n.children[0], ind)
	case s.Chain != nil:
		ft.chain(n.children[0], ind)
	case s.Pipeline != nil:
		ft.write("pipeline " + s.Pipeline.Name + ft.tail(nil, s.Pipeline.Opts) + " {")
		if len(n.children) == 0 && len(n.foot) == 0 {
			ft.write("}")
			return
		}
		ft.newline()
		prev := ft.items(n.children, ind+1, nil, ft.stmt)
		ft.comments(n.foot, ind+1, &prev)
		ft.startLine(ind)
		ft.write("}")
	}
}

// chain prints a chain on one line if it fits; else with its blocks broken
// and its stages still joined by "->" on the lines of the blocks' ends, if
// that makes every line fit; else broken before every "->".
func (ft *formatter) chain(n *node, ind int) {
	if flat := ft.flatChain(n.chain); !n.forced && ft.col+utf8.RuneCountInString(flat) <= FormatWidth {
		ft.write(flat)
		return
	}
	if ft.hugs(n, ind) {
		for k, sn := range n.children {
			if k > 0 {
				ft.write(" -> ")
			}
			ft.stageOut(sn, ind, true)
		}
		return
	}
	for k, sn := range n.children {
		if k > 0 {
			ft.newline()
			for _, c := range sn.lead {
				ft.startLine(ind + 1)
				ft.write(c.Text)
				ft.newline()
			}
			ft.startLine(ind + 1)
			ft.write("-> ")
			ft.stageOut(sn, ind+1, false)
		} else {
			ft.stageOut(sn, ind, false)
		}
		if sn.trail != nil && k+1 < len(n.children) {
			ft.write("  " + sn.trail.Text)
		}
	}
}

// hugs reports whether the chain at n can be printed with its blocks broken
// and its stages joined by "->" on the lines where the blocks open and
// close: it has a block, no comment between its stages, and every line fits.
func (ft *formatter) hugs(n *node, ind int) bool {
	block := false
	for k, sn := range n.children {
		if sn.trail != nil || k > 0 && len(sn.lead) > 0 {
			return false
		}
		block = block || sn.stage.Block != nil
	}
	if !block {
		return false
	}
	col := ft.col
	for k, sn := range n.children {
		if k > 0 {
			col += len(" -> ")
		}
		if b := sn.stage.Block; b != nil {
			if col += len(b.Kind) + len(" <"); col > FormatWidth {
				return false
			}
			col = ind*len(indent) + len(">") + utf8.RuneCountInString(ft.tail(b.Label, b.Opts))
		} else {
			col += utf8.RuneCountInString(ft.flatStage(sn.stage))
		}
	}
	return col <= FormatWidth
}

// stageOut prints a stage; a block is broken when it must be, or when it
// does not fit on the line.
func (ft *formatter) stageOut(n *node, ind int, mustBreak bool) {
	b := n.stage.Block
	if b == nil {
		ft.write(ft.flatStage(n.stage))
		return
	}
	if flat := ft.flatStage(n.stage); !mustBreak && !n.forced && ft.col+utf8.RuneCountInString(flat) <= FormatWidth {
		ft.write(flat)
		return
	}
	ft.write(b.Kind + " <")
	ft.newline()
	last := len(n.children) - 1
	prev := ft.items(n.children, ind+1, func(k int) bool { return b.For == nil || k < last }, ft.chain)
	if b.For != nil {
		ft.startLine(ind + 1)
		ft.write(ft.flatFor(b.For))
		ft.newline()
		prev = max(prev, n.forLine)
	}
	ft.comments(n.foot, ind+1, &prev)
	ft.startLine(ind)
	ft.write(">" + ft.tail(b.Label, b.Opts))
}

// raw returns the token at offset off as written.
func (ft *formatter) raw(off int) string {
	return ft.toks[ft.idx(off)].Value
}

func (ft *formatter) flatChain(c *Chain) string {
	if s, ok := ft.flat[c]; ok {
		return s
	}
	var b strings.Builder
	for i, st := range c.Stages {
		if i > 0 {
			b.WriteString(" -> ")
		}
		b.WriteString(ft.flatStage(st))
	}
	ft.flat[c] = b.String()
	return b.String()
}

func (ft *formatter) flatStage(st *Stage) string {
	switch {
	case st.Block != nil:
		bl := st.Block
		var b strings.Builder
		b.WriteString(bl.Kind + " <")
		for i, m := range bl.Members {
			if i > 0 {
				b.WriteByte(',')
			}
			b.WriteString(" " + ft.flatChain(m))
		}
		if bl.For != nil {
			b.WriteString(" " + ft.flatFor(bl.For))
		}
		b.WriteString(" >" + ft.tail(bl.Label, bl.Opts))
		return b.String()
	case st.Reduce != nil:
		return "reduce " + ft.task(st.Reduce.Task)
	}
	return ft.task(st.Task)
}

func (ft *formatter) flatFor(f *For) string {
	s := "for " + f.Var + " in " + ft.value(f.From)
	if f.To != nil {
		s += ".." + ft.value(f.To)
	}
	return s
}

func (ft *formatter) task(t *Task) string {
	var b strings.Builder
	b.WriteString(t.Kind)
	if t.Name != nil {
		b.WriteString(" " + ft.raw(t.Name.Pos.Offset))
		if t.Action != nil {
			b.WriteString("." + t.Action.Name)
		}
		b.WriteByte('(')
		for i, a := range t.Args {
			if i > 0 {
				b.WriteString(", ")
			}
			b.WriteString(ft.value(a.Value))
			if a.Kw != nil {
				b.WriteString("=" + ft.value(a.Kw))
			}
		}
		b.WriteByte(')')
	}
	b.WriteString(ft.tail(t.Label, t.Opts))
	return b.String()
}

func (ft *formatter) tail(l *Label, opts []*Option) string {
	var b strings.Builder
	if l != nil {
		b.WriteString(" @" + l.Name)
	}
	for i, o := range opts {
		if i == 0 {
			b.WriteString(" with ")
		} else {
			b.WriteString(", ")
		}
		b.WriteString(o.Key + "=" + ft.value(o.Value))
	}
	return b.String()
}

func (ft *formatter) value(v *Value) string {
	switch {
	case v.List != nil:
		var b strings.Builder
		b.WriteByte('[')
		for i, it := range v.List.Items {
			if i > 0 {
				b.WriteString(", ")
			}
			b.WriteString(ft.value(it))
		}
		b.WriteByte(']')
		return b.String()
	case v.Map != nil:
		var b strings.Builder
		b.WriteByte('{')
		for i, e := range v.Map.Entries {
			if i > 0 {
				b.WriteString(", ")
			}
			b.WriteString(ft.raw(e.Pos.Offset) + ": " + ft.value(e.Value))
		}
		b.WriteByte('}')
		return b.String()
	}
	return ft.raw(v.Pos.Offset)
}
