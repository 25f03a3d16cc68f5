package backup

import (
	"cmp"
	"context"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"path/filepath"
	"runtime"
	"slices"
	"sort"
	"strings"
	"sync"
	"sync/atomic"
	"syscall"
	"time"

	"lifeboat/engine/chunker"
	"lifeboat/engine/format"
	"lifeboat/engine/repo"
)

// Options describe one backup run.
type Options struct {
	// Paths to back up; made absolute and cleaned.
	Paths []string
	// Exclude selects paths to leave out (nil: none).
	Exclude *Matcher
	// OneFileSystem keeps the walk on the file systems of the given paths.
	OneFileSystem bool
	Tags          []string
	Host          string
	Username      string
	// Parent is the snapshot whose unchanged files are not read again (nil:
	// read everything).
	Parent *repo.SnapshotRef
	// Workers is the number of file workers (0: GOMAXPROCS+1).
	Workers int
	// Progress receives live counters (may be nil).
	Progress *Progress
	// OnWarning is called for every file or directory that could not be
	// read, or that changed while being read (may be nil).
	OnWarning func(path string, err error)
	// Program names the writer in the snapshot.
	Program string
	// NoXattrs leaves extended attributes out of the snapshot (inode
	// flags are still recorded).
	NoXattrs bool
	// OnNotice is called for findings that do not make the snapshot
	// partial: extended attributes of the privileged namespaces that this
	// process may not read (once per run), an orphan pack (stored by a crashed backup, named by no
	// index) that failed verification and was not adopted, or adoption
	// that could not run, the repository's history gone back (objects
	// vanished without a deletion record, a rollback: each a
	// repo.HistoryFinding), or a commit not recorded in the commit chain
	// (repo.ErrNotChained) (may be nil).
	OnNotice func(err error)
}

// Progress holds counters a reporter may read at any time.
type Progress struct {
	FilesDone   atomic.Int64
	DirsDone    atomic.Int64
	BytesDone   atomic.Int64 // bytes of files processed (read or unchanged)
	BytesRead   atomic.Int64
	Errors      atomic.Int64
	currentFile atomic.Pointer[string]
}

// CurrentFile returns a file being read now ("" if none).
func (p *Progress) CurrentFile() string {
	if s := p.currentFile.Load(); s != nil {
		return *s
	}
	return ""
}

// ErrChanged reports a file that changed while it was read.
var ErrChanged = errors.New("file changed while being read")

// Result is what a backup produced.
type Result struct {
	ID       format.ID
	Snapshot *format.Snapshot
	Stats    repo.WriteStats
	Warnings int64
	// Adopted tells which orphan packs this run verified and indexed.
	Adopted *repo.AdoptResult
}

// Run backs up opts.Paths into r and commits a snapshot. It returns an error
// only when no snapshot could be committed; unreadable files are reported
// through OnWarning and mark the snapshot Partial.
func Run(ctx context.Context, r *repo.Repository, opts Options) (*Result, error) {
	start := r.Now()
	if len(opts.Paths) == 0 {
		return nil, errors.New("backup: no paths given")
	}
	paths := make([]string, 0, len(opts.Paths))
	for _, p := range opts.Paths {
		abs, err := filepath.Abs(p)
		if err != nil {
			return nil, fmt.Errorf("backup: %w", err)
		}
		if _, err := os.Lstat(abs); err != nil {
			return nil, fmt.Errorf("backup: %w", err)
		}
		paths = append(paths, abs)
	}
	slices.Sort(paths)
	paths = slices.Compact(paths)
	if opts.Workers <= 0 {
		// One worker per core plus one to cover the time workers spend
		// in system calls; large files share one chunker window.
		opts.Workers = runtime.GOMAXPROCS(0) + 1
	}
	if opts.Progress == nil {
		opts.Progress = &Progress{}
	}
	verifyHistory(ctx, r, &opts) // history.go
	adopted := adoptOrphans(ctx, r, &opts, uint64(start.UnixNano()))
	gcw, err := startGC(ctx, r)
	if err != nil {
		return nil, fmt.Errorf("backup: %w", err)
	}
	ctx, cancel := context.WithCancelCause(ctx)
	defer cancel(nil)
	b := &backuper{
		r: r, opts: opts, ctx: ctx, cancel: cancel, gc: gcw,
		meta:    newMetaState(format.TreeEncodingFor(r.FormatVersion()).StoresExtensions(), &opts),
		jobs:    make(chan fileJob, 4*opts.Workers),
		params:  r.ChunkerParams(),
		users:   newNameCache(),
		walkSem: make(chan struct{}, max(2, runtime.GOMAXPROCS(0))),
		savers:  make(chan saveReq),
	}
	// The chunkers' windows are mapped outside the garbage-collected heap
	// (on the heap they would raise the collector's heap goal by half their
	// size); a mapping costs memory only once a large file touches it.
	b.chunkers = make(chan *chunker.Chunker, max(1, runtime.GOMAXPROCS(0)))
	var frees []func()
	for range cap(b.chunkers) {
		buf, free := allocOffHeap(chunker.BufferSize(b.params))
		frees = append(frees, free)
		c := chunker.New(nil, b.params, r.Gear())
		c.SetBuffer(buf)
		b.chunkers <- c
	}
	var wg, saversWG sync.WaitGroup
	for i := 0; i < opts.Workers; i++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			b.worker()
		}()
	}
	for i := 0; i < runtime.GOMAXPROCS(0); i++ {
		saversWG.Add(1)
		go func() {
			defer saversWG.Done()
			b.saver()
		}()
	}
	var oldRoot *format.Tree
	if opts.Parent != nil {
		t, err := r.LoadTree(ctx, opts.Parent.Tree)
		if err != nil {
			cancel(err)
		} else {
			oldRoot = t
		}
	}
	root := &dirState{path: "/"}
	if ctx.Err() == nil {
		b.walkVirtual(root, "/", buildVirtual(paths), oldRoot)
	}
	b.walkWG.Wait()
	close(b.jobs)
	wg.Wait()
	for _, free := range frees {
		free() // no worker holds a chunk any more (savers get copies)
	}
	close(b.savers)
	saversWG.Wait()
	if err := context.Cause(ctx); err != nil {
		// Flush what was uploaded so the next run can reuse it.
		_, ferr := r.Flush(context.WithoutCancel(ctx))
		return nil, errors.Join(fmt.Errorf("backup: %w", err), ferr)
	}
	if b.rootID == nil {
		return nil, errors.New("backup: internal error: root tree not saved")
	}
	// The GC records are read again around the final Flush, the last
	// time immediately before the commit (gcWatch.beforeCommit).
	var stats repo.WriteStats
	err = gcw.beforeCommit(ctx, func() error {
		s, err := r.Flush(ctx)
		stats.Blobs += s.Blobs
		stats.BytesAdded += s.BytesAdded
		stats.Packs += s.Packs
		stats.BytesStored += s.BytesStored
		return err
	})
	if err != nil {
		// Flush what was uploaded so the next run can reuse it.
		_, ferr := r.Flush(context.WithoutCancel(ctx))
		return nil, errors.Join(fmt.Errorf("backup: %w", err), ferr)
	}
	end := r.Now()
	snap := &format.Snapshot{
		Version:  r.FormatVersion(),
		Time:     start.UTC(),
		Host:     opts.Host,
		Username: opts.Username,
		Paths:    paths,
		Tags:     opts.Tags,
		Tree:     *b.rootID,
		Program:  opts.Program,
		Summary: &format.Summary{
			Start: start.UTC(), End: end.UTC(),
			FilesNew: b.filesNew.Load(), FilesChanged: b.filesChanged.Load(), FilesUnchanged: b.filesUnchanged.Load(),
			Dirs: opts.Progress.DirsDone.Load(), Errors: opts.Progress.Errors.Load(),
			TotalFiles: opts.Progress.FilesDone.Load(), TotalBytes: opts.Progress.BytesDone.Load(),
			BytesRead:  opts.Progress.BytesRead.Load(),
			BlobsAdded: stats.Blobs, BytesAdded: stats.BytesAdded, BytesStored: stats.BytesStored, PacksAdded: stats.Packs,
			Partial: opts.Progress.Errors.Load() > 0,
		},
	}
	if opts.Parent != nil {
		id := opts.Parent.ID
		snap.Parent = &id
	}
	// On a region set the snapshot goes only to the regions that hold
	// every object written (repo.CommitSnapshot); the others are behind.
	id, _, err := r.CommitSnapshot(ctx, snap)
	if errors.Is(err, repo.ErrNotChained) {
		// Committed, but rollback detection does not cover it.
		notice(&opts, fmt.Errorf("backup: snapshot %s: %w", id.Short(), err))
	} else if err != nil {
		return nil, fmt.Errorf("backup: %w", err)
	}
	if err := gcw.afterCommit(ctx, id, func() error { _, err := r.Flush(ctx); return err }); err != nil {
		return nil, fmt.Errorf("backup: %w", err)
	}
	return &Result{ID: id, Snapshot: snap, Stats: stats, Warnings: opts.Progress.Errors.Load(), Adopted: adopted}, nil
}

type backuper struct {
	r      *repo.Repository
	opts   Options
	ctx    context.Context
	cancel context.CancelCauseFunc
	jobs   chan fileJob
	params chunker.Params
	users  *nameCache
	rootID *format.ID
	meta   *metaState
	gc     *gcWatch

	filesNew, filesChanged, filesUnchanged atomic.Int64
	extDropped                             sync.Once // fitFormat's notice

	savers chan saveReq // chunks of large files to compress and pack
	// chunkers holds the chunkers of large files, one per core: a large
	// file is chunked by the worker that holds one, so at most that many
	// chunker windows (twice the maximum chunk size each) exist at once.
	chunkers chan *chunker.Chunker
	walkSem  chan struct{} // extra directory walkers
	walkWG   sync.WaitGroup
}

func (b *backuper) warn(path string, err error) {
	b.opts.Progress.Errors.Add(1)
	if b.opts.OnWarning != nil {
		b.opts.OnWarning(path, err)
	}
}

// dirState is a directory whose tree blob waits for its children.
type dirState struct {
	path    string
	nodes   []format.Node
	skip    []bool
	pending atomic.Int64
	parent  *dirState
	slot    int
	dev     uint64 // device of the walk's root (for OneFileSystem)
}

// childDone is called once per asynchronous child, and once by the walker
// when it has dispatched them all; the last call saves the tree.
func (b *backuper) childDone(d *dirState) {
	for d != nil {
		if d.pending.Add(-1) != 0 {
			return
		}
		nodes := d.nodes[:0:0]
		for i := range d.nodes {
			if !d.skip[i] {
				nodes = append(nodes, d.nodes[i])
			}
		}
		if err := b.gc.maybe(b.ctx); err != nil {
			b.cancel(err)
			return
		}
		id, err := b.r.SaveTree(b.ctx, &format.Tree{Nodes: nodes})
		if err != nil {
			b.cancel(err)
			return
		}
		d.nodes, d.skip = nil, nil
		b.opts.Progress.DirsDone.Add(1)
		if d.parent == nil {
			b.rootID = &id
			return
		}
		d.parent.nodes[d.slot].Subtree = &id
		d = d.parent
	}
}

type fileJob struct {
	path string
	dir  *dirState
	slot int
}

// vdir is the part of the snapshot tree above the backed-up paths.
type vdir struct {
	children map[string]*vdir
	target   bool
}

func buildVirtual(paths []string) *vdir {
	root := &vdir{children: map[string]*vdir{}}
	for _, p := range paths {
		v := root
		for _, part := range strings.Split(strings.Trim(p, "/"), "/") {
			if part == "" || v.target {
				break
			}
			c := v.children[part]
			if c == nil {
				c = &vdir{children: map[string]*vdir{}}
				v.children[part] = c
			}
			v = c
		}
		v.target = true
	}
	return root
}

func oldNodes(t *format.Tree) map[string]*format.Node {
	if t == nil {
		return nil
	}
	m := make(map[string]*format.Node, len(t.Nodes))
	for i := range t.Nodes {
		m[t.Nodes[i].Name] = &t.Nodes[i]
	}
	return m
}

// walkVirtual builds the directories above the targets: only the named
// children are included.
func (b *backuper) walkVirtual(d *dirState, path string, v *vdir, old *format.Tree) {
	if v.target {
		b.walkDir(d, path, old)
		return
	}
	names := make([]string, 0, len(v.children))
	for n := range v.children {
		names = append(names, n)
	}
	sort.Strings(names)
	b.enumerate(d, path, names, old, v)
}

// walkDir enumerates a real directory.
func (b *backuper) walkDir(d *dirState, path string, old *format.Tree) {
	f, err := os.Open(path)
	var names []string
	if err == nil {
		if d.parent != nil && b.meta.flags {
			// The directory's own node waits in its parent for this walk.
			n := &d.parent.nodes[d.slot]
			if rc, err := f.SyscallConn(); err == nil {
				_ = rc.Control(func(fd uintptr) { b.readFlags(path, int(fd), n) })
			}
		}
		names, err = f.Readdirnames(-1)
		f.Close()
	}
	if err != nil {
		b.warn(path, err)
	}
	sort.Strings(names)
	b.enumerate(d, path, names, old, nil)
}

func (b *backuper) enumerate(d *dirState, path string, names []string, old *format.Tree, v *vdir) {
	olds := oldNodes(old)
	d.nodes = make([]format.Node, 0, len(names))
	type child struct {
		slot int
		path string
		fi   fs.FileInfo
		v    *vdir
	}
	var files, dirs []child
	for _, name := range names {
		if b.ctx.Err() != nil {
			break
		}
		p := filepath.Join(path, name)
		if b.opts.Exclude.Excluded(p) {
			continue
		}
		fi, err := os.Lstat(p)
		if err != nil {
			b.warn(p, err)
			continue
		}
		var cv *vdir
		if v != nil {
			cv = v.children[name]
		} else if b.opts.OneFileSystem && fi.IsDir() && devOf(fi) != d.dev {
			continue // a mount point: stay on this file system
		}
		o := olds[name]
		n, err := b.node(name, p, fi)
		if err == nil {
			b.readXattrs(p, &n, o)
			err = b.fitFormat(&n)
		}
		if err != nil {
			b.warn(p, err)
			continue
		}
		slot := len(d.nodes)
		switch n.Type {
		case format.TypeFile:
			if o != nil && unchanged(o, &n) && b.haveAll(o.Content) {
				n.Content, n.Hash = o.Content, o.Hash
				if !b.reuseFlags(&n, o) {
					b.openFlags(p, &n)
				}
				b.filesUnchanged.Add(1)
				b.opts.Progress.FilesDone.Add(1)
				b.opts.Progress.BytesDone.Add(int64(n.Size))
			} else {
				if o != nil {
					b.filesChanged.Add(1)
				} else {
					b.filesNew.Add(1)
				}
				files = append(files, child{slot: slot, path: p})
			}
		case format.TypeDir:
			dirs = append(dirs, child{slot: slot, path: p, fi: fi, v: cv})
		}
		d.nodes = append(d.nodes, n)
	}
	d.skip = make([]bool, len(d.nodes))
	d.pending.Store(int64(len(files) + len(dirs) + 1))
	for _, c := range files {
		select {
		case b.jobs <- fileJob{path: c.path, dir: d, slot: c.slot}:
		case <-b.ctx.Done():
			return
		}
	}
	for _, c := range dirs {
		if b.ctx.Err() != nil {
			return
		}
		c := c
		walk := func() {
			var sub *format.Tree
			if o := olds[d.nodes[c.slot].Name]; o != nil && o.Type == format.TypeDir && o.Subtree != nil {
				t, err := b.r.LoadTree(b.ctx, *o.Subtree)
				if err != nil {
					b.cancel(fmt.Errorf("parent snapshot: %w", err))
					return
				}
				sub = t
			}
			cd := &dirState{path: c.path, parent: d, slot: c.slot, dev: d.dev}
			if c.v != nil {
				cd.dev = devOf(c.fi) // virtual parents and targets start a new walk
				b.walkVirtual(cd, c.path, c.v, sub)
			} else {
				b.walkDir(cd, c.path, sub)
			}
		}
		// Subtrees are walked in parallel while a walker slot is free, and
		// inline otherwise (which bounds the goroutines).
		select {
		case b.walkSem <- struct{}{}:
			b.walkWG.Add(1)
			go func() {
				defer func() { <-b.walkSem; b.walkWG.Done() }()
				walk()
			}()
		default:
			walk()
		}
	}
	b.childDone(d)
}

func devOf(fi fs.FileInfo) uint64 {
	if st, ok := fi.Sys().(*syscall.Stat_t); ok {
		return uint64(st.Dev)
	}
	return 0
}

func (b *backuper) haveAll(ids []format.ID) bool {
	idx := b.r.Index()
	for _, id := range ids {
		if !idx.Has(id) {
			return false
		}
	}
	return true
}

// unchanged compares the metadata that proves a file was not modified.
func unchanged(o, n *format.Node) bool {
	return o.Type == format.TypeFile && o.Hash != nil && o.Size == n.Size &&
		o.MTime.Equal(n.MTime) && o.CTime.Equal(n.CTime) && o.Inode == n.Inode
}

// node builds a tree node from lstat information.
func (b *backuper) node(name, path string, fi fs.FileInfo) (format.Node, error) {
	n := format.Node{Name: name, Mode: uint32(fi.Mode().Perm())}
	m := fi.Mode()
	if m&fs.ModeSetuid != 0 {
		n.Mode |= 0o4000
	}
	if m&fs.ModeSetgid != 0 {
		n.Mode |= 0o2000
	}
	if m&fs.ModeSticky != 0 {
		n.Mode |= 0o1000
	}
	n.MTime = fi.ModTime().UTC()
	if st, ok := fi.Sys().(*syscall.Stat_t); ok {
		n.UID, n.GID = st.Uid, st.Gid
		n.User, n.Group = b.users.user(st.Uid), b.users.group(st.Gid)
		n.CTime = changeTime(st).UTC()
		n.Inode = st.Ino
		n.DeviceID = uint64(st.Dev)
		n.Links = uint64(st.Nlink)
		if m&(fs.ModeDevice|fs.ModeCharDevice) != 0 {
			n.Rdev = uint64(st.Rdev)
		}
	}
	switch {
	case m.IsRegular():
		n.Type = format.TypeFile
		n.Size = uint64(fi.Size())
	case m.IsDir():
		n.Type = format.TypeDir
		n.Links = 0
	case m&fs.ModeSymlink != 0:
		n.Type = format.TypeSymlink
		t, err := os.Readlink(path)
		if err != nil {
			return n, err
		}
		if t == "" {
			return n, errors.New("empty symlink target")
		}
		n.LinkTarget = t
	case m&fs.ModeCharDevice != 0:
		n.Type = format.TypeCharDev
	case m&fs.ModeDevice != 0:
		n.Type = format.TypeDev
	case m&fs.ModeNamedPipe != 0:
		n.Type = format.TypeFIFO
	case m&fs.ModeSocket != 0:
		n.Type = format.TypeSocket
	default:
		return n, fmt.Errorf("unsupported file type %v", m.Type())
	}
	if n.Type != format.TypeFile {
		n.Inode, n.Links = 0, 0
	}
	return n, nil
}

func (b *backuper) worker() {
	for job := range b.jobs {
		if b.ctx.Err() != nil {
			continue
		}
		node := &job.dir.nodes[job.slot]
		b.opts.Progress.currentFile.Store(&job.path)
		if err := b.saveFile(job.path, node); err != nil {
			if b.ctx.Err() != nil {
				continue
			}
			var ferr *fileError
			if !errors.As(err, &ferr) {
				b.cancel(err) // repository failure: abort
				continue
			}
			b.warn(job.path, ferr.err)
			if !errors.Is(ferr.err, ErrChanged) {
				job.dir.skip[job.slot] = true
			}
		}
		b.opts.Progress.FilesDone.Add(1)
		b.opts.Progress.BytesDone.Add(int64(node.Size))
		b.childDone(job.dir)
	}
}

// saveReq asks a saver goroutine to store one chunk.
type saveReq struct {
	id   format.ID
	data []byte // pooled; returned after saving
	done func(error)
}

// saver compresses and packs chunks of large files.
func (b *backuper) saver() {
	for req := range b.savers {
		_, err := b.r.SaveBlob(b.ctx, format.BlobData, req.id, req.data)
		putChunkBuf(req.data)
		req.done(err)
	}
}

var chunkBufs sync.Pool

func getChunkBuf(n int) []byte {
	if bp, ok := chunkBufs.Get().(*[]byte); ok && cap(*bp) >= n {
		return (*bp)[:n]
	}
	return make([]byte, n, max(n, 1<<20))
}

func putChunkBuf(b []byte) { chunkBufs.Put(&b) }

// smallBufs recycles read buffers of small files.
var smallBufs sync.Pool

// saveSmall reads a file of expect bytes, shorter than the minimum chunk
// size, and saves it as one chunk (or, if it has more, as several chunks of
// at most the minimum size). Having read the expected bytes it stops
// without reading on to EOF: the caller's fstat catches a file that grew
// or changed. An empty file has no chunks.
func (b *backuper) saveSmall(f io.Reader, expect int, save func([]byte) error) error {
	limit := b.params.Min
	bp, _ := smallBufs.Get().(*[]byte)
	if bp == nil || cap(*bp) < limit+1 {
		buf := make([]byte, limit+1)
		bp = &buf
	}
	defer smallBufs.Put(bp)
	buf := (*bp)[:cap(*bp)]
	want := max(1, min(expect, limit))
	for {
		n, err := io.ReadAtLeast(f, buf[:limit], want)
		if n > 0 {
			if serr := save(buf[:n]); serr != nil {
				return serr
			}
		}
		switch {
		case errors.Is(err, io.EOF) || errors.Is(err, io.ErrUnexpectedEOF):
			return nil
		case err != nil:
			return &fileError{err}
		case n == expect:
			return nil
		}
		// More than the walk saw (a file that grew, or a pseudo-file whose
		// size reads 0): read on to the end, in chunks of limit.
		want = limit
	}
}

// fileError is a problem with the source file (reported, not fatal).
type fileError struct{ err error }

func (e *fileError) Error() string { return e.err.Error() }

func (b *backuper) saveFile(path string, node *format.Node) error {
	f, err := openSource(path)
	if err != nil {
		return &fileError{err}
	}
	defer f.Close()
	b.readFlags(path, f.fd, node)
	var content []format.ID
	var size uint64
	save := func(chunk []byte) error {
		if err := b.gc.maybe(b.ctx); err != nil {
			return err
		}
		id := b.r.Hash(chunk)
		if _, err := b.r.SaveBlob(b.ctx, format.BlobData, id, chunk); err != nil {
			return err
		}
		content = append(content, id)
		size += uint64(len(chunk))
		b.opts.Progress.BytesRead.Add(int64(len(chunk)))
		return nil
	}
	if node.Size < uint64(b.params.Min) {
		// Below the minimum chunk size a file is one chunk: read it whole
		// into a pooled buffer, sparing the chunker's large window.
		if err := b.saveSmall(f, int(node.Size), save); err != nil {
			return err
		}
	} else {
		// Large files: this worker reads, chunks and hashes; the savers
		// compress and pack the chunks in parallel, so one big file keeps
		// every core busy when it compresses. Up to one large file per
		// core is chunked at once, so incompressible files (where chunking
		// and hashing are most of the work) use every core too.
		var c *chunker.Chunker
		select {
		case c = <-b.chunkers:
		case <-b.ctx.Done():
			return b.ctx.Err()
		}
		defer func() { b.chunkers <- c }()
		c.Reset(f)
		var wg sync.WaitGroup
		var mu sync.Mutex
		var saveErr error
		for {
			chunk, err := c.Next()
			if errors.Is(err, io.EOF) {
				break
			}
			if err != nil {
				wg.Wait()
				return &fileError{err}
			}
			if err := b.gc.maybe(b.ctx); err != nil {
				wg.Wait()
				return err
			}
			id := b.r.Hash(chunk)
			content = append(content, id)
			size += uint64(len(chunk))
			b.opts.Progress.BytesRead.Add(int64(len(chunk)))
			if b.r.Index().Has(id) {
				continue
			}
			buf := getChunkBuf(len(chunk))
			copy(buf, chunk)
			wg.Add(1)
			req := saveReq{id: id, data: buf, done: func(err error) {
				if err != nil {
					mu.Lock()
					saveErr = cmp.Or(saveErr, err)
					mu.Unlock()
				}
				wg.Done()
			}}
			select {
			case b.savers <- req:
			case <-b.ctx.Done():
				wg.Done()
				putChunkBuf(buf)
			}
		}
		wg.Wait()
		if saveErr != nil {
			return saveErr
		}
	}
	node.Content = content
	h := b.r.FileHash(size, content)
	node.Hash = &h
	changed := size != node.Size
	if fsize, mtime, err := f.stat(); err == nil && (!mtime.Equal(node.MTime) || fsize != int64(size)) {
		changed = true
	}
	node.Size = size
	if changed {
		// Keep what was read, but make sure the next backup reads it again.
		node.CTime = time.Time{}
		return &fileError{fmt.Errorf("%w", ErrChanged)}
	}
	return nil
}
