package main

import (
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"strings"
)

// ompFiles expands the paths of `omp check` and `omp fmt`: a file is taken
// as given, whatever its name; a directory stands for every *.omp file under
// it, in lexical order, except in directories whose name starts with "."
// (.git and the like). A directory without any is an error, so that a
// mistyped path does not pass a CI check by checking nothing.
func ompFiles(paths []string) ([]string, error) {
	var files []string
	for _, root := range paths {
		fi, err := os.Stat(root)
		if err != nil {
			return nil, readError(err)
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
			return nil, readError(err)
		}
		if len(files) == n {
			return nil, fmt.Errorf("%s: no .omp files in the directory", root)
		}
	}
	return files, nil
}
