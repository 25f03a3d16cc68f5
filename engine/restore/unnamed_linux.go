package restore

import (
	"errors"
	"strconv"

	"golang.org/x/sys/unix"
)

// Ways to give an unnamed (O_TMPFILE) file a name, tried in this order:
// linkat with AT_EMPTY_PATH (needs CAP_DAC_READ_SEARCH before Linux 6.10)
// and linkat of its /proc/self/fd link.
const (
	linkEmptyPath linkMethod = iota + 1
	linkProc
)

var linkMethods = []linkMethod{linkEmptyPath, linkProc}

// openUnnamed creates an unnamed regular file in directory dfd, open for
// writing.
func openUnnamed(dfd int, mode uint32) (int, error) {
	return unix.Openat(dfd, ".", unix.O_WRONLY|unix.O_TMPFILE|unix.O_CLOEXEC, mode)
}

// unnamedUnsupported reports whether openUnnamed failed because the kernel
// or the file system has no unnamed files.
func unnamedUnsupported(err error) bool {
	return errors.Is(err, unix.EOPNOTSUPP) || errors.Is(err, unix.EISDIR) || errors.Is(err, unix.EINVAL)
}

// linkUnnamed gives the unnamed file fd the name name in dfd; it fails with
// EEXIST, touching nothing, when the name exists.
func linkUnnamed(m linkMethod, fd, dfd int, name string) error {
	switch m {
	case linkEmptyPath:
		return unix.Linkat(fd, "", dfd, name, unix.AT_EMPTY_PATH)
	case linkProc:
		return unix.Linkat(unix.AT_FDCWD, "/proc/self/fd/"+strconv.Itoa(fd), dfd, name, unix.AT_SYMLINK_FOLLOW)
	}
	return errors.ErrUnsupported
}

// renameNoReplace renames from to to in dfd, failing with EEXIST when to
// exists.
func renameNoReplace(dfd int, from, to string) error {
	err := unix.Renameat2(dfd, from, dfd, to, unix.RENAME_NOREPLACE)
	if errors.Is(err, unix.EINVAL) || errors.Is(err, unix.ENOSYS) { // file system without the flag
		return renameIfAbsent(dfd, from, to)
	}
	return err
}
