package main

import (
	"context"
	"io"
	"os"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"
)

// cpuTime is the CPU time this process and its waited-for children used.
func cpuTime() time.Duration {
	var self, children syscall.Rusage
	syscall.Getrusage(syscall.RUSAGE_SELF, &self)
	syscall.Getrusage(syscall.RUSAGE_CHILDREN, &children)
	d := func(t syscall.Timeval) time.Duration { return time.Duration(t.Nano()) }
	return d(self.Utime) + d(self.Stime) + d(children.Utime) + d(children.Stime)
}

// BenchmarkRecord runs what `omp run big.omp` runs, a parallel block of
// 10,000 echo tasks and a reduce, without recording and recording to a new
// SQLite file (and to PostgreSQL when $OMP_BENCH_PG names a database): the
// cost of the run history. Each iteration is a whole omp run, plugins
// started and stopped included, as a user sees it.
func BenchmarkRecord(b *testing.B) {
	dir := b.TempDir()
	file := filepath.Join(dir, "big.omp")
	if err := os.WriteFile(file, []byte("parallel < echo e(i) for i in 1..10000 > -> reduce count\n"), 0o644); err != nil {
		b.Fatal(err)
	}
	dbs := []struct{ name, flag string }{
		{"none", "--no-record"},
		{"sqlite", "--db=sqlite:" + filepath.Join(dir, "omp.db")},
	}
	if pg := os.Getenv("OMP_BENCH_PG"); pg != "" {
		dbs = append(dbs, struct{ name, flag string }{"postgres", "--db=" + pg})
	}
	for _, db := range dbs {
		b.Run(db.name, func(b *testing.B) {
			cpu := cpuTime()
			for b.Loop() {
				var out strings.Builder
				s := &streams{in: strings.NewReader(""), out: &out, err: io.Discard}
				if code := execute(context.Background(), s, []string{"run", db.flag, file}); code != ExitOK {
					b.Fatalf("omp run: exit %d", code)
				}
				if out.String() != "10000\n" {
					b.Fatalf("omp run printed %q", out.String())
				}
			}
			// On a loaded machine the wall time varies with the load;
			// the CPU time (of omp and its plugin processes) less so.
			b.ReportMetric(float64((cpuTime()-cpu).Milliseconds())/float64(b.N), "cpu-ms/op")
		})
	}
}
