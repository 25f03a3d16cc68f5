//go:build !linux

package fsmeta

import (
	"errors"

	"golang.org/x/sys/unix"
)

// ListXattrs reports no attributes: this system's are not supported.
func ListXattrs(string, []byte) ([]string, error) { return nil, nil }

// GetXattr fails with ErrNotSupported.
func GetXattr(string, string) ([]byte, error) { return nil, ErrNotSupported }

// SetXattr fails with ErrNotSupported.
func SetXattr(string, string, []byte) error { return ErrNotSupported }

// FSetXattr fails with ErrNotSupported.
func FSetXattr(int, string, []byte) error { return ErrNotSupported }

// RemoveXattr fails with ErrNotSupported.
func RemoveXattr(string, string) error { return ErrNotSupported }

// Flags reports no inode flags.
func Flags(int) (uint32, error) { return 0, nil }

// SetFlags fails with ErrNotSupported unless flags is 0.
func SetFlags(_ int, flags uint32) error {
	if flags == 0 {
		return nil
	}
	return ErrNotSupported
}

// IsUnsupported reports whether err is ErrNotSupported.
func IsUnsupported(err error) bool {
	return errors.Is(err, ErrNotSupported) || errors.Is(err, unix.ENOTSUP) || errors.Is(err, unix.EOPNOTSUPP)
}

// IsPermission reports whether err says the process may not read or write
// the attribute or flag.
func IsPermission(err error) bool {
	return errors.Is(err, unix.EPERM) || errors.Is(err, unix.EACCES)
}
