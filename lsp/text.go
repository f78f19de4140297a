package lsp

import (
	"sort"
	"unicode/utf8"

	protocol "github.com/tliron/glsp/protocol_3_16"
)

// text is a document's content with the start of each line, to turn the
// protocol's positions (line and UTF-16 column, from 0) into byte offsets and
// back.
type text struct {
	src   string
	lines []int // byte offset of the start of each line
}

func newText(src string) *text {
	t := &text{src: src, lines: make([]int, 1, 1+len(src)/24)}
	for i := 0; i < len(src); i++ {
		if src[i] == '\n' {
			t.lines = append(t.lines, i+1)
		}
	}
	return t
}

// lineEnd is the offset of the end of line l (0-based), before its newline.
func (t *text) lineEnd(l int) int {
	if l+1 < len(t.lines) {
		end := t.lines[l+1] - 1
		if end > t.lines[l] && t.src[end-1] == '\r' {
			end--
		}
		return end
	}
	return len(t.src)
}

// offset turns a protocol position into a byte offset, clamped to the line
// and the document, as the protocol asks.
func (t *text) offset(p protocol.Position) int {
	l := int(p.Line)
	if l >= len(t.lines) {
		return len(t.src)
	}
	off, end := t.lines[l], t.lineEnd(l)
	for units := 0; off < end; {
		r, size := utf8.DecodeRuneInString(t.src[off:])
		n := 1
		if r >= 0x10000 {
			n = 2
		}
		if units+n > int(p.Character) {
			break
		}
		units += n
		off += size
	}
	return off
}

// position turns a byte offset into a protocol position.
func (t *text) position(off int) protocol.Position {
	off = min(max(off, 0), len(t.src))
	l := sort.Search(len(t.lines), func(i int) bool { return t.lines[i] > off }) - 1
	units := 0
	for _, r := range t.src[t.lines[l]:off] {
		units++
		if r >= 0x10000 {
			units++
		}
	}
	return protocol.Position{Line: protocol.UInteger(l), Character: protocol.UInteger(units)}
}

// omp turns omp's line and column (from 1, the column in runes, as errors
// print them) into a byte offset. Line 0 stands for the whole file: offset 0.
func (t *text) omp(line, col int) int {
	if line < 1 {
		return 0
	}
	if line > len(t.lines) {
		return len(t.src)
	}
	off, end := t.lines[line-1], t.lineEnd(line-1)
	if line == 1 && len(t.src) >= 3 && t.src[:3] == "\uFEFF" {
		off += 3 // the lexer counts columns after a byte order mark
	}
	for c := 1; c < col && off < end; c++ {
		_, size := utf8.DecodeRuneInString(t.src[off:])
		off += size
	}
	return off
}

func (t *text) span(start, end int) protocol.Range {
	return protocol.Range{Start: t.position(start), End: t.position(end)}
}

// edit applies one content change of didChange.
func (t *text) edit(r *protocol.Range, with string) *text {
	if r == nil {
		return newText(with)
	}
	start, end := t.offset(r.Start), t.offset(r.End)
	if end < start {
		start, end = end, start
	}
	return newText(t.src[:start] + with + t.src[end:])
}
