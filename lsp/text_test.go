package lsp

import (
	"testing"

	protocol "github.com/tliron/glsp/protocol_3_16"
)

// TestPositions checks the three ways a place in a document is told: byte
// offsets, omp's line and rune column from 1, and the protocol's line and
// UTF-16 column from 0 (é is one UTF-16 unit and two bytes, 🙂 two units
// and four bytes).
func TestPositions(t *testing.T) {
	const src = "\uFEFFlet a = \"é🙂\"\r\nb -> ecoh x()\n"
	txt := newText(src)
	tests := []struct {
		line, col int // omp's
		off       int
		pos       protocol.Position
	}{
		{1, 1, 3, protocol.Position{Line: 0, Character: 1}}, // after the byte order mark
		{1, 10, 12, protocol.Position{Line: 0, Character: 10}},
		{1, 11, 14, protocol.Position{Line: 0, Character: 11}}, // after é
		{1, 12, 18, protocol.Position{Line: 0, Character: 13}}, // after 🙂
		{2, 6, 26, protocol.Position{Line: 1, Character: 5}},
		{2, 99, 34, protocol.Position{Line: 1, Character: 13}}, // clamped to the line
	}
	for _, tc := range tests {
		if off := txt.omp(tc.line, tc.col); off != tc.off {
			t.Errorf("omp(%d, %d) = %d, want %d", tc.line, tc.col, off, tc.off)
		}
		if pos := txt.position(tc.off); pos != tc.pos {
			t.Errorf("position(%d) = %+v, want %+v", tc.off, pos, tc.pos)
		}
		if off := txt.offset(tc.pos); off != tc.off {
			t.Errorf("offset(%+v) = %d, want %d", tc.pos, off, tc.off)
		}
	}
	// An edit's range is in UTF-16 units: replacing 🙂 takes two.
	got := txt.edit(&protocol.Range{Start: protocol.Position{Line: 0, Character: 11}, End: protocol.Position{Line: 0, Character: 13}}, "x").src
	if want := "\uFEFFlet a = \"éx\"\r\nb -> ecoh x()\n"; got != want {
		t.Errorf("edit: %q, want %q", got, want)
	}
}

// TestDiagnosticColumns: after non-ASCII text, a diagnostic stands where
// omp check's rune column says, in UTF-16 units.
func TestDiagnosticColumns(t *testing.T) {
	s := &server{cfg: Config{Registry: func() (Registry, error) { return newKinds(), nil }}, docs: map[string]*doc{}}
	d := &doc{uri: uri, name: "f.omp", text: newText("echo \"é🙂\"(1) -> ecoh b()\n")}
	diags := s.diagnose(d)
	// omp check: f.omp:1:17: unknown kind ecoh (did you mean echo?)
	want := protocol.Range{Start: protocol.Position{Line: 0, Character: 17}, End: protocol.Position{Line: 0, Character: 21}}
	if len(diags) != 1 || diags[0].Range != want || diags[0].Message != "unknown kind ecoh (did you mean echo?)" {
		t.Fatalf("diagnostics %+v, want one at %+v", diags, want)
	}
}
