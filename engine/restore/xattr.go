package restore

import (
	"bytes"
	"errors"
	"fmt"
	"slices"
	"strings"

	"golang.org/x/sys/unix"

	"lifeboat/engine/format"
	"lifeboat/engine/fsmeta"
)

// ErrXattrs marks an entry restored without some of its extended
// attributes or inode flags: the target's file system does not support
// them, or this process may not set them. The entry itself is in place;
// the restore is partial.
var ErrXattrs = errors.New("extended attributes or inode flags not restored")

// wantXattr reports whether the attribute name is restored. The
// privileged namespaces (security.*, trusted.*) go with ownership: like
// uid and gid they are restored only when owners are (as root), since
// the kernel refuses them to anyone else; a drill checks them the same
// way.
func (rs *restorer) wantXattr(name string) bool {
	if privileged(name) && !rs.owner {
		return false
	}
	return !rs.opts.NoXattrs && (rs.opts.SkipXattr == nil || !rs.opts.SkipXattr(name))
}

// privileged reports whether only a privileged process may set name.
func privileged(name string) bool {
	return strings.HasPrefix(name, "security.") || strings.HasPrefix(name, "trusted.")
}

// entryPath names the entry name of the directory descriptor dfd for the
// path-based attribute calls: through the descriptor, so no symlink in the
// target's path is followed, and not following name itself.
func entryPath(dfd int, name string) string {
	return fmt.Sprintf("/proc/self/fd/%d/%s", dfd, name)
}

// setXattrs sets the attributes of n with set, and names those that failed.
func (rs *restorer) setXattrs(n *format.Node, set func(name string, value []byte) error) error {
	var failed []string
	var first error
	for _, x := range n.Xattrs {
		if !rs.wantXattr(x.Name) {
			continue
		}
		if err := set(x.Name, x.Value); err != nil {
			failed = append(failed, x.Name)
			first = cmpOr(first, err)
		}
	}
	return xattrsErr(failed, first)
}

func cmpOr(a, b error) error {
	if a != nil {
		return a
	}
	return b
}

func xattrsErr(failed []string, first error) error {
	if len(failed) == 0 {
		return nil
	}
	return fmt.Errorf("%w: %s: %w", ErrXattrs, strings.Join(failed, ", "), first)
}

// removable reports whether an attribute the snapshot does not have is
// removed from an existing entry: user attributes and ACLs are the
// entry's; security.* and trusted.* ones (SELinux labels, IMA hashes) are
// the target system's and are left alone.
func removable(name string) bool {
	return strings.HasPrefix(name, "user.") || strings.HasPrefix(name, "system.posix_acl_")
}

// syncXattrs makes the attributes of the existing entry at path those of
// n: missing or different ones are set, user attributes and ACLs that n
// does not have are removed.
func (rs *restorer) syncXattrs(path string, n *format.Node) error {
	if rs.opts.NoXattrs {
		return nil
	}
	names, err := fsmeta.ListXattrs(path, nil)
	if err != nil {
		return fmt.Errorf("%w: %w", ErrXattrs, err)
	}
	var failed []string
	var first error
	for _, name := range names {
		_, found := slices.BinarySearchFunc(n.Xattrs, name, func(x format.Xattr, name string) int { return strings.Compare(x.Name, name) })
		if found || !removable(name) || !rs.wantXattr(name) {
			continue
		}
		if err := fsmeta.RemoveXattr(path, name); err != nil && !errors.Is(err, unix.ENODATA) {
			failed = append(failed, name)
			first = cmpOr(first, err)
		}
	}
	err = rs.setXattrs(n, func(name string, value []byte) error {
		if slices.Contains(names, name) {
			if v, err := fsmeta.GetXattr(path, name); err == nil && bytes.Equal(v, value) {
				return nil
			}
		}
		return fsmeta.SetXattr(path, name, value)
	})
	if failed == nil {
		return err
	}
	return errors.Join(xattrsErr(failed, first), err)
}

// pendingFlags is an entry whose inode flags are set once everything else
// is restored (an immutable file can be neither linked nor renamed, an
// immutable directory gets no entries).
type pendingFlags struct {
	dir      *dirEntry // the entry's directory
	name     string
	snapPath string
	flags    uint32
	isDir    bool
	dev, ino uint64 // the restored file (0: not checked)
}

// queueFlags notes that the entry gets inode flags at the end.
func (rs *restorer) queueFlags(p pendingFlags) {
	if rs.opts.NoFlags || p.flags == 0 {
		return
	}
	rs.flagsMu.Lock()
	rs.pendFlags = append(rs.pendFlags, p)
	rs.flagsMu.Unlock()
}

// finishFlags sets the queued inode flags, last of all: times are set by
// then, and nothing is written into an immutable entry afterwards.
func (rs *restorer) finishFlags() {
	for _, p := range rs.pendFlags {
		if rs.ctx.Err() != nil {
			return
		}
		err := rs.dirFDs.at(p.dir, func(dfd int) error {
			flags := unix.O_RDONLY | unix.O_NOFOLLOW | unix.O_CLOEXEC | unix.O_NONBLOCK
			if p.isDir {
				flags |= unix.O_DIRECTORY
			}
			fd, err := unix.Openat(dfd, p.name, flags, 0)
			if err != nil {
				return fmt.Errorf("%w: open: %w", ErrXattrs, err)
			}
			defer unix.Close(fd)
			var st unix.Stat_t
			if err := unix.Fstat(fd, &st); err != nil {
				return fmt.Errorf("%w: stat: %w", ErrXattrs, err)
			}
			want := format.TypeFile
			if p.isDir {
				want = format.TypeDir
			}
			if dev, ino := fileID(&st); !hasType(&st, want) || (p.ino != 0 && (dev != p.dev || ino != p.ino)) {
				return fmt.Errorf("%w: %s is no longer the restored entry", ErrXattrs, p.name)
			}
			if err := fsmeta.SetFlags(fd, p.flags); err != nil {
				return fmt.Errorf("%w: %w", ErrXattrs, err)
			}
			return nil
		})
		if err != nil {
			rs.fail(p.snapPath, err)
		}
	}
}

// immutable reports whether the existing entry name in dfd is immutable
// or append-only (so it cannot be replaced or removed).
func immutable(dfd int, name string) bool {
	fd, err := unix.Openat(dfd, name, unix.O_RDONLY|unix.O_NOFOLLOW|unix.O_CLOEXEC|unix.O_NONBLOCK, 0)
	if err != nil {
		return false
	}
	defer unix.Close(fd)
	f, err := fsmeta.Flags(fd)
	return err == nil && f&(fsmeta.FlagImmutable|fsmeta.FlagAppend) != 0
}

// errImmutable is the conflict of an existing immutable entry.
func errImmutable(name string) error {
	return fmt.Errorf("%w: the target's %s is immutable or append-only (chattr -i -a to replace it)", ErrConflict, name)
}
