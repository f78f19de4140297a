package host

import (
	"bytes"
	"encoding/json"
	"fmt"
	"io"
	"strings"
	"sync"

	"github.com/hashicorp/go-hclog"
)

// stderrTail keeps a plugin's last stderr lines, and the first line that
// starts a panic or a fatal error, which a long stack trace would otherwise
// push out of the tail.
type stderrTail struct {
	mu      sync.Mutex
	max     int
	buf     []string
	partial []byte
	panic   string
}

func (s *stderrTail) Write(p []byte) (int, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	data := append(s.partial, p...)
	for {
		i := bytes.IndexByte(data, '\n')
		if i < 0 {
			break
		}
		s.add(string(data[:i]))
		data = data[i+1:]
	}
	s.partial = append(s.partial[:0:0], data...)
	return len(p), nil
}

func (s *stderrTail) add(line string) {
	if s.panic == "" && (strings.HasPrefix(line, "panic: ") || strings.HasPrefix(line, "fatal error: ")) {
		s.panic = line
	}
	s.buf = append(s.buf, line)
	if len(s.buf) > s.max {
		s.buf = s.buf[len(s.buf)-s.max:]
	}
}

func (s *stderrTail) lines() []string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return append([]string(nil), s.buf...)
}

// reason is the stderr line that best explains why the plugin ended: a
// panic, else the last line that is not one of go-plugin's JSON log lines.
func (s *stderrTail) reason() string {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.panic != "" {
		return s.panic
	}
	for i := len(s.buf) - 1; i >= 0; i-- {
		if l := strings.TrimSpace(s.buf[i]); l != "" && !strings.HasPrefix(l, `{"@`) {
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
