package local

import (
	"errors"
	"io/fs"
	"syscall"

	"lifeboat/storage"
)

// osError pairs a storage sentinel with the os error it was translated from,
// so errors.Is/As reach both.
type osError struct {
	sentinel error
	err      error
}

func (e *osError) Error() string   { return e.err.Error() }
func (e *osError) Unwrap() []error { return []error{e.sentinel, e.err} }

// translate attaches the storage sentinel matching an os error; errors with
// no matching sentinel are returned unchanged.
func translate(err error) error {
	if err == nil {
		return nil
	}
	var sentinel error
	switch {
	case errors.Is(err, fs.ErrNotExist), errors.Is(err, syscall.ENOTDIR):
		sentinel = storage.ErrNotExist
	case errors.Is(err, fs.ErrExist):
		sentinel = storage.ErrExist
	case errors.Is(err, syscall.ENOSPC), errors.Is(err, syscall.EDQUOT):
		sentinel = storage.ErrNoSpace
	case errors.Is(err, fs.ErrPermission), errors.Is(err, syscall.EROFS):
		sentinel = storage.ErrPermission
	case errors.Is(err, syscall.ENAMETOOLONG):
		sentinel = storage.ErrInvalidName
	default:
		return err
	}
	return &osError{sentinel: sentinel, err: err}
}

// isDirConflict reports an error from replacing a directory with a file.
func isDirConflict(err error) bool {
	return errors.Is(err, syscall.EISDIR) || errors.Is(err, syscall.ENOTEMPTY) || errors.Is(err, fs.ErrExist)
}

// noHardLinks reports a link(2) failure meaning the filesystem does not
// support hard links.
func noHardLinks(err error) bool {
	return errors.Is(err, syscall.EPERM) || errors.Is(err, syscall.ENOTSUP) ||
		errors.Is(err, syscall.EOPNOTSUPP) || errors.Is(err, syscall.ENOSYS) ||
		errors.Is(err, syscall.EMLINK)
}
