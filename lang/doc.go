// Package lang is the front end of the .omp pipeline language: a
// hand-written lexer, a participle grammar and the syntax tree it produces.
//
// Parse never panics, whatever its input: it returns either a File whose
// every node carries its position (file, line and column), or an ErrorList
// of "file:line:col: msg" errors. It checks syntax only; names, kinds and
// types are the compiler's business. The language itself is described in
// spec.md at the root of the repository.
package lang
