package lang

import (
	"errors"
	"fmt"
	"strconv"
	"strings"

	"github.com/alecthomas/participle/v2"
	"github.com/alecthomas/participle/v2/lexer"
)

var parser = participle.MustBuild[File](
	participle.Lexer(Definition{}),
	// One token of lookahead is enough: every rule is decided by its first
	// token, except a trailing comma, which backtracks one token.
	participle.UseLookahead(1),
)

// maxNesting bounds how deeply brackets nest, so that a hostile input cannot
// exhaust the stack of the recursive-descent parser.
const maxNesting = 200

// Parse parses the source of a .omp file. filename is used in positions and
// errors. On failure the error is an ErrorList: every lexical error, or the
// first syntax error.
func Parse(filename string, src []byte) (*File, error) {
	toks, errs := Lex(filename, src)
	if len(errs) > 0 {
		errs.Sort()
		return nil, errs
	}
	return parseTokens(filename, toks)
}

func parseTokens(filename string, toks []lexer.Token) (*File, error) {
	pl, err := lexer.Upgrade(&sliceLexer{toks: toks})
	if err != nil {
		return nil, err
	}
	f, err := parser.ParseFromLexer(pl)
	if err != nil {
		return nil, ErrorList{syntaxError(filename, err)}
	}
	f.Name = filename
	return f, nil
}

// ParseValue parses a single literal (a -p value on the command line).
func ParseValue(src string) (*Value, error) {
	toks, errs := Lex("", []byte(src))
	if len(errs) > 0 {
		return nil, errs
	}
	pl, err := lexer.Upgrade(&sliceLexer{toks: toks})
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

// describe names a token in an error message.
func describe(t lexer.Token) string {
	switch t.Type {
	case TokEOF:
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
