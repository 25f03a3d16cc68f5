//go:build !linux

package s3server

import "syscall"

// sysProcAttr keeps the defaults outside Linux.
func sysProcAttr() *syscall.SysProcAttr { return nil }
