package lsp

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"net"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/sourcegraph/jsonrpc2"
	protocol "github.com/tliron/glsp/protocol_3_16"

	"github.com/ompdev/omp/compiler"
	"github.com/ompdev/omp/lang"
	"github.com/ompdev/omp/plugins/builtin"
	"github.com/ompdev/omp/plugins/sdk"
)

var update = flag.Bool("update", false, "rewrite the golden replies in testdata/golden")

// kinds is a Registry of the built-in kinds as they describe themselves:
// what cmd/omp's registry gives for them, without a plugin host.
type kinds struct {
	*compiler.MapRegistry
	specs map[string]sdk.KindSpec
}

func newKinds() *kinds {
	k := &kinds{MapRegistry: compiler.NewRegistry(), specs: map[string]sdk.KindSpec{}}
	for name, kind := range builtin.Kinds() {
		spec := kind.Describe()
		k.Add(builtin.CompilerSpec(spec))
		k.specs[name] = spec
		for _, a := range spec.Aliases {
			k.specs[a] = spec
		}
	}
	return k
}

func (k *kinds) Spec(name string) (sdk.KindSpec, bool) { s, ok := k.specs[name]; return s, ok }
func (k *kinds) Err() error                            { return nil }

// client is an editor's end of the connection: it frames messages as
// editors do (Content-Length headers) and collects the diagnostics that
// the server publishes.
type client struct {
	t     testing.TB
	conn  *jsonrpc2.Conn
	diags chan protocol.PublishDiagnosticsParams
	done  chan error
}

func startServer(t testing.TB, cfg Config) *client {
	if cfg.Registry == nil {
		cfg.Registry = func() (Registry, error) { return newKinds(), nil }
	}
	ours, theirs := net.Pipe()
	c := &client{t: t, diags: make(chan protocol.PublishDiagnosticsParams, 100), done: make(chan error, 1)}
	go func() { c.done <- Serve(context.Background(), theirs, cfg) }()
	c.conn = jsonrpc2.NewConn(context.Background(), jsonrpc2.NewBufferedStream(ours, jsonrpc2.VSCodeObjectCodec{}),
		jsonrpc2.HandlerWithError(func(_ context.Context, _ *jsonrpc2.Conn, req *jsonrpc2.Request) (any, error) {
			if req.Method == "textDocument/publishDiagnostics" && req.Params != nil {
				var p protocol.PublishDiagnosticsParams
				if err := json.Unmarshal(*req.Params, &p); err != nil {
					t.Errorf("publishDiagnostics: %v", err)
				}
				c.diags <- p
			}
			return nil, nil
		}))
	t.Cleanup(func() { c.conn.Close() })
	return c
}

// call sends a request and returns its result as the server sent it.
func (c *client) call(method string, params any) (json.RawMessage, error) {
	var r json.RawMessage
	err := c.conn.Call(context.Background(), method, params, &r)
	return r, err
}

func (c *client) must(method string, params any) json.RawMessage {
	c.t.Helper()
	r, err := c.call(method, params)
	if err != nil {
		c.t.Fatalf("%s: %v", method, err)
	}
	return r
}

func (c *client) notify(method string, params any) {
	c.t.Helper()
	if err := c.conn.Notify(context.Background(), method, params); err != nil {
		c.t.Fatalf("%s: %v", method, err)
	}
}

// diagnostics waits for the next publishDiagnostics, for at most a while.
func (c *client) diagnostics() protocol.PublishDiagnosticsParams {
	c.t.Helper()
	select {
	case p := <-c.diags:
		return p
	case <-time.After(10 * time.Second):
		c.t.Fatal("no diagnostics published within 10s")
	}
	panic("unreachable")
}

func (c *client) initialize() json.RawMessage {
	c.t.Helper()
	r := c.must("initialize", map[string]any{"processId": nil, "rootUri": nil, "capabilities": map[string]any{}})
	c.notify("initialized", map[string]any{})
	return r
}

func (c *client) open(uri, src string) {
	c.t.Helper()
	c.notify("textDocument/didOpen", map[string]any{"textDocument": map[string]any{"uri": uri, "languageId": "omp", "version": 1, "text": src}})
}

// golden compares got, indented, with testdata/golden/NAME.json.
func golden(t *testing.T, name string, got []byte) {
	t.Helper()
	var b bytes.Buffer
	if err := json.Indent(&b, got, "", "  "); err != nil {
		t.Fatalf("%s: %v in %s", name, err, got)
	}
	b.WriteByte('\n')
	path := filepath.Join("testdata", "golden", name+".json")
	if *update {
		if err := os.MkdirAll(filepath.Dir(path), 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(path, b.Bytes(), 0o644); err != nil {
			t.Fatal(err)
		}
		return
	}
	want, err := os.ReadFile(path)
	if err != nil {
		t.Fatalf("%v (run with -update to create it)", err)
	}
	if !bytes.Equal(b.Bytes(), want) {
		t.Errorf("%s differs from %s (run with -update to accept):\n%s", name, path, b.Bytes())
	}
}

func mustJSON(t testing.TB, v any) []byte {
	b, err := json.Marshal(v)
	if err != nil {
		t.Fatal(err)
	}
	return b
}

// at is the protocol position of the n-th byte of needle's first
// occurrence in src (needle is a string that occurs once).
func at(t testing.TB, src, needle string, n int) protocol.Position {
	t.Helper()
	i := strings.Index(src, needle)
	if i < 0 || strings.Count(src, needle) != 1 {
		t.Fatalf("%q occurs %d times", needle, strings.Count(src, needle))
	}
	return newText(src).position(i + n)
}

const uri = "file:///work/main.omp"

func docPos(uri string, p protocol.Position) map[string]any {
	return map[string]any{"textDocument": map[string]any{"uri": uri}, "position": p}
}

// TestSession drives the server as an editor does, through one session
// over a document, and compares each reply with its golden file.
func TestSession(t *testing.T) {
	src, err := os.ReadFile("testdata/main.omp")
	if err != nil {
		t.Fatal(err)
	}
	doc := string(src)
	c := startServer(t, Config{Debounce: time.Millisecond})
	golden(t, "initialize", c.initialize())

	c.open(uri, doc)
	golden(t, "open-diagnostics", mustJSON(t, c.diagnostics()))

	for _, tc := range []struct {
		name, method, needle string
		n                    int
		extra                map[string]any
	}{
		{"complete-action", "textDocument/completion", "again.run", 6, nil},
		{"complete-kwargs", "textDocument/completion", `show(sleep`, 5, nil},
		{"complete-options", "textDocument/completion", "with retries", 5, nil},
		{"complete-reducers", "textDocument/completion", "reduce sum", 7, nil},
		{"complete-stage", "textDocument/completion", "fan -> reduce", 7, nil},
		{"complete-args", "textDocument/completion", `prep(greeting)`, 5, nil},
		{"hover-kind", "textDocument/hover", "echo show", 1, nil},
		{"hover-action", "textDocument/hover", "again.run", 7, nil},
		{"hover-let", "textDocument/hover", "  prep -> echo show", 3, nil},
		{"hover-param", "textDocument/hover", "1..n", 3, nil},
		{"hover-loop-var", "textDocument/hover", `"(i)`, 2, nil},
		{"hover-nothing", "textDocument/hover", "A pipeline", 3, nil},
		{"definition-let", "textDocument/definition", "  prep -> echo show", 3, nil},
		{"definition-other-block", "textDocument/definition", "  prep -> echo last", 3, nil},
		{"definition-param", "textDocument/definition", "prep(greeting)", 6, nil},
		{"references-param", "textDocument/references", "param n", 6, map[string]any{"context": map[string]any{"includeDeclaration": true}}},
		{"references-let", "textDocument/references", "let prep = echo prep", 5, map[string]any{"context": map[string]any{"includeDeclaration": false}}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			p := docPos(uri, at(t, doc, tc.needle, tc.n))
			for k, v := range tc.extra {
				p[k] = v
			}
			golden(t, tc.name, c.must(tc.method, p))
		})
	}
	golden(t, "symbols", c.must("textDocument/documentSymbol", map[string]any{"textDocument": map[string]any{"uri": uri}}))

	// A change that introduces mistakes: the diagnostics are the
	// compiler's, at the positions `omp check` prints.
	edits := []struct{ old, new string }{{"echo show", "ecoh show"}, {"reduce sum", "reduce smu"}, {"prep -> echo last", "prpe -> echo last"}, {"retries=2", "retires=2"}}
	changed := doc
	var changes []map[string]any
	for _, e := range edits {
		i := strings.Index(changed, e.old)
		changes = append(changes, map[string]any{"range": newText(changed).span(i, i+len(e.old)), "text": e.new})
		changed = changed[:i] + e.new + changed[i+len(e.old):]
	}
	c.notify("textDocument/didChange", map[string]any{"textDocument": map[string]any{"uri": uri, "version": 2}, "contentChanges": changes})
	pub := c.diagnostics()
	if pub.Version == nil || *pub.Version != 2 {
		t.Errorf("diagnostics of version %v, want 2", pub.Version)
	}
	golden(t, "change-diagnostics", mustJSON(t, pub))
	sameAsCheck(t, "/work/main.omp", changed, pub.Diagnostics)

	golden(t, "quick-fixes", c.must("textDocument/codeAction", map[string]any{
		"textDocument": map[string]any{"uri": uri},
		"range":        protocol.Range{},
		"context":      map[string]any{"diagnostics": pub.Diagnostics},
	}))

	// Formatting goes through lang.Format, comments and all; a file with
	// errors is left alone.
	fmtParams := func(uri string) map[string]any {
		return map[string]any{"textDocument": map[string]any{"uri": uri}, "options": map[string]any{"tabSize": 2, "insertSpaces": true}}
	}
	if _, err := c.call("textDocument/formatting", fmtParams(uri)); err != nil {
		t.Errorf("formatting a file with unknown names: %v", err)
	}
	const plain = "file:///work/plain.omp"
	c.open(plain, "# numbers\nparam  n=3   # how many\nlet a =   echo x(n)\n\n\na->echo y()\n")
	c.diagnostics()
	golden(t, "formatting", c.must("textDocument/formatting", fmtParams(plain)))
	const broken = "file:///work/broken.omp"
	c.open(broken, "let a = echo x(\n")
	c.diagnostics()
	if _, err := c.call("textDocument/formatting", fmtParams(broken)); err == nil || !strings.Contains(err.Error(), "not formatted") {
		t.Errorf("formatting a file that does not parse: %v, want a refusal", err)
	}

	// Closing a document clears its diagnostics.
	c.notify("textDocument/didClose", map[string]any{"textDocument": map[string]any{"uri": plain}})
	if p := c.diagnostics(); p.URI != plain || len(p.Diagnostics) != 0 {
		t.Errorf("after close: %+v, want no diagnostics for %s", p, plain)
	}
	if _, err := c.call("textDocument/hover", docPos(plain, protocol.Position{})); err == nil {
		t.Error("hover on a closed document: no error")
	}

	c.must("shutdown", nil)
	c.notify("exit", nil)
	select {
	case err := <-c.done:
		if err != nil {
			t.Errorf("Serve after shutdown and exit: %v", err)
		}
	case <-time.After(10 * time.Second):
		t.Fatal("Serve did not return within 10s of exit")
	}
}

// sameAsCheck checks that diags say what `omp check` would: the compiler's
// messages, each at the line and column it prints (UTF-16 columns from 0
// here, runes from 1 there: the same for this ASCII file).
func sameAsCheck(t *testing.T, name, src string, diags []protocol.Diagnostic) {
	t.Helper()
	f, err := lang.Parse(name, []byte(src))
	if err == nil {
		err = compiler.Check(f, compiler.Config{Registry: newKinds()})
	}
	var list lang.ErrorList
	if !errors.As(err, &list) {
		t.Fatalf("check: %v", err)
	}
	var want, got []string
	for _, e := range list {
		want = append(want, e.Error())
	}
	for _, d := range diags {
		got = append(got, fmt.Sprintf("%s:%d:%d: %s", name, d.Range.Start.Line+1, d.Range.Start.Character+1, d.Message))
	}
	if strings.Join(got, "\n") != strings.Join(want, "\n") {
		t.Errorf("diagnostics:\n%s\nomp check says:\n%s", strings.Join(got, "\n"), strings.Join(want, "\n"))
	}
}
