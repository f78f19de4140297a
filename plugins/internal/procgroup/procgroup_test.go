package procgroup

import (
	"bufio"
	"context"
	"os/exec"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/ompdev/omp/internal/testbin"
)

// startWithGrandchild starts a shell that leaves a sleep running in the
// background, and returns the sleep's pid.
func startWithGrandchild(t *testing.T, cmd *exec.Cmd) int {
	t.Helper()
	out, err := cmd.StdoutPipe()
	if err != nil {
		t.Fatal(err)
	}
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	line, err := bufio.NewReader(out).ReadString('\n')
	if err != nil {
		t.Fatalf("reading the grandchild's pid: %v", err)
	}
	pid, err := strconv.Atoi(strings.TrimSpace(line))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = syscall.Kill(pid, syscall.SIGKILL) })
	return pid
}

func TestCancelKillsTheGroup(t *testing.T) {
	ctx, cancel := context.WithCancel(t.Context())
	cmd := exec.CommandContext(ctx, "sh", "-c", "sleep 60 & echo $!; wait")
	var hooked bool
	Set(cmd, func() { hooked = true })
	grandchild := startWithGrandchild(t, cmd)
	cancel()
	_ = cmd.Wait()
	if !hooked {
		t.Error("beforeKill did not run on cancellation")
	}
	if !testbin.Exits(grandchild, 5*time.Second) {
		t.Errorf("grandchild %d outlived its cancelled parent", grandchild)
	}
}

func TestKillEndsWhatTheChildLeft(t *testing.T) {
	cmd := exec.CommandContext(t.Context(), "sh", "-c", "sleep 60 & echo $!")
	Set(cmd, nil)
	grandchild := startWithGrandchild(t, cmd)
	if err := cmd.Wait(); err != nil {
		t.Fatal(err)
	}
	if !testbin.Alive(grandchild) {
		t.Fatalf("grandchild %d ended with its parent: the test proves nothing", grandchild)
	}
	if err := Kill(cmd.Process.Pid); err != nil {
		t.Fatalf("Kill: %v", err)
	}
	if !testbin.Exits(grandchild, 5*time.Second) {
		t.Errorf("grandchild %d outlived Kill of its group", grandchild)
	}
}
