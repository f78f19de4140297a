package host

import (
	"fmt"
	"io"
	"log/slog"
	"strings"
	"sync"

	"github.com/hashicorp/go-hclog"

	"github.com/ompdev/omp/plugins/internal/linewriter"
)

// stderrTail keeps a plugin's last stderr lines, and the first line that
// starts a panic or a fatal error, which a long stack trace would otherwise
// push out of the tail.
type stderrTail struct {
	linewriter.Writer
	tail linewriter.Tail

	mu    sync.Mutex
	panic string
}

func newStderrTail(max int) *stderrTail {
	s := &stderrTail{tail: linewriter.Tail{Max: max}}
	s.Line = s.add
	return s
}

func (s *stderrTail) add(line string) {
	if strings.HasPrefix(line, "panic: ") || strings.HasPrefix(line, "fatal error: ") {
		s.mu.Lock()
		if s.panic == "" {
			s.panic = line
		}
		s.mu.Unlock()
	}
	s.tail.Add(line)
}

func (s *stderrTail) lines() []string { return s.tail.Lines() }

// reason is the stderr line that best explains why the plugin ended: a
// panic, else the last line that is not one of go-plugin's JSON log lines.
func (s *stderrTail) reason() string {
	s.mu.Lock()
	panicLine := s.panic
	s.mu.Unlock()
	if panicLine != "" {
		return panicLine
	}
	lines := s.tail.Lines()
	for i := len(lines) - 1; i >= 0; i-- {
		if l := strings.TrimSpace(lines[i]); l != "" && !strings.HasPrefix(l, `{"@`) {
			return l
		}
	}
	return ""
}

// logSink bridges go-plugin's hclog client log to slog, as an hclog sink:
// hclog has no slog output of its own. It keeps how the process exited,
// drops what only repeats the plugin's stderr (logged under the plugin's
// own name) and the warnings (a plugin that was killed rather than stopped
// is what omp intends), and passes errors on with the kind as an
// attribute.
type logSink struct {
	log  *slog.Logger
	kind string

	mu     sync.Mutex
	status string
}

var _ hclog.SinkAdapter = (*logSink)(nil)

func (s *logSink) logger() hclog.Logger {
	l := hclog.NewInterceptLogger(&hclog.LoggerOptions{
		Name:   "plugin",
		Level:  hclog.Info,
		Output: io.Discard,
	})
	l.RegisterSink(s)
	return l
}

// Accept takes each record of the client log; hclog's args alternate keys
// and values, as slog's do.
func (s *logSink) Accept(name string, level hclog.Level, msg string, args ...any) {
	switch {
	case msg == "plugin process exited":
		status := "exit status 0"
		for i := 0; i+1 < len(args); i += 2 {
			if args[i] == "error" {
				status = fmt.Sprint(args[i+1])
			}
		}
		s.mu.Lock()
		s.status = status
		s.mu.Unlock()
	case name != "plugin":
		// The plugin's own stderr, already in stderrTail.
	case level >= hclog.Error:
		s.log.Error(msg, append([]any{"kind", s.kind}, args...)...)
	}
}
func (s *logSink) exitStatus() string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.status
}
