package lsp

import (
	"bytes"
	"fmt"
	"slices"
	"sort"
	"strings"

	"github.com/alecthomas/participle/v2/lexer"
	"github.com/tliron/glsp"
	protocol "github.com/tliron/glsp/protocol_3_16"

	"github.com/ompdev/omp/compiler"
	"github.com/ompdev/omp/lang"
	"github.com/ompdev/omp/plugins/sdk"
)

// optionNames are the options `with` takes; the compiler's list, which its
// error messages show.
var optionNames = []string{"retries", "timeout", "backoff"}

// stageKeywords start a stage; stmtKeywords a statement.
var (
	stageKeywords = []string{"parallel", "sequence", "mapreduce", "reduce"}
	stmtKeywords  = []string{"let", "param", "pipeline"}
)

func (s *server) completion(_ *glsp.Context, p *protocol.CompletionParams) (any, error) {
	return withDoc(s, p.TextDocument.URI, func(d *doc) (any, error) {
		off := d.text.offset(p.Position)
		// The word being typed is not context: what comes before it is.
		start := off
		for start > 0 && isWordByte(d.text.src[start-1]) {
			start--
		}
		idx := d.index()
		var before []lexer.Token
		for _, t := range idx.toks {
			if t.Pos.Offset >= start || t.Type == lang.TokEOF {
				break
			}
			before = append(before, t)
		}
		back := func(i int) lexer.Token {
			if i < len(before) {
				return before[len(before)-1-i]
			}
			return lexer.Token{Type: lang.TokNL}
		}
		reg, _ := s.registry()
		var items []protocol.CompletionItem
		p1 := back(0)
		switch {
		case isPunct(p1, ".") && back(2).Type == lang.TokIdent:
			items = s.actionItems(reg, back(2).Value)
		case isKw(p1, "with") || isPunct(p1, ",") && inOptions(before):
			items = keywordItems(optionNames, protocol.CompletionItemKindProperty, "option")
		case isKw(p1, "reduce"):
			items = append(keywordItems(compiler.Reducers(), protocol.CompletionItemKindFunction, "reducer"), kindItems(reg)...)
		case (isPunct(p1, "(") || isPunct(p1, ",") || isPunct(p1, "=")) && openCall(idx, before) != nil:
			t := openCall(idx, before)
			if !isPunct(p1, "=") {
				items = s.kwargItems(reg, t)
			}
			items = append(items, nameItems(idx, start, symVar, symLet, symParam)...)
		case isPunct(p1, "[") || isPunct(p1, "=") && !isKw(back(2), "let") || isKw(p1, "in") || isPunct(p1, ".."):
			items = nameItems(idx, start, symVar, symLet, symParam)
		case p1.Type == lang.TokIdent || p1.Type == lang.TokString || p1.Type == lang.TokLabel || isPunct(p1, ")"):
			// A task's name follows its kind; after a task, only `with`
			// or an arrow.
		default:
			// Only a let's result can start a chain: not a param's value.
			items = append(kindItems(reg), nameItems(idx, start, symLet)...)
			items = append(items, keywordItems(stageKeywords, protocol.CompletionItemKindKeyword, "")...)
			if p1.Type == lang.TokNL || isPunct(p1, "{") {
				items = append(items, keywordItems(stmtKeywords, protocol.CompletionItemKindKeyword, "")...)
			}
		}
		if items == nil {
			items = []protocol.CompletionItem{}
		}
		return items, nil
	})
}

func isWordByte(c byte) bool {
	return c == '_' || c == '-' || 'a' <= c && c <= 'z' || 'A' <= c && c <= 'Z' || '0' <= c && c <= '9' || c >= 0x80
}

// inOptions reports whether the comma that ends before separates options:
// a `with` comes before it with no bracket or arrow between.
func inOptions(before []lexer.Token) bool {
	depth := 0
	for i := len(before) - 1; i >= 0; i-- {
		t := before[i]
		switch {
		case isKw(t, "with"):
			return depth == 0
		case t.Type == lang.TokNL, isPunct(t, "->"):
			return false
		case isPunct(t, ")") || isPunct(t, "]") || isPunct(t, ">") || isPunct(t, "}"):
			depth++
		case isPunct(t, "(") || isPunct(t, "[") || isPunct(t, "<") || isPunct(t, "{"):
			if depth == 0 {
				return false
			}
			depth--
		}
	}
	return false
}

// openCall returns the task whose argument list is open at the end of
// before, or nil.
func openCall(idx *index, before []lexer.Token) *task {
	depth := 0
	for i := len(before) - 1; i >= 0; i-- {
		t := before[i]
		switch {
		case isPunct(t, ")") || isPunct(t, "]") || isPunct(t, ">") || isPunct(t, "}"):
			depth++
		case isPunct(t, "(") || isPunct(t, "[") || isPunct(t, "<") || isPunct(t, "{"):
			if depth > 0 {
				depth--
				continue
			}
			if t.Value != "(" {
				return nil
			}
			for _, tk := range idx.tasks {
				if tk.open == t.Pos.Offset {
					return tk
				}
			}
			return nil
		}
	}
	return nil
}

func item(label string, kind protocol.CompletionItemKind, detail, doc string) protocol.CompletionItem {
	it := protocol.CompletionItem{Label: label, Kind: &kind}
	if detail != "" {
		it.Detail = &detail
	}
	if doc != "" {
		it.Documentation = doc
	}
	return it
}

func keywordItems(words []string, kind protocol.CompletionItemKind, detail string) []protocol.CompletionItem {
	items := make([]protocol.CompletionItem, len(words))
	for i, w := range words {
		items[i] = item(w, kind, detail, "")
	}
	return items
}

// kindItems are the registry's kinds: its Names, so that a plugin's kind is
// offered without starting its plugin.
func kindItems(reg Registry) []protocol.CompletionItem {
	if reg == nil {
		return nil
	}
	names := reg.Names()
	sort.Strings(names)
	return keywordItems(slices.Compact(names), protocol.CompletionItemKindClass, "kind")
}

func (s *server) actionItems(reg Registry, kind string) []protocol.CompletionItem {
	if reg == nil {
		return nil
	}
	spec, ok := reg.Spec(kind)
	if !ok {
		return nil
	}
	var items []protocol.CompletionItem
	for _, a := range spec.Actions {
		items = append(items, item(a.Name, protocol.CompletionItemKindMethod, signature(spec.Name, a), a.Doc))
	}
	return items
}

func (s *server) kwargItems(reg Registry, t *task) []protocol.CompletionItem {
	if reg == nil {
		return nil
	}
	spec, ok := reg.Spec(t.kind)
	if !ok {
		return nil
	}
	a, ok := action(spec, t.action)
	if !ok {
		return nil
	}
	var items []protocol.CompletionItem
	for _, k := range a.Kwargs {
		it := item(k, protocol.CompletionItemKindField, "keyword argument of "+spec.Name+"."+a.Name, "")
		insert := k + "="
		it.InsertText = &insert
		items = append(items, it)
	}
	return items
}

// nameItems are the names of the given kinds visible at off, the kinds
// that shadow the others first.
func nameItems(idx *index, off int, kinds ...symKind) []protocol.CompletionItem {
	seen := map[string]bool{}
	var items []protocol.CompletionItem
	for _, kind := range kinds {
		for _, d := range idx.syms {
			if d.kind != kind || seen[d.name] || off < d.from || off > d.to {
				continue
			}
			seen[d.name] = true
			k := protocol.CompletionItemKindVariable
			if kind == symParam {
				k = protocol.CompletionItemKindConstant
			}
			items = append(items, item(d.name, k, kind.String(), ""))
		}
	}
	return items
}

// action returns the action called name ("" for the default, run).
func action(spec sdk.KindSpec, name string) (sdk.ActionSpec, bool) {
	if name == "" {
		name = "run"
	}
	for _, a := range spec.Actions {
		if a.Name == name {
			return a, true
		}
	}
	return sdk.ActionSpec{}, false
}

// signature shows how an action is called: echo.run(value?, sleep=, log=).
func signature(kind string, a sdk.ActionSpec) string {
	var parts []string
	for i := 0; i < max(a.MinArgs, len(a.Args), a.MaxArgs); i++ {
		name := fmt.Sprintf("arg%d", i+1)
		if i < len(a.Args) {
			name = a.Args[i]
		}
		if i >= a.MinArgs {
			name += "?"
		}
		parts = append(parts, name)
	}
	if a.MaxArgs < 0 {
		parts = append(parts, "...")
	}
	for _, k := range a.Kwargs {
		parts = append(parts, k+"=")
	}
	if a.AnyKwargs {
		parts = append(parts, "NAME=...")
	}
	return kind + "." + a.Name + "(" + strings.Join(parts, ", ") + ")"
}

func (s *server) hover(_ *glsp.Context, p *protocol.HoverParams) (*protocol.Hover, error) {
	return withDoc(s, p.TextDocument.URI, func(d *doc) (*protocol.Hover, error) {
		off := d.text.offset(p.Position)
		idx := d.index()
		def, r, tk, onAction := idx.at(off)
		var md string
		var start, end int
		switch {
		case r != nil:
			def, start, end = r.def, r.start, r.end
		case def != nil:
			start, end = def.start, def.end
		case tk != nil:
			reg, _ := s.registry()
			if reg == nil {
				return nil, nil
			}
			spec, ok := reg.Spec(tk.kind)
			if !ok {
				return nil, nil
			}
			start, end = tk.kindStart, tk.kindEnd
			if onAction {
				start, end = tk.actStart, tk.actEnd
			}
			md = kindDoc(spec, tk.action)
		default:
			return nil, nil
		}
		if def != nil {
			md = symDoc(d.text.src, def)
		}
		rng := d.text.span(start, end)
		return &protocol.Hover{Contents: protocol.MarkupContent{Kind: protocol.MarkupKindMarkdown, Value: md}, Range: &rng}, nil
	})
}

// kindDoc describes a kind and the action a task calls.
func kindDoc(spec sdk.KindSpec, act string) string {
	var b strings.Builder
	fmt.Fprintf(&b, "**%s**", spec.Name)
	if spec.Description != "" {
		b.WriteString(": " + spec.Description)
	}
	b.WriteString("\n")
	if a, ok := action(spec, act); ok {
		fmt.Fprintf(&b, "\n```omp\n%s\n```\n", signature(spec.Name, a))
		if a.Doc != "" {
			b.WriteString("\n" + a.Doc + "\n")
		}
	}
	if len(spec.Actions) > 1 {
		b.WriteString("\nActions:\n")
		for _, a := range spec.Actions {
			fmt.Fprintf(&b, "- `%s`", signature(spec.Name, a))
			if a.Doc != "" {
				b.WriteString(": " + a.Doc)
			}
			b.WriteString("\n")
		}
	}
	if len(spec.Aliases) > 0 {
		fmt.Fprintf(&b, "\nAlso called: %s\n", strings.Join(spec.Aliases, ", "))
	}
	return b.String()
}

// maxHoverLines bounds the declaration a hover shows.
const maxHoverLines = 12

// symDoc shows a name's declaration as written.
func symDoc(src string, def *sym) string {
	stmt := src[def.stmtStart:def.stmtEnd]
	if lines := strings.Split(stmt, "\n"); len(lines) > maxHoverLines {
		stmt = strings.Join(lines[:maxHoverLines], "\n") + "\n…"
	}
	return fmt.Sprintf("(%s) **%s**\n\n```omp\n%s\n```\n", def.kind, def.name, stmt)
}

func (s *server) definition(_ *glsp.Context, p *protocol.DefinitionParams) (any, error) {
	return withDoc(s, p.TextDocument.URI, func(d *doc) (any, error) {
		def, r, _, _ := d.index().at(d.text.offset(p.Position))
		if r != nil {
			def = r.def
		}
		if def == nil {
			return nil, nil
		}
		return []protocol.Location{{URI: d.uri, Range: d.text.span(def.start, def.end)}}, nil
	})
}

func (s *server) references(_ *glsp.Context, p *protocol.ReferenceParams) ([]protocol.Location, error) {
	return withDoc(s, p.TextDocument.URI, func(d *doc) ([]protocol.Location, error) {
		idx := d.index()
		def, r, _, _ := idx.at(d.text.offset(p.Position))
		if r != nil {
			def = r.def
		}
		locs := []protocol.Location{}
		if def == nil {
			return locs, nil
		}
		if p.Context.IncludeDeclaration {
			locs = append(locs, protocol.Location{URI: d.uri, Range: d.text.span(def.start, def.end)})
		}
		for _, r := range idx.refs {
			if r.def == def {
				locs = append(locs, protocol.Location{URI: d.uri, Range: d.text.span(r.start, r.end)})
			}
		}
		return locs, nil
	})
}

func (s *server) formatting(_ *glsp.Context, p *protocol.DocumentFormattingParams) ([]protocol.TextEdit, error) {
	return withDoc(s, p.TextDocument.URI, func(d *doc) ([]protocol.TextEdit, error) {
		src := []byte(d.text.src)
		out, err := lang.Format(src, d.name)
		if err != nil {
			// A file that does not parse is left alone, as by `omp fmt`; its
			// diagnostics say why.
			return nil, fmt.Errorf("not formatted: the file has errors")
		}
		if bytes.Equal(out, src) {
			return []protocol.TextEdit{}, nil
		}
		return []protocol.TextEdit{{Range: d.text.span(0, len(src)), NewText: string(out)}}, nil
	})
}

func (s *server) documentSymbol(_ *glsp.Context, p *protocol.DocumentSymbolParams) (any, error) {
	return withDoc(s, p.TextDocument.URI, func(d *doc) (any, error) {
		idx := d.index()
		var mk func(def *sym) protocol.DocumentSymbol
		mk = func(def *sym) protocol.DocumentSymbol {
			kind := map[symKind]protocol.SymbolKind{symParam: protocol.SymbolKindConstant, symLet: protocol.SymbolKindVariable, symPipeline: protocol.SymbolKindModule}[def.kind]
			detail := def.kind.String()
			ds := protocol.DocumentSymbol{Name: def.name, Detail: &detail, Kind: kind,
				Range: d.text.span(def.stmtStart, def.stmtEnd), SelectionRange: d.text.span(def.start, def.end)}
			for _, c := range def.children {
				ds.Children = append(ds.Children, mk(c))
			}
			return ds
		}
		inPipeline := map[*sym]bool{}
		for _, pl := range idx.pipelines {
			for _, c := range pl.children {
				inPipeline[c] = true
			}
		}
		syms := []protocol.DocumentSymbol{}
		for _, def := range idx.syms {
			if def.kind == symVar || inPipeline[def] {
				continue
			}
			syms = append(syms, mk(def))
		}
		return syms, nil
	})
}
