package host

import (
	"errors"
	"testing"

	"github.com/ompdev/omp/internal/logtest"
)

// TestLogSink: go-plugin's client log reaches slog as the host wants it,
// through the logger go-plugin is given and the sub-loggers it makes.
func TestLogSink(t *testing.T) {
	rec, log := logtest.New()
	s := &logSink{log: log, kind: "omp-kind-x"}
	l := s.logger()
	l.Named("omp-kind-x").Error("a line of the plugin's stderr")
	l.Named("stdio").Error("stdio stream ended")
	l.Warn("plugin failed to exit gracefully")
	l.Debug("waiting for RPC address", "plugin", "/bin/omp-kind-x")
	l.Error("client", "error", errors.New("connection refused"))
	if s.exitStatus() != "" {
		t.Errorf("exit status %q before the process exited", s.exitStatus())
	}
	l.Error("plugin process exited", "plugin", "/bin/omp-kind-x", "id", 42, "error", "exit status 2")

	if got := s.exitStatus(); got != "exit status 2" {
		t.Errorf("exit status %q, want %q", got, "exit status 2")
	}
	got := rec.Records()
	if len(got) != 1 || got[0].Message != "client" || !got[0].Has("kind", "omp-kind-x", "error", "connection refused") {
		t.Errorf("records:\n%s\nwant one: ERROR \"client\" error=\"connection refused\" kind=\"omp-kind-x\"", rec.Dump())
	}

	s2 := &logSink{log: log, kind: "y"}
	s2.logger().Info("plugin process exited", "plugin", "/bin/y", "id", 43)
	if got := s2.exitStatus(); got != "exit status 0" {
		t.Errorf("exit status %q, want exit status 0", got)
	}
}
