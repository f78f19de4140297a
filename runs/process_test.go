package runs_test

import (
	"context"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/ompdev/omp/runs"
)

// writerEnv makes this test binary a writer process (see TestMain): the
// value is "URL RUNID".
const writerEnv = "OMP_RUNS_TEST_WRITER"

const writerBatches, writerLines = 40, 50

func TestMain(m *testing.M) {
	if v := os.Getenv(writerEnv); v != "" {
		url, id, _ := strings.Cut(v, " ")
		if err := writer(url, id); err != nil {
			fmt.Fprintln(os.Stderr, err)
			os.Exit(1)
		}
		os.Exit(0)
	}
	os.Exit(m.Run())
}

// writer records one run as a runner does, and reads the history between
// batches as omp status would.
func writer(url, id string) error {
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	s, err := runs.Open(ctx, url)
	if err != nil {
		return err
	}
	defer s.Close()
	now := time.Now()
	if err := s.Create(ctx, &runs.Run{ID: id, File: "/f.omp", Pipeline: "main", Started: now}); err != nil {
		return err
	}
	for b := range writerBatches {
		batch := runs.Batch{RunID: id, Tasks: []runs.Task{{Node: fmt.Sprint("s", b), State: "SUCCESS"}}}
		for l := range writerLines {
			batch.Logs = append(batch.Logs, runs.LogLine{Node: "s1", Time: now, Line: fmt.Sprint(b, " ", l)})
		}
		if err := s.Write(ctx, batch); err != nil {
			return err
		}
		if _, err := s.Beat(ctx, id, time.Now()); err != nil {
			return err
		}
		if _, err := s.Runs(ctx, runs.Filter{Limit: 5}); err != nil {
			return err
		}
	}
	return s.Finish(ctx, id, runs.Success, 0, time.Now())
}

// TestSQLiteProcesses: runners in separate processes share one SQLite
// file (file locks, not the in-process ones the suite meets): each records
// everything, none sees "database is locked". The file is new, so they
// also race to create and migrate it.
func TestSQLiteProcesses(t *testing.T) {
	const procs = 3
	url := "sqlite:" + filepath.Join(t.TempDir(), "omp.db")
	var wg sync.WaitGroup
	for i := range procs {
		wg.Go(func() {
			cmd := exec.CommandContext(t.Context(), os.Args[0], "-test.run=^$")
			cmd.Env = append(os.Environ(), writerEnv+"="+url+" "+fmt.Sprint("p", i))
			if out, err := cmd.CombinedOutput(); err != nil {
				t.Errorf("writer p%d: %v\n%s", i, err, out)
			}
		})
	}
	wg.Wait()
	s := openStore(t, url)
	for i := range procs {
		id := fmt.Sprint("p", i)
		r, err := s.Run(t.Context(), id)
		if err != nil {
			t.Fatal(err)
		}
		ls, err := s.Logs(t.Context(), id, "", 0)
		if err != nil {
			t.Fatal(err)
		}
		ts, err := s.Tasks(t.Context(), id)
		if err != nil {
			t.Fatal(err)
		}
		if r.Status != runs.Success || len(ls) != writerBatches*writerLines || len(ts) != writerBatches {
			t.Errorf("%s: %s, %d lines, %d tasks; want SUCCESS, %d, %d", id, r.Status, len(ls), len(ts), writerBatches*writerLines, writerBatches)
		}
		for j, l := range ls {
			if l.Seq != int64(j+1) {
				t.Fatalf("%s: line %d has seq %d", id, j, l.Seq)
			}
		}
	}
}
