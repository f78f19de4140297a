package main

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os"
	"runtime/debug"
	"strconv"
	"strings"

	"github.com/spf13/cobra"

	"github.com/ompdev/omp/compiler"
	"github.com/ompdev/omp/lang"
)

func init() { commands = append(commands, newCheckCmd) }

type checkOptions struct {
	paths    []string
	params   []string
	pipeline string
	json     bool
	format   string
}

func newCheckCmd(s *streams) *cobra.Command {
	var opts checkOptions
	cmd := &cobra.Command{
		Use:   "check PATH...",
		Short: "Check pipeline files for errors without running them",
		Long: `Check parses and compiles each file and reports every error it finds, one
per line as FILE:LINE:COL: message, followed by the source line and a caret.
It prints nothing when every file is fine. A directory stands for every
*.omp file under it.

Every pipeline block of every file is checked. With --pipeline, the named
block must also exist; -p values apply to every file.

--json prints the errors as one JSON array on standard output instead, each
{"file", "line", "column", "end_column", "severity", "message",
"suggestion"} ([] when there are none); --format github prints them as
GitHub Actions annotations, ::error file=FILE,line=LINE,col=COL::message.

Exit status: 0 fine, 2 errors, 3 a plugin a file uses cannot start.`,
		Args: cobra.MinimumNArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			opts.paths = args
			return runCheck(cmd.Context(), s, opts)
		},
	}
	f := cmd.Flags()
	f.StringArrayVarP(&opts.params, "param", "p", nil, "set parameter `NAME=VALUE` (an omp literal, else a string)")
	f.StringVar(&opts.pipeline, "pipeline", "", "also check that the pipeline block `NAME` exists")
	f.BoolVar(&opts.json, "json", false, "print the errors as a JSON array on stdout (same as --format json)")
	f.StringVar(&opts.format, "format", "text", "how to print errors: `text`, json or github")
	return cmd
}

func runCheck(ctx context.Context, s *streams, opts checkOptions) error {
	format := opts.format
	if opts.json {
		if format != "text" && format != "json" {
			return withCode(ExitUsage, fmt.Errorf("--json and --format %s contradict each other", format))
		}
		format = "json"
	}
	switch format {
	case "text", "json", "github":
	default:
		return withCode(ExitUsage, fmt.Errorf("--format %q: want text, json or github", format))
	}
	// A compile is short and allocates a lot: collecting less often makes
	// a 10,000-line file check markedly faster, and the memory is small.
	defer debug.SetGCPercent(debug.SetGCPercent(400))

	files, err := ompFiles(opts.paths)
	if err != nil {
		return withCode(ExitUsage, err)
	}
	raw, err := parseParams(opts.params)
	if err != nil {
		return withCode(ExitUsage, err)
	}
	// One plugin host for all the files, started when the first parses.
	kinds := &compileKinds{ctx: ctx, warnings: s.err}
	defer kinds.close()
	var reg compiler.Registry
	shared := func() (compiler.Registry, error) {
		if reg == nil {
			r, err := kinds.registry()
			if err != nil {
				return nil, err
			}
			reg = r
		}
		return reg, nil
	}
	check := func(f *lang.File, cfg compiler.Config) error {
		// Check, not Compile: run and graph compile only the selected
		// block, check every one.
		cfg.Pipeline = opts.pipeline
		return compiler.Check(f, cfg)
	}

	code := ExitOK
	diags := []compiler.Diagnostic{}
	for _, file := range files {
		src, err := os.ReadFile(file)
		if err != nil {
			return withCode(ExitUsage, readError(err))
		}
		errs, infra := compileSource(file, src, raw, shared, check)
		if infra != nil {
			reportInfra(s, infra)
			code = ExitInfra
			continue
		}
		if errs == nil {
			continue
		}
		code = max(code, ExitUsage)
		switch format {
		case "text":
			var list lang.ErrorList
			if !errors.As(errs, &list) {
				fmt.Fprintf(s.err, "omp: %v\n", errs)
				continue
			}
			for _, e := range list {
				printError(s.err, src, e)
			}
		case "json":
			diags = append(diags, compiler.Diagnostics(file, src, errs)...)
		case "github":
			for _, d := range compiler.Diagnostics(file, src, errs) {
				writeAnnotation(s.out, d)
			}
		}
	}
	if format == "json" {
		enc := json.NewEncoder(s.out)
		enc.SetIndent("", "  ")
		enc.SetEscapeHTML(false)
		if err := enc.Encode(diags); err != nil {
			return err
		}
	}
	if code != ExitOK {
		return reported(code)
	}
	return nil
}

// writeAnnotation prints d as a GitHub Actions workflow command, which the
// Actions runner turns into an annotation on the file's line.
func writeAnnotation(w io.Writer, d compiler.Diagnostic) {
	props := "file=" + annotationProperty(d.File)
	if d.Line > 0 {
		props += ",line=" + strconv.Itoa(d.Line) + ",col=" + strconv.Itoa(d.Column)
		if d.EndColumn > 0 {
			props += ",endColumn=" + strconv.Itoa(d.EndColumn)
		}
	}
	fmt.Fprintf(w, "::%s %s::%s\n", d.Severity, props, annotationData(d.Message))
}

// annotationData escapes a workflow command's message as the Actions
// runner unescapes it.
func annotationData(s string) string {
	return strings.NewReplacer("%", "%25", "\r", "%0D", "\n", "%0A").Replace(s)
}

// annotationProperty escapes a workflow command's property value, where
// ':' and ',' are separators too.
func annotationProperty(s string) string {
	return strings.NewReplacer("%", "%25", "\r", "%0D", "\n", "%0A", ":", "%3A", ",", "%2C").Replace(s)
}
