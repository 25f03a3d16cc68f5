package restore

import (
	"context"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path"
	"runtime"
	"sort"
	"sync/atomic"
	"syscall"
	"time"

	"golang.org/x/sys/unix"

	"lifeboat/engine/format"
	"lifeboat/engine/repo"
)

// Overwrite says what to do with files that already exist in the target.
type Overwrite int

// Overwrite modes.
const (
	// OverwriteAlways replaces existing files.
	OverwriteAlways Overwrite = iota
	// OverwriteIfChanged keeps an existing file whose size, mtime and
	// content already match the snapshot, and replaces it otherwise.
	OverwriteIfChanged
	// OverwriteNever keeps every existing file.
	OverwriteNever
)

// ParseOverwrite parses "always", "if-changed" or "never".
func ParseOverwrite(s string) (Overwrite, error) {
	switch s {
	case "always", "":
		return OverwriteAlways, nil
	case "if-changed":
		return OverwriteIfChanged, nil
	case "never":
		return OverwriteNever, nil
	}
	return 0, fmt.Errorf("overwrite mode %q: want always, if-changed or never", s)
}

// Selector decides which snapshot paths to restore ("/a/b" form).
type Selector interface {
	Excluded(path string) bool
}

// Options describe a restore.
type Options struct {
	// Target is the directory to restore into (created if missing).
	Target string
	// Include, when not nil, restores only matching paths (and what is
	// below a matching directory).
	Include Selector
	// Exclude leaves matching paths out.
	Exclude   Selector
	Overwrite Overwrite
	// Workers reading packs in parallel (0: GOMAXPROCS+1).
	Workers int
	// Owner restores uid/gid (default: only when running as root).
	Owner *bool
	// Progress receives counters (may be nil).
	Progress *Progress
	// OnError is called for every entry that could not be restored.
	OnError func(path string, err error)
	// BatchFiles bounds the files planned at once (0: 8192).
	BatchFiles int
}

// Progress holds counters a reporter may read at any time.
type Progress struct {
	FilesDone    atomic.Int64
	FilesSkipped atomic.Int64
	DirsDone     atomic.Int64
	BytesDone    atomic.Int64
	Errors       atomic.Int64
}

// Result summarises a restore.
type Result struct {
	Files, Skipped, Dirs, Links, Errors int64
	Bytes                               int64
}

// ErrVerify marks a file whose restored content does not match the
// snapshot.
var ErrVerify = errors.New("verification failed")

// Run restores the tree of snap into opts.Target.
func Run(ctx context.Context, r *repo.Repository, snap *format.Snapshot, opts Options) (*Result, error) {
	if opts.Workers <= 0 {
		opts.Workers = runtime.GOMAXPROCS(0) + 1
	}
	if opts.BatchFiles <= 0 {
		opts.BatchFiles = 8192
	}
	if opts.Progress == nil {
		opts.Progress = &Progress{}
	}
	owner := os.Geteuid() == 0
	if opts.Owner != nil {
		owner = *opts.Owner
	}
	if err := os.MkdirAll(opts.Target, 0o700); err != nil {
		return nil, fmt.Errorf("restore: target: %w", err)
	}
	root, err := os.OpenRoot(opts.Target)
	if err != nil {
		return nil, fmt.Errorf("restore: target: %w", err)
	}
	defer root.Close()
	rs := &restorer{r: r, opts: opts, root: root, owner: owner, ctx: ctx, links: map[linkKey]string{}}
	top := &dirEntry{rel: ".", created: true}
	if err := rs.walk(ctx, snap.Tree, top, "/"); err != nil {
		rs.flushBatch()
		return rs.result(), err
	}
	if err := rs.flushBatch(); err != nil {
		return rs.result(), err
	}
	rs.finishLinks()
	rs.finishDirs()
	return rs.result(), ctx.Err()
}

type restorer struct {
	r     *repo.Repository
	opts  Options
	root  *os.Root
	owner bool
	ctx   context.Context

	batch     []*fileState
	dirs      []*dirEntry
	links     map[linkKey]string // first restored path of a hard-link group
	pendLinks []pendingLink

	files, skipped, dirCount, linkCount, errCount, bytes atomic.Int64
}

type linkKey struct{ dev, ino uint64 }

type pendingLink struct {
	key linkKey
	rel string
	dir *dirEntry
}

func (rs *restorer) result() *Result {
	return &Result{Files: rs.files.Load(), Skipped: rs.skipped.Load(), Dirs: rs.dirCount.Load(),
		Links: rs.linkCount.Load(), Errors: rs.errCount.Load(), Bytes: rs.bytes.Load()}
}

func (rs *restorer) fail(rel string, err error) {
	rs.errCount.Add(1)
	rs.opts.Progress.Errors.Add(1)
	if rs.opts.OnError != nil {
		rs.opts.OnError(rel, err)
	}
}

// dirEntry is a directory of the snapshot; it is created lazily, when the
// first entry inside it is restored.
type dirEntry struct {
	rel     string // relative to the target, slash-separated
	node    *format.Node
	parent  *dirEntry
	created bool
	failed  error
}

// ensure creates d (and its parents) in the target.
func (rs *restorer) ensure(d *dirEntry) error {
	if d.created {
		return nil
	}
	if d.failed != nil {
		return d.failed
	}
	if err := rs.ensure(d.parent); err != nil {
		d.failed = err
		return err
	}
	err := rs.root.Mkdir(d.rel, 0o700)
	if errors.Is(err, fs.ErrExist) {
		var fi fs.FileInfo
		fi, err = rs.root.Lstat(d.rel)
		if err == nil && !fi.IsDir() {
			if rs.opts.Overwrite == OverwriteNever {
				err = fmt.Errorf("a non-directory is in the way")
			} else if err = rs.root.RemoveAll(d.rel); err == nil {
				err = rs.root.Mkdir(d.rel, 0o700)
			}
		}
	}
	if err != nil {
		d.failed = fmt.Errorf("create directory: %w", err)
		return d.failed
	}
	d.created = true
	rs.dirs = append(rs.dirs, d)
	return nil
}

func (rs *restorer) selected(p string, isDir bool) (take, descend bool) {
	if rs.opts.Exclude != nil && rs.opts.Exclude.Excluded(p) {
		return false, false
	}
	if rs.opts.Include == nil || rs.opts.Include.Excluded(p) {
		return true, true
	}
	return false, isDir // not included itself; something below may be
}

// walk restores the tree id into dir. snapPath is the snapshot path of dir.
func (rs *restorer) walk(ctx context.Context, id format.ID, dir *dirEntry, snapPath string) error {
	if err := ctx.Err(); err != nil {
		return err
	}
	t, err := rs.r.LoadTree(ctx, id)
	if err != nil {
		// An unreadable tree loses its subtree only.
		rs.fail(snapPath, err)
		return nil
	}
	for i := range t.Nodes {
		n := &t.Nodes[i]
		if !format.ValidName(n.Name) {
			rs.fail(path.Join(snapPath, n.Name), fmt.Errorf("unsafe name %q", n.Name))
			continue
		}
		sp := path.Join(snapPath, n.Name)
		rel := path.Join(dir.rel, n.Name)
		take, descend := rs.selected(sp, n.Type == format.TypeDir)
		switch n.Type {
		case format.TypeDir:
			if !descend {
				continue
			}
			sub := &dirEntry{rel: rel, node: n, parent: dir}
			if take {
				if err := rs.ensure(sub); err != nil {
					rs.fail(sp, err)
					continue
				}
				rs.dirCount.Add(1)
				rs.opts.Progress.DirsDone.Add(1)
			}
			if err := rs.walk(ctx, *n.Subtree, sub, sp); err != nil {
				return err
			}
			if !take && sub.created { // created for an included descendant
				rs.dirCount.Add(1)
			}
		case format.TypeFile:
			if !take {
				continue
			}
			if err := rs.ensure(dir); err != nil {
				rs.fail(sp, err)
				continue
			}
			if n.Links > 1 && n.Inode != 0 {
				k := linkKey{n.DeviceID, n.Inode}
				if _, ok := rs.links[k]; ok {
					rs.pendLinks = append(rs.pendLinks, pendingLink{key: k, rel: rel, dir: dir})
					continue
				}
				rs.links[k] = rel
			}
			rs.batch = append(rs.batch, &fileState{dir: dir, name: n.Name, rel: rel, snapPath: sp, node: n})
			if len(rs.batch) >= rs.opts.BatchFiles {
				if err := rs.flushBatch(); err != nil {
					return err
				}
			}
		default:
			if !take {
				continue
			}
			if err := rs.ensure(dir); err != nil {
				rs.fail(sp, err)
				continue
			}
			if err := rs.special(rel, n); err != nil {
				rs.fail(sp, err)
			}
		}
	}
	return nil
}

// special creates a symlink, device, FIFO or socket node.
func (rs *restorer) special(rel string, n *format.Node) error {
	if fi, err := rs.root.Lstat(rel); err == nil {
		if rs.opts.Overwrite == OverwriteNever || (rs.opts.Overwrite == OverwriteIfChanged && rs.sameSpecial(rel, fi, n)) {
			rs.skipped.Add(1)
			return nil
		}
		if fi.IsDir() {
			err = rs.root.RemoveAll(rel)
		} else {
			err = rs.root.Remove(rel)
		}
		if err != nil {
			return fmt.Errorf("replace: %w", err)
		}
	}
	switch n.Type {
	case format.TypeSymlink:
		if err := rs.root.Symlink(n.LinkTarget, rel); err != nil {
			return fmt.Errorf("symlink: %w", err)
		}
	case format.TypeFIFO:
		if err := rs.mknodAt(rel, unix.S_IFIFO|n.Mode&0o7777, 0); err != nil {
			return err
		}
	case format.TypeDev, format.TypeCharDev:
		if !rs.owner {
			return fmt.Errorf("device node: restoring devices needs root")
		}
		mode := uint32(unix.S_IFBLK)
		if n.Type == format.TypeCharDev {
			mode = unix.S_IFCHR
		}
		if err := rs.mknodAt(rel, mode|n.Mode&0o7777, int(n.Rdev)); err != nil {
			return err
		}
	case format.TypeSocket:
		return nil // sockets are recreated by their servers; nothing to restore
	}
	if rs.owner {
		if err := rs.root.Lchown(rel, int(n.UID), int(n.GID)); err != nil {
			return fmt.Errorf("chown: %w", err)
		}
	}
	if n.Type != format.TypeSymlink {
		if err := rs.root.Chmod(rel, fileMode(n.Mode)); err != nil {
			return fmt.Errorf("chmod: %w", err)
		}
	}
	if err := rs.lutimes(rel, n.MTime); err != nil {
		return err
	}
	rs.files.Add(1)
	return nil
}

// sameSpecial reports whether the existing entry already is the node.
func (rs *restorer) sameSpecial(rel string, fi fs.FileInfo, n *format.Node) bool {
	switch n.Type {
	case format.TypeSymlink:
		t, err := rs.root.Readlink(rel)
		return fi.Mode()&fs.ModeSymlink != 0 && err == nil && t == n.LinkTarget
	case format.TypeFIFO:
		return fi.Mode()&fs.ModeNamedPipe != 0 && uint32(fi.Mode().Perm()) == n.Mode&0o777
	}
	return false
}

// withDir runs fn with an open file descriptor of rel's parent directory,
// opened through the root, and rel's base name.
func (rs *restorer) withDir(rel string, fn func(dirfd int, name string) error) error {
	d, err := rs.root.Open(path.Dir(rel))
	if err != nil {
		return err
	}
	defer d.Close()
	return fn(int(d.Fd()), path.Base(rel))
}

func (rs *restorer) mknodAt(rel string, mode uint32, dev int) error {
	return rs.withDir(rel, func(dirfd int, name string) error {
		if err := unix.Mknodat(dirfd, name, mode, dev); err != nil {
			return fmt.Errorf("mknod: %w", err)
		}
		return nil
	})
}

// lutimes sets the mtime of rel without following a symlink.
func (rs *restorer) lutimes(rel string, mtime time.Time) error {
	return rs.withDir(rel, func(dirfd int, name string) error {
		ts := []unix.Timespec{unix.NsecToTimespec(mtime.UnixNano()), unix.NsecToTimespec(mtime.UnixNano())}
		if err := unix.UtimesNanoAt(dirfd, name, ts, unix.AT_SYMLINK_NOFOLLOW); err != nil {
			return fmt.Errorf("set times: %w", err)
		}
		return nil
	})
}

func fileMode(m uint32) fs.FileMode {
	mode := fs.FileMode(m & 0o777)
	if m&0o4000 != 0 {
		mode |= fs.ModeSetuid
	}
	if m&0o2000 != 0 {
		mode |= fs.ModeSetgid
	}
	if m&0o1000 != 0 {
		mode |= fs.ModeSticky
	}
	return mode
}

// finishLinks creates the hard links whose first name was restored.
func (rs *restorer) finishLinks() {
	for _, l := range rs.pendLinks {
		first := rs.links[l.key]
		if fi, err := rs.root.Lstat(l.rel); err == nil {
			if rs.opts.Overwrite == OverwriteNever {
				rs.skipped.Add(1)
				continue
			}
			if fi.IsDir() {
				err = rs.root.RemoveAll(l.rel)
			} else {
				err = rs.root.Remove(l.rel)
			}
			if err != nil {
				rs.fail(l.rel, err)
				continue
			}
		}
		if err := rs.root.Link(first, l.rel); err != nil {
			rs.fail(l.rel, fmt.Errorf("hard link to %s: %w", first, err))
			continue
		}
		rs.linkCount.Add(1)
	}
}

// finishDirs sets directory metadata, deepest first, since restoring
// entries changed the directories' mtimes.
func (rs *restorer) finishDirs() {
	sort.SliceStable(rs.dirs, func(i, j int) bool { return len(rs.dirs[i].rel) > len(rs.dirs[j].rel) })
	for _, d := range rs.dirs {
		n := d.node
		if n == nil {
			continue
		}
		if rs.owner {
			if err := rs.root.Lchown(d.rel, int(n.UID), int(n.GID)); err != nil {
				rs.fail(d.rel, fmt.Errorf("chown: %w", err))
			}
		}
		if err := rs.root.Chmod(d.rel, fileMode(n.Mode)|fs.ModeDir); err != nil {
			rs.fail(d.rel, fmt.Errorf("chmod: %w", err))
		}
		if err := rs.lutimes(d.rel, n.MTime); err != nil {
			rs.fail(d.rel, err)
		}
	}
}

func statMatches(fi fs.FileInfo, n *format.Node) bool {
	if !fi.Mode().IsRegular() || uint64(fi.Size()) != n.Size || !fi.ModTime().Equal(n.MTime) {
		return false
	}
	_, ok := fi.Sys().(*syscall.Stat_t)
	return ok
}
