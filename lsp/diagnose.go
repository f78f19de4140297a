package lsp

import (
	"errors"
	"regexp"
	"runtime/debug"
	"strings"
	"unicode/utf8"

	"github.com/tliron/glsp"
	protocol "github.com/tliron/glsp/protocol_3_16"

	"github.com/ompdev/omp/compiler"
	"github.com/ompdev/omp/lang"
)

// diagnose parses and checks d as `omp check` does; s.mu is held.
func (s *server) diagnose(d *doc) []protocol.Diagnostic {
	// As load in cmd/omp: a check allocates a lot for a short while, and
	// collecting less often makes a large file's check markedly faster.
	defer debug.SetGCPercent(debug.SetGCPercent(400))
	f, err := lang.Parse(d.name, []byte(d.text.src))
	var reg Registry
	if err == nil {
		var rerr error
		if reg, rerr = s.registry(); rerr != nil {
			return []protocol.Diagnostic{s.fileDiagnostic(d, rerr.Error())}
		}
		err = compiler.Check(f, compiler.Config{Registry: reg})
	}
	diags := []protocol.Diagnostic{}
	if reg != nil && reg.Err() != nil {
		// As `omp check`: a plugin that cannot start is what to fix, and
		// the "unknown kind" errors that follow from it are noise.
		return append(diags, s.fileDiagnostic(d, reg.Err().Error()))
	}
	var list lang.ErrorList
	if !errors.As(err, &list) {
		if err != nil {
			diags = append(diags, s.fileDiagnostic(d, err.Error()))
		}
		return diags
	}
	for _, e := range list {
		start := d.text.omp(e.Pos.Line, e.Pos.Column)
		end := start
		if e.Pos.Line > 0 {
			end = wordEnd(d.text.src, start)
		}
		diags = append(diags, newDiagnostic(d.text.span(start, end), e.Msg))
	}
	return diags
}

// wordEnd is the end of the name or string that starts at off, to
// underline: the errors carry where a mistake starts, not where it ends.
func wordEnd(src string, off int) int {
	if off < len(src) && src[off] == '"' {
		for i := off + 1; i < len(src) && src[i] != '\n'; i++ {
			switch src[i] {
			case '\\':
				i++
			case '"':
				return i + 1
			}
		}
		return off + 1
	}
	end := off
	for end < len(src) && (isWordByte(src[end]) || src[end] == '/' && end > off) {
		end++
	}
	if end == off && off < len(src) && src[off] != '\n' {
		_, size := utf8.DecodeRuneInString(src[off:])
		end += size
	}
	return end
}

func newDiagnostic(r protocol.Range, msg string) protocol.Diagnostic {
	sev := protocol.DiagnosticSeverityError
	src := "omp"
	return protocol.Diagnostic{Range: r, Severity: &sev, Source: &src, Message: msg}
}

// fileDiagnostic is a problem of the whole file, shown on its first line.
func (s *server) fileDiagnostic(d *doc, msg string) protocol.Diagnostic {
	return newDiagnostic(d.text.span(0, d.text.lineEnd(0)), msg)
}

var (
	didYouMean = regexp.MustCompile(`^(.*) \(did you mean ([^ ?]+)\?\)$`)
	word       = regexp.MustCompile(`[A-Za-z_][A-Za-z0-9_-]*`)
)

// codeAction offers the compiler's "did you mean" suggestions as quick
// fixes: the misspelt name in the diagnostic's range, one that the message
// names, is replaced by the suggestion.
func (s *server) codeAction(_ *glsp.Context, p *protocol.CodeActionParams) (any, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	d, err := s.doc(p.TextDocument.URI)
	if err != nil {
		return nil, err
	}
	actions := []protocol.CodeAction{}
	for _, diag := range p.Context.Diagnostics {
		m := didYouMean.FindStringSubmatch(diag.Message)
		if m == nil {
			continue
		}
		said, fix := " "+m[1]+" ", m[2]
		start, end := d.text.offset(diag.Range.Start), d.text.offset(diag.Range.End)
		in := d.text.src[start:end]
		for _, w := range word.FindAllStringIndex(in, -1) {
			name := in[w[0]:w[1]]
			if name == fix || !strings.Contains(said, " "+name+" ") {
				continue
			}
			kind := protocol.CodeActionKindQuickFix
			preferred := true
			edit := protocol.TextEdit{Range: d.text.span(start+w[0], start+w[1]), NewText: fix}
			actions = append(actions, protocol.CodeAction{
				Title:       "Change " + name + " to " + fix,
				Kind:        &kind,
				Diagnostics: []protocol.Diagnostic{diag},
				IsPreferred: &preferred,
				Edit:        &protocol.WorkspaceEdit{Changes: map[protocol.DocumentUri][]protocol.TextEdit{d.uri: {edit}}},
			})
			break
		}
	}
	return actions, nil
}
