package fsmeta

import (
	"bytes"
	"errors"
	"fmt"

	"golang.org/x/sys/unix"
)

// maxGrow bounds the retries of a list or get whose result grew between
// asking its size and reading it.
const maxGrow = 8

// ListXattrs returns the names of path's extended attributes (unsorted);
// none on a file system without them. buf, if big enough, is used for the
// listing (one system call for most entries).
func ListXattrs(path string, buf []byte) ([]string, error) {
	if len(buf) == 0 {
		buf = make([]byte, 256)
	}
	for range maxGrow {
		n, err := unix.Llistxattr(path, buf)
		switch {
		case err == nil:
			return splitNames(buf[:n]), nil
		case IsUnsupported(err):
			return nil, nil
		case !errors.Is(err, unix.ERANGE):
			return nil, fmt.Errorf("list extended attributes: %w", err)
		}
		n, err = unix.Llistxattr(path, nil)
		if err != nil {
			return nil, fmt.Errorf("list extended attributes: %w", err)
		}
		buf = make([]byte, n+256)
	}
	return nil, fmt.Errorf("list extended attributes: %w", unix.ERANGE)
}

func splitNames(b []byte) []string {
	var names []string
	for len(b) > 0 {
		i := bytes.IndexByte(b, 0)
		if i < 0 {
			i = len(b)
		}
		if i > 0 {
			names = append(names, string(b[:i]))
		}
		b = b[min(i+1, len(b)):]
	}
	return names
}

// GetXattr returns the value of path's attribute name.
func GetXattr(path, name string) ([]byte, error) {
	buf := make([]byte, 128)
	for range maxGrow {
		n, err := unix.Lgetxattr(path, name, buf)
		if err == nil {
			return buf[:n:n], nil
		}
		if !errors.Is(err, unix.ERANGE) {
			return nil, fmt.Errorf("get extended attribute %s: %w", name, err)
		}
		n, err = unix.Lgetxattr(path, name, nil)
		if err != nil {
			return nil, fmt.Errorf("get extended attribute %s: %w", name, err)
		}
		buf = make([]byte, n+128)
	}
	return nil, fmt.Errorf("get extended attribute %s: %w", name, unix.ERANGE)
}

// SetXattr sets path's attribute name (not following a symlink).
func SetXattr(path, name string, value []byte) error {
	if err := unix.Lsetxattr(path, name, value, 0); err != nil {
		return fmt.Errorf("set extended attribute %s: %w", name, err)
	}
	return nil
}

// FSetXattr sets the attribute name of the open file fd.
func FSetXattr(fd int, name string, value []byte) error {
	if err := unix.Fsetxattr(fd, name, value, 0); err != nil {
		return fmt.Errorf("set extended attribute %s: %w", name, err)
	}
	return nil
}

// RemoveXattr removes path's attribute name (not following a symlink).
func RemoveXattr(path, name string) error {
	if err := unix.Lremovexattr(path, name); err != nil {
		return fmt.Errorf("remove extended attribute %s: %w", name, err)
	}
	return nil
}

// Flags returns the inode flags of the open file or directory fd, masked
// with FlagMask; none on a file system without them.
func Flags(fd int) (uint32, error) {
	f, err := unix.IoctlGetUint32(fd, unix.FS_IOC_GETFLAGS)
	if err != nil {
		// Some file systems answer EINVAL or ENOSYS rather than ENOTTY.
		if IsUnsupported(err) || errors.Is(err, unix.EINVAL) || errors.Is(err, unix.ENOSYS) {
			return 0, nil
		}
		return 0, fmt.Errorf("get inode flags: %w", err)
	}
	return f & FlagMask, nil
}

// SetFlags sets the FlagMask bits of fd's inode flags to flags, keeping
// the file system's own bits.
func SetFlags(fd int, flags uint32) error {
	cur, err := unix.IoctlGetUint32(fd, unix.FS_IOC_GETFLAGS)
	if err != nil {
		if IsUnsupported(err) && flags == 0 {
			return nil
		}
		return fmt.Errorf("set inode flags %s: %w", FlagString(flags), err)
	}
	next := cur&^FlagMask | flags&FlagMask
	if next == cur {
		return nil
	}
	if err := unix.IoctlSetPointerInt(fd, unix.FS_IOC_SETFLAGS, int(int32(next))); err != nil {
		return fmt.Errorf("set inode flags %s: %w", FlagString(flags), err)
	}
	return nil
}

// IsUnsupported reports whether err says the file system (or the kind of
// file) has no extended attributes or inode flags.
func IsUnsupported(err error) bool {
	return errors.Is(err, unix.ENOTSUP) || errors.Is(err, unix.EOPNOTSUPP) || errors.Is(err, unix.ENOTTY) ||
		errors.Is(err, ErrNotSupported)
}

// IsPermission reports whether err says the process may not read or write
// the attribute or flag.
func IsPermission(err error) bool {
	return errors.Is(err, unix.EPERM) || errors.Is(err, unix.EACCES)
}
