package lsp

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log"
	"net/url"
	"sync"
	"time"

	"github.com/sourcegraph/jsonrpc2"
	"github.com/tliron/glsp"
	protocol "github.com/tliron/glsp/protocol_3_16"

	"github.com/ompdev/omp/compiler"
	"github.com/ompdev/omp/plugins/sdk"
)

// Registry is what the server knows of task kinds: the compiler's registry,
// which checks the documents, and each kind's own description, which hover
// and completion show.
type Registry interface {
	compiler.Registry
	// Spec returns the kind called name (or aliased so) as it describes
	// itself.
	Spec(name string) (sdk.KindSpec, bool)
	// Err says why kinds that documents use could not be described (a
	// plugin that would not start), or is nil.
	Err() error
}

// Config configures Serve.
type Config struct {
	// Registry is called once, when a document is first checked, so that
	// an editor that only opens the server pays nothing for plugins.
	Registry func() (Registry, error)
	// Debounce is how long a document must stay unchanged before it is
	// checked again; 0 means DefaultDebounce.
	Debounce time.Duration
	// Log receives the server's own troubles (a malformed message), one
	// line each; nil discards them.
	Log io.Writer
}

// DefaultDebounce is how long a document must stay unchanged before it is
// checked: long enough to span a burst of keystrokes, short enough that the
// diagnostics seem to follow the typing.
const DefaultDebounce = 200 * time.Millisecond

// codeServerNotInitialized is the protocol's error code for a request before
// initialize.
const codeServerNotInitialized = -32002

// ErrExitWithoutShutdown is Serve's error when the editor said exit without
// shutdown first: the protocol asks the server to exit with status 1.
var ErrExitWithoutShutdown = errors.New("lsp: exit without shutdown")

// Serve speaks the protocol on rw until the editor says exit, rw closes or
// ctx ends. It returns nil after shutdown and exit.
func Serve(ctx context.Context, rw io.ReadWriteCloser, cfg Config) error {
	if cfg.Debounce == 0 {
		cfg.Debounce = DefaultDebounce
	}
	if cfg.Log == nil {
		cfg.Log = io.Discard
	}
	s := &server{cfg: cfg, docs: map[string]*doc{}}
	s.proto = s.handler()
	ctx, cancel := context.WithCancel(ctx)
	defer cancel()
	s.ctx = ctx
	conn := jsonrpc2.NewConn(ctx, jsonrpc2.NewBufferedStream(rw, jsonrpc2.VSCodeObjectCodec{}),
		jsonrpc2.HandlerWithError(s.handle), jsonrpc2.SetLogger(log.New(cfg.Log, "omp lsp: ", 0)))
	s.conn = conn
	select {
	case <-conn.DisconnectNotify():
	case <-ctx.Done():
		conn.Close()
	}
	s.stopTimers()
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.exited && !s.shutdown {
		return ErrExitWithoutShutdown
	}
	return ctx.Err()
}

type server struct {
	cfg   Config
	proto *protocol.Handler
	ctx   context.Context
	conn  *jsonrpc2.Conn

	// mu guards what follows, and the registry, which need not be safe
	// for concurrent use: requests and the debounced checks take turns.
	mu       sync.Mutex
	docs     map[string]*doc
	reg      Registry
	regErr   error
	regDone  bool
	shutdown bool
	exited   bool
}

// doc is an open document.
type doc struct {
	uri     string
	name    string // the file name errors carry
	version protocol.Integer
	text    *text
	idx     *index // of text, built when first needed
	timer   *time.Timer
}

func (d *doc) index() *index {
	if d.idx == nil {
		d.idx = buildIndex(d.text.src)
	}
	return d.idx
}

// handle answers one message, as glsp's own server does, but on any stream
// (glsp's is bound to the process's standard input and output).
func (s *server) handle(ctx context.Context, conn *jsonrpc2.Conn, req *jsonrpc2.Request) (result any, err error) {
	defer func() {
		// A bug here must cost the editor one answer, not the server.
		if r := recover(); r != nil {
			fmt.Fprintf(s.cfg.Log, "omp lsp: internal error in %s: %v\n", req.Method, r)
			result, err = nil, &jsonrpc2.Error{Code: jsonrpc2.CodeInternalError, Message: fmt.Sprintf("internal error: %v", r)}
		}
	}()
	gc := &glsp.Context{
		Method: req.Method,
		Notify: func(method string, params any) { s.notify(method, params) },
		Call: func(method string, params, result any) {
			if err := conn.Call(ctx, method, params, result); err != nil {
				fmt.Fprintf(s.cfg.Log, "omp lsp: %s: %v\n", method, err)
			}
		},
	}
	if req.Params != nil {
		gc.Params = *req.Params
	}
	if req.Method == protocol.MethodExit {
		s.mu.Lock()
		s.exited = true
		s.mu.Unlock()
		return nil, conn.Close()
	}
	if !s.proto.IsInitialized() && req.Method != protocol.MethodInitialize && !req.Notif {
		return nil, &jsonrpc2.Error{Code: codeServerNotInitialized, Message: "server not initialized"}
	}
	r, validMethod, validParams, err := s.proto.Handle(gc)
	switch {
	case !validMethod:
		return nil, &jsonrpc2.Error{Code: jsonrpc2.CodeMethodNotFound, Message: "method not supported: " + req.Method}
	case !validParams:
		msg := "invalid params"
		if err != nil {
			msg = err.Error()
		}
		return nil, &jsonrpc2.Error{Code: jsonrpc2.CodeInvalidParams, Message: msg}
	case err != nil:
		return nil, &jsonrpc2.Error{Code: jsonrpc2.CodeInvalidRequest, Message: err.Error()}
	}
	return r, nil
}

func (s *server) notify(method string, params any) {
	if err := s.conn.Notify(s.ctx, method, params); err != nil {
		fmt.Fprintf(s.cfg.Log, "omp lsp: %s: %v\n", method, err)
	}
}

func (s *server) handler() *protocol.Handler {
	return &protocol.Handler{
		Initialize:  s.initialize,
		Initialized: func(*glsp.Context, *protocol.InitializedParams) error { return nil },
		Shutdown: func(*glsp.Context) error {
			s.mu.Lock()
			s.shutdown = true
			s.mu.Unlock()
			s.stopTimers()
			return nil
		},
		SetTrace:      func(*glsp.Context, *protocol.SetTraceParams) error { return nil },
		CancelRequest: func(*glsp.Context, *protocol.CancelParams) error { return nil },

		TextDocumentDidOpen:   s.didOpen,
		TextDocumentDidChange: s.didChange,
		TextDocumentDidClose:  s.didClose,
		TextDocumentDidSave:   func(*glsp.Context, *protocol.DidSaveTextDocumentParams) error { return nil },

		TextDocumentCompletion:     s.completion,
		TextDocumentHover:          s.hover,
		TextDocumentDefinition:     s.definition,
		TextDocumentReferences:     s.references,
		TextDocumentFormatting:     s.formatting,
		TextDocumentDocumentSymbol: s.documentSymbol,
		TextDocumentCodeAction:     s.codeAction,
	}
}

func (s *server) initialize(_ *glsp.Context, _ *protocol.InitializeParams) (any, error) {
	yes := true
	sync := protocol.TextDocumentSyncKindIncremental
	return protocol.InitializeResult{
		Capabilities: protocol.ServerCapabilities{
			TextDocumentSync: protocol.TextDocumentSyncOptions{OpenClose: &yes, Change: &sync},
			CompletionProvider: &protocol.CompletionOptions{
				TriggerCharacters: []string{".", "(", " ", ","},
			},
			HoverProvider:              true,
			DefinitionProvider:         true,
			ReferencesProvider:         true,
			DocumentFormattingProvider: true,
			DocumentSymbolProvider:     true,
			CodeActionProvider: protocol.CodeActionOptions{
				CodeActionKinds: []protocol.CodeActionKind{protocol.CodeActionKindQuickFix},
			},
		},
		ServerInfo: &protocol.InitializeResultServerInfo{Name: "omp"},
	}, nil
}

// fileName turns a document's URI into the name its errors carry: the
// path of a file: URI, as `omp check PATH` would print it absolute, and the
// URI itself otherwise (an unsaved buffer).
func fileName(uri string) string {
	u, err := url.Parse(uri)
	if err != nil || u.Scheme != "file" || u.Path == "" {
		return uri
	}
	return u.Path
}

func (s *server) didOpen(_ *glsp.Context, p *protocol.DidOpenTextDocumentParams) error {
	d := &doc{uri: p.TextDocument.URI, name: fileName(p.TextDocument.URI),
		version: p.TextDocument.Version, text: newText(p.TextDocument.Text)}
	s.mu.Lock()
	if old := s.docs[d.uri]; old != nil && old.timer != nil {
		old.timer.Stop()
	}
	s.docs[d.uri] = d
	diags := s.diagnose(d)
	s.mu.Unlock()
	// At once: the editor has just shown the file.
	s.publish(d.uri, d.version, diags)
	return nil
}

func (s *server) didChange(_ *glsp.Context, p *protocol.DidChangeTextDocumentParams) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	d := s.docs[p.TextDocument.URI]
	if d == nil {
		return fmt.Errorf("%s is not open", p.TextDocument.URI)
	}
	for _, c := range p.ContentChanges {
		switch c := c.(type) {
		case protocol.TextDocumentContentChangeEvent:
			d.text = d.text.edit(c.Range, c.Text)
		case protocol.TextDocumentContentChangeEventWhole:
			d.text = newText(c.Text)
		}
	}
	d.version = p.TextDocument.Version
	d.idx = nil
	if d.timer != nil {
		d.timer.Stop()
	}
	version := d.version
	d.timer = time.AfterFunc(s.cfg.Debounce, func() { s.check(d, version) })
	return nil
}

// check publishes the diagnostics of d as of version, unless it has changed
// or closed since: a newer check is then on its way.
func (s *server) check(d *doc, version protocol.Integer) {
	s.mu.Lock()
	if s.docs[d.uri] != d || d.version != version || s.shutdown {
		s.mu.Unlock()
		return
	}
	diags := s.diagnose(d)
	s.mu.Unlock()
	s.publish(d.uri, version, diags)
}

func (s *server) publish(uri string, version protocol.Integer, diags []protocol.Diagnostic) {
	v := protocol.UInteger(version)
	s.notify(protocol.ServerTextDocumentPublishDiagnostics, protocol.PublishDiagnosticsParams{URI: uri, Version: &v, Diagnostics: diags})
}

func (s *server) didClose(_ *glsp.Context, p *protocol.DidCloseTextDocumentParams) error {
	s.mu.Lock()
	d := s.docs[p.TextDocument.URI]
	delete(s.docs, p.TextDocument.URI)
	if d != nil && d.timer != nil {
		d.timer.Stop()
	}
	s.mu.Unlock()
	// A closed file's problems leave the editor's list with it.
	s.notify(protocol.ServerTextDocumentPublishDiagnostics, protocol.PublishDiagnosticsParams{URI: p.TextDocument.URI, Diagnostics: []protocol.Diagnostic{}})
	return nil
}

func (s *server) stopTimers() {
	s.mu.Lock()
	defer s.mu.Unlock()
	for _, d := range s.docs {
		if d.timer != nil {
			d.timer.Stop()
		}
	}
}

// registry returns the registry, asking Config.Registry the first time.
// s.mu is held.
func (s *server) registry() (Registry, error) {
	if !s.regDone {
		s.regDone = true
		if s.cfg.Registry == nil {
			s.regErr = errors.New("no registry of kinds")
		} else {
			s.reg, s.regErr = s.cfg.Registry()
		}
	}
	return s.reg, s.regErr
}

// withDoc calls fn with the open document uri, s.mu held.
func withDoc[T any](s *server, uri string, fn func(*doc) (T, error)) (T, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	d := s.docs[uri]
	if d == nil {
		var zero T
		return zero, fmt.Errorf("%s is not open", uri)
	}
	return fn(d)
}
