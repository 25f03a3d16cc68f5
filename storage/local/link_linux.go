package local

import (
	"errors"
	"io/fs"
	"os"
	"path"
	"strconv"

	"golang.org/x/sys/unix"
)

// linkUnnamed gives f a temporary name in dir without copying it, when f is
// an unnamed regular file (O_TMPFILE: no links) of exactly size bytes on
// this storage's file system; it returns "" (and the caller copies) for any
// other file: a named one (an object must never share its inode with a file
// someone else may change), one on another file system, or where /proc is
// missing. The file is fsynced first, as a copy would be.
func (s *localStorage) linkUnnamed(dir string, f *os.File, size int64) (string, error) {
	var st unix.Stat_t
	if fstat(f, &st) != nil || st.Nlink != 0 || st.Mode&unix.S_IFMT != unix.S_IFREG || st.Size != size {
		return "", nil
	}
	d, err := s.root.Open(dir)
	if errors.Is(err, fs.ErrNotExist) {
		if err = s.mkdirs(dir); err == nil {
			d, err = s.root.Open(dir)
		}
	}
	if err != nil {
		return "", err
	}
	defer d.Close()
	var dst unix.Stat_t
	if fstat(d, &dst) != nil || dst.Dev != st.Dev {
		return "", nil // another file system
	}
	if err := f.Sync(); err != nil {
		return "", err
	}
	rc, err := f.SyscallConn()
	if err != nil {
		return "", nil
	}
	drc, err := d.SyscallConn()
	if err != nil {
		return "", nil
	}
	for range 4 {
		tmp := tempName(dir)
		var lerr, dcerr error
		cerr := rc.Control(func(fd uintptr) {
			dcerr = drc.Control(func(dfd uintptr) {
				lerr = unix.Linkat(unix.AT_FDCWD, "/proc/self/fd/"+strconv.Itoa(int(fd)), int(dfd), path.Base(tmp), unix.AT_SYMLINK_FOLLOW)
			})
		})
		cerr = errors.Join(cerr, dcerr)
		switch {
		case cerr == nil && lerr == nil:
			return tmp, nil
		case cerr == nil && errors.Is(lerr, unix.EEXIST):
			continue // name collision: draw another
		default:
			return "", nil // no /proc, no hard links here, ...: copy instead
		}
	}
	return "", nil
}

// fstat stats an open file.
func fstat(f *os.File, st *unix.Stat_t) error {
	rc, err := f.SyscallConn()
	if err != nil {
		return err
	}
	var serr error
	if err := rc.Control(func(fd uintptr) { serr = unix.Fstat(int(fd), st) }); err != nil {
		return err
	}
	return serr
}
