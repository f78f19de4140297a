package main

import (
	"fmt"
	"io"
	"os"
	"runtime/pprof"
)

// profileEnv names the environment variable that makes omp write a CPU
// profile of its own process to the file it names, for `go tool pprof`
// (bench/README.md). It is for omp's developers, so it is no flag.
const profileEnv = "OMP_CPUPROFILE"

// startProfile starts the CPU profile that $OMP_CPUPROFILE asks for and
// returns the function that ends it. The variable is removed from the
// environment, so that the plugin processes omp starts do not overwrite the
// file with profiles of their own.
func startProfile(errw io.Writer) (stop func()) {
	path := os.Getenv(profileEnv)
	if path == "" {
		return func() {}
	}
	os.Unsetenv(profileEnv)
	f, err := os.Create(path)
	if err != nil {
		fmt.Fprintf(errw, "omp: %s: %v\n", profileEnv, err)
		return func() {}
	}
	if err := pprof.StartCPUProfile(f); err != nil {
		fmt.Fprintf(errw, "omp: %s: %v\n", profileEnv, err)
		f.Close()
		return func() {}
	}
	return func() {
		pprof.StopCPUProfile()
		f.Close()
	}
}
