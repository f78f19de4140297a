package main

import (
	"bytes"
	"errors"
	"fmt"
	"io"
	"os"
	"runtime/debug"
	"strconv"
	"strings"
	"unicode"
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
	errs, infra := compileSource(file, src, raw, kinds, compile)
	if infra != nil {
		return reportInfra(s, infra)
	}
	if errs != nil {
		return reportErrors(s, src, errs)
	}
	return nil
}

// compileSource parses src and calls compile on it. errs is what is wrong
// with the file (a lang.ErrorList from the parser or the compiler); infra
// is a failure of the kinds, such as a plugin the file uses that cannot
// start (see reportInfra).
func compileSource(file string, src []byte, raw map[string]string, kinds func() (compiler.Registry, error), compile func(*lang.File, compiler.Config) error) (errs, infra error) {
	f, err := lang.Parse(file, src)
	if err != nil {
		return err, nil
	}
	reg, err := kinds()
	if err != nil {
		return nil, err
	}
	// A registry shared by several files remembers the failures of all:
	// only the new ones concern this file.
	r, _ := reg.(*hostRegistry)
	seen := 0
	if r != nil {
		_, seen = r.ErrsSince(0)
	}
	err = compile(f, compiler.Config{Registry: reg, Params: raw})
	if r != nil {
		if errs, _ := r.ErrsSince(seen); len(errs) > 0 {
			return nil, errors.Join(errs...)
		}
	}
	return err, nil
}

// parseParams splits -p NAME=VALUE flags. A name given twice is an error:
// silently taking either value would run something the user did not ask for.
func parseParams(params []string) (map[string]string, error) {
	raw := make(map[string]string, len(params))
	for _, p := range params {
		name, value, ok := strings.Cut(p, "=")
		if !ok || name == "" {
			return nil, fmt.Errorf("-p %q: want NAME=VALUE", p)
		}
		if prev, dup := raw[name]; dup {
			return nil, fmt.Errorf("-p %s is given twice (%q and %q)", name, prev, value)
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
// line and a caret under the column, as compilers do. The line is a file's
// content, so it is made safe for a terminal: control characters are
// escaped, and a long line is cut to about echoWidth characters around the
// column, with … where it was cut.
func printError(w io.Writer, src []byte, e *lang.Error) {
	fmt.Fprintln(w, e.Error())
	line, ok := sourceLine(src, e.Pos.Line)
	if !ok {
		return
	}
	text, caret := echoLine(line, e.Pos.Column)
	fmt.Fprintf(w, "\t%s\n\t%s\n", text, caret)
}

// echoWidth is about how many characters of a source line are echoed.
const echoWidth = 120

// echoLine returns the part of line to echo for column col (1-based, in
// runes) and the caret line that points at it.
func echoLine(line string, col int) (text, caret string) {
	// Only the runes within echoWidth of the column can be shown: cut the
	// rest first, so that a megabyte line costs no more than a short one.
	at := max(col-1, 0)
	start, end, i := 0, len(line), 0
	for off := range line {
		if i == at-echoWidth {
			start = off
		}
		if i == at+echoWidth {
			end = off
			break
		}
		i++
	}
	at -= max(at-echoWidth, 0)
	// Each rune as it is shown: control and format characters (escape
	// sequences, bidirectional overrides) as Go escapes.
	var shown []string
	for _, r := range line[start:end] {
		switch {
		case r == '\t':
			shown = append(shown, "\t")
		case unicode.IsControl(r) || unicode.Is(unicode.Cf, r):
			q := strconv.QuoteRuneToASCII(r)
			shown = append(shown, q[1:len(q)-1])
		default:
			shown = append(shown, string(r))
		}
	}
	at = min(at, len(shown)) // the caret may stand past the end
	width := func(i int) int { return utf8.RuneCountInString(shown[i]) }
	lo, hi := 0, len(shown)
	total := 0
	for i := range shown {
		total += width(i)
	}
	if total > echoWidth {
		// Grow a window from the column, a little more to the left than
		// to the right, until it is full.
		lo, hi = at, at
		used := 0
		for used < echoWidth && (lo > 0 || hi < len(shown)) {
			if lo > 0 && (hi == len(shown) || at-lo < 2*(hi-at)+1) {
				lo--
				used += width(lo)
			} else {
				used += width(hi)
				hi++
			}
		}
	}
	var t, c strings.Builder
	if lo > 0 || start > 0 {
		t.WriteString("…")
		c.WriteByte(' ')
	}
	for i := lo; i < hi; i++ {
		t.WriteString(shown[i])
		if i < at {
			// Keep tabs, so that the caret lines up however tabs are
			// shown.
			if shown[i] == "\t" {
				c.WriteByte('\t')
			} else {
				c.WriteString(strings.Repeat(" ", width(i)))
			}
		}
	}
	if hi < len(shown) || end < len(line) {
		t.WriteString("…")
	}
	c.WriteByte('^')
	return t.String(), c.String()
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
