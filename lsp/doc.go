// Package lsp is omp's language server: it speaks the Language Server
// Protocol (3.16, through github.com/tliron/glsp's types and
// github.com/sourcegraph/jsonrpc2's framing) to an editor on one stream.
//
// The server is a thin adapter over the parser and compiler that `omp check`
// uses, against the same registry of kinds, so its diagnostics carry exactly
// the messages and positions `omp check` prints: the line and the column
// (counted in runes by omp) are only restated in the protocol's UTF-16 code
// units. Every pipeline block of a document is checked, as `omp check` does.
//
// Requests are answered in the order they arrive, from the document's latest
// text. Diagnostics are published when a document opens and, after a change,
// once the document has been left alone for the debounce delay (200 ms by
// default), so that a burst of keystrokes costs one check; a check whose
// document changed meanwhile is not published. Navigation (definition,
// references, hover, symbols) works from the tokens, so it keeps working
// while the document does not parse.
package lsp
