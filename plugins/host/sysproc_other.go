//go:build unix && !linux

package host

import "syscall"

// sysProcAttr puts the plugin in a process group of its own. Only Linux has
// Pdeathsig, so elsewhere a plugin outlives an omp that is killed outright
// (Close still stops it).
func sysProcAttr() *syscall.SysProcAttr {
	return &syscall.SysProcAttr{Setpgid: true}
}
