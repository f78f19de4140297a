//go:build unix && !linux

package job

import "syscall"

// sysProcAttr puts the runner in a process group of its own. Only Linux has
// Pdeathsig: elsewhere the runner outlives a plugin that is killed outright
// (a cancelled task still kills it).
func sysProcAttr() *syscall.SysProcAttr {
	return &syscall.SysProcAttr{Setpgid: true}
}
