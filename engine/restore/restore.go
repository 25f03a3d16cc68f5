package restore

import (
	"context"
	"crypto/rand"
	"errors"
	"fmt"
	"io"
	"os"
	"path"
	"runtime"
	"slices"
	"sort"
	"sync"
	"sync/atomic"
	"time"

	"golang.org/x/sys/unix"

	"lifeboat/engine/format"
	"lifeboat/engine/fsmeta"
	"lifeboat/engine/repo"
	"lifeboat/storage"
)

// Overwrite says what to do with files that already exist in the target
// under the name of a snapshot entry of the same type. An entry of another
// type is a conflict whatever the mode (see ErrConflict and
// Options.Delete).
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
	// Workers reading packs in parallel (0: GOMAXPROCS+1, more from
	// remote storage that wants more requests in flight).
	Workers int
	// Owner restores uid/gid and the privileged extended attributes
	// (security.*, trusted.*) (default: only when running as root).
	Owner *bool
	// Progress receives counters (may be nil).
	Progress *Progress
	// Delete makes the target identical to the snapshot: an entry of
	// another type in the way of a snapshot entry is removed instead of
	// being a conflict, and so is every entry of a restored directory that
	// the snapshot does not have, unless Exclude matches it or Include
	// does not.
	Delete bool
	// OnDelete is called for every entry Delete removed (with all it
	// contained), with its snapshot path and whether it was a directory.
	OnDelete func(path string, dir bool)
	// OnError is called for every entry that could not be restored,
	// conflicts (ErrConflict) included.
	OnError func(path string, err error)
	// Rand is the source of temporary names (default crypto/rand).
	Rand io.Reader
	// BatchFiles bounds the files planned at once (0: from the open-file
	// limit, at most 4096).
	BatchFiles int
	// NoXattrs leaves extended attributes unrestored; SkipXattr, when not
	// nil, leaves out the attributes it matches. An attribute that is
	// restored but cannot be set is reported (ErrXattrs).
	NoXattrs  bool
	SkipXattr func(name string) bool
	// NoFlags leaves inode flags (immutable, append-only, …) unset. They
	// are set last of all, after every entry's times.
	NoFlags bool
}

// Progress holds counters a reporter may read at any time.
type Progress struct {
	FilesDone    atomic.Int64
	FilesSkipped atomic.Int64
	DirsDone     atomic.Int64
	BytesDone    atomic.Int64
	Errors       atomic.Int64
}

// Result summarises a restore. Skipped counts the entries kept as they
// were in the target, Conflicts among them (also counted in Skipped) those
// not restored because an entry of another type is in the way; Deleted
// counts the entries Options.Delete removed. XattrErrors counts the
// failures (also in Errors) to set extended attributes or inode flags of
// entries that were restored (ErrXattrs).
type Result struct {
	Files, Skipped, Dirs, Links, Errors int64
	Conflicts, Deleted                  int64
	XattrErrors                         int64
	Bytes                               int64
}

// ErrVerify marks a file whose restored content does not match the
// snapshot.
var ErrVerify = errors.New("verification failed")

// Run restores the tree of snap into opts.Target.
func Run(ctx context.Context, r *repo.Repository, snap *format.Snapshot, opts Options) (*Result, error) {
	if opts.Workers <= 0 {
		opts.Workers = defaultWorkers(runtime.GOMAXPROCS(0), r.Storage().Capabilities())
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
		euid: os.Geteuid(), egid: os.Getegid(), umask: currentUmask(), rand: opts.Rand}
	if rs.rand == nil {
		rs.rand = rand.Reader
	}
	if !namedOnly.Load() {
		rs.unnamed = rs.probeUnnamed(dirs.rootFD)
	}
	top := &dirEntry{rel: ".", created: true}
	rootTake, _ := rs.selected("/", true)
	rs.startWorkers()
	err = rs.walk(ctx, snap.Tree, top, "/", rootTake)
	if err == nil {
		err = rs.flushBatch()
	}
	rs.stopWorkers()
	if err != nil {
		return rs.result(), err
	}
	rs.finishLinks()
	if opts.Delete && ctx.Err() == nil {
		rs.deleteExtra()
	}
	rs.finishDirs()
	rs.finishFlags()
	return rs.result(), ctx.Err()
}

// defaultWorkers is how many packs a restore reads at once on procs cores
// from storage with capabilities caps. One more than the cores: workers
// spend part of their time in file-creating system calls (more only adds
// contention). From remote storage, where a worker also waits for the
// network, as many as the storage wants in flight, up to twice that. Each
// worker holds one read window and one decompressed blob.
func defaultWorkers(procs int, caps storage.Capabilities) int {
	w := procs + 1
	if !caps.Local && caps.Concurrency > w {
		w = min(caps.Concurrency, 2*w)
	}
	return w
}

// namedOnly makes every temporary file a named one, as on systems without
// unnamed files (set by tests).
var namedOnly atomic.Bool

// probeUnnamed finds how an unnamed file gets a name in directory dfd by
// linking one under a temporary name, removed at once; linkNone when
// unnamed files cannot be used.
func (rs *restorer) probeUnnamed(dfd int) linkMethod {
	fd, err := openUnnamed(dfd, 0o600)
	if err != nil {
		return linkNone
	}
	defer unix.Close(fd)
	var st unix.Stat_t
	if unix.Fstat(fd, &st) != nil {
		return linkNone
	}
	dev, ino := fileID(&st)
	for _, m := range linkMethods {
		name, err := rs.newName(func(name string) error { return linkUnnamed(m, fd, dfd, name) })
		if err == nil {
			_ = unlinkOurs(dfd, name, dev, ino)
			return m
		}
	}
	return linkNone
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
	unnamed    linkMethod // how verified unnamed files get their name

	randMu sync.Mutex
	rand   io.Reader

	sweeps []sweepDir // restored directories, for Options.Delete

	flagsMu   sync.Mutex
	pendFlags []pendingFlags // entries whose inode flags are set last

	files, skipped, dirCount, linkCount, errCount, bytes atomic.Int64
	conflicts, deleted                                   atomic.Int64
	xattrErrs                                            atomic.Int64
}

// sweepDir is a restored directory whose entries that the snapshot does
// not have are deleted at the end (Options.Delete).
type sweepDir struct {
	dir      *dirEntry
	snapPath string
	names    []string // the snapshot's names in it, sorted
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
		Links: rs.linkCount.Load(), Errors: rs.errCount.Load(), Bytes: rs.bytes.Load(),
		Conflicts: rs.conflicts.Load(), Deleted: rs.deleted.Load(), XattrErrors: rs.xattrErrs.Load()}
}

func (rs *restorer) fail(p string, err error) {
	rs.errCount.Add(1)
	if errors.Is(err, ErrXattrs) {
		rs.xattrErrs.Add(1)
	}
	rs.opts.Progress.Errors.Add(1)
	if rs.opts.OnError != nil {
		rs.opts.OnError(p, err)
	}
}

// Outcomes that are not errors of the entry: errKept, an existing entry
// kept (OverwriteNever); errReported, an outcome already reported where it
// happened (a directory in conflict, for the entries below it).
var (
	errKept     = errors.New("existing entry kept")
	errReported = errors.New("already reported")
)

// report accounts for the outcome err of the entry at snapshot path p.
func (rs *restorer) report(p string, err error) {
	switch {
	case err == nil, errors.Is(err, errReported):
	case errors.Is(err, errKept):
		rs.skip()
	case errors.Is(err, ErrConflict):
		rs.conflicts.Add(1)
		rs.skip()
		if rs.opts.OnError != nil {
			rs.opts.OnError(p, err)
		}
	default:
		rs.fail(p, err)
	}
}

func (rs *restorer) skip() {
	rs.skipped.Add(1)
	rs.opts.Progress.FilesSkipped.Add(1)
}

// removeInWay removes (Options.Delete) the entry st named name in dfd, at
// snapshot path p, that is in the way of a snapshot entry of another type.
func (rs *restorer) removeInWay(dfd int, name, p string, st *unix.Stat_t) error {
	if err := removeAllAt(dfd, name, 0); err != nil {
		return fmt.Errorf("remove the %s in the way: %w", modeKind(uint32(st.Mode)), err)
	}
	rs.noteDeleted(p, uint32(st.Mode)&unix.S_IFMT == unix.S_IFDIR)
	return nil
}

func (rs *restorer) noteDeleted(p string, dir bool) {
	rs.deleted.Add(1)
	if rs.opts.OnDelete != nil {
		rs.opts.OnDelete(p, dir)
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
	named   atomic.Bool // its file system has no unnamed files
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
		if hasType(&st, format.TypeDir) {
			return nil
		}
		if !rs.opts.Delete {
			return conflict(&st, format.TypeDir)
		}
		if err := rs.removeInWay(pfd, d.name, "/"+d.rel, &st); err != nil {
			return err
		}
		return unix.Mkdirat(pfd, d.name, 0o700)
	})
	if errors.Is(err, ErrConflict) {
		// Reported once, here; what is below is skipped with it.
		rs.report("/"+d.rel, err)
		d.failed = fmt.Errorf("directory %s: %w", d.rel, errReported)
		return d.failed
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

// walk restores the tree id into dir. snapPath is the snapshot path of dir;
// take says whether dir itself is restored (not only entries below it).
func (rs *restorer) walk(ctx context.Context, id format.ID, dir *dirEntry, snapPath string, take bool) error {
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
					rs.report(sp, err)
					continue
				}
				rs.dirCount.Add(1)
				rs.opts.Progress.DirsDone.Add(1)
			}
			if err := rs.walk(ctx, *n.Subtree, sub, sp, take); err != nil {
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
				rs.report(sp, err)
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
				rs.report(sp, err)
				continue
			}
			rs.report(sp, rs.dirFDs.at(dir, func(dfd int) error { return rs.special(dfd, n, sp) }))
		}
	}
	if take && rs.opts.Delete {
		names := make([]string, len(t.Nodes))
		for i := range t.Nodes {
			names[i] = t.Nodes[i].Name
		}
		slices.Sort(names)
		rs.sweeps = append(rs.sweeps, sweepDir{dir: dir, snapPath: snapPath, names: names})
	}
	return nil
}

// deleteExtra removes (Options.Delete) the entries of restored directories
// that the snapshot does not have, except those Exclude matches or Include
// does not: selection protects what it leaves out. It runs when every file
// is in place, so no temporary file is in flight.
func (rs *restorer) deleteExtra() {
	for _, s := range rs.sweeps {
		if rs.ctx.Err() != nil {
			return
		}
		err := rs.dirFDs.at(s.dir, func(dfd int) error {
			fd, err := unix.Openat(dfd, ".", unix.O_RDONLY|unix.O_DIRECTORY|unix.O_CLOEXEC, 0)
			if err != nil {
				return err
			}
			names, err := readDirNames(fd)
			unix.Close(fd)
			if err != nil {
				return err
			}
			for _, name := range names {
				if _, ok := slices.BinarySearch(s.names, name); ok {
					continue
				}
				p := path.Join(s.snapPath, name)
				if take, _ := rs.selected(p, false); !take {
					continue
				}
				var st unix.Stat_t
				if err := unix.Fstatat(dfd, name, &st, unix.AT_SYMLINK_NOFOLLOW); err != nil {
					if !errors.Is(err, unix.ENOENT) {
						rs.fail(p, fmt.Errorf("delete: %w", err))
					}
					continue
				}
				if err := removeAllAt(dfd, name, 0); err != nil {
					rs.fail(p, fmt.Errorf("delete: %w", err))
					continue
				}
				rs.noteDeleted(p, hasType(&st, format.TypeDir))
			}
			return nil
		})
		if err != nil {
			rs.fail(s.snapPath, fmt.Errorf("delete entries not in the snapshot: %w", err))
		}
	}
}

// special creates a symlink, device, FIFO or socket node in dfd (sp is its
// snapshot path). An existing entry of the same type is replaced as the
// overwrite mode says; one of another type is a conflict.
func (rs *restorer) special(dfd int, n *format.Node, sp string) error {
	var st unix.Stat_t
	if err := unix.Fstatat(dfd, n.Name, &st, unix.AT_SYMLINK_NOFOLLOW); err == nil {
		switch {
		case !hasType(&st, n.Type):
			if !rs.opts.Delete {
				return conflict(&st, n.Type)
			}
			if err := rs.removeInWay(dfd, n.Name, sp, &st); err != nil {
				return err
			}
		case n.Type == format.TypeSocket:
			return nil
		case rs.opts.Overwrite == OverwriteNever || (rs.opts.Overwrite == OverwriteIfChanged && sameSpecial(dfd, &st, n)):
			return errKept
		default:
			if err := unix.Unlinkat(dfd, n.Name, 0); err != nil && !errors.Is(err, unix.ENOENT) {
				return fmt.Errorf("replace: %w", err)
			}
		}
	}
	switch n.Type {
	case format.TypeSymlink:
		if err := unix.Symlinkat(n.LinkTarget, dfd, n.Name); err != nil {
			return fmt.Errorf("symlink: %w", err)
		}
	case format.TypeFIFO:
		if err := mknodat(dfd, n.Name, unix.S_IFIFO|n.Mode&0o777, 0); err != nil {
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
		if err := mknodat(dfd, n.Name, mode|n.Mode&0o777, int(n.Rdev)); err != nil {
			return fmt.Errorf("mknod: %w", err)
		}
	case format.TypeSocket:
		return nil // sockets are recreated by their servers; nothing to restore
	}
	// Linux refuses user.* attributes on symlinks and devices, so a
	// snapshot taken there has none to set.
	xerr := rs.setXattrs(n, func(name string, value []byte) error {
		return fsmeta.SetXattr(entryPath(dfd, n.Name), name, value)
	})
	if err := rs.setMeta(dfd, n.Name, n, n.Type != format.TypeSymlink); err != nil {
		return err
	}
	rs.files.Add(1)
	return xerr
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
		return hasType(st, format.TypeFIFO) && uint32(st.Mode)&0o777 == n.Mode&0o777
	}
	return false
}

// finishLinks creates the hard links whose first name was restored.
func (rs *restorer) finishLinks() {
	for _, l := range rs.pendLinks {
		first := rs.links[l.key]
		sp := "/" + l.rel
		if !first.file.done.Load() {
			rs.fail(sp, fmt.Errorf("hard link: its first name /%s was not restored", first.file.rel))
			continue
		}
		rs.report(sp, rs.dirFDs.at(first.dir, func(ffd int) error {
			return rs.dirFDs.at(l.dir, func(dfd int) error { return rs.hardLink(ffd, first, dfd, l, sp) })
		}))
	}
}

// hardLink links l to the restored file first: an existing file under its
// name is replaced atomically (unless OverwriteNever), an entry of another
// type is a conflict.
func (rs *restorer) hardLink(ffd int, first linkTarget, dfd int, l pendingLink, sp string) error {
	var fst unix.Stat_t
	if err := unix.Fstatat(ffd, first.name, &fst, unix.AT_SYMLINK_NOFOLLOW); err != nil {
		return fmt.Errorf("hard link to /%s: %w", first.file.rel, err)
	}
	dev, ino := fileID(&fst)
	if f := first.file; f.ino != 0 && (dev != f.dev || ino != f.ino) {
		return fmt.Errorf("hard link: /%s no longer is the restored file", f.rel)
	}
	for range 3 {
		err := unix.Linkat(ffd, first.name, dfd, l.name, 0)
		if err == nil {
			rs.linkCount.Add(1)
			return nil
		}
		if !errors.Is(err, unix.EEXIST) {
			return fmt.Errorf("hard link to /%s: %w", first.file.rel, err)
		}
		var st unix.Stat_t
		if err := unix.Fstatat(dfd, l.name, &st, unix.AT_SYMLINK_NOFOLLOW); err != nil {
			if errors.Is(err, unix.ENOENT) {
				continue
			}
			return fmt.Errorf("hard link: %w", err)
		}
		if hasType(&st, format.TypeFile) {
			if d, i := fileID(&st); (d == dev && i == ino) || rs.opts.Overwrite == OverwriteNever {
				return errKept // already this link, or kept
			}
			tmp, err := rs.newName(func(name string) error { return unix.Linkat(ffd, first.name, dfd, name, 0) })
			if err != nil {
				return fmt.Errorf("hard link: %w", err)
			}
			if err := renameOurs(dfd, tmp, l.name, dev, ino); err != nil {
				_ = unlinkOurs(dfd, tmp, dev, ino)
				return fmt.Errorf("hard link: replace: %w", err)
			}
			rs.linkCount.Add(1)
			return nil
		}
		if !rs.opts.Delete {
			return conflict(&st, format.TypeFile)
		}
		if err := rs.removeInWay(dfd, l.name, sp, &st); err != nil {
			return err
		}
	}
	return fmt.Errorf("hard link: %s keeps being recreated", l.name)
}

// finishDirs sets directory metadata, deepest first, since restoring
// entries changed the directories' mtimes.
func (rs *restorer) finishDirs() {
	sort.SliceStable(rs.dirs, func(i, j int) bool { return depth(rs.dirs[i]) > depth(rs.dirs[j]) })
	for _, d := range rs.dirs {
		if d.node == nil || d.parent == nil {
			continue
		}
		var xerr error
		err := rs.dirFDs.at(d.parent, func(pfd int) error {
			// Set after the entries were created: a default ACL applies
			// to what is created in the directory afterwards.
			xerr = rs.syncXattrs(entryPath(pfd, d.name), d.node)
			return rs.setMeta(pfd, d.name, d.node, true)
		})
		if err = errors.Join(err, xerr); err != nil {
			rs.fail("/"+d.rel, err)
		}
		rs.queueFlags(pendingFlags{dir: d.parent, name: d.name, snapPath: "/" + d.rel, flags: d.node.Flags, isDir: true})
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
	return hasType(st, format.TypeFile) && uint64(st.Size) == n.Size && statMTime(st).Equal(n.MTime)
}
