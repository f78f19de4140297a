// Package ompfiles finds the .omp files that paths on a command line stand
// for, as omp check, fmt, schedules and serve read them.
package ompfiles

import (
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"strings"
)

// Expand expands the paths of `omp check` and `omp fmt`: a file is taken
// as given, whatever its name; a directory stands for every *.omp file under
// it, in lexical order, except in directories whose name starts with "."
// (.git and the like). A directory without any is an error, so that a
// mistyped path does not pass a CI check by checking nothing.
func Expand(paths []string) ([]string, error) {
	var files []string
	for _, root := range paths {
		fi, err := os.Stat(root)
		if err != nil {
			return nil, ReadError(err)
		}
		if !fi.IsDir() {
			files = append(files, root)
			continue
		}
		n := len(files)
		err = filepath.WalkDir(root, func(path string, d fs.DirEntry, err error) error {
			if err != nil {
				return err
			}
			if d.IsDir() {
				if path != root && strings.HasPrefix(d.Name(), ".") {
					return filepath.SkipDir
				}
				return nil
			}
			if strings.HasSuffix(d.Name(), ".omp") {
				files = append(files, path)
			}
			return nil
		})
		if err != nil {
			return nil, ReadError(err)
		}
		if len(files) == n {
			return nil, fmt.Errorf("%s: no .omp files in the directory", root)
		}
	}
	return files, nil
}

// ReadError words a failure to read a file without Go's "open" prefix
// where a plainer message says it better.
func ReadError(err error) error {
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
