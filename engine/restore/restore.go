package restore

import (
	"context"
	"errors"
	"fmt"
	"os"
	"path"
	"runtime"
	"sort"
	"sync"
	"sync/atomic"
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
	// BatchFiles bounds the files planned at once (0: from the open-file
	// limit, at most 4096).
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
		// One more than the cores: workers spend part of their time in
		// file-creating system calls (more only adds contention).
		opts.Workers = runtime.GOMAXPROCS(0) + 1
	}
	fdLimit := 1024
	var lim unix.Rlimit
	if unix.Getrlimit(unix.RLIMIT_NOFILE, &lim) == nil && lim.Cur > 64 {
		fdLimit = int(min(lim.Cur, 1<<20))
	}
	if opts.BatchFiles <= 0 {
		opts.BatchFiles = min(max(fdLimit/4, 16), 4096)
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
	dirs, err := newDirFDs(opts.Target, min(max(fdLimit/8, 8), 1024))
	if err != nil {
		return nil, fmt.Errorf("restore: %w", err)
	}
	defer dirs.close()
	rs := &restorer{r: r, opts: opts, dirFDs: dirs, owner: owner, ctx: ctx, links: map[linkKey]linkTarget{},
		euid: os.Geteuid(), egid: os.Getegid(), umask: currentUmask()}
	top := &dirEntry{rel: ".", created: true}
	rs.startWorkers()
	err = rs.walk(ctx, snap.Tree, top, "/")
	if err == nil {
		err = rs.flushBatch()
	}
	rs.stopWorkers()
	if err != nil {
		return rs.result(), err
	}
	rs.finishLinks()
	rs.finishDirs()
	return rs.result(), ctx.Err()
}

type restorer struct {
	r      *repo.Repository
	opts   Options
	dirFDs *dirFDs
	owner  bool
	ctx    context.Context

	batch     []*fileState
	jobs      chan *packJob
	wg        sync.WaitGroup
	dirs      []*dirEntry
	links     map[linkKey]linkTarget // first restored name of a hard-link group
	pendLinks []pendingLink

	euid, egid int
	umask      uint32

	files, skipped, dirCount, linkCount, errCount, bytes atomic.Int64
}

// currentUmask reads the process umask (setting it back at once).
func currentUmask() uint32 {
	m := unix.Umask(0o22)
	unix.Umask(m)
	return uint32(m)
}

type linkKey struct{ dev, ino uint64 }

type linkTarget struct {
	dir  *dirEntry
	name string
	file *fileState
}

type pendingLink struct {
	key  linkKey
	dir  *dirEntry
	name string
	rel  string
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
	name    string // name in the parent ("" for the target itself)
	rel     string // relative to the target, slash-separated
	node    *format.Node
	parent  *dirEntry
	created bool
	failed  error
}

// ensure creates d (and its parents) in the target. Only the walker calls
// it, so it needs no lock.
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
	err := rs.dirFDs.at(d.parent, func(pfd int) error {
		err := unix.Mkdirat(pfd, d.name, 0o700)
		if !errors.Is(err, unix.EEXIST) {
			return err
		}
		var st unix.Stat_t
		if err := unix.Fstatat(pfd, d.name, &st, unix.AT_SYMLINK_NOFOLLOW); err != nil {
			return err
		}
		if st.Mode&unix.S_IFMT == unix.S_IFDIR {
			return nil
		}
		if rs.opts.Overwrite == OverwriteNever {
			return errors.New("a non-directory is in the way")
		}
		if err := removeAllAt(pfd, d.name, 0); err != nil {
			return err
		}
		return unix.Mkdirat(pfd, d.name, 0o700)
	})
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
		sp := path.Join(snapPath, n.Name)
		if !format.ValidName(n.Name) {
			rs.fail(sp, fmt.Errorf("unsafe name %q", n.Name))
			continue
		}
		rel := path.Join(dir.rel, n.Name)
		take, descend := rs.selected(sp, n.Type == format.TypeDir)
		switch n.Type {
		case format.TypeDir:
			if !descend {
				continue
			}
			sub := &dirEntry{name: n.Name, rel: rel, node: n, parent: dir}
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
			f := &fileState{dir: dir, name: n.Name, rel: rel, snapPath: sp, node: n, fd: -1}
			if n.Links > 1 && n.Inode != 0 {
				k := linkKey{n.DeviceID, n.Inode}
				if _, ok := rs.links[k]; ok {
					rs.pendLinks = append(rs.pendLinks, pendingLink{key: k, dir: dir, name: n.Name, rel: rel})
					continue
				}
				rs.links[k] = linkTarget{dir: dir, name: n.Name, file: f}
			}
			rs.batch = append(rs.batch, f)
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
			if err := rs.dirFDs.at(dir, func(dfd int) error { return rs.special(dfd, n) }); err != nil {
				rs.fail(sp, err)
			}
		}
	}
	return nil
}

// special creates a symlink, device, FIFO or socket node in dfd.
func (rs *restorer) special(dfd int, n *format.Node) error {
	var st unix.Stat_t
	if err := unix.Fstatat(dfd, n.Name, &st, unix.AT_SYMLINK_NOFOLLOW); err == nil {
		if rs.opts.Overwrite == OverwriteNever || (rs.opts.Overwrite == OverwriteIfChanged && sameSpecial(dfd, &st, n)) {
			rs.skipped.Add(1)
			return nil
		}
		if err := removeAllAt(dfd, n.Name, 0); err != nil {
			return fmt.Errorf("replace: %w", err)
		}
	}
	switch n.Type {
	case format.TypeSymlink:
		if err := unix.Symlinkat(n.LinkTarget, dfd, n.Name); err != nil {
			return fmt.Errorf("symlink: %w", err)
		}
	case format.TypeFIFO:
		if err := unix.Mknodat(dfd, n.Name, unix.S_IFIFO|n.Mode&0o777, 0); err != nil {
			return fmt.Errorf("mkfifo: %w", err)
		}
	case format.TypeDev, format.TypeCharDev:
		if !rs.owner {
			return fmt.Errorf("device node: restoring devices needs root")
		}
		mode := uint32(unix.S_IFBLK)
		if n.Type == format.TypeCharDev {
			mode = unix.S_IFCHR
		}
		if err := unix.Mknodat(dfd, n.Name, mode|n.Mode&0o777, int(n.Rdev)); err != nil {
			return fmt.Errorf("mknod: %w", err)
		}
	case format.TypeSocket:
		return nil // sockets are recreated by their servers; nothing to restore
	}
	if err := rs.setMeta(dfd, n.Name, n, n.Type != format.TypeSymlink); err != nil {
		return err
	}
	rs.files.Add(1)
	return nil
}

// setMeta sets owner, mode (unless chmod is false: symlinks have none) and
// mtime of name in dfd, never following a symlink.
func (rs *restorer) setMeta(dfd int, name string, n *format.Node, chmod bool) error {
	if rs.owner && (int(n.UID) != rs.euid || int(n.GID) != rs.egid) {
		if err := unix.Fchownat(dfd, name, int(n.UID), int(n.GID), unix.AT_SYMLINK_NOFOLLOW); err != nil {
			return fmt.Errorf("chown: %w", err)
		}
	}
	if chmod {
		if err := unix.Fchmodat(dfd, name, n.Mode&0o7777, 0); err != nil {
			return fmt.Errorf("chmod: %w", err)
		}
	}
	return setTimes(dfd, name, n.MTime)
}

func setTimes(dfd int, name string, mtime time.Time) error {
	ts := []unix.Timespec{unix.NsecToTimespec(mtime.UnixNano()), unix.NsecToTimespec(mtime.UnixNano())}
	if err := unix.UtimesNanoAt(dfd, name, ts, unix.AT_SYMLINK_NOFOLLOW); err != nil {
		return fmt.Errorf("set times: %w", err)
	}
	return nil
}

// sameSpecial reports whether the existing entry already is the node.
func sameSpecial(dfd int, st *unix.Stat_t, n *format.Node) bool {
	switch n.Type {
	case format.TypeSymlink:
		if st.Mode&unix.S_IFMT != unix.S_IFLNK {
			return false
		}
		buf := make([]byte, len(n.LinkTarget)+1)
		k, err := unix.Readlinkat(dfd, n.Name, buf)
		return err == nil && string(buf[:k]) == n.LinkTarget
	case format.TypeFIFO:
		return st.Mode&unix.S_IFMT == unix.S_IFIFO && st.Mode&0o777 == n.Mode&0o777
	}
	return false
}

// finishLinks creates the hard links whose first name was restored.
func (rs *restorer) finishLinks() {
	for _, l := range rs.pendLinks {
		first := rs.links[l.key]
		if !first.file.done.Load() {
			rs.fail(l.rel, fmt.Errorf("hard link: its first name %s was not restored", first.file.rel))
			continue
		}
		err := rs.dirFDs.at(first.dir, func(ffd int) error {
			return rs.dirFDs.at(l.dir, func(dfd int) error {
				var st unix.Stat_t
				if err := unix.Fstatat(dfd, l.name, &st, unix.AT_SYMLINK_NOFOLLOW); err == nil {
					if rs.opts.Overwrite == OverwriteNever {
						rs.skipped.Add(1)
						return nil
					}
					if err := removeAllAt(dfd, l.name, 0); err != nil {
						return err
					}
				}
				if err := unix.Linkat(ffd, first.name, dfd, l.name, 0); err != nil {
					return fmt.Errorf("hard link to %s: %w", first.file.rel, err)
				}
				rs.linkCount.Add(1)
				return nil
			})
		})
		if err != nil {
			rs.fail(l.rel, err)
		}
	}
}

// finishDirs sets directory metadata, deepest first, since restoring
// entries changed the directories' mtimes.
func (rs *restorer) finishDirs() {
	sort.SliceStable(rs.dirs, func(i, j int) bool { return depth(rs.dirs[i]) > depth(rs.dirs[j]) })
	for _, d := range rs.dirs {
		if d.node == nil || d.parent == nil {
			continue
		}
		err := rs.dirFDs.at(d.parent, func(pfd int) error { return rs.setMeta(pfd, d.name, d.node, true) })
		if err != nil {
			rs.fail(d.rel, err)
		}
	}
}

func depth(d *dirEntry) int {
	n := 0
	for ; d != nil; d = d.parent {
		n++
	}
	return n
}

func statMatches(st *unix.Stat_t, n *format.Node) bool {
	return st.Mode&unix.S_IFMT == unix.S_IFREG && uint64(st.Size) == n.Size &&
		time.Unix(st.Mtim.Sec, st.Mtim.Nsec).Equal(n.MTime)
}
