package script

import "syscall"

// sysProcAttr puts the script in a process group of its own, so that the
// group can be killed with everything the script started, and has the kernel
// kill the script should this plugin process die.
func sysProcAttr() *syscall.SysProcAttr {
	return &syscall.SysProcAttr{Setpgid: true, Pdeathsig: syscall.SIGKILL}
}
