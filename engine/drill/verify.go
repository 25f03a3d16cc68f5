package drill

import (
	"context"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"syscall"
	"time"

	"golang.org/x/sys/unix"

	"lifeboat/engine/format"
	"lifeboat/engine/fsmeta"
	"lifeboat/engine/repo"
	"lifeboat/engine/restore"
)

// mismatchError reports an entry on disk that differs from the snapshot.
type mismatchError struct {
	what string
	err  error
}

func (e *mismatchError) Error() string {
	if e.err != nil {
		return e.what + ": " + e.err.Error()
	}
	return e.what
}

func (e *mismatchError) Unwrap() error { return e.err }

func mismatch(format string, args ...any) error {
	return &mismatchError{what: fmt.Sprintf(format, args...)}
}

// verifier compares entries on disk with snapshot nodes.
type verifier struct {
	r     *repo.Repository
	owner bool

	mu     sync.Mutex
	inodes map[[2]uint64]format.ID // inodes whose content verified, and as which file hash
}

func newVerifier(r *repo.Repository, owner bool) *verifier {
	return &verifier{r: r, owner: owner, inodes: map[[2]uint64]format.ID{}}
}

func typeName(mode uint32) string {
	switch mode & unix.S_IFMT {
	case unix.S_IFREG:
		return "file"
	case unix.S_IFDIR:
		return "dir"
	case unix.S_IFLNK:
		return "symlink"
	case unix.S_IFIFO:
		return "fifo"
	case unix.S_IFBLK:
		return "dev"
	case unix.S_IFCHR:
		return "chardev"
	case unix.S_IFSOCK:
		return "socket"
	}
	return fmt.Sprintf("type %o", mode&unix.S_IFMT)
}

// meta checks the metadata of the entry at full against n: type, mode,
// size, mtime, symlink target, device number, and owner when restoring as
// root. A missing entry is a mismatch wrapping fs.ErrNotExist.
func (v *verifier) meta(full string, n *format.Node) (*unix.Stat_t, error) {
	var st unix.Stat_t
	if err := unix.Lstat(full, &st); err != nil {
		if errors.Is(err, unix.ENOENT) {
			return nil, &mismatchError{what: "missing from the restore", err: fs.ErrNotExist}
		}
		return nil, fmt.Errorf("lstat: %w", err)
	}
	if want := restore.FileType(n.Type); uint32(st.Mode)&unix.S_IFMT != want {
		return nil, mismatch("restored as a %s, the snapshot has a %s", typeName(uint32(st.Mode)), n.Type)
	}
	if n.Type != format.TypeSymlink && uint32(st.Mode)&0o7777 != n.Mode&0o7777 {
		return nil, mismatch("mode %04o, the snapshot has %04o", st.Mode&0o7777, n.Mode&0o7777)
	}
	if n.Type == format.TypeFile && uint64(st.Size) != n.Size {
		return nil, mismatch("size %d, the snapshot has %d", st.Size, n.Size)
	}
	if mt := time.Unix(st.Mtim.Sec, st.Mtim.Nsec); !mt.Equal(n.MTime) {
		return nil, mismatch("mtime %s, the snapshot has %s", mt.UTC().Format(time.RFC3339Nano), n.MTime.UTC().Format(time.RFC3339Nano))
	}
	if v.owner && (st.Uid != n.UID || st.Gid != n.GID) {
		return nil, mismatch("owner %d:%d, the snapshot has %d:%d", st.Uid, st.Gid, n.UID, n.GID)
	}
	switch n.Type {
	case format.TypeSymlink:
		target, err := os.Readlink(full)
		if err != nil {
			return nil, fmt.Errorf("readlink: %w", err)
		}
		if target != n.LinkTarget {
			return nil, mismatch("symlink to %q, the snapshot has %q", target, n.LinkTarget)
		}
	case format.TypeDev, format.TypeCharDev:
		if uint64(st.Rdev) != n.Rdev {
			return nil, mismatch("device %d, the snapshot has %d", st.Rdev, n.Rdev)
		}
	}
	return &st, nil
}

// skipXattr is the drill's rule for extended attributes: security.* and
// trusted.* ones are restored and verified only as root (like owners), the
// others always.
func skipXattr(owner bool) func(name string) bool {
	if owner {
		return nil
	}
	return func(name string) bool {
		return strings.HasPrefix(name, "security.") || strings.HasPrefix(name, "trusted.")
	}
}

// xattrs checks the extended attributes of the entry at full against n's:
// each must be there with its value, and no user attribute or ACL that n
// does not have (security.* and trusted.* ones the scratch file system
// adds, such as SELinux labels, are not the snapshot's to judge).
func (v *verifier) xattrs(full string, n *format.Node) error {
	names, err := fsmeta.ListXattrs(full, nil)
	if err != nil {
		return err
	}
	skip := skipXattr(v.owner)
	have := map[string]bool{}
	for _, name := range names {
		have[name] = true
	}
	want := map[string]bool{}
	for _, x := range n.Xattrs {
		if skip != nil && skip(x.Name) {
			continue
		}
		want[x.Name] = true
		if !have[x.Name] {
			return mismatch("extended attribute %s missing", x.Name)
		}
		got, err := fsmeta.GetXattr(full, x.Name)
		if err != nil {
			return err
		}
		if string(got) != string(x.Value) {
			return mismatch("extended attribute %s is %d bytes that differ from the snapshot's %d", x.Name, len(got), len(x.Value))
		}
	}
	for _, name := range names {
		if !want[name] && (strings.HasPrefix(name, "user.") || strings.HasPrefix(name, "system.posix_acl_")) {
			return mismatch("extended attribute %s is not in the snapshot", name)
		}
	}
	return nil
}

// content checks the bytes of the regular file at full against n: split
// at the blob boundaries the index gives, each piece must hash to its blob
// ID, the file must end after the last piece, and the blob list must match
// the file's hash. st (may be nil) lets hard links be read once. buf is a
// reusable buffer.
func (v *verifier) content(full string, n *format.Node, st *unix.Stat_t, buf *[]byte) error {
	if n.Hash == nil || v.r.FileHash(n.Size, n.Content) != *n.Hash {
		return fmt.Errorf("%w: the blob list does not match the file hash", errSnapshotFile)
	}
	var ino [2]uint64
	if st != nil && st.Nlink > 1 {
		ino = [2]uint64{uint64(st.Dev), st.Ino}
		v.mu.Lock()
		h, ok := v.inodes[ino]
		v.mu.Unlock()
		if ok && h == *n.Hash {
			return nil
		}
	}
	f, err := os.OpenFile(full, os.O_RDONLY|syscall.O_NOFOLLOW, 0)
	if err != nil {
		return fmt.Errorf("open: %w", err)
	}
	defer f.Close()
	idx := v.r.Index()
	var off uint64
	for _, id := range n.Content {
		loc, ok := idx.Lookup(id)
		if !ok {
			return fmt.Errorf("blob %s: %w", id.Short(), repo.ErrBlobNotFound)
		}
		size := int(loc.Blob.RawLen)
		if cap(*buf) < size {
			*buf = make([]byte, size)
		}
		b := (*buf)[:size]
		if _, err := io.ReadFull(f, b); err != nil {
			if errors.Is(err, io.EOF) || errors.Is(err, io.ErrUnexpectedEOF) {
				return mismatch("ends before byte %d", off+uint64(size))
			}
			return fmt.Errorf("read: %w", err)
		}
		if v.r.Hash(b) != id {
			return mismatch("bytes %d..%d do not match blob %s", off, off+uint64(size), id.Short())
		}
		off += uint64(size)
	}
	if off != n.Size {
		return fmt.Errorf("%w: its blobs add up to %d bytes, the file has %d", errSnapshotFile, off, n.Size)
	}
	var one [1]byte
	if k, _ := f.Read(one[:]); k > 0 {
		return mismatch("longer than the snapshot's %d bytes", n.Size)
	}
	if st != nil && st.Nlink > 1 {
		v.mu.Lock()
		v.inodes[ino] = *n.Hash
		v.mu.Unlock()
	}
	return nil
}

// errSnapshotFile marks a file node that is inconsistent in the snapshot.
var errSnapshotFile = fmt.Errorf("inconsistent file in the snapshot: %w", format.ErrFormat)

// verifyJob is one entry to verify.
type verifyJob struct {
	path string
	node *format.Node
	// optional entries (directories of a sampled drill) are verified only
	// when the restore created them.
	optional bool
}

// verify walks the snapshot again and verifies every restored entry on
// disk (every one selected, for a sampled drill); the restore's own errors
// are reported once per path.
func (d *drill) verify(ctx context.Context, snap repo.SnapshotRef) error {
	jobs := make(chan verifyJob, 4*d.opts.Workers)
	var wg sync.WaitGroup
	for range d.opts.Workers {
		wg.Add(1)
		go func() {
			defer wg.Done()
			var buf []byte
			for j := range jobs {
				if ctx.Err() == nil {
					d.verifyEntry(j, &buf)
				}
			}
		}()
	}
	var files, bytes int64
	takeRestoreErr := func(p string) (error, bool) {
		d.mu.Lock()
		defer d.mu.Unlock()
		err, ok := d.restoreErr[p]
		delete(d.restoreErr, p)
		return err, ok
	}
	walkErr := walkTree(ctx, d.r, snap.Tree, "/", func(p string, n *format.Node) error {
		if n.Type == format.TypeFile {
			files++
			bytes += int64(n.Size)
		}
		rerr, failed := takeRestoreErr(p)
		if n.Type == format.TypeSocket || (!d.owner && (n.Type == format.TypeDev || n.Type == format.TypeCharDev)) {
			// Not restored: sockets are recreated by their servers,
			// device nodes need root.
			d.mu.Lock()
			d.rep.Skipped++
			d.mu.Unlock()
			return nil
		}
		if failed {
			d.addFailure(p, n, rerr)
			return nil
		}
		j := verifyJob{path: p, node: n}
		if d.selected != nil {
			if n.Type == format.TypeDir {
				j.optional = true
			} else if !d.selected[p] {
				return nil
			}
		}
		select {
		case jobs <- j:
			return nil
		case <-ctx.Done():
			return ctx.Err()
		}
	}, func(p string, err error) {
		if rerr, ok := takeRestoreErr(p); ok {
			err = rerr
		}
		d.addFailure(p, nil, err)
	})
	close(jobs)
	wg.Wait()
	if walkErr != nil {
		return walkErr
	}
	if err := ctx.Err(); err != nil {
		return err
	}
	d.rep.FilesTotal, d.rep.BytesTotal = files, bytes
	// Restore errors for paths the walk did not reach.
	d.mu.Lock()
	rest := d.restoreErr
	d.restoreErr = map[string]error{}
	d.mu.Unlock()
	for _, p := range sortedKeys(rest) {
		d.addFailure(p, nil, rest[p])
	}
	return nil
}

// verifyEntry verifies one restored entry and counts it.
func (d *drill) verifyEntry(j verifyJob, buf *[]byte) {
	full := filepath.Join(d.target, filepath.FromSlash(j.path))
	st, err := d.verifier.meta(full, j.node)
	if j.optional && errors.Is(err, fs.ErrNotExist) {
		return
	}
	if err == nil {
		err = d.verifier.xattrs(full, j.node)
	}
	if err == nil && j.node.Type == format.TypeFile {
		err = d.verifier.content(full, j.node, st, buf)
	}
	if err != nil {
		d.addFailure(j.path, j.node, err)
		return
	}
	d.mu.Lock()
	defer d.mu.Unlock()
	switch j.node.Type {
	case format.TypeFile:
		d.rep.Files++
		d.rep.Bytes += int64(j.node.Size)
	case format.TypeDir:
		d.rep.Dirs++
	case format.TypeSymlink:
		d.rep.Symlinks++
	default:
		d.rep.Other++
	}
}
