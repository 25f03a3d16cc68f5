package backup

import (
	"errors"
	"io"
	"io/fs"
	"time"

	"golang.org/x/sys/unix"
)

// sourceFile is a source file open for reading: a bare descriptor. Opening
// an os.File costs five more system calls (non-blocking mode set and
// cleared, a failing epoll registration), a sixth of what a small file
// costs in all.
type sourceFile struct {
	fd   int
	path string
}

// openHook, when set (tests), runs before a source file is opened; its
// error fails the open.
var openHook func(path string) error

// openSource opens path for reading without updating its access time
// (when permitted: O_NOATIME needs ownership) and without following a
// symlink swapped in since the walk saw a regular file.
func openSource(path string) (*sourceFile, error) {
	if openHook != nil {
		if err := openHook(path); err != nil {
			return nil, &fs.PathError{Op: "open", Path: path, Err: err}
		}
	}
	const flags = unix.O_RDONLY | unix.O_CLOEXEC | unix.O_NOFOLLOW
	fd, err := openRetry(path, flags|noAtime)
	if errors.Is(err, unix.EPERM) {
		fd, err = openRetry(path, flags)
	}
	if err != nil {
		return nil, &fs.PathError{Op: "open", Path: path, Err: err}
	}
	return &sourceFile{fd: fd, path: path}, nil
}

func openRetry(path string, flags int) (int, error) {
	for {
		fd, err := unix.Open(path, flags, 0)
		if err != unix.EINTR {
			return fd, err
		}
	}
}

// Read implements io.Reader.
func (f *sourceFile) Read(p []byte) (int, error) {
	if len(p) == 0 {
		return 0, nil
	}
	for {
		n, err := unix.Read(f.fd, p)
		switch {
		case err == unix.EINTR:
			continue
		case err != nil:
			return 0, &fs.PathError{Op: "read", Path: f.path, Err: err}
		case n == 0:
			return 0, io.EOF
		}
		return n, nil
	}
}

// stat returns the open file's size and modification time.
func (f *sourceFile) stat() (int64, time.Time, error) {
	var st unix.Stat_t
	if err := unix.Fstat(f.fd, &st); err != nil {
		return 0, time.Time{}, &fs.PathError{Op: "stat", Path: f.path, Err: err}
	}
	return st.Size, time.Unix(st.Mtim.Sec, st.Mtim.Nsec), nil
}

// Close closes the descriptor.
func (f *sourceFile) Close() error { return unix.Close(f.fd) }
