//go:build unix

package repo

import (
	"syscall"
	"time"
)

// cpuTime returns the process's CPU time (user and system): on a shared
// machine, benchmarks report it beside the wall time, which counts the
// time the process waited for a core.
func cpuTime() time.Duration {
	var ru syscall.Rusage
	if err := syscall.Getrusage(syscall.RUSAGE_SELF, &ru); err != nil {
		return 0
	}
	return time.Duration(ru.Utime.Nano() + ru.Stime.Nano())
}
