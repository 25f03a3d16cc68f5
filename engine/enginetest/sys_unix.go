package enginetest

import (
	"time"

	"golang.org/x/sys/unix"
)

func syscallMkfifo(path string, mode uint32) error { return unix.Mkfifo(path, mode) }

func lchtimes(path string, t time.Time) error {
	ts := []unix.Timespec{unix.NsecToTimespec(t.UnixNano()), unix.NsecToTimespec(t.UnixNano())}
	return unix.UtimesNanoAt(unix.AT_FDCWD, path, ts, unix.AT_SYMLINK_NOFOLLOW)
}
