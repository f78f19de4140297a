package lang

import (
	"fmt"
	"io"
	"strconv"
	"unicode/utf8"

	"github.com/alecthomas/participle/v2/lexer"
)

// Token types produced by the lexer. Keywords get a type of their own so that
// the grammar's Ident never matches one and no rule needs to backtrack.
const (
	TokEOF                      = lexer.EOF
	TokNL       lexer.TokenType = -2 - iota // end of a statement
	TokIdent                                // prep, data-prep/clean, m1
	TokKeyword                              // param, let, pipeline, parallel, ...
	TokInt                                  // 42, -7
	TokFloat                                // 3.5, 1e-3
	TokDuration                             // 30s, 1h30m, 500ms
	TokString                               // "a\tb" (Value keeps the quotes)
	TokPunct                                // -> .. . , ( ) [ ] { } < > = @ :
)

var symbols = map[string]lexer.TokenType{
	"EOF": TokEOF, "NL": TokNL, "Ident": TokIdent, "Keyword": TokKeyword, "Int": TokInt,
	"Float": TokFloat, "Duration": TokDuration, "String": TokString, "Punct": TokPunct,
}

// keywords cannot be used as identifiers; a task called like one must be
// written as a quoted name.
var keywords = map[string]bool{
	"param": true, "let": true, "pipeline": true, "parallel": true,
	"sequence": true, "mapreduce": true, "reduce": true, "for": true,
	"in": true, "with": true, "true": true, "false": true, "null": true,
}

// IsKeyword reports whether s is reserved.
func IsKeyword(s string) bool { return keywords[s] }

// Definition is omp's hand-written lexer, usable as a participle
// lexer.Definition.
//
// Newlines are tokens: a run of newlines (and comments) becomes one NL token.
// No NL is produced inside ( ), [ ], < > or a map's { }, after -> or a
// comma, before a line that starts with ->, at the start or end of the file,
// or right inside the braces of a pipeline block. That is what lets a
// statement span lines where it is obviously unfinished while `job a() job
// b()` on one line stays an error.
type Definition struct{}

var _ lexer.BytesDefinition = Definition{}

func (Definition) Symbols() map[string]lexer.TokenType { return symbols }

func (d Definition) Lex(filename string, r io.Reader) (lexer.Lexer, error) {
	src, err := io.ReadAll(r)
	if err != nil {
		return nil, err
	}
	return d.LexBytes(filename, src)
}

func (d Definition) LexString(filename string, src string) (lexer.Lexer, error) {
	return d.LexBytes(filename, []byte(src))
}

func (Definition) LexBytes(filename string, src []byte) (lexer.Lexer, error) {
	toks, errs := Lex(filename, src)
	if err := errs.Err(); err != nil {
		return nil, err
	}
	return &sliceLexer{toks: toks[:len(toks)-1], eof: toks[len(toks)-1]}, nil
}

// sliceLexer replays tokens, then eof forever.
type sliceLexer struct {
	toks []lexer.Token
	eof  lexer.Token
	i    int
}

func (l *sliceLexer) Next() (lexer.Token, error) {
	if l.i < len(l.toks) {
		l.i++
		return l.toks[l.i-1], nil
	}
	return l.eof, nil
}

// Lex splits src into tokens, ending with one EOF token. It reports every
// lexical error and keeps going, so the token list is always usable.
func Lex(filename string, src []byte) ([]lexer.Token, ErrorList) {
	l := scan(filename, src)
	return l.toks, l.errs
}

func scan(filename string, src []byte) *scanner {
	l := newScanner(filename, src)
	l.run()
	return l
}

func newScanner(filename string, src []byte) *scanner {
	l := &scanner{src: src, text: string(src), filename: filename, line: 1, col: 1}
	// Dense code has a token every three or four bytes; a guess on the high
	// side saves copying a large slice as it grows.
	l.toks = make([]lexer.Token, 0, len(src)/3+16)
	return l
}

// scanStatements lexes src and calls stmt with the tokens of each top-level
// statement as soon as the statement ends, followed by the token that ends
// it (an NL, or EOF). It keeps only the current statement's tokens, so the
// memory it needs does not grow with the file. The slice passed to stmt is
// reused afterwards.
func scanStatements(filename string, src []byte, stmt func(toks []lexer.Token, stop lexer.Token)) ErrorList {
	l := &scanner{src: src, text: string(src), filename: filename, line: 1, col: 1, stmt: stmt}
	l.toks = make([]lexer.Token, 0, 256)
	l.run()
	return l.errs
}

type scanner struct {
	src      []byte
	text     string // src as a string, so that token values share its memory
	filename string
	off      int
	line     int
	col      int // in runes, 1-based
	toks     []lexer.Token
	errs     ErrorList
	// nest holds one entry per open bracket: true where newlines are
	// ignored inside it (everything but a pipeline block's braces).
	nest []bool
	// pendingNL is set when a newline was seen that may become an NL token,
	// at nlPos.
	pendingNL bool
	nlPos     lexer.Position
	// splits are the indexes of the NL tokens that end top-level
	// statements. When stmt is set, each statement is handed to it as it
	// ends instead, and dropped.
	splits []int
	stmt   func(toks []lexer.Token, stop lexer.Token)
	// lastEnd is where the last token ended.
	lastEnd lexer.Position
}

func (l *scanner) pos() lexer.Position {
	return lexer.Position{Filename: l.filename, Offset: l.off, Line: l.line, Column: l.col}
}

func (l *scanner) errorf(pos lexer.Position, format string, args ...any) {
	l.errs.Add(pos, fmt.Sprintf(format, args...))
}

func (l *scanner) last() *lexer.Token {
	if len(l.toks) == 0 {
		return nil
	}
	return &l.toks[len(l.toks)-1]
}

// emit appends a token, first deciding whether a pending newline becomes an
// NL token in front of it.
func (l *scanner) emit(typ lexer.TokenType, value string, pos lexer.Position) {
	if l.pendingNL {
		l.pendingNL = false
		if l.wantNL(typ, value) {
			if len(l.nest) == 0 {
				if l.stmt != nil {
					l.stmt(l.toks, lexer.Token{Type: TokNL, Value: "\n", Pos: l.nlPos})
					l.toks = l.toks[:0]
					l.toks = append(l.toks, lexer.Token{Type: typ, Value: value, Pos: pos})
					l.lastEnd = l.pos()
					return
				}
				l.splits = append(l.splits, len(l.toks))
			}
			l.toks = append(l.toks, lexer.Token{Type: TokNL, Value: "\n", Pos: l.nlPos})
		}
	}
	l.toks = append(l.toks, lexer.Token{Type: typ, Value: value, Pos: pos})
	l.lastEnd = l.pos()
}

func (l *scanner) wantNL(next lexer.TokenType, value string) bool {
	if len(l.nest) > 0 && l.nest[len(l.nest)-1] {
		return false
	}
	prev := l.last()
	if prev == nil || prev.Type == TokNL {
		return false
	}
	if prev.Type == TokPunct && (prev.Value == "->" || prev.Value == "," || prev.Value == "{") {
		return false
	}
	if next == TokEOF {
		return false
	}
	if next == TokPunct && (value == "->" || value == "}") {
		return false
	}
	return true
}

func isLetter(c byte) bool {
	return 'a' <= c && c <= 'z' || 'A' <= c && c <= 'Z' || c == '_'
}

func isDigit(c byte) bool { return '0' <= c && c <= '9' }

func (l *scanner) peekAt(i int) byte {
	if l.off+i < len(l.src) {
		return l.src[l.off+i]
	}
	return 0
}

// advance moves over n bytes that contain no newline.
func (l *scanner) advance(n int) {
	for i := 0; i < n; i++ {
		c := l.src[l.off]
		l.off++
		// Count runes, not bytes: continuation bytes do not start a column.
		if c&0xC0 != 0x80 {
			l.col++
		}
	}
}

func (l *scanner) run() {
	// Editors on some systems start UTF-8 files with a byte order mark.
	if len(l.src) >= 3 && l.src[0] == 0xEF && l.src[1] == 0xBB && l.src[2] == 0xBF {
		l.off = 3
	}
	for l.off < len(l.src) {
		c := l.src[l.off]
		switch {
		case c == '\n':
			if !l.pendingNL {
				l.pendingNL = true
				l.nlPos = l.pos()
			}
			l.off++
			l.line++
			l.col = 1
		case c == ' ' || c == '\t' || c == '\r':
			l.advance(1)
		case c == '#':
			n := 0
			for l.off+n < len(l.src) && l.src[l.off+n] != '\n' {
				n++
			}
			l.advance(n)
		case isLetter(c):
			l.ident()
		case isDigit(c) || c == '-' && isDigit(l.peekAt(1)):
			l.number()
		case c == '"':
			l.str()
		default:
			l.punct()
		}
	}
	// End of file is reported where the last token ends, not on the empty
	// line after it: "expected >, found end of file" should point at the
	// unfinished line.
	pos := l.pos()
	if len(l.toks) > 0 {
		pos = l.lastEnd
	}
	l.pendingNL = false
	l.emit(TokEOF, "", pos)
	if l.stmt != nil && len(l.toks) > 1 {
		l.stmt(l.toks[:len(l.toks)-1], l.toks[len(l.toks)-1])
	}
}

func (l *scanner) ident() {
	pos := l.pos()
	start := l.off
	n := 0
	for {
		for l.off+n < len(l.src) && (isLetter(l.src[l.off+n]) || isDigit(l.src[l.off+n])) {
			n++
		}
		// A '-' or '/' joins two identifier parts (data-prep/clean), but
		// "a->b" is an arrow and "a-" alone is not part of the name.
		if l.off+n+1 < len(l.src) && (l.src[l.off+n] == '-' || l.src[l.off+n] == '/') {
			next := l.src[l.off+n+1]
			if isLetter(next) || isDigit(next) {
				n++
				continue
			}
		}
		break
	}
	l.advance(n)
	word := l.text[start : start+n]
	if keywords[word] {
		l.emit(TokKeyword, word, pos)
		return
	}
	l.emit(TokIdent, word, pos)
}

func (l *scanner) number() {
	pos := l.pos()
	start := l.off
	n := 0
	if l.src[l.off] == '-' {
		n++
	}
	digits := func() {
		for l.off+n < len(l.src) && isDigit(l.src[l.off+n]) {
			n++
		}
	}
	digits()
	typ := TokInt
	// "1..5" is a range: only a '.' followed by a digit makes a float.
	if l.off+n+1 < len(l.src) && l.src[l.off+n] == '.' && isDigit(l.src[l.off+n+1]) {
		n++
		digits()
		typ = TokFloat
	}
	if l.off+n < len(l.src) && (l.src[l.off+n] == 'e' || l.src[l.off+n] == 'E') {
		k := n + 1
		if l.off+k < len(l.src) && (l.src[l.off+k] == '+' || l.src[l.off+k] == '-') {
			k++
		}
		if l.off+k < len(l.src) && isDigit(l.src[l.off+k]) {
			n = k
			digits()
			typ = TokFloat
		}
	}
	// A number glued to letters is a duration (30s, 1h30m, 1.5s); whether
	// it is a valid one is the compiler's business.
	if l.off+n < len(l.src) && (isLetter(l.src[l.off+n]) || l.src[l.off+n] >= utf8.RuneSelf) {
		typ = TokDuration
		for l.off+n < len(l.src) {
			b := l.src[l.off+n]
			if isLetter(b) || isDigit(b) || b == '.' && l.off+n+1 < len(l.src) && isDigit(l.src[l.off+n+1]) {
				n++
				continue
			}
			if b >= utf8.RuneSelf { // µs
				_, size := utf8.DecodeRune(l.src[l.off+n:])
				n += size
				continue
			}
			break
		}
	}
	l.advance(n)
	text := l.text[start : start+n]
	switch typ {
	case TokInt:
		if _, err := strconv.ParseInt(text, 10, 64); err != nil {
			l.errorf(pos, "integer literal %s out of range", text)
			text = "0"
		}
	case TokFloat:
		if _, err := strconv.ParseFloat(text, 64); err != nil {
			l.errorf(pos, "float literal %s out of range", text)
			text = "0"
		}
	}
	l.emit(typ, text, pos)
}

func (l *scanner) str() {
	pos := l.pos()
	start := l.off
	n := 1
	for {
		if l.off+n >= len(l.src) || l.src[l.off+n] == '\n' {
			l.advance(n)
			l.errorf(pos, "string literal not terminated")
			l.emit(TokString, `""`, pos)
			return
		}
		c := l.src[l.off+n]
		if c == '\\' && l.off+n+1 < len(l.src) && l.src[l.off+n+1] != '\n' {
			n += 2
			continue
		}
		n++
		if c == '"' {
			break
		}
	}
	text := l.text[start : start+n]
	l.advance(n)
	if _, err := strconv.Unquote(text); err != nil {
		l.errorf(pos, "invalid string literal %s: bad escape or encoding", text)
		text = `""`
	}
	l.emit(TokString, text, pos)
}

func (l *scanner) punct() {
	pos := l.pos()
	c := l.src[l.off]
	one := l.text[l.off : l.off+1] // a substring: string(c) would allocate
	two := ""
	if l.off+1 < len(l.src) {
		two = l.text[l.off : l.off+2]
	}
	switch {
	case two == "->" || two == "..":
		l.advance(2)
		l.emit(TokPunct, two, pos)
		return
	}
	switch c {
	case '(', '[', '<':
		l.advance(1)
		l.emit(TokPunct, one, pos)
		l.push(pos, true)
	case '{':
		// The braces of `pipeline NAME { }` hold statements, one a line;
		// every other brace is a map.
		stmts := false
		if k := len(l.toks); k >= 2 && l.toks[k-1].Type == TokIdent && l.toks[k-2].Type == TokKeyword && l.toks[k-2].Value == "pipeline" {
			stmts = true
		}
		l.advance(1)
		l.emit(TokPunct, one, pos)
		l.push(pos, !stmts)
	case ')', ']', '>', '}':
		// Pop after emitting: a newline in front of the closer is inside
		// the bracket and so ignored.
		l.advance(1)
		l.emit(TokPunct, one, pos)
		if len(l.nest) > 0 {
			l.nest = l.nest[:len(l.nest)-1]
		}
	case '.', ',', '=', '@', ':':
		l.advance(1)
		l.emit(TokPunct, one, pos)
	default:
		r, size := utf8.DecodeRune(l.src[l.off:])
		if r == utf8.RuneError && size == 1 {
			l.errorf(pos, "invalid UTF-8 encoding")
		} else {
			l.errorf(pos, "invalid character %q", r)
		}
		l.advance(size)
	}
}

func (l *scanner) push(pos lexer.Position, ignoreNL bool) {
	if len(l.nest) == maxNesting {
		l.errorf(pos, "brackets nested more than %d deep", maxNesting)
		// Stop: the rest of the input cannot be parsed anyway.
		l.off = len(l.src)
		return
	}
	l.nest = append(l.nest, ignoreNL)
}
