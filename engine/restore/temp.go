package restore

import (
	"encoding/hex"
	"errors"
	"fmt"
	"io"

	"golang.org/x/sys/unix"

	"lifeboat/engine/format"
)

// linkMethod is how an unnamed file gets a name; linkNone: unnamed files
// are not used.
type linkMethod int

const linkNone linkMethod = 0

// Temporary names start with tempPrefix and go on with random bytes. A
// temporary entry is created with O_EXCL (or by a link, which fails on an
// existing name), so it can never be an entry of the snapshot or a
// leftover; restore removes or renames a temporary entry only after
// checking that it still is the file it created in this run.
const (
	tempPrefix   = ".lifeboat~"
	maxTempTries = 16
)

// errNotOurs marks a temporary name that no longer holds the file restore
// created under it (something else replaced it).
var errNotOurs = errors.New("temporary name holds another file")

// tempName draws a fresh random temporary name.
func (rs *restorer) tempName() (string, error) {
	var b [12]byte
	rs.randMu.Lock()
	_, err := io.ReadFull(rs.rand, b[:])
	rs.randMu.Unlock()
	if err != nil {
		return "", fmt.Errorf("temporary name: %w", err)
	}
	return tempPrefix + hex.EncodeToString(b[:]), nil
}

// newName calls create with fresh temporary names until one is free:
// create must fail with EEXIST, changing nothing, when its name exists.
func (rs *restorer) newName(create func(name string) error) (string, error) {
	for range maxTempTries {
		name, err := rs.tempName()
		if err != nil {
			return "", err
		}
		err = create(name)
		if err == nil {
			return name, nil
		}
		if !errors.Is(err, unix.EEXIST) {
			return "", err
		}
	}
	return "", fmt.Errorf("no free temporary name in %d tries", maxTempTries)
}

// checkOurs fails unless name in dfd is the file dev/ino.
func checkOurs(dfd int, name string, dev, ino uint64) error {
	var st unix.Stat_t
	if err := unix.Fstatat(dfd, name, &st, unix.AT_SYMLINK_NOFOLLOW); err != nil {
		return err
	}
	if d, i := fileID(&st); d != dev || i != ino {
		return fmt.Errorf("%s: %w", name, errNotOurs)
	}
	return nil
}

// renameOurs renames the temporary name tmp over name once it is checked
// to still be the file dev/ino.
func renameOurs(dfd int, tmp, name string, dev, ino uint64) error {
	if err := checkOurs(dfd, tmp, dev, ino); err != nil {
		return err
	}
	return unix.Renameat(dfd, tmp, dfd, name)
}

// unlinkOurs removes the temporary name tmp if it still is the file
// dev/ino, and leaves it alone otherwise.
func unlinkOurs(dfd int, tmp string, dev, ino uint64) error {
	if err := checkOurs(dfd, tmp, dev, ino); err != nil {
		return err
	}
	return unix.Unlinkat(dfd, tmp, 0)
}

// renameIfAbsent is renameNoReplace for file systems without an atomic
// no-replace rename: it checks first.
func renameIfAbsent(dfd int, from, to string) error {
	var st unix.Stat_t
	err := unix.Fstatat(dfd, to, &st, unix.AT_SYMLINK_NOFOLLOW)
	if err == nil {
		return unix.EEXIST
	}
	if !errors.Is(err, unix.ENOENT) {
		return err
	}
	return unix.Renameat(dfd, from, dfd, to)
}

// ErrConflict marks an entry that was not restored because the target has
// an entry of another type under its name (a directory where the snapshot
// has a file, a file where it has a directory, …). Options.Delete replaces
// such entries instead.
var ErrConflict = errors.New("conflict")

// conflict describes the entry st in the way of a node of type want.
func conflict(st *unix.Stat_t, want string) error {
	return fmt.Errorf("%w: the target has a %s where the snapshot has a %s",
		ErrConflict, modeKind(uint32(st.Mode)), modeKind(FileType(want)))
}

// FileType is the S_IFMT file type an entry of node type t has on disk (0
// for an unknown type); restore creates them so, and drills check them.
func FileType(t string) uint32 {
	switch t {
	case format.TypeFile:
		return unix.S_IFREG
	case format.TypeDir:
		return unix.S_IFDIR
	case format.TypeSymlink:
		return unix.S_IFLNK
	case format.TypeFIFO:
		return unix.S_IFIFO
	case format.TypeSocket:
		return unix.S_IFSOCK
	case format.TypeDev:
		return unix.S_IFBLK
	case format.TypeCharDev:
		return unix.S_IFCHR
	}
	return 0
}

func modeKind(m uint32) string {
	switch m & unix.S_IFMT {
	case unix.S_IFREG:
		return "file"
	case unix.S_IFDIR:
		return "directory"
	case unix.S_IFLNK:
		return "symlink"
	case unix.S_IFIFO:
		return "FIFO"
	case unix.S_IFSOCK:
		return "socket"
	case unix.S_IFBLK:
		return "block device"
	case unix.S_IFCHR:
		return "character device"
	}
	return "special file"
}

// hasType reports whether st is of the node type t.
func hasType(st *unix.Stat_t, t string) bool {
	return uint32(st.Mode)&unix.S_IFMT == FileType(t)
}
