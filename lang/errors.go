package lang

import (
	"fmt"
	"sort"
	"strings"

	"github.com/alecthomas/participle/v2/lexer"
)

// Error is one problem in a .omp file, at a position.
type Error struct {
	Pos lexer.Position
	Msg string
}

// Error formats the error as "file:line:col: msg", or "file: msg" for an
// error without a line.
func (e *Error) Error() string {
	if e.Pos.Line == 0 {
		// An error about the whole file, such as an unknown -p name.
		if e.Pos.Filename == "" {
			return e.Msg
		}
		return e.Pos.Filename + ": " + e.Msg
	}
	if e.Pos.Filename == "" {
		return fmt.Sprintf("%d:%d: %s", e.Pos.Line, e.Pos.Column, e.Msg)
	}
	return fmt.Sprintf("%s:%d:%d: %s", e.Pos.Filename, e.Pos.Line, e.Pos.Column, e.Msg)
}

// ErrorList is a list of errors, as go/scanner's. Its zero value is an empty
// list ready to use.
type ErrorList []*Error

// Add appends an error at pos.
func (l *ErrorList) Add(pos lexer.Position, msg string) {
	*l = append(*l, &Error{Pos: pos, Msg: msg})
}

// Len, Less and Swap make the list sortable by position.
func (l ErrorList) Len() int      { return len(l) }
func (l ErrorList) Swap(i, j int) { l[i], l[j] = l[j], l[i] }
func (l ErrorList) Less(i, j int) bool {
	a, b := l[i].Pos, l[j].Pos
	if a.Filename != b.Filename {
		return a.Filename < b.Filename
	}
	if a.Line != b.Line {
		return a.Line < b.Line
	}
	if a.Column != b.Column {
		return a.Column < b.Column
	}
	return l[i].Msg < l[j].Msg
}

// Sort orders the list by position, stably, and drops exact duplicates.
func (l *ErrorList) Sort() {
	sort.Stable(*l)
	out := (*l)[:0]
	for i, e := range *l {
		if i > 0 && e.Pos == out[len(out)-1].Pos && e.Msg == out[len(out)-1].Msg {
			continue
		}
		out = append(out, e)
	}
	*l = out
}

// Error joins the errors, one a line.
func (l ErrorList) Error() string {
	switch len(l) {
	case 0:
		return "no errors"
	case 1:
		return l[0].Error()
	}
	var b strings.Builder
	for i, e := range l {
		if i > 0 {
			b.WriteByte('\n')
		}
		b.WriteString(e.Error())
	}
	return b.String()
}

// Err returns the list as an error, or nil when it is empty.
func (l ErrorList) Err() error {
	if len(l) == 0 {
		return nil
	}
	return l
}
