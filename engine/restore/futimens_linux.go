package restore

import (
	"errors"
	"fmt"
	"unsafe"

	"golang.org/x/sys/unix"
)

// futimens sets a file's times through its descriptor (utimensat with a
// NULL path), for kernels that reject AT_EMPTY_PATH.
func futimens(fd int, ts []unix.Timespec) error {
	_, _, errno := unix.Syscall6(unix.SYS_UTIMENSAT, uintptr(fd), 0, uintptr(unsafe.Pointer(&ts[0])), 0, 0, 0)
	if errno != 0 {
		return errno
	}
	return nil
}

// linkFD gives the unnamed (O_TMPFILE) file fd the name name in directory
// dfd: linkat with AT_EMPTY_PATH where permitted (it needs
// CAP_DAC_READ_SEARCH), else through /proc/self/fd.
func linkFD(fd, dfd int, name string) error {
	err := unix.Linkat(fd, "", dfd, name, unix.AT_EMPTY_PATH)
	if errors.Is(err, unix.ENOENT) || errors.Is(err, unix.EPERM) {
		err = unix.Linkat(unix.AT_FDCWD, fmt.Sprintf("/proc/self/fd/%d", fd), dfd, name, unix.AT_SYMLINK_FOLLOW)
	}
	return err
}
