package host

import (
	"bytes"
	"encoding/json"
	"fmt"
	"io"
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

// logSink receives go-plugin's client log as JSON lines. It keeps how the
// process exited, drops what only repeats the plugin's stderr and the
// warnings (a plugin that was killed rather than stopped is what omp
// intends), and passes errors on as plain lines.
type logSink struct {
	out  io.Writer
	kind string

	mu     sync.Mutex
	status string
}

func (s *logSink) logger() hclog.Logger {
	return hclog.New(&hclog.LoggerOptions{
		Name:       "plugin",
		Level:      hclog.Info,
		Output:     s,
		JSONFormat: true,
	})
}

func (s *logSink) Write(p []byte) (int, error) {
	for _, line := range bytes.Split(bytes.TrimSpace(p), []byte("\n")) {
		var entry map[string]any
		if json.Unmarshal(line, &entry) != nil {
			continue
		}
		msg, _ := entry["@message"].(string)
		level, _ := entry["@level"].(string)
		module, _ := entry["@module"].(string)
		switch {
		case msg == "plugin process exited":
			status, _ := entry["error"].(string)
			if status == "" {
				status = "exit status 0"
			}
			s.mu.Lock()
			s.status = status
			s.mu.Unlock()
		case module != "plugin":
			// The plugin's own stderr, already in stderrTail.
		case level == "error":
			fmt.Fprintf(s.out, "omp: plugin %s: %s\n", s.kind, msg)
		}
	}
	return len(p), nil
}

func (s *logSink) exitStatus() string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.status
}
