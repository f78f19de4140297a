//go:build unix && !linux

package procgroup

import "syscall"

// sysProcAttr puts the child in a process group of its own. Only Linux has
// Pdeathsig: elsewhere the child outlives a plugin that is killed outright
// (a cancelled task still kills it).
func sysProcAttr() *syscall.SysProcAttr {
	return &syscall.SysProcAttr{Setpgid: true}
}
