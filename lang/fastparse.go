package lang

import (
	"errors"
	"fmt"

	"github.com/alecthomas/participle/v2"
	"github.com/alecthomas/participle/v2/lexer"
)

// The grammar of .omp is defined by the participle struct tags in ast.go,
// and participle is the authority on it: it parses every statement that has
// a syntax error, so that its error is the one reported. Participle walks
// the grammar by reflection, though, too slowly for `omp check` on a
// 10,000-line file (BenchmarkParse10kStatements measures the parse). So a
// statement is first tried by this hand-written recursive-descent
// parser, which follows the same grammar with the same two tokens of
// lookahead and builds the same tree, positions included. FuzzParse checks
// that both parsers accept the same statements and build equal trees.
//
// On an error the fast parser gives up and the statement goes to
// participle, whose message is reported, unless the fast parser got further
// into the statement: it records what it expected where it stopped.

var errSlow = errors.New("not fast-parsable")

type fastParser struct {
	toks []lexer.Token
	eof  lexer.Token // what follows toks
	i    int
	// depth bounds recursion even where the lexer's bracket limit does not
	// apply, such as long chains of nested blocks.
	depth int
	// at and want say where the parser failed and what it expected there.
	at   *lexer.Token
	want string
}

// fail records that want was expected at the next token.
func (p *fastParser) fail(want string) error {
	p.at, p.want = p.peek(), want
	return errSlow
}

func (p *fastParser) peek() *lexer.Token {
	if p.i < len(p.toks) {
		return &p.toks[p.i]
	}
	return &p.eof
}

func (p *fastParser) peekAt(k int) *lexer.Token {
	if p.i+k < len(p.toks) {
		return &p.toks[p.i+k]
	}
	return &p.eof
}

func (p *fastParser) next() *lexer.Token {
	t := p.peek()
	if p.i < len(p.toks) {
		p.i++
	}
	return t
}

// Peek and Next let parseValue read from the fast parser as it does from
// participle's lexer.
func (p *fastParser) Peek() *lexer.Token { return p.peek() }
func (p *fastParser) Next() *lexer.Token { return p.next() }

func (p *fastParser) is(typ lexer.TokenType, value string) bool {
	t := p.peek()
	return t.Type == typ && t.Value == value
}

func (p *fastParser) punct(v string) bool   { return p.is(TokPunct, v) }
func (p *fastParser) keyword(v string) bool { return p.is(TokKeyword, v) }

func (p *fastParser) expect(typ lexer.TokenType, value, want string) error {
	if !p.is(typ, value) {
		if want == "" {
			want = `"` + value + `"`
		}
		return p.fail(want)
	}
	p.next()
	return nil
}

func (p *fastParser) ident(want string) (*lexer.Token, error) {
	t := p.peek()
	if t.Type != TokIdent {
		return nil, p.fail(want)
	}
	return p.next(), nil
}

// fastParseStmt parses toks, followed by eof, as one statement. On failure
// the *Error says where it stopped and what it expected there.
func fastParseStmt(toks []lexer.Token, eof lexer.Token) (*Stmt, *Error) {
	p := &fastParser{toks: toks, eof: eof}
	s, err := p.stmt()
	if err == nil && p.peek().Type != TokEOF {
		err = p.fail("newline")
	}
	if err != nil {
		if p.at == nil {
			return nil, &Error{Pos: p.peek().Pos, Msg: "syntax error"}
		}
		return nil, &Error{Pos: p.at.Pos, Msg: fmt.Sprintf("expected %s, found %s", p.want, describe(*p.at))}
	}
	return s, nil
}

func (p *fastParser) stmt() (*Stmt, error) {
	p.depth++
	defer func() { p.depth-- }()
	if p.depth > maxNesting {
		return nil, p.fail("fewer nested blocks")
	}
	t := p.peek()
	s := &Stmt{Pos: t.Pos}
	var err error
	switch {
	case p.keyword("param"):
		p.next()
		s.Param = &Param{Pos: t.Pos}
		var name *lexer.Token
		if name, err = p.ident("a param name"); err != nil {
			return nil, err
		}
		s.Param.Name = name.Value
		if err = p.expect(TokPunct, "=", ""); err != nil {
			return nil, err
		}
		s.Param.Value, err = p.value()
	case p.keyword("let"):
		p.next()
		s.Let = &Let{Pos: t.Pos}
		var name *lexer.Token
		if name, err = p.ident("a name"); err != nil {
			return nil, err
		}
		s.Let.Name = name.Value
		if err = p.expect(TokPunct, "=", ""); err != nil {
			return nil, err
		}
		s.Let.Chain, err = p.chain()
	case p.keyword("pipeline"):
		p.next()
		s.Pipeline = &Pipeline{Pos: t.Pos}
		var name *lexer.Token
		if name, err = p.ident("a pipeline name"); err != nil {
			return nil, err
		}
		s.Pipeline.Name = name.Value
		if p.keyword("with") {
			if _, s.Pipeline.Opts, err = p.tail(); err != nil {
				return nil, err
			}
		}
		if err = p.expect(TokPunct, "{", ""); err != nil {
			return nil, err
		}
		if !p.punct("}") {
			for {
				st, err := p.stmt()
				if err != nil {
					return nil, err
				}
				s.Pipeline.Stmts = append(s.Pipeline.Stmts, st)
				if p.peek().Type != TokNL {
					break
				}
				p.next()
			}
		}
		err = p.expect(TokPunct, "}", `newline or "}"`)
	default:
		s.Chain, err = p.chain()
	}
	if err != nil {
		return nil, err
	}
	return s, nil
}

// startsStage reports whether the next token can begin a stage.
func (p *fastParser) startsStage() bool {
	t := p.peek()
	switch t.Type {
	case TokIdent:
		return true
	case TokKeyword:
		switch t.Value {
		case "parallel", "sequence", "mapreduce", "reduce":
			return true
		}
	}
	return false
}

func (p *fastParser) chain() (*Chain, error) {
	if !p.startsStage() {
		return nil, p.fail("a task or block")
	}
	c := &Chain{Pos: p.peek().Pos}
	for {
		st, err := p.stage()
		if err != nil {
			return nil, err
		}
		c.Stages = append(c.Stages, st)
		if !p.punct("->") {
			return c, nil
		}
		p.next()
	}
}

func (p *fastParser) stage() (*Stage, error) {
	p.depth++
	defer func() { p.depth-- }()
	if p.depth > maxNesting {
		return nil, p.fail("fewer nested blocks")
	}
	t := p.peek()
	st := &Stage{Pos: t.Pos}
	var err error
	switch {
	case t.Type == TokKeyword && (t.Value == "parallel" || t.Value == "sequence" || t.Value == "mapreduce"):
		st.Block, err = p.block()
	case p.keyword("reduce"):
		p.next()
		st.Reduce = &Reduce{Pos: t.Pos}
		st.Reduce.Task, err = p.task()
	case t.Type == TokIdent:
		st.Task, err = p.task()
	default:
		return nil, p.fail("a task or block")
	}
	if err != nil {
		return nil, err
	}
	return st, nil
}

func (p *fastParser) block() (*Block, error) {
	t := p.next()
	b := &Block{Pos: t.Pos, Kind: t.Value}
	if err := p.expect(TokPunct, "<", ""); err != nil {
		return nil, err
	}
	if p.startsStage() {
		for {
			m, err := p.chain()
			if err != nil {
				return nil, err
			}
			b.Members = append(b.Members, m)
			if !p.punct(",") {
				break
			}
			p.next()
			if !p.startsStage() {
				break // a trailing comma
			}
		}
	}
	if p.keyword("for") {
		f := &For{Pos: p.next().Pos}
		v, err := p.ident("a loop variable")
		if err != nil {
			return nil, err
		}
		f.Var = v.Value
		if err := p.expect(TokKeyword, "in", ""); err != nil {
			return nil, err
		}
		if f.From, err = p.value(); err != nil {
			return nil, err
		}
		if p.punct("..") {
			p.next()
			if f.To, err = p.value(); err != nil {
				return nil, err
			}
		}
		b.For = f
	}
	want := `"," or ">"`
	if b.For != nil {
		want = `">"`
	} else if len(b.Members) == 0 {
		want = `a task, a block or ">"`
	}
	if err := p.expect(TokPunct, ">", want); err != nil {
		return nil, err
	}
	var err error
	b.Label, b.Opts, err = p.tail()
	return b, err
}

// tail parses the optional `@LABEL` and `with OPTIONS` of a task or block.
func (p *fastParser) tail() (*Label, []*Option, error) {
	var l *Label
	if t := p.peek(); t.Type == TokLabel {
		p.next()
		l = &Label{Pos: t.Pos, Name: t.Value}
	}
	if !p.keyword("with") {
		return l, nil, nil
	}
	p.next()
	var opts []*Option
	for {
		key, err := p.ident("an option name")
		if err != nil {
			return nil, nil, err
		}
		if err := p.expect(TokPunct, "=", ""); err != nil {
			return nil, nil, err
		}
		v, err := p.value()
		if err != nil {
			return nil, nil, err
		}
		opts = append(opts, &Option{Pos: key.Pos, Key: key.Value, Value: v})
		// `, NAME =` continues the options; any other comma belongs to
		// the enclosing block.
		if !(p.punct(",") && p.peekAt(1).Type == TokIdent && p.peekAt(2).Type == TokPunct && p.peekAt(2).Value == "=") {
			return l, opts, nil
		}
		p.next()
	}
}

func (p *fastParser) task() (*Task, error) {
	k, err := p.ident("a kind")
	if err != nil {
		return nil, err
	}
	t := &Task{Pos: k.Pos, Kind: k.Value}
	if nt := p.peek(); nt.Type == TokIdent || nt.Type == TokString {
		p.next()
		t.Name = &Name{Pos: nt.Pos}
		if nt.Type == TokIdent {
			s := nt.Value
			t.Name.Ident = &s
		} else {
			var q Quoted
			if err := q.Capture([]string{nt.Value}); err != nil {
				return nil, p.fail("a task name")
			}
			t.Name.Quoted = &q
		}
		if p.punct(".") {
			p.next()
			a, err := p.ident("an action")
			if err != nil {
				return nil, err
			}
			t.Action = &Ident{Pos: a.Pos, Name: a.Value}
		}
		if err := p.expect(TokPunct, "(", ""); err != nil {
			return nil, err
		}
		for !p.punct(")") {
			if !startsValue(p.peek()) {
				return nil, p.fail(`a value or ")"`)
			}
			a, err := p.arg()
			if err != nil {
				return nil, err
			}
			t.Args = append(t.Args, a)
			if !p.punct(",") {
				break
			}
			p.next()
		}
		if err := p.expect(TokPunct, ")", `"," or ")"`); err != nil {
			return nil, err
		}
	}
	t.Label, t.Opts, err = p.tail()
	if err != nil {
		return nil, err
	}
	return t, nil
}

func (p *fastParser) arg() (*Arg, error) {
	v, err := p.value()
	if err != nil {
		return nil, err
	}
	a := &Arg{Pos: v.Pos, Value: v}
	if p.punct("=") {
		p.next()
		if a.Kw, err = p.value(); err != nil {
			return nil, err
		}
	}
	return a, nil
}

func (p *fastParser) value() (*Value, error) {
	if !startsValue(p.peek()) {
		return nil, p.fail("a value")
	}
	v := &Value{}
	if err := parseValue(p, v); err != nil {
		var ute *participle.UnexpectedTokenError
		if errors.As(err, &ute) {
			p.at, p.want = &ute.Unexpected, ute.Expect
		}
		return nil, errSlow
	}
	return v, nil
}
