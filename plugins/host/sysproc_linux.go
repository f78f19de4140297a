package host

import "syscall"

// sysProcAttr puts the plugin in a process group of its own, so that
// killing the group takes whatever the plugin started with it, and has the
// kernel kill the plugin should omp die without closing the host (kill -9).
func sysProcAttr() *syscall.SysProcAttr {
	return &syscall.SysProcAttr{Setpgid: true, Pdeathsig: syscall.SIGKILL}
}
