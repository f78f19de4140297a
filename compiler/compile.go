package compiler

import (
	"errors"
	"fmt"
	"math"
	"path"
	"slices"
	"sort"
	"strconv"
	"strings"
	"time"

	"github.com/alecthomas/participle/v2/lexer"

	"github.com/ompdev/omp/lang"
)

// Config says what to compile and against which kinds.
type Config struct {
	// Registry declares the task kinds; it is required, so that the kinds a
	// pipeline is checked against are the kinds that will run it.
	Registry Registry
	// Params are the raw -p NAME=VALUE overrides. A value is read as an omp
	// literal (5, 2.5, true, "s", [1, 2], 30s) and otherwise taken as a
	// string.
	Params map[string]string
	// Pipeline names the `pipeline NAME { }` block to compile; "" selects
	// the block called main, or the only block.
	Pipeline string
}

// ErrNoRegistry is the error of Compile and Check given no Config.Registry:
// the compiler knows no kind of its own.
var ErrNoRegistry = errors.New("compiler: no registry of task kinds in Config")

// DefaultLabel is the label of a task that has none: workers that give no
// label serve it.
const DefaultLabel = "default"

// MaxExpansion bounds the members one comprehension may generate, and
// MaxNodes the nodes of a graph, so that a typo such as 1..1000000000, or
// comprehensions nested in comprehensions, is an error rather than an
// out-of-memory crash.
const (
	MaxExpansion = 1_000_000
	MaxNodes     = 2_000_000
)

// maxNodes is MaxNodes, lowered by tests.
var maxNodes = MaxNodes

// MaxBackoff is the longest wait between two attempts of a task: the
// doubling of backoff stops there, and a longer backoff is an error.
const MaxBackoff = time.Minute

// reducers are the names of the built-in reducers: the language's list,
// which the runtime's implementations are tested against.
var reducers = []string{"collect", "sum", "count", "min", "max", "mean", "concat", "merge", "first", "last"}

// Reducers returns the names of the built-in reducers, which the runtime
// computes.
func Reducers() []string { return slices.Clone(reducers) }

// IsReducer reports whether name is a built-in reducer.
func IsReducer(name string) bool { return slices.Contains(reducers, name) }

// Compile compiles the selected pipeline of f into a Graph. It checks the
// params, the top-level statements and the selected block, not the other
// blocks, so that one block can be run while another is work in progress;
// when no block can be selected, it checks them all, as Check does. The
// error, if any, is a lang.ErrorList sorted by position.
func Compile(f *lang.File, cfg Config) (*Graph, error) {
	return compile(f, cfg, true)
}

// Check reports every error in f, in every pipeline block. A non-empty
// cfg.Pipeline must name a block, but when it is "" no block need be
// selectable: a file whose several blocks are all fine passes.
func Check(f *lang.File, cfg Config) error {
	_, err := compile(f, cfg, false)
	return err
}

type compiler struct {
	reg    Registry
	file   string
	errs   lang.ErrorList
	params map[string]*param
	// values is the params' values after overrides, as the graph shows them.
	values map[string]any

	// Per pipeline.
	g      *Graph
	lets   map[string]*binding
	blocks map[*lang.Block]int // see blockIndex
	// text prints a statement or block on one line (lang.File.OneLiner).
	text func(any) string
	// defining is the let whose chain is being compiled, to spot a let
	// that uses its own result.
	defining *binding
	// stmtPos is the statement being compiled; tooBig is set once the
	// graph has more than MaxNodes nodes, and stops all expansion.
	stmtPos lexer.Position
	tooBig  bool
}

type param struct {
	pos   lexer.Position
	value any
	typ   string // of the declared value, as valueType says
}

// binding is a let name. node is "" until its statement has been compiled.
type binding struct {
	pos  lexer.Position
	node string
}

// scope is what a block hands down to the stages inside it.
type scope struct {
	label string
	opts  optSet
	vars  *Loop
	// block is the innermost block, as 1 + its index in Graph.Blocks;
	// 0 outside any block.
	block int
}

// optSet is a set of options where each may be unset, so that a task's own
// options override only what they name.
type optSet struct {
	retries          *int
	timeout, backoff *time.Duration
	cache            *bool
}

// result is what a stage produces: one node's result, or for a parallel
// block a list of node results that has not been gathered yet.
type result struct {
	one  string
	list bool
	many []string
	// path and pos name the block, for the collect node that gathers it.
	path     string
	pos      lexer.Position
	gathered string
}

// compile compiles f; run is set for Compile, which needs one block selected
// and compiles only that one, and unset for Check.
func compile(f *lang.File, cfg Config, run bool) (*Graph, error) {
	if cfg.Registry == nil {
		return nil, ErrNoRegistry
	}
	c := &compiler{reg: cfg.Registry, file: f.Name, params: map[string]*param{}, values: map[string]any{}}
	if run {
		// Check's graph is not shown running: it needs no text.
		c.text = f.OneLiner()
	} else {
		c.text = func(any) string { return "" }
	}
	for _, s := range f.Stmts {
		if s.Param != nil {
			c.declareParam(s.Param)
		}
	}
	c.override(cfg.Params)

	var blocks []*lang.Pipeline
	byName := map[string]*lang.Pipeline{}
	var loose []*lang.Stmt
	for _, s := range f.Stmts {
		switch {
		case s.Param != nil:
		case s.Pipeline != nil:
			if prev, ok := byName[s.Pipeline.Name]; ok {
				c.errorf(s.Pipeline.Pos, "pipeline %s redeclared (previous declaration at %s)", s.Pipeline.Name, short(prev.Pos))
				continue
			}
			byName[s.Pipeline.Name] = s.Pipeline
			blocks = append(blocks, s.Pipeline)
		default:
			loose = append(loose, s)
		}
	}

	var g *Graph
	if len(blocks) == 0 {
		if cfg.Pipeline != "" {
			c.errorf(c.filePos(), "no pipeline %s: the file has no pipeline blocks", cfg.Pipeline)
		}
		g = c.pipeline("", f.Stmts)
	} else {
		for _, s := range loose {
			c.errorf(s.Pos, "statement outside a pipeline block (a file with pipeline blocks may only declare params outside them)")
		}
		selected := c.selectPipeline(blocks, byName, cfg.Pipeline, run)
		only := byName[selected]
		if !run {
			only = nil
		}
		for _, b := range blocks {
			if only != nil && b != only {
				continue
			}
			c.schedule(b)
			if pg := c.pipeline(b.Name, b.Stmts); b.Name == selected {
				g = pg
			}
		}
	}
	if len(c.errs) > 0 {
		c.errs.Sort()
		return nil, c.errs
	}
	return g, nil
}

func (c *compiler) selectPipeline(blocks []*lang.Pipeline, byName map[string]*lang.Pipeline, want string, required bool) string {
	names := make([]string, len(blocks))
	for i, b := range blocks {
		names[i] = b.Name
	}
	switch {
	case want != "":
		if byName[want] == nil {
			c.errorf(c.filePos(), "no pipeline %s%s", want, hintOrList(want, names, "pipelines"))
		}
		return want
	case byName["main"] != nil:
		return "main"
	case len(blocks) == 1:
		return blocks[0].Name
	case required:
		c.errorf(c.filePos(), "several pipelines and none is called main: choose one with --pipeline (pipelines: %s)", strings.Join(names, ", "))
	}
	return ""
}

// filePos stands for the whole file, for errors that have no line.
func (c *compiler) filePos() lexer.Position { return lexer.Position{Filename: c.file} }

func (c *compiler) errorf(pos lexer.Position, format string, args ...any) {
	if pos.Filename == "" {
		pos.Filename = c.file
	}
	c.errs.Add(pos, fmt.Sprintf(format, args...))
}

func short(p lexer.Position) string { return fmt.Sprintf("%d:%d", p.Line, p.Column) }

func toPos(p lexer.Position) Pos { return Pos{File: p.Filename, Line: p.Line, Column: p.Column} }

func (c *compiler) declareParam(p *lang.Param) {
	if prev, ok := c.params[p.Name]; ok {
		c.errorf(p.Pos, "param %s redeclared (previous declaration at %s)", p.Name, short(prev.pos))
		return
	}
	v := c.literal(p.Value, "a param's value")
	c.params[p.Name] = &param{pos: p.Pos, value: v, typ: valueType(p.Value)}
	c.values[p.Name] = v
}

// literal evaluates a value that may not name anything (a param's value).
func (c *compiler) literal(v *lang.Value, what string) any {
	return c.value(v, nil, nil, what)
}

// pipeline compiles one list of statements (a pipeline block's, or a file
// without blocks) into a graph.
func (c *compiler) pipeline(name string, stmts []*lang.Stmt) *Graph {
	// Most statements make a node or two; guessing high saves regrowing
	// a large slice.
	c.tooBig = false
	c.g = &Graph{File: c.file, Pipeline: name, Params: c.values,
		Nodes: make([]*Node, 0, 2*len(stmts)), Outputs: make([]Output, 0, len(stmts))}
	c.lets = map[string]*binding{}
	c.blocks = map[*lang.Block]int{}
	// Declare every let first, so that a use before the let can say where
	// the let is.
	for _, s := range stmts {
		if s.Let == nil {
			continue
		}
		if prev, ok := c.lets[s.Let.Name]; ok {
			c.errorf(s.Let.Pos, "%s redeclared (previous let at %s)", s.Let.Name, short(prev.pos))
			continue
		}
		if p, ok := c.params[s.Let.Name]; ok {
			c.errorf(s.Let.Pos, "%s redeclared (previous param at %s)", s.Let.Name, short(p.pos))
			continue
		}
		c.lets[s.Let.Name] = &binding{pos: s.Let.Pos}
	}
	n := 0
	for _, s := range stmts {
		switch {
		case s.Param != nil:
			if name != "" {
				c.errorf(s.Pos, "param %s must be declared at the top level of the file, not in a pipeline block", s.Param.Name)
			}
		case s.Pipeline != nil:
			c.errorf(s.Pos, "pipeline blocks cannot nest")
		case s.Let != nil:
			n++
			b := c.lets[s.Let.Name]
			if b != nil && b.pos != s.Let.Pos {
				b = nil // a duplicate, already reported
			}
			c.defining = b
			id := c.statement(s.Let.Chain, n)
			c.defining = nil
			if b != nil {
				b.node = id
			}
			c.g.Outputs = append(c.g.Outputs, Output{Node: id, Pos: toPos(s.Pos), Let: s.Let.Name, Text: c.text(s)})
		case s.Chain != nil:
			n++
			id := c.statement(s.Chain, n)
			c.g.Outputs = append(c.g.Outputs, Output{Node: id, Pos: toPos(s.Pos), Text: c.text(s)})
		}
	}
	return c.g
}

// statement compiles a top-level chain and returns the node whose result is
// the statement's result.
func (c *compiler) statement(ch *lang.Chain, n int) string {
	c.stmtPos = ch.Pos
	r := c.chain(ch, "s"+strconv.Itoa(n), nil, &scope{})
	if r == nil {
		// Only after an error, which was reported.
		return ""
	}
	return c.gather(r)
}

func (c *compiler) add(n *Node) {
	n.Stmt = len(c.g.Outputs)
	c.g.Nodes = append(c.g.Nodes, n)
	if len(c.g.Nodes) == maxNodes+1 {
		c.errorf(c.stmtPos, "the pipeline expands to more than %d nodes", maxNodes)
		c.tooBig = true
	}
}

// gather returns the node holding r's result, adding a collect node for a
// parallel block's list the first time it is needed.
func (c *compiler) gather(r *result) string {
	if !r.list {
		return r.one
	}
	if r.gathered == "" {
		r.gathered = r.path + ".c"
		c.add(&Node{
			ID: r.gathered, Op: OpReduce, Reducer: "collect",
			Inputs: r.many, Deps: sortedDeps(r.many, nil), Pos: toPos(r.pos),
		})
	}
	return r.gathered
}

// childID is path.n, built with one allocation.
func childID(path string, n int) string {
	var buf [64]byte
	b := append(append(buf[:0], path...), '.')
	return string(strconv.AppendInt(b, int64(n), 10))
}

// sortedDeps merges inputs and refs into a sorted list without duplicates.
func sortedDeps(inputs, refs []string) []string {
	if len(inputs)+len(refs) == 0 {
		return nil
	}
	if len(refs) == 0 && len(inputs) == 1 {
		return inputs // shared: neither slice is changed after compilation
	}
	out := make([]string, 0, len(inputs)+len(refs))
	out = append(out, inputs...)
	out = append(out, refs...)
	sort.Strings(out)
	k := 0
	for i, s := range out {
		if i > 0 && s == out[k-1] {
			continue
		}
		out[k] = s
		k++
	}
	return out[:k]
}

func (c *compiler) chain(ch *lang.Chain, path string, in *result, sc *scope) *result {
	cur := in
	for j, st := range ch.Stages {
		p := path
		if len(ch.Stages) > 1 {
			p = childID(path, j+1)
		}
		if st.Block != nil && st.Block.Kind == "mapreduce" && (j+1 == len(ch.Stages) || ch.Stages[j+1].Reduce == nil) {
			c.errorf(st.Block.Pos, "mapreduce block must be followed by -> reduce")
		}
		cur = c.stage(st, p, cur, sc)
	}
	return cur
}

func (c *compiler) stage(st *lang.Stage, path string, in *result, sc *scope) *result {
	switch {
	case st.Block != nil:
		return c.block(st.Block, path, in, sc)
	case st.Reduce != nil:
		return c.reduce(st.Reduce, path, in, sc)
	case st.Task.Name == nil:
		return c.ref(st.Task, in, sc)
	default:
		return &result{one: c.task(st.Task, path, in, sc)}
	}
}

// ref compiles a let name used as a stage.
func (c *compiler) ref(t *lang.Task, in *result, sc *scope) *result {
	name := t.Kind
	if t.Label != nil || len(t.Opts) > 0 {
		c.errorf(t.Pos, "%s is not a task: a label or options need a task", name)
	}
	if b, ok := c.lets[name]; ok {
		if in != nil {
			// Also in a block after a stage: `s -> parallel < x >` would
			// silently drop the input the block gives its members.
			c.errorf(t.Pos, "%s is a let name and takes no input: it can only start a chain", name)
		}
		if id := c.useLet(name, b, t.Pos); id != "" {
			return &result{one: id}
		}
		return nil
	}
	if _, ok := c.reg.Lookup(name); ok {
		c.errorf(t.Pos, "expected a task name after kind %s", name)
		return nil
	}
	if c.lookupVar(sc, name) != nil {
		c.errorf(t.Pos, "%s is a loop variable, not a pipeline: only a let name or a task can be a stage", name)
		return nil
	}
	if _, ok := c.params[name]; ok {
		c.errorf(t.Pos, "%s is a param, not a pipeline: only a let name or a task can be a stage", name)
		return nil
	}
	cands := append(c.letNames(), c.reg.Names()...)
	c.errorf(t.Pos, "undefined: %s%s", name, didYouMean(name, cands))
	return nil
}

// useLet returns the node of a let that is already bound, or reports why
// it is not.
func (c *compiler) useLet(name string, b *binding, pos lexer.Position) string {
	if b.node != "" {
		return b.node
	}
	if b == c.defining {
		c.errorf(pos, "cycle: let %s uses its own result", name)
	} else {
		c.errorf(pos, "%s used before its let at %s", name, short(b.pos))
	}
	return ""
}

func (c *compiler) letNames() []string {
	names := make([]string, 0, len(c.lets))
	for n := range c.lets {
		names = append(names, n)
	}
	return names
}

func (c *compiler) reduce(r *lang.Reduce, path string, in *result, sc *scope) *result {
	t := r.Task
	if t.Name != nil {
		// `reduce KIND NAME(...)`: a task that receives the gathered list.
		if in == nil {
			c.errorf(r.Pos, "reduce has no input: it must follow a stage")
		}
		return &result{one: c.task(t, path, in, sc)}
	}
	if !IsReducer(t.Kind) {
		c.errorf(t.Pos, "unknown reducer %s%s", t.Kind, hintOrList(t.Kind, reducers, "reducers"))
	}
	if t.Label != nil || len(t.Opts) > 0 {
		c.errorf(t.Pos, "reducer %s is computed by the runtime and takes no label or options", t.Kind)
	}
	if in == nil {
		c.errorf(r.Pos, "reduce has no input: it must follow a stage")
		return &result{one: path}
	}
	n := &Node{ID: path, Op: OpReduce, Reducer: t.Kind, Pos: toPos(r.Pos)}
	if in.list {
		n.Inputs = in.many
	} else {
		n.Inputs = []string{in.one}
		n.Spread = true
	}
	n.Deps = sortedDeps(n.Inputs, nil)
	c.add(n)
	return &result{one: n.ID}
}

func (c *compiler) block(b *lang.Block, path string, in *result, sc *scope) *result {
	inner := &scope{label: sc.label, opts: sc.opts, vars: sc.vars, block: c.blockIndex(b, sc.block)}
	if b.Label != nil {
		inner.label = c.label(b.Label)
	}
	c.options(b.Opts, sc, &inner.opts)
	if len(b.Members) == 0 {
		if b.For != nil {
			c.errorf(b.For.Pos, "nothing to repeat before for")
		} else {
			c.errorf(b.Pos, "empty %s block", b.Kind)
		}
		return nil
	}
	if b.Kind == "sequence" {
		cur, stages := in, 0
		c.members(b, path, inner, func(ch *lang.Chain, p string, s *scope) {
			cur = c.chain(ch, p, cur, s)
			stages++
		})
		if stages == 0 && in == nil {
			c.errorf(b.Pos, "empty sequence: its comprehension produced no stages")
		}
		return cur
	}
	res := &result{list: true, path: path, pos: b.Pos}
	c.members(b, path, inner, func(ch *lang.Chain, p string, s *scope) {
		if r := c.chain(ch, p, in, s); r != nil {
			res.many = append(res.many, c.gather(r))
		}
	})
	return res
}

// blockIndex returns b's place in Graph.Blocks (plus 1), adding it the
// first time: a block inside a comprehension is compiled once per value, and
// a progress display shows it once.
func (c *compiler) blockIndex(b *lang.Block, parent int) int {
	if i, ok := c.blocks[b]; ok {
		return i
	}
	c.g.Blocks = append(c.g.Blocks, Block{Kind: b.Kind, Pos: toPos(b.Pos), Text: c.text(b), Stmt: len(c.g.Outputs), Parent: parent})
	c.blocks[b] = len(c.g.Blocks)
	return len(c.g.Blocks)
}

// members calls fn for every member of a block, once per value of its
// comprehension if it has one, with the member's path and scope.
func (c *compiler) members(b *lang.Block, path string, sc *scope, fn func(*lang.Chain, string, *scope)) {
	if b.For == nil {
		for i, m := range b.Members {
			fn(m, childID(path, i+1), sc)
		}
		return
	}
	f := b.For
	if c.lookupVar(sc, f.Var) != nil {
		c.errorf(f.Pos, "loop variable %s redeclared", f.Var)
	} else if p, ok := c.params[f.Var]; ok {
		c.errorf(f.Pos, "loop variable %s redeclared (previous param at %s)", f.Var, short(p.pos))
	} else if l, ok := c.lets[f.Var]; ok {
		c.errorf(f.Pos, "loop variable %s redeclared (previous let at %s)", f.Var, short(l.pos))
	}
	k := 0
	c.iterate(f, sc, len(b.Members), func(v any) {
		// One allocation for both: a comprehension may run 100,000 times.
		sv := &struct {
			scope
			Loop
		}{}
		sv.Loop = Loop{Var: f.Var, Value: v, Outer: sc.vars}
		sv.scope = scope{label: sc.label, opts: sc.opts, vars: &sv.Loop, block: sc.block}
		s := &sv.scope
		for _, m := range b.Members {
			k++
			fn(m, childID(path, k), s)
		}
	})
}

// iterate calls fn with each value a for clause ranges over.
//
// per is how many members each value generates: the limit is on members
// generated, not values.
func (c *compiler) iterate(f *lang.For, sc *scope, per int, fn func(any)) {
	before := len(c.errs)
	from := c.value(f.From, sc, nil, "a comprehension")
	if f.To != nil {
		to := c.value(f.To, sc, nil, "a comprehension")
		if len(c.errs) > before {
			return // a bound that was an error is not also a wrong type
		}
		lo, ok1 := from.(int64)
		hi, ok2 := to.(int64)
		if !ok1 || !ok2 {
			if !ok1 {
				c.errorf(f.From.Pos, "range bound must be an integer, got %s", describe(from))
			}
			if !ok2 {
				c.errorf(f.To.Pos, "range bound must be an integer, got %s", describe(to))
			}
			return
		}
		// uint64 holds the count of any int64 range but the full one.
		if n := uint64(hi) - uint64(lo) + 1; hi >= lo && c.tooMany(f, n, per) {
			return
		}
		for i := lo; i <= hi && !c.tooBig; i++ {
			fn(i)
			if i == hi { // hi may be the largest int64
				break
			}
		}
		return
	}
	if len(c.errs) > before {
		return
	}
	list, ok := from.([]any)
	if !ok {
		c.errorf(f.From.Pos, "cannot iterate over %s: need a list or a range a..b", describe(from))
		return
	}
	if c.tooMany(f, uint64(len(list)), per) {
		return
	}
	for _, v := range list {
		if c.tooBig {
			return
		}
		fn(v)
	}
}

// tooMany reports, once, a comprehension whose n values would generate more
// than MaxExpansion members at per members each.
func (c *compiler) tooMany(f *lang.For, n uint64, per int) bool {
	if n == 0 && f.To != nil { // the full int64 range
		n = math.MaxUint64
	}
	if n <= MaxExpansion && n*uint64(per) <= MaxExpansion {
		return false
	}
	each := ""
	if per > 1 {
		each = fmt.Sprintf(" × %d members each", per)
	}
	c.errorf(f.From.Pos, "comprehension generates more than %d members (%d values%s)", MaxExpansion, n, each)
	return true
}

func (c *compiler) lookupVar(sc *scope, name string) *Loop {
	if sc == nil {
		return nil
	}
	for v := sc.vars; v != nil; v = v.Outer {
		if v.Var == name {
			return v
		}
	}
	return nil
}

// describe names a value's type in an error message.
func describe(v any) string {
	switch x := v.(type) {
	case nil:
		return "null"
	case bool:
		return "bool " + strconv.FormatBool(x)
	case int64:
		return "int " + strconv.FormatInt(x, 10)
	case float64:
		return "float " + lang.FormatFloat(x)
	case string:
		return "string " + strconv.Quote(x)
	case []any:
		return "list"
	case map[string]any:
		return "map"
	case Ref:
		return "a pipeline result"
	}
	return fmt.Sprintf("%T", v)
}

func (c *compiler) label(l *lang.Label) string {
	// The lexer reads labels by this rule; a tree built by hand may not.
	if !lang.ValidLabel(l.Name) {
		c.errorf(l.Pos, "label %s may contain only ASCII letters, digits, '_' and '-'", l.Name)
	}
	return l.Name
}

var optionNames = []string{"retries", "timeout", "backoff", "cache"}

// options evaluates `with` options into set, on top of what it holds.
func (c *compiler) options(opts []*lang.Option, sc *scope, set *optSet) {
	seen := map[string]bool{}
	for _, o := range opts {
		if seen[o.Key] {
			c.errorf(o.Pos, "option %s given twice", o.Key)
		}
		seen[o.Key] = true
		before := len(c.errs)
		v := c.value(o.Value, sc, nil, "an option")
		switch {
		case len(c.errs) > before && slices.Contains(optionNames, o.Key):
			// One error per mistake: a value that was an error is not
			// also of the wrong type.
			continue
		case o.Key == "retries":
			n, ok := v.(int64)
			if !ok || n < 0 || n > 1000 {
				c.errorf(o.Value.Pos, "retries must be an integer from 0 to 1000, got %s", describe(v))
				continue
			}
			r := int(n)
			set.retries = &r
		case o.Key == "timeout" || o.Key == "backoff":
			d, ok := c.duration(o, v)
			if !ok {
				continue
			}
			if o.Key == "timeout" {
				set.timeout = &d
				break
			}
			if d > MaxBackoff {
				// The runtime caps every wait at MaxBackoff: a longer
				// one would be shortened without a word.
				c.errorf(o.Value.Pos, "backoff %s exceeds the maximum %s", fmtDuration(d), fmtDuration(MaxBackoff))
				continue
			}
			set.backoff = &d
		case o.Key == "cache":
			b, ok := v.(bool)
			if !ok {
				c.errorf(o.Value.Pos, "cache must be true or false, got %s", describe(v))
				continue
			}
			set.cache = &b
		default:
			c.errorf(o.Pos, "unknown option %s%s", o.Key, hintOrList(o.Key, optionNames, "options"))
		}
	}
}

func (c *compiler) duration(o *lang.Option, v any) (time.Duration, bool) {
	s, ok := v.(string)
	if !ok {
		c.errorf(o.Value.Pos, "%s must be a duration such as 500ms, 30s, 5m or 1h, got %s", o.Key, describe(v))
		return 0, false
	}
	d, err := time.ParseDuration(s)
	if err != nil {
		// A duration literal was already reported where it was read.
		if o.Value.Duration == nil {
			c.errorf(o.Value.Pos, "invalid duration %q: use a number and a unit (500ms, 30s, 5m, 1h)", s)
		}
		return 0, false
	}
	if d <= 0 {
		c.errorf(o.Value.Pos, "%s must be positive, got %s", o.Key, s)
		return 0, false
	}
	return d, true
}

// kwargs checks a task's keyword arguments against those its action
// declares, so that a misspelt one is an error instead of being ignored.
func (c *compiler) kwargs(t *lang.Task, kind string, as ActionSpec) {
	if as.AnyKwargs {
		return
	}
	for _, a := range t.Args {
		if a.Kw == nil || a.Value.Name == nil {
			continue
		}
		key := *a.Value.Name
		switch {
		case slices.Contains(as.Kwargs, key):
		case len(as.Kwargs) == 0:
			c.errorf(a.Pos, "%s.%s takes no keyword arguments, got %s", kind, as.Name, key)
		default:
			c.errorf(a.Pos, "%s.%s has no keyword argument %s%s", kind, as.Name, key, hintOrList(key, as.Kwargs, "keyword arguments"))
		}
	}
}

func (c *compiler) task(t *lang.Task, id string, in *result, sc *scope) string {
	n := &Node{ID: id, Op: OpTask, Kind: t.Kind, Pos: toPos(t.Pos), Block: sc.block, Loop: sc.vars}
	action := "run"
	if t.Action != nil {
		action = t.Action.Name
	}
	n.Action = action
	spec, known := c.reg.Lookup(t.Kind)
	if !known {
		c.errorf(t.Pos, "unknown kind %s%s", t.Kind, didYouMean(t.Kind, c.reg.Names()))
	} else {
		n.Kind = spec.Name
	}
	n.Name = c.taskName(t.Name, sc)

	var refs []string
	positional := 0
	for _, a := range t.Args {
		if a.Kw == nil {
			positional++
		}
	}
	if positional > 0 {
		n.Args = make([]any, 0, positional)
	}
	positional = 0
	for _, a := range t.Args {
		if a.Kw == nil {
			if n.Kwargs != nil {
				c.errorf(a.Pos, "positional argument after a keyword argument")
			}
			positional++
			n.Args = append(n.Args, c.value(a.Value, sc, &refs, ""))
			continue
		}
		if a.Value.Name == nil {
			c.errorf(a.Pos, "keyword argument must be NAME=VALUE")
			continue
		}
		key := *a.Value.Name
		if n.Kwargs == nil {
			n.Kwargs = map[string]any{}
		}
		if _, dup := n.Kwargs[key]; dup {
			c.errorf(a.Pos, "keyword argument %s given twice", key)
		}
		n.Kwargs[key] = c.value(a.Kw, sc, &refs, "")
	}
	if known {
		if as, ok := spec.Action(action); !ok {
			names := make([]string, len(spec.Actions))
			for i, a := range spec.Actions {
				names[i] = a.Name
			}
			pos := t.Pos
			if t.Action != nil {
				pos = t.Action.Pos
			}
			c.errorf(pos, "kind %s has no action %s%s", spec.Name, action, hintOrList(action, names, "actions"))
		} else if positional < as.MinArgs {
			c.errorf(t.Pos, "not enough arguments for %s.%s: got %d, want at least %d", spec.Name, action, positional, as.MinArgs)
		} else if as.MaxArgs >= 0 && positional > as.MaxArgs {
			c.errorf(t.Args[as.MaxArgs].Pos, "too many arguments for %s.%s: got %d, want at most %d", spec.Name, action, positional, as.MaxArgs)
		} else {
			c.kwargs(t, spec.Name, as)
		}
	}

	n.Label = sc.label
	if t.Label != nil {
		n.Label = c.label(t.Label)
	}
	if n.Label == "" {
		n.Label = DefaultLabel
	}
	opts := sc.opts
	c.options(t.Opts, sc, &opts)
	if opts.retries != nil {
		n.Opts.Retries = *opts.retries
	}
	if opts.timeout != nil {
		n.Opts.Timeout = *opts.timeout
	}
	if opts.backoff != nil {
		n.Opts.Backoff = *opts.backoff
	}
	if opts.cache != nil {
		n.Opts.NoCache = !*opts.cache
	}
	if in != nil {
		n.Inputs = []string{c.gather(in)}
	}
	n.Deps = sortedDeps(n.Inputs, refs)
	c.add(n)
	return id
}

// taskName returns a task's name, with {var} interpolated, and checks that
// it cannot reach outside the store.
func (c *compiler) taskName(nm *lang.Name, sc *scope) string {
	var name string
	if nm.Ident != nil {
		name = *nm.Ident
	} else {
		before := len(c.errs)
		name = c.interpolate(string(*nm.Quoted), nm.Pos, sc)
		if len(c.errs) > before {
			return name // what is left of the name would only add noise
		}
	}
	switch {
	case name == "":
		c.errorf(nm.Pos, "empty task name")
	case strings.HasPrefix(name, "/") || strings.HasPrefix(name, `\`) || path.IsAbs(name) || len(name) > 1 && name[1] == ':':
		c.errorf(nm.Pos, "task name %q is absolute: names are relative to the store", name)
	default:
		if hasDotDot(name) {
			c.errorf(nm.Pos, "task name %q escapes the store: '..' is not allowed", name)
		}
	}
	return name
}

// hasDotDot reports whether a path element of name, split at / or \, is "..".
func hasDotDot(name string) bool {
	start := 0
	for i := 0; i <= len(name); i++ {
		if i == len(name) || name[i] == '/' || name[i] == '\\' {
			if name[start:i] == ".." {
				return true
			}
			start = i + 1
		}
	}
	return false
}

// interpolate replaces {var} in a quoted task name with the value of a loop
// variable or param; {{ and }} stand for literal braces.
func (c *compiler) interpolate(s string, pos lexer.Position, sc *scope) string {
	if !strings.ContainsAny(s, "{}") {
		return s
	}
	var b strings.Builder
	b.Grow(len(s) + 8)
	for i := 0; i < len(s); i++ {
		ch := s[i]
		switch {
		case ch == '{' && i+1 < len(s) && s[i+1] == '{', ch == '}' && i+1 < len(s) && s[i+1] == '}':
			b.WriteByte(ch)
			i++
		case ch == '{':
			end := strings.IndexByte(s[i:], '}')
			if end < 0 {
				c.errorf(pos, "unclosed { in task name %q (write {{ for a literal brace)", s)
				return s
			}
			b.WriteString(c.interpVar(s[i+1:i+end], pos, sc))
			i += end
		case ch == '}':
			c.errorf(pos, "unmatched } in task name %q (write }} for a literal brace)", s)
			return s
		default:
			b.WriteByte(ch)
		}
	}
	return b.String()
}

func (c *compiler) interpVar(name string, pos lexer.Position, sc *scope) string {
	var v any
	if lv := c.lookupVar(sc, name); lv != nil {
		v = lv.Value
	} else if p, ok := c.params[name]; ok {
		v = p.value
	} else if _, ok := c.lets[name]; ok {
		c.errorf(pos, "cannot use %s in a task name: a let's result is known only at run time", name)
		return ""
	} else {
		c.errorf(pos, "undefined: %s in task name%s", name, didYouMean(name, c.visibleNames(sc)))
		return ""
	}
	switch x := v.(type) {
	case string:
		return x
	case int64:
		return strconv.FormatInt(x, 10)
	case float64:
		return strconv.FormatFloat(x, 'g', -1, 64)
	case bool:
		return strconv.FormatBool(x)
	}
	if v == nil {
		c.errorf(pos, "cannot use %s in a task name: it is null", name)
		return ""
	}
	c.errorf(pos, "cannot use %s in a task name: it is a %s", name, describe(v))
	return ""
}

func (c *compiler) visibleNames(sc *scope) []string {
	var names []string
	if sc != nil {
		for v := sc.vars; v != nil; v = v.Outer {
			names = append(names, v.Var)
		}
	}
	for n := range c.params {
		names = append(names, n)
	}
	return append(names, c.letNames()...)
}

// value evaluates v. refs collects the nodes that let names refer to; when
// refs is nil, let names are not allowed and what says where v stands.
func (c *compiler) value(v *lang.Value, sc *scope, refs *[]string, what string) any {
	switch {
	case v.Str != nil:
		return string(*v.Str)
	case v.Int != nil:
		return int64(*v.Int)
	case v.Float != nil:
		return float64(*v.Float)
	case v.Duration != nil:
		// A duration is a string that is known to parse as one.
		if _, err := time.ParseDuration(*v.Duration); err != nil {
			c.errorf(v.Pos, "invalid duration %s: use a number and a unit (500ms, 30s, 5m, 1h)", *v.Duration)
		}
		return *v.Duration
	case v.Bool != nil:
		return bool(*v.Bool)
	case v.Null:
		return nil
	case v.List != nil:
		out := make([]any, len(v.List.Items))
		for i, it := range v.List.Items {
			out[i] = c.value(it, sc, refs, what)
		}
		return out
	case v.Map != nil:
		out := make(map[string]any, len(v.Map.Entries))
		for _, e := range v.Map.Entries {
			if _, dup := out[string(e.Key)]; dup {
				c.errorf(e.Pos, "duplicate key %q in map", string(e.Key))
			}
			out[string(e.Key)] = c.value(e.Value, sc, refs, what)
		}
		return out
	case v.Name != nil:
		return c.name(*v.Name, v.Pos, sc, refs, what)
	}
	return nil
}

// name resolves a name used as a value: a loop variable, then a let, then a
// param.
func (c *compiler) name(name string, pos lexer.Position, sc *scope, refs *[]string, what string) any {
	if sc == nil { // a literal context: a param's value
		c.errorf(pos, "%s must be a literal, not a name (%s)", what, name)
		return nil
	}
	if lv := c.lookupVar(sc, name); lv != nil {
		return lv.Value
	}
	if b, ok := c.lets[name]; ok {
		if refs == nil {
			c.errorf(pos, "cannot use %s in %s: a let's result is known only at run time", name, what)
			return nil
		}
		id := c.useLet(name, b, pos)
		if id == "" {
			return nil
		}
		*refs = append(*refs, id)
		return Ref{Node: id}
	}
	if p, ok := c.params[name]; ok {
		return p.value
	}
	c.errorf(pos, "undefined: %s%s", name, didYouMean(name, c.visibleNames(sc)))
	return nil
}
