package lang

import (
	"fmt"
	"io"
	"strconv"
	"strings"
	"unicode"
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
	TokPunct                                // -> .. . , ( ) [ ] { } < > = :
	TokLabel                                // @gpu (Value is the label, without @)
)

var symbols = map[string]lexer.TokenType{
	"EOF": TokEOF, "NL": TokNL, "Ident": TokIdent, "Keyword": TokKeyword, "Int": TokInt,
	"Float": TokFloat, "Duration": TokDuration, "String": TokString, "Punct": TokPunct, "Label": TokLabel,
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
// it (an NL, or EOF), and whether a lexical error lies in the statement (from
// after the previous statement's end to this one's). It keeps only the
// current statement's tokens, so the memory it needs does not grow with the
// file. The slice passed to stmt is reused afterwards.
func scanStatements(filename string, src []byte, stmt func(toks []lexer.Token, stop lexer.Token, lexErr bool)) ([]Comment, ErrorList) {
	l := &scanner{src: src, text: string(src), filename: filename, line: 1, col: 1, stmt: stmt}
	l.toks = make([]lexer.Token, 0, 256)
	l.run()
	return l.comments, l.errs
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
	stmt   func(toks []lexer.Token, stop lexer.Token, lexErr bool)
	// errMark is the number of errors handed to stmt's statements so far.
	errMark int
	// lastEnd is where the last token ended.
	lastEnd lexer.Position
	// comments are the file's comments, in order.
	comments []Comment
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
					l.stmt(l.toks, lexer.Token{Type: TokNL, Value: "\n", Pos: l.nlPos}, l.stmtErrors(l.nlPos.Offset))
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
			// Comments are no tokens, but the formatter keeps them.
			l.comments = append(l.comments, Comment{Pos: l.pos(), Text: strings.TrimRight(l.text[l.off:l.off+n], " \t\r")})
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
		l.stmt(l.toks[:len(l.toks)-1], l.toks[len(l.toks)-1], l.stmtErrors(len(l.src)))
	}
}

// stmtErrors reports whether a lexical error was found since the last
// statement ended, up to offset end, where this one ends.
func (l *scanner) stmtErrors(end int) bool {
	found := false
	for l.errMark < len(l.errs) && l.errs[l.errMark].Pos.Offset <= end {
		l.errMark++
		found = true
	}
	return found
}

func (l *scanner) ident() {
	pos := l.pos()
	start := l.off
	n, ascii := l.word(0)
	for {
		// A '-' or '/' joins two identifier parts (data-prep/clean), but
		// "a->b" is an arrow and "a-" alone is not part of the name.
		if l.off+n+1 < len(l.src) && (l.src[l.off+n] == '-' || l.src[l.off+n] == '/') {
			if k, a := l.word(n + 1); k > 0 {
				n += 1 + k
				ascii = ascii && a
				continue
			}
		}
		break
	}
	l.advance(n)
	word := l.text[start : start+n]
	if !ascii {
		// One error for the whole word, not one per character; it is
		// still an identifier, so that the parser is not thrown off.
		l.errorf(pos, "identifier %s is not ASCII: identifiers are ASCII letters, digits and _", word)
	} else if keywords[word] {
		l.emit(TokKeyword, word, pos)
		return
	}
	l.emit(TokIdent, word, pos)
}

// word measures the run of word characters at l.off+i: ASCII letters,
// digits and _, and also the letters, digits and marks of other scripts,
// which belong to no token but are taken in so that héllo is one mistake.
// ascii is false when the run holds any of the latter.
func (l *scanner) word(i int) (n int, ascii bool) {
	ascii = true
	for l.off+i+n < len(l.src) {
		c := l.src[l.off+i+n]
		if isLetter(c) || isDigit(c) {
			n++
			continue
		}
		if c < utf8.RuneSelf {
			break
		}
		r, size := utf8.DecodeRune(l.src[l.off+i+n:])
		if !isWordRune(r) {
			break
		}
		n += size
		ascii = false
	}
	return n, ascii
}

// isWordRune reports whether a non-ASCII rune is a letter, digit or mark.
func isWordRune(r rune) bool {
	return r != utf8.RuneError && (unicode.IsLetter(r) || unicode.IsDigit(r) || unicode.IsMark(r))
}

// ValidLabel reports whether s is a label: one or more ASCII letters,
// digits, '_' and '-'. The lexer reads `@LABEL` by this rule, and `omp
// worker --labels` checks its labels with it, so that every label a worker
// can serve can be written in a file.
func ValidLabel(s string) bool {
	if s == "" {
		return false
	}
	for i := 0; i < len(s); i++ {
		if c := s[i]; !isLetter(c) && !isDigit(c) && c != '-' {
			return false
		}
	}
	return true
}

// label lexes `@LABEL`: a label is not an identifier (1gpu, in and a-
// are labels), so it is read here, where the '@' says one follows, as
// one token. Everything up to what may follow a label is taken in, so that
// a bad label (gpu/large, ラベル) is one error.
func (l *scanner) label() {
	pos := l.pos()
	n := 1
	for l.off+n < len(l.src) {
		c := l.src[l.off+n]
		// "@gpu->b" is a label followed by an arrow.
		if c == '-' && l.peekAt(n+1) == '>' || strings.IndexByte(" \t\r\n,>})]#", c) >= 0 {
			break
		}
		n++
	}
	if n == 1 {
		l.advance(1)
		l.errorf(l.pos(), "expected a label right after \"@\", found %s", l.describeNext())
		return
	}
	name := l.text[l.off+1 : l.off+n]
	l.advance(n)
	if !ValidLabel(name) {
		l.errorf(pos, "invalid label %q: a label is ASCII letters, digits, _ and -", name)
	}
	l.emit(TokLabel, name, pos)
}

// describeNext names the character at l.off for an error message.
func (l *scanner) describeNext() string {
	if l.off >= len(l.src) {
		return "end of file"
	}
	switch c := l.src[l.off]; c {
	case '\n', '\r':
		return "newline"
	case ' ', '\t':
		return "a space"
	}
	r, _ := utf8.DecodeRune(l.src[l.off:])
	return strconv.QuoteRune(r)
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
	if i, msg := badString(text); msg != "" {
		// At the escape, and without the literal, which may be long
		// and hold anything.
		l.advance(i)
		l.errorf(l.pos(), "%s", msg)
		l.advance(n - i)
		text = `""`
	} else {
		l.advance(n)
	}
	l.emit(TokString, text, pos)
}

// badString finds the first bad escape or invalid UTF-8 in a string
// literal, quotes included, and returns its offset and what is wrong, or
// a message of "" when there is none.
func badString(text string) (int, string) {
	s := text[1 : len(text)-1]
	for s != "" {
		i := len(text) - 1 - len(s)
		if r, size := utf8.DecodeRuneInString(s); r == utf8.RuneError && size == 1 {
			return i, "invalid UTF-8 encoding in string literal"
		}
		_, _, tail, err := strconv.UnquoteChar(s, '"')
		if err != nil {
			return i, "invalid escape " + escapeText(s) + " in string literal"
		}
		s = tail
	}
	if _, err := strconv.Unquote(text); err != nil {
		return 0, "invalid string literal" // not expected: UnquoteChar agrees
	}
	return 0, ""
}

// escapeText returns the escape at the start of s (a backslash, a letter,
// and for \x, \u, \U and octal the digits that follow) for a message.
func escapeText(s string) string {
	n := 2
	if len(s) > 1 {
		switch c := s[1]; {
		case c == 'x':
			n = 4
		case c == 'u':
			n = 6
		case c == 'U':
			n = 10
		case '0' <= c && c <= '7':
			n = 4
		}
	}
	n = min(n, len(s))
	// Stop at the closing quote, and show only what prints as itself.
	if k := strings.IndexByte(s[1:n], '"'); k >= 0 {
		n = k + 1
	}
	esc := s[:n]
	for _, r := range esc {
		if r < ' ' || r > '~' {
			return strconv.QuoteToASCII(esc)
		}
	}
	return esc
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
	case '@':
		l.label()
	case '.', ',', '=', ':':
		l.advance(1)
		l.emit(TokPunct, one, pos)
	default:
		if r, _ := utf8.DecodeRune(l.src[l.off:]); isWordRune(r) {
			l.ident()
			return
		}
		l.invalid()
	}
}

// invalid reports a run of characters that cannot start a token as one
// error, and skips it.
func (l *scanner) invalid() {
	pos := l.pos()
	n, runes, badUTF8 := 0, 0, false
	for l.off+n < len(l.src) && (n == 0 || l.invalidAt(n)) {
		r, size := utf8.DecodeRune(l.src[l.off+n:])
		if r == utf8.RuneError && size == 1 {
			badUTF8 = true
		}
		n += size
		runes++
	}
	text := l.text[l.off : l.off+n]
	l.advance(n)
	switch {
	case badUTF8:
		l.errorf(pos, "invalid UTF-8 encoding")
	case runes == 1:
		r, _ := utf8.DecodeRuneInString(text)
		l.errorf(pos, "invalid character %q", r)
	default:
		l.errorf(pos, "invalid characters %q", text)
	}
}

// invalidAt reports whether the character at l.off+i can start no token.
func (l *scanner) invalidAt(i int) bool {
	c := l.src[l.off+i]
	switch {
	case isLetter(c) || isDigit(c) || c == '"' || c == '#' || c == ' ' || c == '\t' || c == '\r' || c == '\n':
		return false
	case strings.IndexByte("().,[]{}<>=@:", c) >= 0:
		return false
	case c == '-':
		next := l.peekAt(i + 1)
		return next != '>' && !isDigit(next)
	case c >= utf8.RuneSelf:
		r, _ := utf8.DecodeRune(l.src[l.off+i:])
		return !isWordRune(r)
	}
	return true
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
