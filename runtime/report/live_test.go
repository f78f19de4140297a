package report

import (
	"io"
	"strings"
	"testing"
	"time"

	"github.com/ompdev/omp/compiler"
	"github.com/ompdev/omp/runtime"
)

// TestLiveView checks the lines of the terminal view for a run in a known
// state, at two widths: a statement's line counts every task in it, a block
// repeated by a comprehension has one line, and nothing is wider than the
// terminal.
func TestLiveView(t *testing.T) {
	g := compile(t, `echo first(1)
parallel < sequence < echo a(i) -> echo b(i) > for i in 1..4 > -> reduce count
parallel < script slow(i) for i in 1..3 > -> echo last(1) with retries=2
parallel < echo never(i) for i in 1..2 > @gpu
`)
	start := time.Date(2026, 11, 30, 9, 0, 0, 0, time.UTC)
	var tr tracker
	tr.init(g, start)
	byID := map[string]*compiler.Node{}
	for _, n := range g.Nodes {
		byID[n.ID] = n
	}
	set := func(id string, st runtime.State, secs int) {
		n := byID[id]
		if n == nil {
			t.Fatalf("no node %s in %v", id, g.Nodes)
		}
		tr.update(runtime.Update{Type: runtime.UpdateState, RunID: "RUN", State: st, Node: n, Time: start.Add(time.Duration(secs) * time.Second),
			Task: &runtime.TaskReport{ID: id, Kind: n.Kind, Name: n.Name, Label: n.Label, State: st, Attempts: 1, Duration: 1.25}})
	}
	set("s1", runtime.Success, 1)
	for _, id := range []string{"s2.1.1.1.1", "s2.1.1.1.2", "s2.1.2.1.1", "s2.1.2.1.2", "s2.1.3.1.1"} {
		set(id, runtime.Success, 2)
	}
	set("s2.1.3.1.2", runtime.Started, 2)
	set("s3.1.1", runtime.Failure, 3)
	set("s3.1.2", runtime.Retry, 3)
	set("s3.1.3", runtime.Started, 3)
	tr.update(runtime.Update{Type: runtime.UpdateWarning, Label: "gpu", Message: "no worker serves label gpu (2 tasks waiting)"})
	st := newStyles(io.Discard)
	var got strings.Builder
	for _, width := range []int{100, 60} {
		tr.width = width
		view := tr.view(&st, start.Add(12*time.Second))
		for _, line := range strings.Split(strings.TrimPrefix(view, "\r"), "\n") {
			if w := len([]rune(line)); w > width {
				t.Errorf("line %q is %d wide, more than %d", line, w, width)
			}
		}
		got.WriteString(view)
	}
	golden(t, "live.txt", []byte(got.String()))
}
