package main

import (
	"context"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/ompdev/omp/internal/pgtest"
	"github.com/ompdev/omp/internal/testbin"
	"github.com/ompdev/omp/runs"
)

// The tests here run omp serve as real processes on a real PostgreSQL
// database and check, from the run history, what they fired.

// ompBinary is omp as the tests run it: the copy of the test binary that
// TestMain puts on $PATH, so that no second omp is built and linked.
func ompBinary(t *testing.T) string {
	t.Helper()
	omp, err := exec.LookPath("omp")
	if err != nil {
		t.Fatalf("omp is not on $PATH, where TestMain puts it: %v", err)
	}
	return omp
}

// server is one omp serve process.
type server struct {
	cmd    *exec.Cmd
	stderr *testbin.Buffer
}

func startServer(t *testing.T, db, dir string) *server {
	t.Helper()
	cmd := exec.Command(ompBinary(t), "serve", "--db", db, "--listen", "127.0.0.1:0", "--grace", "5s", dir)
	var buf testbin.Buffer
	cmd.Stderr = &buf
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	s := &server{cmd: cmd, stderr: &buf}
	t.Cleanup(func() {
		if cmd.ProcessState == nil {
			cmd.Process.Kill()
			cmd.Wait()
		}
		if t.Failed() {
			t.Logf("omp serve %d:\n%s", cmd.Process.Pid, buf.String())
		}
	})
	return s
}

// stop sends SIGTERM and waits, for at most 30s.
func (s *server) stop(t *testing.T) {
	t.Helper()
	s.cmd.Process.Signal(syscall.SIGTERM)
	done := make(chan error, 1)
	go func() { done <- s.cmd.Wait() }()
	select {
	case err := <-done:
		if err != nil {
			t.Errorf("omp serve %d after SIGTERM: %v", s.cmd.Process.Pid, err)
		}
	case <-time.After(30 * time.Second):
		t.Errorf("omp serve %d did not stop within 30s of SIGTERM", s.cmd.Process.Pid)
		s.cmd.Process.Kill()
		<-done
	}
}

func servedDir(t *testing.T, src string) string {
	t.Helper()
	dir := t.TempDir()
	if err := os.WriteFile(filepath.Join(dir, "tick.omp"), []byte(src), 0o644); err != nil {
		t.Fatal(err)
	}
	return dir
}

func ticksOf(t *testing.T, db string) ([]runs.Tick, []runs.Run) {
	t.Helper()
	s, err := runs.Open(context.Background(), db)
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	ticks, err := s.Ticks(context.Background(), "tick.omp", "every")
	if err != nil {
		t.Fatal(err)
	}
	rs, err := s.Runs(context.Background(), runs.Filter{Pipeline: "every"})
	if err != nil {
		t.Fatal(err)
	}
	return ticks, rs
}

// waitTicks waits, for at most a minute, until n ticks are claimed.
func waitTicks(t *testing.T, db string, n int) {
	t.Helper()
	deadline := time.Now().Add(time.Minute)
	for {
		if ticks, _ := ticksOf(t, db); len(ticks) >= n {
			return
		}
		if time.Now().After(deadline) {
			t.Fatalf("fewer than %d ticks claimed within a minute", n)
		}
		time.Sleep(200 * time.Millisecond)
	}
}

// consecutive reports the gaps between ticks that are not one interval.
func gaps(ticks []runs.Tick, every time.Duration) []string {
	var out []string
	for i := 1; i < len(ticks); i++ {
		if d := ticks[i].At.Sub(ticks[i-1].At); d != every {
			out = append(out, fmt.Sprintf("%s after %s", ticks[i].At.UTC().Format(time.TimeOnly), d))
		}
	}
	return out
}

// TestServeReplicasExactlyOnce: three replicas on one PostgreSQL database,
// an @every 2s schedule, 20s: every tick fired exactly once, no gap; one
// replica killed with kill -9 half-way changes neither.
func TestServeReplicasExactlyOnce(t *testing.T) {
	if testing.Short() {
		t.Skip("runs for 20s")
	}
	t.Parallel()
	db := pgtest.DB(t)
	dir := servedDir(t, "pipeline every with schedule=\"@every 2s\", overlap=\"allow\" {\n  echo hello(\"tick\")\n}\n")
	var servers []*server
	for range 3 {
		servers = append(servers, startServer(t, db, dir))
	}
	waitTicks(t, db, 1)
	start := time.Now()
	time.Sleep(10 * time.Second)
	killed := servers[0].cmd.Process.Pid
	servers[0].cmd.Process.Kill()
	servers[0].cmd.Wait()
	time.Sleep(time.Until(start.Add(20 * time.Second)))
	for _, s := range servers[1:] {
		s.stop(t)
	}
	ticks, rs := ticksOf(t, db)
	if len(ticks) < 9 {
		t.Fatalf("%d ticks in 20s of @every 2s, want at least 9", len(ticks))
	}
	if g := gaps(ticks, 2*time.Second); len(g) > 0 {
		t.Errorf("gaps between ticks: %v", g)
	}
	perTick := map[int64]int{}
	for _, r := range rs {
		if r.Trigger != runs.TriggerSchedule {
			t.Errorf("run %s: trigger %q, want schedule", r.ID, r.Trigger)
		}
		perTick[r.Tick.UnixNano()]++
	}
	byServer := map[string]int{}
	for _, tk := range ticks {
		byServer[tk.Server]++
		if tk.Outcome != runs.TickFired {
			t.Errorf("tick %v: %s, want fired", tk.At, tk.Outcome)
		}
		n := perTick[tk.At.UnixNano()]
		// The killed replica may have died between its claim of a tick
		// and the run: that tick it held has no run. Any other has one.
		if n > 1 || n == 0 && !strings.HasSuffix(tk.Server, fmt.Sprintf("-%d", killed)) {
			t.Errorf("tick %v (server %s) has %d runs, want 1", tk.At, tk.Server, n)
		}
	}
	if len(rs) > len(ticks) {
		t.Errorf("%d runs for %d ticks", len(rs), len(ticks))
	}
	t.Logf("%d ticks, %d runs, by server: %v", len(ticks), len(rs), byServer)
}

// TestServeOverlapSkip: runs of 5s on an @every 2s schedule: the ticks that
// come while one runs are recorded as skipped.
func TestServeOverlapSkip(t *testing.T) {
	if testing.Short() {
		t.Skip("runs for 12s")
	}
	t.Parallel()
	db := pgtest.DB(t)
	dir := servedDir(t, "pipeline every with schedule=\"@every 2s\" {\n  echo hello(\"slow\", sleep=\"5s\")\n}\n")
	s := startServer(t, db, dir)
	waitTicks(t, db, 6)
	s.stop(t)
	ticks, _ := ticksOf(t, db)
	if g := gaps(ticks, 2*time.Second); len(g) > 0 {
		t.Errorf("gaps between ticks: %v", g)
	}
	fired, skipped := 0, 0
	for i, tk := range ticks {
		switch tk.Outcome {
		case runs.TickFired:
			fired++
			// A 5s run covers the next two ticks.
			for j := i + 1; j < len(ticks) && j <= i+2; j++ {
				if ticks[j].Outcome != runs.TickSkipped {
					t.Errorf("tick %d is %s while the run of tick %d runs", j, ticks[j].Outcome, i)
				}
			}
		case runs.TickSkipped:
			skipped++
		}
	}
	if fired < 2 || skipped < 3 {
		t.Errorf("%d fired, %d skipped of %d ticks; want runs and skips in turn", fired, skipped, len(ticks))
	}
}

// TestServeCatchup: a server stopped for 7s and started again fires the
// missed ticks once each with catchup=true, and none with false.
func TestServeCatchup(t *testing.T) {
	if testing.Short() {
		t.Skip("runs for 15s")
	}
	for _, catchup := range []bool{true, false} {
		t.Run(fmt.Sprint(catchup), func(t *testing.T) {
			t.Parallel()
			db := pgtest.DB(t)
			dir := servedDir(t, fmt.Sprintf("pipeline every with schedule=\"@every 2s\", overlap=\"allow\", catchup=%t {\n  echo hello(\"tick\")\n}\n", catchup))
			s := startServer(t, db, dir)
			waitTicks(t, db, 2)
			s.stop(t)
			before, _ := ticksOf(t, db)
			time.Sleep(7 * time.Second)
			s = startServer(t, db, dir)
			waitTicks(t, db, len(before)+5)
			s.stop(t)
			ticks, rs := ticksOf(t, db)
			g := gaps(ticks, 2*time.Second)
			if catchup && len(g) > 0 {
				t.Errorf("catchup=true left gaps: %v", g)
			}
			if !catchup && len(g) != 1 {
				t.Errorf("catchup=false: gaps %v, want one (the missed ticks)", g)
			}
			perTick := map[int64]int{}
			for _, r := range rs {
				perTick[r.Tick.UnixNano()]++
			}
			for _, tk := range ticks {
				if perTick[tk.At.UnixNano()] != 1 {
					t.Errorf("tick %v has %d runs, want 1", tk.At, perTick[tk.At.UnixNano()])
				}
			}
		})
	}
}
