package testbin

import (
	"os"
	"os/exec"
	"slices"
	"strconv"
	"testing"
	"time"
)

// A child is listed, with its command, while it runs, and neither after it
// was killed and reaped nor as the child of another process.
func TestChildren(t *testing.T) {
	cmd := exec.Command("sleep", "60")
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { cmd.Process.Kill(); cmd.Wait() })
	me, kid := os.Getpid(), strconv.Itoa(cmd.Process.Pid)+" sleep"
	if got := Children(me); !slices.Contains(got, kid) {
		t.Errorf("Children(%d) = %q, want %q among them", me, got, kid)
	}
	if !Alive(cmd.Process.Pid) {
		t.Errorf("Alive(%d) = false while it runs", cmd.Process.Pid)
	}
	if got := Children(cmd.Process.Pid); len(got) != 0 {
		t.Errorf("sleep's children: %q, want none", got)
	}
	cmd.Process.Kill()
	cmd.Wait()
	if !Exits(cmd.Process.Pid, 5*time.Second) {
		t.Errorf("process %d still alive after kill and wait", cmd.Process.Pid)
	}
	if got := Children(me); slices.Contains(got, kid) {
		t.Errorf("Children(%d) = %q after the kill", me, got)
	}
}
