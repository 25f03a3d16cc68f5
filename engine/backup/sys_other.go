//go:build !linux

package backup

import (
	"syscall"
	"time"
)

// noAtime is 0 where the system has no O_NOATIME.
const noAtime = 0

// changeTime returns a file's ctime from its stat information.
func changeTime(st *syscall.Stat_t) time.Time {
	return time.Unix(int64(st.Ctimespec.Sec), int64(st.Ctimespec.Nsec))
}
