package main

import (
	"bytes"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"

	"github.com/rogpeppe/go-internal/diff"
	"github.com/spf13/cobra"

	"github.com/ompdev/omp/lang"
)

func init() { commands = append(commands, newFmtCmd) }

type fmtOptions struct {
	paths []string
	write bool // -w
	diff  bool // -d
	check bool // --check
}

func newFmtCmd(s *streams) *cobra.Command {
	var opts fmtOptions
	cmd := &cobra.Command{
		Use:   "fmt [PATH...]",
		Short: "Format pipeline files in the canonical layout",
		Long: `Fmt prints each file in canonical form (spec.md, "Formatting"); every
comment is kept. A directory stands for every *.omp file under it. With no
PATH, fmt formats standard input to standard output.

A file that does not parse is left alone: its errors are printed as
omp check prints them, and the exit status is 2.

With --check, fmt lists the files that are not formatted and exits 1 if
there are any; use it in CI.`,
		RunE: func(cmd *cobra.Command, args []string) error {
			opts.paths = args
			return runFmt(s, opts)
		},
	}
	f := cmd.Flags()
	f.BoolVarP(&opts.write, "write", "w", false, "rewrite the files in place instead of printing them")
	f.BoolVarP(&opts.diff, "diff", "d", false, "print a unified diff of the changes instead of the files")
	f.BoolVar(&opts.check, "check", false, "list the files that are not formatted, exit 1 if any")
	return cmd
}

func runFmt(s *streams, opts fmtOptions) error {
	if len(opts.paths) == 0 {
		if opts.write {
			return withCode(ExitUsage, errors.New("-w needs a PATH: standard input cannot be rewritten"))
		}
		src, err := io.ReadAll(s.in)
		if err != nil {
			return withCode(ExitUsage, err)
		}
		return fmtEnd(fmtOne(s, opts, "<stdin>", src, nil))
	}
	files, err := ompFiles(opts.paths)
	if err != nil {
		return withCode(ExitUsage, err)
	}
	code := ExitOK
	for _, file := range files {
		src, err := os.ReadFile(file)
		if err != nil {
			return withCode(ExitUsage, readError(err))
		}
		var write func([]byte) error
		if opts.write {
			write = func(out []byte) error { return writeAtomic(file, out) }
		}
		c, err := fmtOne(s, opts, file, src, write)
		if err != nil {
			return err
		}
		code = max(code, c)
	}
	return fmtEnd(code, nil)
}

func fmtEnd(code ExitCode, err error) error {
	if err != nil {
		return err
	}
	if code != ExitOK {
		return reported(code)
	}
	return nil
}

// fmtOne formats one file's source and does with it what opts say. It
// returns ExitUsage for a file that does not parse, ExitFailure for an
// unformatted one under --check.
func fmtOne(s *streams, opts fmtOptions, name string, src []byte, write func([]byte) error) (ExitCode, error) {
	out, err := lang.Format(src, name)
	if err != nil {
		var list lang.ErrorList
		if !errors.As(err, &list) {
			return 0, withCode(ExitUsage, err)
		}
		for _, e := range list {
			printError(s.err, src, e)
		}
		return ExitUsage, nil
	}
	changed := !bytes.Equal(out, src)
	if opts.diff && changed {
		s.out.Write(diff.Diff(name+".orig", src, name, out))
	}
	if opts.check && changed {
		fmt.Fprintln(s.out, name)
	}
	if write != nil && changed {
		if err := write(out); err != nil {
			return 0, withCode(ExitUsage, err)
		}
	}
	if !opts.diff && !opts.check && write == nil {
		s.out.Write(out)
	}
	if opts.check && changed {
		return ExitFailure, nil
	}
	return ExitOK, nil
}

// writeAtomic replaces file with data, keeping its mode: data goes to a
// temporary file in the same directory, which is then renamed over file,
// so that a reader (or a crash) sees the old file or the new one, never
// half of one.
func writeAtomic(file string, data []byte) error {
	fi, err := os.Stat(file)
	if err != nil {
		return readError(err)
	}
	tmp, err := os.CreateTemp(filepath.Dir(file), "."+filepath.Base(file)+".*.tmp")
	if err != nil {
		return err
	}
	defer os.Remove(tmp.Name()) // after a failure; a no-op after the rename
	if _, err := tmp.Write(data); err != nil {
		tmp.Close()
		return err
	}
	if err := tmp.Chmod(fi.Mode().Perm()); err != nil {
		tmp.Close()
		return err
	}
	if err := tmp.Close(); err != nil {
		return err
	}
	return os.Rename(tmp.Name(), file)
}
