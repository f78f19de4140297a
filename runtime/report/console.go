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

// Console prints a run for people where nothing is redrawn (a pipe, a CI
// log): one line per state change of a task, the tasks' log lines prefixed
// by the task, and warnings. Every line names its task uniquely, by its loop
// values or its node id. Quiet, it prints only the failures.
//
// Notify is not safe for concurrent use; runtime.Run calls it from one
// goroutine, which is what it is for.
//
// Output is buffered and flushed within flushAfter: a run of 10,000 quick
// tasks prints 20,000 lines, and a write system call for each would slow
// the run that the lines describe.
type Console struct {
	quiet bool
	names namer

	mu      sync.Mutex // guards w and timer against the flush timer
	w       *bufio.Writer
	timer   *time.Timer
	stopped bool

	// shown holds the tasks (by id) whose current attempt has its start
	// line on screen. A task done within its claim window never sends
	// STARTED: its outcome is its first word, and its start line is
	// printed then, so that every attempt that ran has one.
	shown map[string]bool
}

// NewConsole returns a Console writing to w; quiet prints only failures.
func NewConsole(w io.Writer, quiet bool) *Console {
	return &Console{w: bufio.NewWriterSize(w, 64<<10), quiet: quiet, shown: map[string]bool{}}
}

// Graph tells the console the graph that runs, so that an argument that
// refers to a let prints as the let's name.
func (c *Console) Graph(g *compiler.Graph) { c.names.graph(g) }

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

// Notify prints u.
func (c *Console) Notify(u runtime.Update) {
	switch {
	case u.Type == runtime.UpdateState && c.quiet:
		if u.State == runtime.Failure && u.Task != nil {
			c.println(fmt.Sprintf("✗ %s: %s", c.names.title(u), indent(u.Task.Error)))
		}
	case u.Type == runtime.UpdateState:
		c.state(u)
	case u.Type == runtime.UpdateLog && !c.quiet:
		c.println(fmt.Sprintf("  %s | %s", c.names.title(u), u.Line))
	case u.Type == runtime.UpdateWarning && !c.quiet:
		c.println("! " + u.Message)
	}
}

// Done writes out what is buffered; call it once the run is over. Nothing
// is written after Done.
func (c *Console) Done() {
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.timer != nil {
		c.timer.Stop()
		c.timer = nil
	}
	c.stopped = true
	c.w.Flush()
}

// state prints the line of a state change, after the start line of the
// attempt when it had none.
func (c *Console) state(u runtime.Update) {
	t := u.Task
	if t == nil || t.Kind == "reduce" && u.State == runtime.Started {
		return
	}
	name := c.names.title(u)
	switch u.State {
	case runtime.Started:
		c.shown[t.ID] = true
		c.println(startLine(name, t))
		return
	case runtime.Pending:
		if u.Message == "" {
			return
		}
		// Handed back (its worker died): the next attempt starts afresh.
		delete(c.shown, t.ID)
		c.println(fmt.Sprintf("↻ %s: %s, running again (attempt %d)", name, u.Message, t.Attempts))
		return
	}
	ran := !t.Started.IsZero() && t.Kind != "reduce"
	if ran && !c.shown[t.ID] {
		c.println(startLine(name, t))
	}
	delete(c.shown, t.ID)
	switch u.State {
	case runtime.Success:
		c.println(fmt.Sprintf("✓ %s (%s)", name, duration(t.Duration)))
	case runtime.Cached:
		c.println(fmt.Sprintf("✓ %s (cached)", name))
	case runtime.Retry:
		// The error may end in a script's stderr lines: the notice goes
		// first, so that it never reads as part of them.
		c.println(fmt.Sprintf("↻ %s: attempt %d failed, retrying in %s: %s", name, t.Attempts, u.Backoff.Round(time.Millisecond), indent(u.Message)))
	case runtime.Failure:
		c.println(fmt.Sprintf("✗ %s: %s", name, indent(t.Error)))
	case runtime.Cancelled:
		if ran {
			c.println(fmt.Sprintf("⊘ %s cancelled", name))
		} // else it never ran: the summary counts it
	}
}

func startLine(name string, t *runtime.TaskReport) string {
	if t.Worker != "" && !strings.HasPrefix(t.Worker, "embedded") {
		return fmt.Sprintf("▸ %s on %s", name, t.Worker)
	}
	return "▸ " + name
}

// indent keeps a multi-line error (a script's stderr tail) readable under
// the line that names the task.
func indent(s string) string {
	return strings.ReplaceAll(strings.TrimRight(s, "\n"), "\n", "\n    ")
}

func (c *Console) println(line string) { c.write(line + "\n") }

// Summary is the last line of a run for people.
func Summary(r *runtime.Report) string {
	var ok, cached, failed, cancelled int
	for _, t := range r.Tasks {
		switch t.State {
		case runtime.Success:
			ok++
		case runtime.Cached:
			cached++
		case runtime.Failure:
			failed++
		case runtime.Cancelled:
			cancelled++
		}
	}
	s := fmt.Sprintf("run %s %s: %d succeeded", r.RunID, r.Status, ok)
	if cached > 0 {
		s += fmt.Sprintf(", %d cached", cached)
	}
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

// namer names tasks for people.
type namer struct {
	// lets names the nodes that a let binds, for the arguments that refer
	// to them.
	lets map[string]string
}

func (c *namer) graph(g *compiler.Graph) {
	c.lets = map[string]string{}
	for _, o := range g.Outputs {
		if o.Let != "" {
			c.lets[o.Node] = o.Let
		}
	}
}

// title names the task of u uniquely: its kind, name, action unless it is
// the default, its arguments when short, and in brackets the loop values
// of a comprehension's member (job myjob(1)[i=1]) or else its node id.
func (c *namer) title(u runtime.Update) string {
	if u.Task == nil {
		return ""
	}
	s := TaskTitle(u.Task)
	if u.Node != nil && u.Node.Op == compiler.OpTask {
		s += c.args(u.Node)
	}
	if u.Node != nil && u.Node.Loop != nil {
		return s + c.loop(u.Node.Loop)
	}
	if u.Task.ID != "" {
		return s + "[" + u.Task.ID + "]"
	}
	return s
}

// loop writes a member's loop values, the outermost first: [i=1, f="a"].
func (c *namer) loop(l *compiler.Loop) string {
	var parts []string
	for ; l != nil; l = l.Outer {
		parts = append(parts, l.Var+"="+c.literal(l.Value))
	}
	slices.Reverse(parts)
	return "[" + strings.Join(parts, ", ") + "]"
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

func (c *namer) args(n *compiler.Node) string {
	if len(n.Args) == 0 && len(n.Kwargs) == 0 {
		return "()"
	}
	var parts []string
	for _, a := range n.Args {
		parts = append(parts, c.literal(a))
	}
	for _, k := range slices.Sorted(maps.Keys(n.Kwargs)) {
		parts = append(parts, k+"="+c.literal(n.Kwargs[k]))
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

// literal writes an argument as it was written: a value as JSON, a reference
// to a let as the let's name.
func (c *namer) literal(v any) string {
	var ref string
	switch r := v.(type) {
	case compiler.Ref:
		ref = r.Node
	case *compiler.Ref:
		ref = r.Node
	case []any:
		parts := make([]string, len(r))
		for i, e := range r {
			parts[i] = c.literal(e)
		}
		return "[" + strings.Join(parts, ",") + "]"
	case map[string]any:
		parts := make([]string, 0, len(r))
		for _, k := range slices.Sorted(maps.Keys(r)) {
			kb, _ := compiler.AppendJSON(nil, k)
			parts = append(parts, string(kb)+":"+c.literal(r[k]))
		}
		return "{" + strings.Join(parts, ",") + "}"
	}
	if ref != "" {
		if name, ok := c.lets[ref]; ok {
			return name
		}
		return "$" + ref
	}
	b, err := compiler.AppendJSON(nil, v)
	if err != nil {
		return "?"
	}
	return string(b)
}
