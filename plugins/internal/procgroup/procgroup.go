// Package procgroup starts a kind's child process in a process group of its
// own, so that a cancelled or finished task ends everything the child
// started, not only the child. The SDK stands alone, so the kinds share this
// here rather than through the runtime.
package procgroup

import (
	"os/exec"
	"syscall"
)

// Set makes cmd start in a process group of its own and makes cancelling
// cmd's context kill that whole group. beforeKill, if not nil, runs first on
// cancellation, for what the child started outside its group.
func Set(cmd *exec.Cmd, beforeKill func()) {
	cmd.SysProcAttr = sysProcAttr()
	cmd.Cancel = func() error {
		if beforeKill != nil {
			beforeKill()
		}
		return Kill(cmd.Process.Pid)
	}
}

// Kill kills the process group that pid leads.
func Kill(pid int) error {
	return syscall.Kill(-pid, syscall.SIGKILL)
}
