package backup

import (
	"syscall"
	"time"

	"golang.org/x/sys/unix"
)

// noAtime is the open flag that leaves a file's access time alone.
const noAtime = unix.O_NOATIME

// changeTime returns a file's ctime from its stat information.
func changeTime(st *syscall.Stat_t) time.Time { return time.Unix(st.Ctim.Sec, st.Ctim.Nsec) }
