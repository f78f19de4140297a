package report

import (
	"fmt"
	"io"
	"slices"
	"strings"
	"sync"
	"time"

	tea "github.com/charmbracelet/bubbletea"
	"github.com/charmbracelet/lipgloss"
	"github.com/charmbracelet/x/ansi"

	"github.com/ompdev/omp/compiler"
	"github.com/ompdev/omp/runtime"
)

// Live shows a run on a terminal: one line per top-level statement and,
// under it, one per block (nested blocks indented), redrawn in place at
// most fps times a second, and a footer with the run id, the time, the rate
// and an estimate of the time left. Failures are printed once, in full,
// above the live area, and stay there; log lines are not shown.
//
// bubbletea does the terminal work: it rewrites only the lines that
// changed, cuts lines to the terminal's width, redraws after a resize and
// leaves the last frame whole when it stops. Colours follow the terminal,
// and NO_COLOR turns them off.
//
// Notify is cheap (it counts, under a lock); the drawing happens on
// bubbletea's goroutine, so a run of quick tasks does not wait for the
// terminal.
type Live struct {
	names namer
	style styles
	prog  *tea.Program
	ran   chan struct{}

	mu sync.Mutex // guards everything below, which View reads
	t  tracker
}

// fps bounds the redraws a second: more cannot be read, and would cost
// bytes and time.
const fps = 10

// NewLive starts the terminal view of a run of g on w, which must be a
// terminal. Call Done when the run is over.
func NewLive(w io.Writer, g *compiler.Graph) *Live {
	l := &Live{ran: make(chan struct{}), style: newStyles(w)}
	l.names.graph(g)
	l.t.init(g, time.Now())
	l.prog = tea.NewProgram(liveModel{l},
		tea.WithOutput(w),
		// No keyboard: Ctrl-C stays a signal to omp, which cancels the
		// run; the terminal is not put in raw mode.
		tea.WithInput(nil),
		tea.WithoutSignalHandler(),
		tea.WithoutCatchPanics(),
		tea.WithFPS(fps))
	go func() {
		defer close(l.ran)
		l.prog.Run()
	}()
	return l
}

// Notify counts u; a failure or a warning is printed above the live area.
func (l *Live) Notify(u runtime.Update) {
	l.mu.Lock()
	l.t.update(u)
	l.mu.Unlock()
	var msg string
	switch {
	case u.Type == runtime.UpdateWarning:
		msg = l.style.warn.Render("! " + u.Message)
	case u.Type != runtime.UpdateState || u.Task == nil:
		return
	case u.State == runtime.Failure:
		msg = l.failure(u)
	case u.State == runtime.Pending && u.Message != "":
		msg = l.style.warn.Render(fmt.Sprintf("↻ %s: %s, running again (attempt %d)", l.names.title(u), u.Message, u.Task.Attempts))
	default:
		return
	}
	// Send, unlike Println, does not block once the program has stopped;
	// the message goes in order with the others, before Done's.
	l.prog.Send(tea.Println(msg)())
}

// failLog is how many of a failed task's last log lines are printed.
const failLog = 5

// failure is the full account of a failed task: its name with its loop
// values, its node id and place, the error and its last log lines.
func (l *Live) failure(u runtime.Update) string {
	t := u.Task
	var b strings.Builder
	name := l.names.title(u)
	if u.Node == nil || u.Node.Loop == nil {
		// The node id follows.
		name = strings.TrimSuffix(name, "["+t.ID+"]")
	}
	b.WriteString(l.style.bad.Render("✗ " + name))
	fmt.Fprintf(&b, " (node %s", t.ID)
	if t.Pos != "" {
		b.WriteString(" at " + t.Pos)
	}
	if t.Attempts > 1 {
		fmt.Fprintf(&b, ", %d attempts", t.Attempts)
	}
	b.WriteString(")\n    " + indent(t.Error))
	logs := t.Log
	if len(logs) > failLog {
		logs = logs[len(logs)-failLog:]
	}
	for _, line := range logs {
		b.WriteString("\n" + l.style.dim.Render("    | "+line))
	}
	return b.String()
}

// Done draws the last frame and stops; nothing is written after it.
func (l *Live) Done() {
	l.mu.Lock()
	l.t.finished = time.Now()
	l.mu.Unlock()
	l.prog.Send(doneMsg{})
	<-l.ran
}

type (
	tickMsg struct{}
	doneMsg struct{}
)

// liveModel is the bubbletea model: the state is the Live's, under its lock.
type liveModel struct{ l *Live }

func tick() tea.Cmd {
	return tea.Tick(time.Second/fps, func(time.Time) tea.Msg { return tickMsg{} })
}

func (m liveModel) Init() tea.Cmd { return tick() }

func (m liveModel) Update(msg tea.Msg) (tea.Model, tea.Cmd) {
	switch msg := msg.(type) {
	case tea.WindowSizeMsg:
		m.l.mu.Lock()
		m.l.t.width = msg.Width
		m.l.mu.Unlock()
	case tickMsg:
		return m, tick()
	case doneMsg:
		return m, tea.Quit
	}
	return m, nil
}

func (m liveModel) View() string {
	m.l.mu.Lock()
	defer m.l.mu.Unlock()
	return m.l.t.view(&m.l.style, time.Now())
}

// styles colour the marks, when the terminal has colours.
type styles struct {
	ok, bad, warn, dim lipgloss.Style
}

func newStyles(w io.Writer) styles {
	r := lipgloss.NewRenderer(w)
	return styles{
		ok:   r.NewStyle().Foreground(lipgloss.Color("2")),
		bad:  r.NewStyle().Foreground(lipgloss.Color("1")),
		warn: r.NewStyle().Foreground(lipgloss.Color("3")),
		dim:  r.NewStyle().Faint(true),
	}
}

// tracker counts the tasks of each line of the view.
type tracker struct {
	rows []*row
	// rowsOf lists, for each task node, the rows that count it: its
	// statement's and each block's it is in.
	rowsOf map[string][]int
	state  map[string]runtime.State
	// waiting holds the labels that no worker serves, as warned.
	waiting map[string]bool

	runID             string
	started, finished time.Time
	total, done       int
	width             int
}

// row is one line of the view: a statement or a block.
type row struct {
	text  string
	depth int
	// labels are the labels of its tasks, for the ⏸ mark.
	labels []string

	total, running, retrying, succeeded, failed, cancelled int

	// The task of a row that has one: its state, attempt, time so far
	// (when done) and when its attempt started.
	state    runtime.State
	attempts int
	took     float64
	since    time.Time
}

func (t *tracker) init(g *compiler.Graph, now time.Time) {
	t.started = now
	t.rowsOf = make(map[string][]int, len(g.Nodes))
	t.state = make(map[string]runtime.State, len(g.Nodes))
	t.waiting = map[string]bool{}
	// Rows in source order: each statement, then its blocks, which the
	// compiler lists outer before inner, in source order.
	stmtRow := make([]int, len(g.Outputs))
	blockRow := make([]int, len(g.Blocks))
	blockDepth := make([]int, len(g.Blocks))
	for i, o := range g.Outputs {
		stmtRow[i] = len(t.rows)
		t.rows = append(t.rows, &row{text: o.Text})
		for j, b := range g.Blocks {
			if b.Stmt != i {
				continue
			}
			depth := 1
			if b.Parent > 0 {
				depth = blockDepth[b.Parent-1] + 1
			}
			if b.Text == o.Text {
				// The statement is this block: its line says it all.
				blockRow[j], blockDepth[j] = stmtRow[i], depth-1
				continue
			}
			blockRow[j], blockDepth[j] = len(t.rows), depth
			t.rows = append(t.rows, &row{text: b.Text, depth: depth})
		}
	}
	for _, n := range g.Nodes {
		if n.Op != compiler.OpTask || n.Stmt >= len(stmtRow) {
			continue
		}
		rows := []int{stmtRow[n.Stmt]}
		for b := n.Block; b > 0; b = g.Blocks[b-1].Parent {
			if r := blockRow[b-1]; r != rows[0] {
				rows = append(rows, r)
			}
		}
		t.rowsOf[n.ID] = rows
		t.total++
		for _, r := range rows {
			r := t.rows[r]
			r.total++
			if !slices.Contains(r.labels, n.Label) {
				r.labels = append(r.labels, n.Label)
			}
		}
	}
}

func (t *tracker) update(u runtime.Update) {
	if u.RunID != "" {
		t.runID = u.RunID
	}
	switch {
	case u.Type == runtime.UpdateWarning && u.Label != "":
		t.waiting[u.Label] = true
		return
	case u.Type != runtime.UpdateState || u.Task == nil:
		return
	}
	rows, ok := t.rowsOf[u.Task.ID]
	if !ok {
		return // a reduce, which the runtime computes at once
	}
	state := u.State
	if state == runtime.Started && u.Task.Attempts > 1 {
		// An attempt after a failed one is still a retry.
		state = runtime.Retry
	}
	old := t.state[u.Task.ID]
	t.state[u.Task.ID] = state
	if u.State == runtime.Started {
		// A task runs: its label has a worker.
		delete(t.waiting, u.Task.Label)
	}
	if u.State.Done() && !old.Done() {
		t.done++
	}
	for _, i := range rows {
		r := t.rows[i]
		r.count(old, -1)
		r.count(state, 1)
		if r.total == 1 {
			r.state, r.attempts, r.took = u.State, u.Task.Attempts, u.Task.Duration
			if u.State == runtime.Started {
				r.since = u.Time
			}
		}
	}
}

func (r *row) count(s runtime.State, d int) {
	switch s {
	case runtime.Started:
		r.running += d
	case runtime.Retry:
		r.retrying += d
	case runtime.Success, runtime.Cached:
		r.succeeded += d
	case runtime.Failure:
		r.failed += d
	case runtime.Cancelled:
		r.cancelled += d
	}
}

// defaultWidth is the width before the terminal has told its own.
const defaultWidth = 80

// view draws the live area: the rows, then the footer, then an empty line
// for the cursor (bubbletea clears the last line when it stops).
func (t *tracker) view(st *styles, now time.Time) string {
	width := t.width
	if width <= 0 {
		width = defaultWidth
	}
	// The counts start in one column, as wide as the widest needs.
	// On a narrow terminal the bars give way to the text.
	rights := make([]string, len(t.rows))
	marks := make([]string, len(t.rows))
	bar := barWidth
	if width < 80 {
		bar = barWidth / 2
	}
	col := 0
	for range 2 {
		col = 0
		fits := true
		for i, r := range t.rows {
			marks[i], rights[i] = r.status(st, t, bar, now)
			col = max(col, ansi.StringWidth(rights[i]))
			fits = fits && 2*r.depth+2+minText+2+col <= width
		}
		if fits || bar == 0 {
			break
		}
		bar = 0
	}
	var b strings.Builder
	// bubbletea moves up to the first line but not to its first column:
	// after a ^C or a key that the terminal echoed on the cursor's line,
	// the frame would start in the middle of the line and wrap.
	b.WriteByte('\r')
	for i, r := range t.rows {
		b.WriteString(r.line(marks[i], rights[i], col, width))
		b.WriteByte('\n')
	}
	b.WriteString(t.footer(st, width, now))
	b.WriteByte('\n')
	return b.String()
}

// mark is a row's state: ✓ ✗ ⊘ when all its tasks are done, ↻ when one is
// retrying, ⏸ when it waits for a worker, ▸ while it runs, · before.
func (r *row) mark(t *tracker, st *styles) (string, string) {
	done := r.succeeded + r.failed + r.cancelled
	switch {
	case r.total > 0 && done == r.total && r.failed > 0:
		return st.bad.Render("✗"), ""
	case r.total > 0 && done == r.total && r.cancelled > 0:
		return st.warn.Render("⊘"), ""
	case r.total > 0 && done == r.total:
		return st.ok.Render("✓"), ""
	case r.retrying > 0:
		return st.warn.Render("↻"), ""
	}
	if r.running == 0 && done < r.total {
		for _, l := range r.labels {
			if t.waiting[l] {
				return st.warn.Render("⏸"), "waiting for a worker of label " + l
			}
		}
	}
	if r.running > 0 || done > 0 {
		return "▸", ""
	}
	return st.dim.Render("·"), ""
}

// status is a row's mark and what goes right of its text: why it waits,
// a single task's state and time, or the counts of its tasks.
func (r *row) status(st *styles, t *tracker, bar int, now time.Time) (mark, right string) {
	mark, why := r.mark(t, st)
	switch {
	case why != "":
		right = why
	case r.total == 1 && r.state != "":
		switch {
		case r.state.Done():
			right = duration(r.took)
		case r.state == runtime.Started && r.attempts > 1:
			right = fmt.Sprintf("attempt %d, running %s", r.attempts, clock(now.Sub(r.since)))
		case r.state == runtime.Started:
			right = "running " + clock(now.Sub(r.since))
		case r.state == runtime.Retry:
			right = fmt.Sprintf("attempt %d failed, retrying", r.attempts)
		default:
			right = strings.ToLower(string(r.state))
		}
	case r.total > 1:
		right = r.counts(bar)
	}
	return mark, right
}

// line is one row cut to width: the mark, the source text shortened to
// what the counts leave, and the counts from column col of their own.
func (r *row) line(mark, right string, col, width int) string {
	indent := strings.Repeat("  ", r.depth)
	room := max(width-len(indent)-2-col-2, minText)
	text := ansi.Truncate(r.text, room, "…")
	if right == "" {
		return indent + mark + " " + text
	}
	pad := max(room-ansi.StringWidth(text), 0)
	return ansi.Truncate(indent+mark+" "+text+strings.Repeat(" ", pad+2)+right, width, "…")
}

// minText is the least of a statement's text a line shows; barWidth is the
// width of a progress bar on a terminal of 80 columns or more.
const (
	minText  = 12
	barWidth = 20
)

// counts is a row's progress: a bar and done/total of the tasks that ran to
// an end, and the running, retrying, failed and cancelled counts that are
// not zero.
func (r *row) counts(bar int) string {
	done := r.succeeded + r.failed
	var s string
	if bar > 0 {
		fill := done * bar / r.total
		s = strings.Repeat("█", fill) + strings.Repeat("░", bar-fill) + " "
	}
	s += fmt.Sprintf("%d/%d", done, r.total)
	if r.running > 0 {
		s += fmt.Sprintf(" %d running", r.running)
	}
	if r.retrying > 0 {
		s += fmt.Sprintf(" %d retrying", r.retrying)
	}
	if r.failed > 0 {
		s += fmt.Sprintf(" %d failed", r.failed)
	}
	if r.cancelled > 0 {
		s += fmt.Sprintf(" %d cancelled", r.cancelled)
	}
	return s
}

// etaAfter is how many tasks must have finished before the footer
// estimates the time left: the first few say little about the rest.
const etaAfter = 10

func (t *tracker) footer(st *styles, width int, now time.Time) string {
	end := now
	if !t.finished.IsZero() {
		end = t.finished
	}
	elapsed := end.Sub(t.started)
	s := fmt.Sprintf("run %s · %s · %d/%d tasks", t.runID, clock(elapsed), t.done, t.total)
	if secs := elapsed.Seconds(); secs >= 1 && t.done > 0 {
		rate := float64(t.done) / secs
		if rate < 10 {
			s += fmt.Sprintf(" · %.1f tasks/s", rate)
		} else {
			s += fmt.Sprintf(" · %.0f tasks/s", rate)
		}
		left := time.Duration(float64(t.total-t.done) / rate * float64(time.Second))
		if t.finished.IsZero() && t.done >= etaAfter && left >= time.Second {
			s += " · about " + clock(left) + " left"
		}
	}
	return st.dim.Render(ansi.Truncate(s, width, "…"))
}

// clock prints a duration to the second, as a clock does: 4s, 1m05s, 2h03m.
func clock(d time.Duration) string {
	d = d.Round(time.Second)
	h, m, s := int(d.Hours()), int(d.Minutes())%60, int(d.Seconds())%60
	switch {
	case h > 0:
		return fmt.Sprintf("%dh%02dm", h, m)
	case m > 0:
		return fmt.Sprintf("%dm%02ds", m, s)
	}
	return fmt.Sprintf("%ds", s)
}
