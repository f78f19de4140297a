package lang

import (
	"errors"
	"fmt"
	"strconv"
	"strings"

	"github.com/alecthomas/participle/v2"
	"github.com/alecthomas/participle/v2/lexer"
)

// The parser works one top-level statement at a time: the lexer knows where
// each ends (a newline outside any bracket), so a syntax error in one
// statement does not hide the errors in the next, and participle's
// bookkeeping, which grows with the input it has seen, stays small.
var stmtParser = participle.MustBuild[Stmt](
	participle.Lexer(Definition{}),
	// Two tokens of lookahead: every rule is decided by its first token,
	// except that after `with retries=1` a comma followed by NAME = is
	// another option and any other comma ends the options.
	participle.UseLookahead(2),
)

// maxErrors bounds the syntax errors reported for one file: after that
// many, statements are no longer parsed.
const maxErrors = 100

// maxNesting bounds how deeply brackets nest, so that a hostile input cannot
// exhaust the stack of the recursive-descent parser.
const maxNesting = 200

// Parse parses the source of a .omp file. filename is used in positions and
// errors. On failure the error is an ErrorList, sorted: every lexical error,
// and the first syntax error of every statement that has no lexical error (a
// syntax error in a statement with a lexical error is most likely its echo:
// a dropped character, a string taken as empty).
func Parse(filename string, src []byte) (f *File, err error) {
	defer func() {
		// The grammar is built so that participle cannot panic on it; if
		// that ever fails, the user still gets an error, not a stack trace.
		if r := recover(); r != nil {
			f = nil
			err = ErrorList{{Pos: lexer.Position{Filename: filename, Line: 1, Column: 1}, Msg: fmt.Sprintf("internal error: parser panicked: %v", r)}}
		}
	}()
	f = &File{Name: filename, Pos: lexer.Position{Filename: filename, Line: 1, Column: 1}, src: src}
	var errs ErrorList
	comments, lexErrs := scanStatements(filename, src, func(toks []lexer.Token, stop lexer.Token, lexErr bool) {
		if len(errs) > maxErrors || lexErr {
			return
		}
		// The statement's end stands in for the end of input; its value
		// tells describe() to call it a newline.
		stop.Type = TokEOF
		s, ferr := fastParseStmt(toks, stop)
		if ferr != nil {
			var err error
			if s, err = parseStmt(toks, stop); err != nil {
				// participle's message, unless the fast parser read
				// further before it failed and so knows more.
				e := syntaxError(filename, err)
				if ferr.Pos.Offset > e.Pos.Offset || ferr.Pos.Offset == e.Pos.Offset && !strings.HasPrefix(ferr.Msg, "expected newline") {
					e = ferr
				}
				noteUnclosed(e, toks)
				errs = append(errs, e)
			}
		}
		if s != nil {
			f.Stmts = append(f.Stmts, s)
		}
	})
	if len(lexErrs) > 0 || len(errs) > 0 {
		errs = append(errs, lexErrs...)
		errs.Sort()
		return nil, errs
	}
	f.Comments = comments
	return f, nil
}

func parseStmt(toks []lexer.Token, stop lexer.Token) (*Stmt, error) {
	pl, err := lexer.Upgrade(&sliceLexer{toks: toks, eof: stop})
	if err != nil {
		return nil, err
	}
	return stmtParser.ParseFromLexer(pl)
}

// ParseValue parses a single literal (a -p value on the command line).
func ParseValue(src string) (*Value, error) {
	toks, errs := Lex("", []byte(src))
	if len(errs) > 0 {
		return nil, errs
	}
	pl, err := lexer.Upgrade(&sliceLexer{toks: toks[:len(toks)-1], eof: toks[len(toks)-1]})
	if err != nil {
		return nil, err
	}
	v, err := valueParser.ParseFromLexer(pl)
	if err != nil {
		return nil, ErrorList{syntaxError("", err)}
	}
	return v, nil
}

var valueParser = participle.MustBuild[Value](participle.Lexer(Definition{}))

func syntaxError(filename string, err error) *Error {
	var ute *participle.UnexpectedTokenError
	if errors.As(err, &ute) {
		found := describe(ute.Unexpected)
		pos := ute.Unexpected.Pos
		if pos.Filename == "" {
			pos.Filename = filename
		}
		if ute.Expect != "" {
			// Set by parseValue, in words already.
			return &Error{Pos: pos, Msg: fmt.Sprintf("expected %s, found %s", ute.Expect, found)}
		}
		msg := ute.Message()
		if i := strings.Index(msg, "(expected "); i >= 0 {
			if want := expected(strings.TrimSuffix(msg[i+len("(expected "):], ")")); want != "" {
				return &Error{Pos: pos, Msg: fmt.Sprintf("expected %s, found %s", want, found)}
			}
		}
		return &Error{Pos: pos, Msg: "unexpected " + found + hint(ute.Unexpected)}
	}
	var perr participle.Error
	if errors.As(err, &perr) {
		pos := perr.Position()
		if pos.Filename == "" {
			pos.Filename = filename
		}
		return &Error{Pos: pos, Msg: perr.Message()}
	}
	return &Error{Pos: lexer.Position{Filename: filename, Line: 1, Column: 1}, Msg: err.Error()}
}

// closers maps each bracket to the token that closes it.
var closers = map[string]string{"(": ")", "[": "]", "{": "}", "<": ">"}

// noteUnclosed adds to e where the bracket it expects to be closed was
// opened, when that was on an earlier line: newlines inside brackets are
// ignored, so a missing ")" shows only at a later line's first token, and
// the opening bracket is what the user has to find.
func noteUnclosed(e *Error, toks []lexer.Token) {
	var open []lexer.Token
	closed := false // the innermost bracket open at e is closed after it
	depth := 0
	for _, t := range toks {
		if t.Type != TokPunct {
			continue
		}
		after := t.Pos.Offset >= e.Pos.Offset
		switch t.Value {
		case "(", "[", "{", "<":
			if after {
				depth++
			} else {
				open = append(open, t)
			}
		case ")", "]", "}", ">":
			switch {
			case !after:
				if len(open) > 0 {
					open = open[:len(open)-1]
				}
			case depth > 0:
				depth--
			default:
				// Only a closer of the right kind closes it: in
				// `a([1,` then `2)`, the ")" leaves the "[" open.
				closed = len(open) > 0 && closers[open[len(open)-1].Value] == t.Value
			}
		}
		if closed {
			break
		}
	}
	if len(open) == 0 || closed {
		return
	}
	b := open[len(open)-1]
	if b.Pos.Line < e.Pos.Line && strings.Contains(e.Msg, strconv.Quote(closers[b.Value])) {
		e.Msg += fmt.Sprintf(" (unclosed %q at %d:%d)", b.Value, b.Pos.Line, b.Pos.Column)
	}
}

// describe names a token in an error message.
func describe(t lexer.Token) string {
	switch t.Type {
	case TokEOF:
		if t.Value == "\n" {
			return "newline"
		}
		return "end of file"
	case TokNL:
		return "newline"
	case TokString:
		return "string " + t.Value
	case TokKeyword:
		return "keyword " + t.Value
	case TokInt, TokFloat, TokDuration:
		return "number " + t.Value
	case TokIdent:
		return "name " + t.Value
	case TokLabel:
		return "label @" + t.Value
	}
	return strconv.Quote(t.Value)
}

// hint adds advice for the mistakes that produce a bare "unexpected".
func hint(t lexer.Token) string {
	if t.Type == TokIdent || t.Type == TokKeyword {
		return " (a statement ends at a newline; put each statement on its own line)"
	}
	return ""
}

// grammarNames turns the grammar's rule names, as participle reports them,
// into words for a user.
var grammarNames = map[string]string{
	"Stage": "a task or block", "Chain": "a task or block", "Task": "a task",
	"Value": "a value", "Name": "a task name", "Ident": "a name", "Option": "an option",
	"Label": "a label", "Stmt": "a statement", "Arg": "an argument", "Entry": `a "key": value`,
	"String": "a string", "NL": "newline",
}

// expected reduces participle's description of what it wanted (a fragment
// of the grammar) to its first element, or "" when that is not helpful.
func expected(grammar string) string {
	first := grammar
	if i := strings.IndexByte(grammar, ' '); i >= 0 {
		first = grammar[:i]
	}
	if len(first) >= 3 && first[0] == '"' && first[len(first)-1] == '"' {
		return first
	}
	return grammarNames[first]
}
