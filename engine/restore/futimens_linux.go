package restore

import (
	"unsafe"

	"golang.org/x/sys/unix"
)

// futimens sets a file's times through its descriptor (utimensat with a
// NULL path), for kernels that reject AT_EMPTY_PATH; the directory and
// name are not used.
func futimens(fd int, _ int, _ string, ts []unix.Timespec) error {
	_, _, errno := unix.Syscall6(unix.SYS_UTIMENSAT, uintptr(fd), 0, uintptr(unsafe.Pointer(&ts[0])), 0, 0, 0)
	if errno != 0 {
		return errno
	}
	return nil
}
