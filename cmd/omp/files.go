package main

import "github.com/ompdev/omp/internal/ompfiles"

// ompFiles expands the paths of a command (see ompfiles.Expand).
func ompFiles(paths []string) ([]string, error) { return ompfiles.Expand(paths) }

// readError words a failure to read the file (see ompfiles.ReadError).
func readError(err error) error { return ompfiles.ReadError(err) }
