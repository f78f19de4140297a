package main

import (
	"bytes"
	"errors"
	"fmt"
	"io"
	"os"
	"runtime/debug"
	"strings"
	"unicode/utf8"

	"github.com/ompdev/omp/compiler"
	"github.com/ompdev/omp/lang"
)

// loadGraph reads, parses and compiles file with the -p values and the
// --pipeline name given, against the kinds of the registry that kinds
// returns (see hostRegistry).
// Compile errors are printed to s.err, each as FILE:LINE:COL: message with
// the source line and a caret under the column, and end the process with
// ExitUsage.
func loadGraph(s *streams, file string, params []string, pipeline string, kinds func() (compiler.Registry, error)) (*compiler.Graph, error) {
	var g *compiler.Graph
	err := load(s, file, params, kinds, func(f *lang.File, cfg compiler.Config) error {
		cfg.Pipeline = pipeline
		var err error
		g, err = compiler.Compile(f, cfg)
		return err
	})
	return g, err
}

// load does the work common to every command that reads a .omp file: read,
// parse, parse the -p values, get the kinds, then call compile and report
// its errors.
func load(s *streams, file string, params []string, kinds func() (compiler.Registry, error), compile func(*lang.File, compiler.Config) error) error {
	// A compile is short and allocates a lot: collecting less often makes
	// a 10,000-line file check markedly faster, and the memory is small.
	defer debug.SetGCPercent(debug.SetGCPercent(400))

	src, err := os.ReadFile(file)
	if err != nil {
		return withCode(ExitUsage, readError(err))
	}
	raw, err := parseParams(params)
	if err != nil {
		return withCode(ExitUsage, err)
	}
	f, err := lang.Parse(file, src)
	if err != nil {
		return reportErrors(s, src, err)
	}
	reg, err := kinds()
	if err != nil {
		return withCode(ExitInfra, err)
	}
	err = compile(f, compiler.Config{Registry: reg, Params: raw})
	if r, ok := reg.(*hostRegistry); ok && r.Err() != nil {
		return reportInfra(s, r.Err())
	}
	if err != nil {
		return reportErrors(s, src, err)
	}
	return nil
}

// readError words a failure to read the file without Go's "open" prefix
// where a plainer message says it better.
func readError(err error) error {
	var pe *os.PathError
	if errors.As(err, &pe) {
		switch {
		case errors.Is(err, os.ErrNotExist):
			return fmt.Errorf("%s: no such file", pe.Path)
		case errors.Is(err, os.ErrPermission):
			return fmt.Errorf("%s: permission denied", pe.Path)
		}
		return fmt.Errorf("%s: %v", pe.Path, pe.Err)
	}
	return err
}

// parseParams splits -p NAME=VALUE flags; a later value for a name wins.
func parseParams(params []string) (map[string]string, error) {
	raw := make(map[string]string, len(params))
	for _, p := range params {
		name, value, ok := strings.Cut(p, "=")
		if !ok || name == "" {
			return nil, fmt.Errorf("-p %q: want NAME=VALUE", p)
		}
		raw[name] = value
	}
	return raw, nil
}

// reportErrors prints a lang.ErrorList (or any error) and returns the
// already-reported usage error.
func reportErrors(s *streams, src []byte, err error) error {
	var list lang.ErrorList
	if !errors.As(err, &list) {
		return withCode(ExitUsage, err)
	}
	for _, e := range list {
		printError(s.err, src, e)
	}
	return reported(ExitUsage)
}

// printError prints one error as FILE:LINE:COL: message, then the source
// line and a caret under the column, as compilers do.
func printError(w io.Writer, src []byte, e *lang.Error) {
	fmt.Fprintln(w, e.Error())
	line, ok := sourceLine(src, e.Pos.Line)
	if !ok {
		return
	}
	var caret strings.Builder
	col := 1
	for _, r := range line {
		if col >= e.Pos.Column {
			break
		}
		// Keep tabs, so that the caret lines up however tabs are shown.
		if r == '\t' {
			caret.WriteByte('\t')
		} else {
			caret.WriteByte(' ')
		}
		col++
	}
	caret.WriteByte('^')
	fmt.Fprintf(w, "\t%s\n\t%s\n", line, caret.String())
}

// sourceLine returns line n (1-based) of src without its newline.
func sourceLine(src []byte, n int) (string, bool) {
	if n < 1 {
		return "", false
	}
	for i := 1; i < n; i++ {
		k := bytes.IndexByte(src, '\n')
		if k < 0 {
			return "", false
		}
		src = src[k+1:]
	}
	if k := bytes.IndexByte(src, '\n'); k >= 0 {
		src = src[:k]
	}
	line := strings.TrimRight(string(src), "\r")
	if !utf8.ValidString(line) {
		line = strings.ToValidUTF8(line, "\uFFFD")
	}
	return line, true
}
