package report

import (
	"bytes"
	"context"
	"fmt"
	"io"
	"os"
	"sync/atomic"
	"testing"
	"time"

	"github.com/creack/pty"

	"github.com/ompdev/omp/compiler"
	"github.com/ompdev/omp/runtime"
)

// fanOut compiles a run of n echo tasks and a reduce.
func fanOut(t testing.TB, n int) *compiler.Graph {
	return compile(t, fmt.Sprintf("parallel < echo x(i) for i in 1..%d > -> reduce count\n", n))
}

// terminal opens a pseudo-terminal of 100×40 and counts what is written to
// it: written returns the bytes written since it was last called, once the
// reader has them.
func terminal(t testing.TB) (tty *os.File, written func() int64) {
	ptmx, tty, err := pty.Open()
	if err != nil {
		t.Fatal(err)
	}
	if err := pty.Setsize(ptmx, &pty.Winsize{Rows: 40, Cols: 100}); err != nil {
		t.Fatal(err)
	}
	// A marker written after the view tells the reader where it ends.
	const marker = "<end of view>"
	var (
		n      atomic.Int64
		marks  = make(chan int64)
		closed = make(chan struct{})
	)
	go func() {
		defer close(closed)
		buf := make([]byte, 32<<10)
		var tail []byte
		for {
			k, err := ptmx.Read(buf)
			tail = append(tail, buf[:k]...)
			for {
				i := bytes.Index(tail, []byte(marker))
				if i < 0 {
					break
				}
				marks <- n.Add(int64(i))
				tail = tail[i+len(marker):]
			}
			// Keep what may be the start of a marker.
			keep := min(len(tail), len(marker)-1)
			n.Add(int64(len(tail) - keep))
			tail = append(tail[:0], tail[len(tail)-keep:]...)
			if err != nil {
				return
			}
		}
	}()
	t.Cleanup(func() { tty.Close(); ptmx.Close(); <-closed })
	var last int64
	return tty, func() int64 {
		if _, err := io.WriteString(tty, marker); err != nil {
			t.Fatal(err)
		}
		select {
		case got := <-marks:
			d := got - last
			last = got
			return d
		case <-time.After(time.Minute):
			t.Fatal("the terminal's reader did not see the end of the view within a minute")
			return 0
		}
	}
}

type view interface {
	runtime.Listener
	Done()
}

func runView(t testing.TB, g *compiler.Graph, bus runtime.Bus, v view) {
	rep, err := runtime.Run(context.Background(), g, runtime.Config{Bus: bus, Listener: v})
	v.Done()
	if err != nil || rep.Status != runtime.Success {
		t.Fatalf("run: %v, %v", rep.Status, err)
	}
}

// TestLiveBytes runs 10,000 tasks with the terminal view on a real
// pseudo-terminal: what it writes must stay under 200 kB, where the plain
// view writes 20,000 lines.
func TestLiveBytes(t *testing.T) {
	if testing.Short() {
		t.Skip("10,000 tasks")
	}
	g := fanOut(t, 10000)
	bus := embedded(t)
	tty, written := terminal(t)
	runView(t, g, bus, NewLive(tty, g))
	if n := written(); n > 200_000 || n == 0 {
		t.Errorf("the terminal view of 10,000 tasks wrote %d bytes, want at most 200 kB", n)
	} else {
		t.Logf("the terminal view of 10,000 tasks wrote %d bytes", n)
	}
}

// BenchmarkView compares a run of 10,000 quick tasks shown by the terminal
// view, on a pseudo-terminal, with the same run shown quiet: each iteration
// runs both, in turns, so that a machine busy with other work weighs on
// both alike. tty/quiet is the ratio of their times, whose excess over 1 is
// what the view costs; bytes/op is what the view wrote.
func BenchmarkView(b *testing.B) {
	g := fanOut(b, 10000)
	bus := embedded(b)
	tty, written := terminal(b)
	var quiet, live time.Duration
	var bytes int64
	i := 0
	for b.Loop() {
		for k := range 2 {
			start := time.Now()
			if (i+k)%2 == 0 {
				runView(b, g, bus, NewConsole(io.Discard, true))
				quiet += time.Since(start)
			} else {
				runView(b, g, bus, NewLive(tty, g))
				live += time.Since(start)
				bytes += written()
			}
		}
		i++
	}
	b.ReportMetric(float64(live)/float64(quiet), "tty/quiet")
	b.ReportMetric(float64(quiet.Nanoseconds())/float64(b.N), "quiet-ns/op")
	b.ReportMetric(float64(live.Nanoseconds())/float64(b.N), "tty-ns/op")
	b.ReportMetric(float64(bytes)/float64(b.N), "bytes/op")
}

// BenchmarkLiveNotify is the terminal view's own cost in a run of 10,000
// tasks, without the run: the 20,000 updates it hears (start and success of
// each task), on a pseudo-terminal, with the drawing that goes on meanwhile.
func BenchmarkLiveNotify(b *testing.B) {
	g := fanOut(b, 10000)
	tty, _ := terminal(b)
	var tasks []*runtime.TaskReport
	var nodes []*compiler.Node
	for _, n := range g.Nodes {
		if n.Op == compiler.OpTask {
			tasks = append(tasks, &runtime.TaskReport{ID: n.ID, Kind: n.Kind, Name: n.Name, Label: n.Label, Attempts: 1})
			nodes = append(nodes, n)
		}
	}
	for b.Loop() {
		l := NewLive(tty, g)
		now := time.Now()
		for i, t := range tasks {
			l.Notify(runtime.Update{Type: runtime.UpdateState, State: runtime.Started, Task: t, Node: nodes[i], Time: now, RunID: "run"})
			l.Notify(runtime.Update{Type: runtime.UpdateState, State: runtime.Success, Task: t, Node: nodes[i], Time: now, RunID: "run"})
		}
		l.Done()
	}
}
