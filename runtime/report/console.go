package report

import (
	"bufio"
	"fmt"
	"io"
	"maps"
	"slices"
	"strings"
	"sync"
	"time"
	"unicode/utf8"

	"github.com/ompdev/omp/compiler"
	"github.com/ompdev/omp/runtime"
)

// Console prints a run for people: one line per state change of a task, the
// tasks' log lines prefixed by the task, warnings, and, when Live, a status
// line at the bottom that is redrawn as the counts change.
//
// Notify is not safe for concurrent use; runtime.Run calls it from one
// goroutine, which is what it is for.
//
// Output is buffered and flushed within flushAfter: a run of 10,000 quick
// tasks prints 20,000 lines, and a write system call for each would slow
// the run that the lines describe.
type Console struct {
	live bool

	mu      sync.Mutex // guards w and timer against the flush timer
	w       *bufio.Writer
	timer   *time.Timer
	stopped bool

	status    string    // the status line on screen, if live
	statusAt  time.Time // when it was drawn
	lastCount runtime.Counts
}

// NewConsole returns a Console writing to w. live draws the progress line;
// set it only when w is a terminal (and CI is unset).
func NewConsole(w io.Writer, live bool) *Console {
	return &Console{w: bufio.NewWriterSize(w, 64<<10), live: live}
}

// flushAfter bounds how long a line waits in the buffer.
const flushAfter = 50 * time.Millisecond

// write buffers s and makes sure a flush follows.
func (c *Console) write(s string) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.w.WriteString(s)
	if c.timer == nil && !c.stopped {
		c.timer = time.AfterFunc(flushAfter, c.flush)
	}
}

func (c *Console) flush() {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.w.Flush()
	c.timer = nil
}

// statusEvery bounds how often the live status line is redrawn: a terminal
// cannot show 10,000 redraws a second, and writing them would slow the run.
const statusEvery = 100 * time.Millisecond

// Notify prints u.
func (c *Console) Notify(u runtime.Update) {
	c.lastCount = u.Counts
	switch u.Type {
	case runtime.UpdateState:
		if line := stateLine(u); line != "" {
			c.println(line)
		}
	case runtime.UpdateLog:
		c.println(fmt.Sprintf("  %s | %s", title(u), u.Line))
	case runtime.UpdateWarning:
		c.println("! " + u.Message)
	default:
		c.redraw(false)
	}
}

// Done clears the status line and writes out what is buffered; call it once
// the run is over. Nothing is written after Done.
func (c *Console) Done() {
	if c.live && c.status != "" {
		c.write("\r\x1b[K")
		c.status = ""
	}
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.timer != nil {
		c.timer.Stop()
		c.timer = nil
	}
	c.stopped = true
	c.w.Flush()
}

func stateLine(u runtime.Update) string {
	t := u.Task
	name := title(u)
	switch u.State {
	case runtime.Started:
		if t.Kind == "reduce" {
			return ""
		}
		if t.Worker != "" && !strings.HasPrefix(t.Worker, "embedded") {
			return fmt.Sprintf("▸ %s on %s", name, t.Worker)
		}
		return "▸ " + name
	case runtime.Success:
		return fmt.Sprintf("✓ %s (%s)", name, duration(t.Duration))
	case runtime.Retry:
		return fmt.Sprintf("↻ %s: attempt %d failed: %s; retrying in %s", name, t.Attempts, indent(u.Message), u.Backoff.Round(time.Millisecond))
	case runtime.Failure:
		return fmt.Sprintf("✗ %s: %s", name, indent(t.Error))
	case runtime.Cancelled:
		if t.Started.IsZero() {
			return "" // never ran: the summary counts it
		}
		return fmt.Sprintf("⊘ %s cancelled", name)
	}
	return ""
}

// indent keeps a multi-line error (a script's stderr tail) readable under
// the line that names the task.
func indent(s string) string {
	return strings.ReplaceAll(strings.TrimRight(s, "\n"), "\n", "\n    ")
}

func (c *Console) println(line string) {
	if c.live && c.status != "" {
		c.write("\r\x1b[K")
		c.status = ""
	}
	c.write(line + "\n")
	c.redraw(true)
}

func (c *Console) redraw(force bool) {
	if !c.live {
		return
	}
	now := time.Now()
	if !force && now.Sub(c.statusAt) < statusEvery {
		return
	}
	n := c.lastCount
	done := n.Succeeded + n.Failed + n.Cancelled
	s := fmt.Sprintf("[%d/%d] %d running, %d pending", done, n.Total, n.Running, n.Pending)
	if n.Failed > 0 {
		s += fmt.Sprintf(", %d failed", n.Failed)
	}
	if s == c.status {
		return
	}
	c.write("\r\x1b[K" + s)
	c.status, c.statusAt = s, now
}

// Summary is the last line of a run for people.
func Summary(r *runtime.Report) string {
	var ok, failed, cancelled int
	for _, t := range r.Tasks {
		switch t.State {
		case runtime.Success:
			ok++
		case runtime.Failure:
			failed++
		case runtime.Cancelled:
			cancelled++
		}
	}
	s := fmt.Sprintf("run %s %s: %d succeeded", r.RunID, r.Status, ok)
	if failed > 0 {
		s += fmt.Sprintf(", %d failed", failed)
	}
	if cancelled > 0 {
		s += fmt.Sprintf(", %d cancelled", cancelled)
	}
	return s + fmt.Sprintf(" (%s)", duration(r.Duration))
}

func duration(sec float64) string {
	d := time.Duration(sec * float64(time.Second))
	switch {
	case d < time.Millisecond:
		return d.Round(time.Microsecond).String()
	case d < time.Second:
		return d.Round(time.Millisecond).String()
	default:
		return d.Round(10 * time.Millisecond).String()
	}
}

// title names the task of u for people: its kind, name, action unless it is
// the default, and its arguments when short, so that the tasks of a
// comprehension (job myjob(1), job myjob(2)) can be told apart.
func title(u runtime.Update) string {
	if u.Task == nil {
		return ""
	}
	s := TaskTitle(u.Task)
	if u.Node != nil && u.Node.Op == compiler.OpTask {
		s += args(u.Node)
	}
	return s
}

// TaskTitle is "kind name" or "kind name.action", or "reduce REDUCER".
func TaskTitle(t *runtime.TaskReport) string {
	if t.Kind == "reduce" {
		return "reduce " + t.Action
	}
	s := t.Kind + " " + t.Name
	if t.Action != "" && t.Action != "run" {
		s += "." + t.Action
	}
	return s
}

// maxArgs is the longest argument list a title shows.
const maxArgs = 40

func args(n *compiler.Node) string {
	if len(n.Args) == 0 && len(n.Kwargs) == 0 {
		return "()"
	}
	var parts []string
	for _, a := range n.Args {
		parts = append(parts, literal(a))
	}
	for _, k := range slices.Sorted(maps.Keys(n.Kwargs)) {
		parts = append(parts, k+"="+literal(n.Kwargs[k]))
	}
	s := "(" + strings.Join(parts, ", ") + ")"
	if len(s) <= maxArgs {
		return s
	}
	// Cut on a rune boundary and say that something was cut.
	cut := maxArgs - 1
	for cut > 0 && !utf8.RuneStart(s[cut]) {
		cut--
	}
	return s[:cut] + "…)"
}

func literal(v any) string {
	if r, ok := v.(compiler.Ref); ok {
		return "$" + r.Node
	}
	b, err := compiler.AppendJSON(nil, v)
	if err != nil {
		return "?"
	}
	return string(b)
}
