// Package linewriter turns the output of a kind's child process, written in
// pieces of any size, into whole lines, as the logs and error messages of a
// task want them, and keeps the last few lines to explain a failure.
package linewriter

import (
	"bytes"
	"sync"
)

// Writer is an io.Writer that passes on each line written to it as soon as
// the line is complete. It is safe for concurrent use; Line is called with
// the writer's lock held, so one line at a time and in order.
type Writer struct {
	// Line receives each line without its "\n" (a "\r" before it stays).
	Line func(line string)
	// Max, if positive, bounds a line kept waiting for its end: past it,
	// what was written so far is passed on as a line of its own.
	Max int

	mu      sync.Mutex
	partial []byte
}

func (w *Writer) Write(p []byte) (int, error) {
	w.mu.Lock()
	defer w.mu.Unlock()
	data := append(w.partial, p...)
	for {
		i := bytes.IndexByte(data, '\n')
		if i < 0 {
			break
		}
		w.Line(string(data[:i]))
		data = data[i+1:]
	}
	if w.Max > 0 && len(data) > w.Max {
		w.Line(string(data))
		data = nil
	}
	w.partial = append(w.partial[:0:0], data...)
	return len(p), nil
}

// Flush passes on the last line written if it has no end yet.
func (w *Writer) Flush() {
	w.mu.Lock()
	defer w.mu.Unlock()
	if len(w.partial) > 0 {
		w.Line(string(w.partial))
		w.partial = nil
	}
}

// Tail keeps the last Max lines added to it. It is safe for concurrent use.
type Tail struct {
	Max int

	mu  sync.Mutex
	buf []string
}

func (t *Tail) Add(line string) {
	t.mu.Lock()
	defer t.mu.Unlock()
	t.buf = append(t.buf, line)
	if len(t.buf) > t.Max {
		t.buf = t.buf[len(t.buf)-t.Max:]
	}
}

// Lines returns a copy of the lines kept, oldest first.
func (t *Tail) Lines() []string {
	t.mu.Lock()
	defer t.mu.Unlock()
	return append([]string(nil), t.buf...)
}
