package lsp

import (
	"encoding/json"
	"runtime/debug"

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
	// The form `omp check --json` prints, restated in the protocol's terms.
	for _, cd := range compiler.Diagnostics(d.name, []byte(d.text.src), err) {
		start := d.text.omp(cd.Line, cd.Column)
		end := start
		if cd.EndColumn > 0 {
			end = d.text.omp(cd.Line, cd.EndColumn)
		}
		diag := newDiagnostic(d.text.span(start, end), cd.Message)
		if cd.Suggestion != "" {
			// For codeAction, which the editor sends it back to.
			diag.Data = fix{Suggestion: cd.Suggestion}
		}
		diags = append(diags, diag)
	}
	return diags
}

// fix is a diagnostic's data: the name to put in place of its range.
type fix struct {
	Suggestion string `json:"suggestion"`
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

// codeAction offers the compiler's "did you mean" suggestions as quick
// fixes: the suggestion in place of the name the diagnostic is at.
func (s *server) codeAction(_ *glsp.Context, p *protocol.CodeActionParams) (any, error) {
	return withDoc(s, p.TextDocument.URI, func(d *doc) (any, error) {
		actions := []protocol.CodeAction{}
		for _, diag := range p.Context.Diagnostics {
			var f fix
			if raw, err := json.Marshal(diag.Data); err != nil || json.Unmarshal(raw, &f) != nil || f.Suggestion == "" {
				continue
			}
			start, end := d.text.offset(diag.Range.Start), d.text.offset(diag.Range.End)
			if start == end {
				continue // no token to replace
			}
			kind := protocol.CodeActionKindQuickFix
			preferred := true
			actions = append(actions, protocol.CodeAction{
				Title:       "Change " + d.text.src[start:end] + " to " + f.Suggestion,
				Kind:        &kind,
				Diagnostics: []protocol.Diagnostic{diag},
				IsPreferred: &preferred,
				Edit: &protocol.WorkspaceEdit{Changes: map[protocol.DocumentUri][]protocol.TextEdit{
					d.uri: {{Range: diag.Range, NewText: f.Suggestion}},
				}},
			})
		}
		return actions, nil
	})
}
