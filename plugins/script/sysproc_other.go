//go:build unix && !linux

package script

import "syscall"

// sysProcAttr puts the script in a process group of its own. Only Linux has
// Pdeathsig: elsewhere a script outlives a plugin that is killed outright.
func sysProcAttr() *syscall.SysProcAttr {
	return &syscall.SysProcAttr{Setpgid: true}
}
