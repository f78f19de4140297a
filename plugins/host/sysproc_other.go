//go:build !linux

package host

import "syscall"

// sysProcAttr is empty: only Linux has Pdeathsig, so elsewhere a plugin
// outlives an omp that is killed outright (Close still stops it).
func sysProcAttr() *syscall.SysProcAttr {
	return &syscall.SysProcAttr{}
}
