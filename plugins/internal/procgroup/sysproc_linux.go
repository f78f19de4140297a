package procgroup

import "syscall"

// sysProcAttr puts the child in a process group of its own, so that the
// group can be killed with everything the child started, and has the kernel
// kill the child should this plugin process die.
func sysProcAttr() *syscall.SysProcAttr {
	return &syscall.SysProcAttr{Setpgid: true, Pdeathsig: syscall.SIGKILL}
}
