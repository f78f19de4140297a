package job

import "syscall"

// sysProcAttr puts the runner in a process group of its own, so that the
// group can be killed with everything the notebook started, and has the
// kernel kill the runner should this plugin process die.
func sysProcAttr() *syscall.SysProcAttr {
	return &syscall.SysProcAttr{Setpgid: true, Pdeathsig: syscall.SIGKILL}
}
