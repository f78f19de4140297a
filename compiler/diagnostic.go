package compiler

import (
	"errors"
	"regexp"
	"sort"
	"unicode/utf8"

	"github.com/alecthomas/participle/v2/lexer"

	"github.com/ompdev/omp/lang"
)

// Diagnostic is one problem in a .omp file as editors and CI annotators
// take it: `omp check --json` prints a list of them, and the language
// server sends the same, so both show the same message at the same place.
type Diagnostic struct {
	File string `json:"file"`
	// Line and Column are 1-based; Column counts characters (runes), as
	// every omp position does. Line is 0 for a problem with the whole file,
	// such as a -p value naming no param.
	Line   int `json:"line"`
	Column int `json:"column"`
	// EndColumn is the column just after the token the problem is at, on
	// the same line, or 0 when the problem is at no token.
	EndColumn int `json:"end_column,omitempty"`
	// Severity is "error": the compiler reports nothing milder yet.
	Severity string `json:"severity"`
	Message  string `json:"message"`
	// Suggestion is the name a "did you mean" hint proposes, which an
	// editor can offer to put in place of the token.
	Suggestion string `json:"suggestion,omitempty"`
}

// SeverityError is the severity of every diagnostic the compiler makes.
const SeverityError = "error"

// didYouMeanRx finds the hint didYouMean and hintOrList append.
var didYouMeanRx = regexp.MustCompile(`\(did you mean (.+)\?\)$`)

// Diagnostics turns an error of lang.Parse, Compile or Check on src into
// diagnostics, in the error's order. An error that is not a lang.ErrorList
// becomes one diagnostic without a position, in file.
func Diagnostics(file string, src []byte, err error) []Diagnostic {
	if err == nil {
		return nil
	}
	var list lang.ErrorList
	if !errors.As(err, &list) {
		return []Diagnostic{{File: file, Severity: SeverityError, Message: err.Error()}}
	}
	toks, _ := lang.Lex(file, src)
	out := make([]Diagnostic, 0, len(list))
	for _, e := range list {
		d := Diagnostic{File: e.Pos.Filename, Line: e.Pos.Line, Column: e.Pos.Column, Severity: SeverityError, Message: e.Msg}
		if d.File == "" {
			d.File = file
		}
		if m := didYouMeanRx.FindStringSubmatch(e.Msg); m != nil {
			d.Suggestion = m[1]
		}
		if e.Pos.Line > 0 {
			d.EndColumn = endColumn(toks, e.Pos.Line, e.Pos.Column)
		}
		out = append(out, d)
	}
	return out
}

// endColumn returns the column after the token that starts at line:col, or
// 0 when none does.
func endColumn(toks []lexer.Token, line, col int) int {
	i := sort.Search(len(toks), func(i int) bool {
		p := toks[i].Pos
		return p.Line > line || p.Line == line && p.Column >= col
	})
	if i == len(toks) {
		return 0
	}
	t := toks[i]
	if t.Pos.Line != line || t.Pos.Column != col || t.Type == lang.TokEOF || t.Type == lang.TokNL {
		return 0
	}
	n := utf8.RuneCountInString(t.Value)
	if t.Type == lang.TokLabel {
		n++ // the '@'
	}
	return col + n
}
