package host

import "syscall"

// sysProcAttr has the kernel kill the plugin should omp die without closing
// the host (kill -9).
func sysProcAttr() *syscall.SysProcAttr {
	return &syscall.SysProcAttr{Pdeathsig: syscall.SIGKILL}
}
