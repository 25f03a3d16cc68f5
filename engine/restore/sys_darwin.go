package restore

import (
	"errors"
	"fmt"
	"os"
	"time"

	"golang.org/x/sys/unix"
)

// fileID is the device and inode number of st.
func fileID(st *unix.Stat_t) (dev, ino uint64) { return uint64(uint32(st.Dev)), st.Ino }

func statMTime(st *unix.Stat_t) time.Time {
	return time.Unix(st.Mtim.Sec, st.Mtim.Nsec)
}

// readDirNames lists a directory descriptor's entries (not . and ..).
func readDirNames(fd int) ([]string, error) {
	dup, err := unix.Dup(fd)
	if err != nil {
		return nil, err
	}
	f := os.NewFile(uintptr(dup), ".")
	defer f.Close()
	return f.Readdirnames(-1)
}

// futimens sets the times of the temporary file name in dfd (darwin's
// temporary files always have a name).
func futimens(_ int, dfd int, name string, ts []unix.Timespec) error {
	return unix.UtimesNanoAt(dfd, name, ts, unix.AT_SYMLINK_NOFOLLOW)
}

// mknodat is not available: FIFOs and devices are not restored on darwin.
func mknodat(int, string, uint32, int) error {
	return fmt.Errorf("create node: %w", errors.ErrUnsupported)
}
