//go:build linux

package fsmetatest

import (
	"encoding/binary"
	"os"
	"path/filepath"
	"testing"

	"golang.org/x/sys/unix"
)

// Mount mounts a new file system of type fstype (tmpfs or ramfs) on a
// fresh directory and unmounts it when the test ends (discarding what it
// holds, immutable files included).
func Mount(t testing.TB, fstype string) string {
	t.Helper()
	dir := filepath.Join(t.TempDir(), fstype)
	MountAt(t, dir, fstype)
	return dir
}

// CapNetRaw is the security.capability value `setcap cap_net_raw+ep`
// writes (struct vfs_cap_data, revision 2, effective).
func CapNetRaw() []byte {
	const revision2, effective, capNetRaw = 0x02000000, 0x000001, 13
	b := make([]byte, 20)
	binary.LittleEndian.PutUint32(b[0:], revision2|effective)
	binary.LittleEndian.PutUint32(b[4:], 1<<capNetRaw) // permitted, low word
	return b
}

// ACL returns a system.posix_acl_access (or _default) value: owner rw,
// user uid r, group r, mask r, others nothing.
func ACL(uid uint32) []byte {
	const (
		version  = 2
		userObj  = 0x01
		user     = 0x02
		groupObj = 0x04
		mask     = 0x10
		other    = 0x20
		undef    = 0xffffffff
	)
	b := binary.LittleEndian.AppendUint32(nil, version)
	for _, e := range []struct {
		tag, perm uint16
		id        uint32
	}{{userObj, 6, undef}, {user, 4, uid}, {groupObj, 4, undef}, {mask, 4, undef}, {other, 0, undef}} {
		b = binary.LittleEndian.AppendUint16(b, e.tag)
		b = binary.LittleEndian.AppendUint16(b, e.perm)
		b = binary.LittleEndian.AppendUint32(b, e.id)
	}
	return b
}

// Setxattr sets an attribute of path (not following a symlink).
func Setxattr(t testing.TB, path, name string, value []byte) {
	t.Helper()
	if err := unix.Lsetxattr(path, name, value, 0); err != nil {
		t.Fatalf("setxattr %s %s: %v", path, name, err)
	}
}

// Getxattr returns an attribute of path, failing the test if it has none.
func Getxattr(t testing.TB, path, name string) []byte {
	t.Helper()
	buf := make([]byte, 64<<10)
	n, err := unix.Lgetxattr(path, name, buf)
	if err != nil {
		t.Fatalf("getxattr %s %s: %v", path, name, err)
	}
	return buf[:n]
}

// SetFlags sets the inode flags of the file or directory path.
func SetFlags(t testing.TB, path string, flags uint32) {
	t.Helper()
	fd, err := unix.Open(path, unix.O_RDONLY|unix.O_NOFOLLOW|unix.O_CLOEXEC|unix.O_NONBLOCK, 0)
	if err != nil {
		t.Fatal(err)
	}
	defer unix.Close(fd)
	if err := unix.IoctlSetPointerInt(fd, unix.FS_IOC_SETFLAGS, int(int32(flags))); err != nil {
		t.Fatalf("set inode flags of %s: %v", path, err)
	}
}

// Flags returns the inode flags of the file or directory path.
func Flags(t testing.TB, path string) uint32 {
	t.Helper()
	fd, err := unix.Open(path, unix.O_RDONLY|unix.O_NOFOLLOW|unix.O_CLOEXEC|unix.O_NONBLOCK, 0)
	if err != nil {
		t.Fatal(err)
	}
	defer unix.Close(fd)
	f, err := unix.IoctlGetUint32(fd, unix.FS_IOC_GETFLAGS)
	if err != nil {
		t.Fatalf("get inode flags of %s: %v", path, err)
	}
	return f
}

// MountAt mounts a new file system of type fstype on dir (created if
// missing) and unmounts it when the test ends.
func MountAt(t testing.TB, dir, fstype string) {
	t.Helper()
	if err := os.MkdirAll(dir, 0o755); err != nil {
		t.Fatal(err)
	}
	if err := unix.Mount(fstype, dir, fstype, unix.MS_NOSUID|unix.MS_NODEV, "size=64m,mode=0755"); err != nil {
		t.Fatalf("mount %s on %s (tests of extended attributes run as root): %v", fstype, dir, err)
	}
	t.Cleanup(func() {
		if err := unix.Unmount(dir, unix.MNT_DETACH); err != nil {
			t.Errorf("unmount %s: %v", dir, err)
		}
	})
}
