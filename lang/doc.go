// Package lang is the front end of the .omp pipeline language: a
// hand-written lexer, the grammar (participle struct tags on the syntax
// tree, in ast.go), and the syntax tree the parser produces.
//
// Parse works one top-level statement at a time, as the lexer finishes it.
// A hand-written recursive-descent parser (fastparse.go) builds each
// statement's tree; a statement it rejects goes to participle, which parses
// it by the grammar tags and gives the error. The fuzz test checks that the
// two accept the same statements and build the same trees.
//
// Parse never panics, whatever its input: it returns either a File whose
// every node carries its position (file, line and column), or an ErrorList
// of "file:line:col: msg" errors: every lexical error, and the first syntax
// error of each statement without one. It checks syntax only; names, kinds and types are
// the compiler's business. The language is described in spec.md at the root
// of the repository.
package lang
