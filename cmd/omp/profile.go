package main

import (
	"fmt"
	"io"
	"os"
	"runtime/metrics"
	"runtime/pprof"
	"time"
)

// profileEnv and memProfileEnv name the environment variables that make omp
// write a CPU profile, and a heap profile taken at the largest live heap, of
// its own process to the files they name, for `go tool pprof`
// (bench/README.md). They are for omp's developers, so they are no flags.
const (
	profileEnv    = "OMP_CPUPROFILE"
	memProfileEnv = "OMP_MEMPROFILE"
)

// startProfile starts the profiles that $OMP_CPUPROFILE and $OMP_MEMPROFILE
// ask for and returns the function that ends them. The variables are removed
// from the environment, so that the plugin processes omp starts do not
// overwrite the files with profiles of their own.
func startProfile(errw io.Writer) (stop func()) {
	stopCPU := startCPUProfile(errw)
	stopMem := startHeapProfile(errw)
	return func() {
		stopCPU()
		stopMem()
	}
}

func startCPUProfile(errw io.Writer) (stop func()) {
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

// heapSampleEvery is how often the live heap is read; peaks that the
// collector sees between two reads are missed, which a profile of where the
// memory is held can afford.
const heapSampleEvery = 200 * time.Millisecond

// startHeapProfile watches the live heap and rewrites the heap profile each
// time the live heap (as of the last collection) grows over its largest
// size so far, so the
// file ends up describing the memory at (near) the peak rather than at exit,
// when the run's state is already released. The profile also carries all
// allocations up to that moment (-sample_index=alloc_space).
func startHeapProfile(errw io.Writer) (stop func()) {
	path := os.Getenv(memProfileEnv)
	if path == "" {
		return func() {}
	}
	os.Unsetenv(memProfileEnv)
	done := make(chan struct{})
	finished := make(chan struct{})
	go func() {
		defer close(finished)
		sample := []metrics.Sample{{Name: "/gc/heap/live:bytes"}}
		var peak uint64
		written := false
		tick := time.NewTicker(heapSampleEvery)
		defer tick.Stop()
		for {
			select {
			case <-done:
				if !written {
					writeHeapProfile(errw, path)
				}
				return
			case <-tick.C:
			}
			metrics.Read(sample)
			if live := sample[0].Value.Uint64(); live > peak {
				peak = live
				written = writeHeapProfile(errw, path)
			}
		}
	}()
	return func() {
		close(done)
		<-finished
	}
}

func writeHeapProfile(errw io.Writer, path string) bool {
	f, err := os.Create(path)
	if err == nil {
		err = pprof.Lookup("heap").WriteTo(f, 0)
		if cerr := f.Close(); err == nil {
			err = cerr
		}
	}
	if err != nil {
		fmt.Fprintf(errw, "omp: %s: %v\n", memProfileEnv, err)
		return false
	}
	return true
}
