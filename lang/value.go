package lang

import (
	"strconv"
	"strings"

	"github.com/alecthomas/participle/v2"
	"github.com/alecthomas/participle/v2/lexer"
)

// Values are the leaves of the grammar and the most frequent production, so
// they are parsed by hand: as a struct-tag union participle would try each of
// their nine alternatives in a branch of its own, which is most of the cost
// of a parse. The grammar is the one spec.md gives:
//
//	Value = String | Int | Float | Duration | "true" | "false" | "null"
//	      | List | Map | Ident .
//	List  = "[" [ Value { "," Value } [ "," ] ] "]" .
//	Map   = "{" [ Entry { "," Entry } [ "," ] ] "}" .
//	Entry = String ":" Value .
var _ participle.Parseable = (*Value)(nil)

// Parse implements participle.Parseable.
func (v *Value) Parse(lex *lexer.PeekingLexer) error {
	t := lex.Peek()
	if !startsValue(t) {
		return participle.NextMatch
	}
	return parseValue(lex, v)
}

func startsValue(t *lexer.Token) bool {
	switch t.Type {
	case TokString, TokInt, TokFloat, TokDuration, TokIdent:
		return true
	case TokKeyword:
		return t.Value == "true" || t.Value == "false" || t.Value == "null"
	case TokPunct:
		return t.Value == "[" || t.Value == "{"
	}
	return false
}

// tokenStream is what parseValue reads from: participle's PeekingLexer or
// the fast parser.
type tokenStream interface {
	Peek() *lexer.Token
	Next() *lexer.Token
}

func unexpected(t *lexer.Token, want string) error {
	return &participle.UnexpectedTokenError{Unexpected: *t, Expect: want}
}

func parseValue(lex tokenStream, v *Value) error {
	t := lex.Next()
	v.Pos = t.Pos
	switch t.Type {
	case TokString:
		s, err := strconv.Unquote(t.Value)
		if err != nil {
			return participle.Errorf(t.Pos, "invalid string literal %s", t.Value)
		}
		q := Quoted(s)
		v.Str = &q
	case TokInt:
		n, err := strconv.ParseInt(t.Value, 10, 64)
		if err != nil {
			return participle.Errorf(t.Pos, "integer literal %s out of range", t.Value)
		}
		i := Int64(n)
		v.Int = &i
	case TokFloat:
		x, err := strconv.ParseFloat(t.Value, 64)
		if err != nil {
			return participle.Errorf(t.Pos, "float literal %s out of range", t.Value)
		}
		f := Float64(x)
		v.Float = &f
	case TokDuration:
		d := t.Value
		v.Duration = &d
	case TokIdent:
		n := t.Value
		v.Name = &n
	case TokKeyword:
		switch t.Value {
		case "true", "false":
			b := Bool(t.Value == "true")
			v.Bool = &b
		case "null":
			v.Null = true
		default:
			return unexpected(t, "a value")
		}
	case TokPunct:
		switch t.Value {
		case "[":
			v.List = &List{Pos: t.Pos}
			return parseItems(lex, "]", func() error {
				item := &Value{}
				if err := parseValue(lex, item); err != nil {
					return err
				}
				v.List.Items = append(v.List.Items, item)
				return nil
			})
		case "{":
			v.Map = &Map{Pos: t.Pos}
			return parseItems(lex, "}", func() error {
				k := lex.Next()
				if k.Type != TokString {
					return unexpected(k, `a string key`)
				}
				key, err := strconv.Unquote(k.Value)
				if err != nil {
					return participle.Errorf(k.Pos, "invalid string literal %s", k.Value)
				}
				if c := lex.Next(); c.Type != TokPunct || c.Value != ":" {
					return unexpected(c, `":"`)
				}
				e := &Entry{Pos: k.Pos, Key: Quoted(key), Value: &Value{}}
				if err := parseValue(lex, e.Value); err != nil {
					return err
				}
				v.Map.Entries = append(v.Map.Entries, e)
				return nil
			})
		default:
			return unexpected(t, "a value")
		}
	default:
		return unexpected(t, "a value")
	}
	return nil
}

// parseItems parses `item, item, ... [,] closer` after the opening bracket.
func parseItems(lex tokenStream, closer string, item func() error) error {
	for {
		if t := lex.Peek(); t.Type == TokPunct && t.Value == closer {
			lex.Next()
			return nil
		}
		if t := lex.Peek(); !startsValue(t) {
			return unexpected(t, `a value or "`+closer+`"`)
		}
		if err := item(); err != nil {
			return err
		}
		t := lex.Next()
		if t.Type == TokPunct && t.Value == closer {
			return nil
		}
		if t.Type != TokPunct || t.Value != "," {
			return unexpected(t, `"," or "`+closer+`"`)
		}
	}
}

// FormatFloat writes f as an omp float literal, which reads back as a float:
// 2.0, not 2, so that a message about a float does not show an integer.
func FormatFloat(f float64) string {
	s := strconv.FormatFloat(f, 'g', -1, 64)
	if !strings.ContainsAny(s, ".eEIN") {
		s += ".0"
	}
	return s
}
