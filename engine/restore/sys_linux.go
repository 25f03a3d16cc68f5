package restore

import (
	"errors"
	"time"

	"golang.org/x/sys/unix"
)

// fileID is the device and inode number of st.
func fileID(st *unix.Stat_t) (dev, ino uint64) { return st.Dev, st.Ino }

func statMTime(st *unix.Stat_t) time.Time { return time.Unix(st.Mtim.Sec, st.Mtim.Nsec) }

// readDirNames lists a directory descriptor's entries (not . and ..).
func readDirNames(fd int) ([]string, error) {
	var names []string
	buf := make([]byte, 32<<10)
	for i := 0; i < 1<<20; i++ {
		n, err := unix.Getdents(fd, buf)
		if err != nil {
			return nil, err
		}
		if n <= 0 {
			return names, nil
		}
		_, _, names = unix.ParseDirent(buf[:n], -1, names)
	}
	return nil, errors.New("directory listing did not end")
}

func mknodat(dfd int, name string, mode uint32, dev int) error {
	return unix.Mknodat(dfd, name, mode, dev)
}
