package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"path"
	"path/filepath"
	"strings"
	"time"

	"github.com/spf13/cobra"

	"github.com/ompdev/omp/store"
)

func init() { commands = append(commands, newStoreCmd) }

// StoreOptions are the flags shared by the store subcommands.
type StoreOptions struct {
	Store string // a directory or a gocloud.dev/blob URL
	Long  bool   // ls: sizes and modification times
}

func newStoreCmd(s *streams) *cobra.Command {
	opts := &StoreOptions{}
	cmd := &cobra.Command{
		Use:   "store",
		Short: "List, read and write the objects of a store (datasets, models, scripts, jobs, results)",
		Long: `A store holds the named objects that pipelines refer to: scripts/, jobs/,
datasets/, models/ and results/. It is a directory or a URL: file:///dir,
mem://, s3://bucket?endpoint=..., gs://bucket, azblob://container.`,
	}
	def := os.Getenv("OMP_STORE")
	if def == "" {
		def = "."
	}
	cmd.PersistentFlags().StringVar(&opts.Store, "store", def, "store directory or URL (default $OMP_STORE, else the current directory)")

	ls := &cobra.Command{
		Use:   "ls [PREFIX]",
		Short: "List objects whose names start with PREFIX",
		Args:  cobra.MaximumNArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			prefix := ""
			if len(args) == 1 {
				prefix = args[0]
			}
			return runStoreLs(cmd.Context(), s, opts, prefix)
		},
	}
	ls.Flags().BoolVarP(&opts.Long, "long", "l", false, "show size and modification time (UTC)")

	put := &cobra.Command{
		Use:   "put NAME FILE",
		Short: "Store FILE (- for standard input) as object NAME, atomically",
		Args:  cobra.ExactArgs(2),
		RunE: func(cmd *cobra.Command, args []string) error {
			return runStorePut(cmd.Context(), s, opts, args[0], args[1])
		},
	}
	get := &cobra.Command{
		Use:   "get NAME [FILE|DIR/]",
		Short: "Copy object NAME to FILE, into DIR, or to standard output",
		Args:  cobra.RangeArgs(1, 2),
		RunE: func(cmd *cobra.Command, args []string) error {
			file := ""
			if len(args) == 2 {
				file = args[1]
			}
			return runStoreGet(cmd.Context(), s, opts, args[0], file)
		},
	}
	cmd.AddCommand(ls, put, get)
	return cmd
}

func openStore(ctx context.Context, opts *StoreOptions) (*store.Store, error) {
	st, err := store.Open(ctx, opts.Store)
	if err != nil {
		return nil, withCode(ExitUsage, err)
	}
	return st, nil
}

// storeErr maps a store error to an exit code: a bad name, or one that a
// symbolic link leads outside the store, is a usage error, anything else (a
// missing object, a failed write) a failure.
func storeErr(name string, err error) error {
	if err == nil {
		return nil
	}
	if store.CheckName(name) != nil || errors.Is(err, store.ErrOutside) {
		return withCode(ExitUsage, err)
	}
	return withCode(ExitFailure, err)
}

func runStoreLs(ctx context.Context, s *streams, opts *StoreOptions, prefix string) error {
	st, err := openStore(ctx, opts)
	if err != nil {
		return err
	}
	defer st.Close()
	objs, err := st.List(ctx, prefix)
	if errors.Is(err, store.ErrOutside) {
		return withCode(ExitUsage, err)
	} else if err != nil {
		return withCode(ExitFailure, err)
	}
	if !opts.Long {
		for _, o := range objs {
			fmt.Fprintln(s.out, o.Name)
		}
		return nil
	}
	for _, o := range objs {
		fmt.Fprintf(s.out, "%10d  %s  %s\n", o.Size, o.Modified.UTC().Format(time.DateTime), o.Name)
	}
	return nil
}

func runStorePut(ctx context.Context, s *streams, opts *StoreOptions, name, file string) error {
	if err := store.CheckName(name); err != nil {
		return withCode(ExitUsage, err)
	}
	var data []byte
	var err error
	if file == "-" {
		data, err = io.ReadAll(s.in)
	} else {
		data, err = os.ReadFile(file)
	}
	if err != nil {
		if errors.Is(err, os.ErrNotExist) {
			return withCode(ExitUsage, fmt.Errorf("%s: no such file", file))
		}
		return withCode(ExitFailure, err)
	}
	st, err := openStore(ctx, opts)
	if err != nil {
		return err
	}
	defer st.Close()
	return storeErr(name, st.Put(ctx, name, data))
}

func runStoreGet(ctx context.Context, s *streams, opts *StoreOptions, name, file string) error {
	if err := store.CheckName(name); err != nil {
		return withCode(ExitUsage, err)
	}
	st, err := openStore(ctx, opts)
	if err != nil {
		return err
	}
	defer st.Close()
	if file != "" && file != "-" {
		file, err := getDest(name, file)
		if err != nil {
			return withCode(ExitUsage, err)
		}
		return storeErr(name, st.Fetch(ctx, name, file))
	}
	data, err := st.Get(ctx, name)
	if err != nil {
		return storeErr(name, err)
	}
	_, err = s.out.Write(data)
	return err
}

// getDest is the file that store get writes: dst itself, or the object's
// base name inside dst when dst is a directory or ends in a slash, as cp
// does.
func getDest(name, dst string) (string, error) {
	fi, err := os.Stat(dst)
	switch {
	case err == nil && fi.IsDir():
		return filepath.Join(dst, path.Base(name)), nil
	case strings.HasSuffix(dst, "/") || strings.HasSuffix(dst, string(filepath.Separator)):
		if errors.Is(err, os.ErrNotExist) {
			return "", fmt.Errorf("%s: no such directory", dst)
		}
		return "", fmt.Errorf("%s: not a directory", dst)
	}
	return dst, nil
}
