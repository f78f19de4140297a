package lsp

import (
	protocol "github.com/tliron/glsp/protocol_3_16"
	"os"
	"path/filepath"
	"testing"
)

// FuzzIndex checks that whatever a document holds, half-typed or hostile,
// the index and what is built on it neither panic nor point outside it.
func FuzzIndex(f *testing.F) {
	for _, glob := range []string{"testdata/*.omp", "../examples/*.omp", "../lang/testdata/*.omp"} {
		files, _ := filepath.Glob(glob)
		for _, file := range files {
			if b, err := os.ReadFile(file); err == nil {
				f.Add(string(b))
			}
		}
	}
	f.Add("pipeline p {\n let a = parallel < echo x(i) for i in [1, 2] >\n a -> echo y(a")
	f.Add("let = \"{\n>>) ] } pipeline")
	f.Fuzz(func(t *testing.T, src string) {
		x := buildIndex(src)
		txt := newText(src)
		inside := func(what string, a, b int) {
			if a < 0 || b < a || b > len(src) {
				t.Fatalf("%s [%d, %d) outside the document of %d bytes", what, a, b, len(src))
			}
		}
		for _, s := range x.syms {
			inside("declaration", s.start, s.end)
			inside("statement", s.stmtStart, s.stmtEnd)
			_ = symDoc(src, s)
		}
		for _, r := range x.refs {
			inside("use", r.start, r.end)
			if r.def == nil {
				t.Fatalf("a use at %d without its declaration", r.start)
			}
		}
		for off := 0; off <= len(src); off += 1 + len(src)/1000 {
			x.at(off)
			nameItems(x, off, symVar, symLet, symParam)
			if got := txt.offset(txt.position(off)); got > len(src) {
				t.Fatalf("offset %d -> %d", off, got)
			}
		}
		if len(src) > 4096 {
			return // the requests below cost up to the document each
		}
		// Every request, at every position, on a server of the document.
		s := &server{cfg: Config{Registry: func() (Registry, error) { return fuzzKinds, nil }}, docs: map[string]*doc{}}
		d := &doc{uri: uri, name: "f.omp", text: txt}
		s.docs[uri] = d
		s.diagnose(d)
		id := protocol.TextDocumentIdentifier{URI: uri}
		if _, err := s.documentSymbol(nil, &protocol.DocumentSymbolParams{TextDocument: id}); err != nil {
			t.Fatal(err)
		}
		// A large seed is sampled: each request costs up to the document.
		for off := 0; off <= len(src); off += 1 + len(src)/300 {
			at := protocol.TextDocumentPositionParams{TextDocument: id, Position: txt.position(off)}
			for _, err := range []error{
				second(s.completion(nil, &protocol.CompletionParams{TextDocumentPositionParams: at})),
				second(s.hover(nil, &protocol.HoverParams{TextDocumentPositionParams: at})),
				second(s.definition(nil, &protocol.DefinitionParams{TextDocumentPositionParams: at})),
				second(s.references(nil, &protocol.ReferenceParams{TextDocumentPositionParams: at})),
			} {
				if err != nil {
					t.Fatal(err)
				}
			}
		}
	})
}

var fuzzKinds = newKinds()

func second[T any](_ T, err error) error { return err }
