package restore

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"sort"
	"sync"
	"sync/atomic"

	"golang.org/x/sys/unix"

	"lifeboat/engine/format"
	"lifeboat/engine/fsmeta"
	"lifeboat/engine/repo"
)

// fileState tracks one regular file being restored.
type fileState struct {
	dir      *dirEntry
	name     string
	rel      string
	snapPath string
	node     *format.Node
	// tmp is the temporary file's name while it has one (always on
	// systems without unnamed files; else only briefly, to replace an
	// existing file); dev and ino identify the temporary file while it has
	// a name and, for a hard-link group, the restored file.
	tmp      string
	dev, ino uint64

	remaining atomic.Int64
	done      atomic.Bool // restored and renamed into place

	mu     sync.Mutex
	fd     int // open temporary file, -1 when not open
	pinned bool
	sparse bool
	err    error
	// xerr names the extended attributes that could not be set (the file
	// is restored without them).
	xerr error
}

// target is one place a blob is written.
type target struct {
	f   *fileState
	off int64
}

type packJob struct {
	pack    repo.PackInfo
	blobs   []format.Blob
	targets map[format.ID][]target
}

// flushBatch restores the planned files.
func (rs *restorer) flushBatch() error {
	files := rs.batch
	rs.batch = nil
	if len(files) == 0 {
		return nil
	}
	if rs.opts.Overwrite != OverwriteAlways {
		files = rs.dropExisting(files)
	}
	idx := rs.r.Index()
	perPack := map[format.ID]*packJob{}
	var ready []*fileState
	for _, f := range files {
		n := f.node
		if n.Hash == nil || rs.r.FileHash(n.Size, n.Content) != *n.Hash {
			rs.fail(f.snapPath, fmt.Errorf("%w: content list does not match the file hash", ErrVerify))
			continue
		}
		var off int64
		var missing error
		for _, id := range n.Content {
			loc, ok := idx.Lookup(id)
			if !ok {
				missing = fmt.Errorf("blob %s: %w", id.Short(), repo.ErrBlobNotFound)
				break
			}
			j := perPack[loc.Pack.ID]
			if j == nil {
				j = &packJob{pack: loc.Pack, targets: map[format.ID][]target{}}
				perPack[loc.Pack.ID] = j
			}
			if _, ok := j.targets[id]; !ok {
				j.blobs = append(j.blobs, loc.Blob)
			}
			j.targets[id] = append(j.targets[id], target{f: f, off: off})
			off += int64(loc.Blob.RawLen)
		}
		if missing == nil && uint64(off) != n.Size {
			missing = fmt.Errorf("%w: blobs add up to %d bytes, file has %d", ErrVerify, off, n.Size)
		}
		if missing != nil {
			for _, j := range perPack {
				for id, ts := range j.targets {
					j.targets[id] = dropFile(ts, f)
				}
			}
			rs.fail(f.snapPath, missing)
			continue
		}
		f.remaining.Store(int64(len(n.Content)))
		if len(n.Content) == 0 {
			ready = append(ready, f)
		}
	}
	for _, f := range ready {
		rs.finish(f)
	}
	var jobs []*packJob
	for _, j := range perPack {
		var blobs []format.Blob
		for _, b := range j.blobs {
			if len(j.targets[b.ID]) > 0 {
				blobs = append(blobs, b)
			}
		}
		if len(blobs) == 0 {
			continue
		}
		// One job per pack: the repository streams it in as few requests
		// as its gaps allow, through a bounded window.
		sort.Slice(blobs, func(a, b int) bool { return blobs[a].Offset < blobs[b].Offset })
		jobs = append(jobs, &packJob{pack: j.pack, blobs: blobs, targets: j.targets})
	}
	sort.Slice(jobs, func(a, b int) bool { return bytes.Compare(jobs[a].pack.ID[:], jobs[b].pack.ID[:]) < 0 })
	for _, j := range jobs {
		select {
		case rs.jobs <- j:
		case <-rs.ctx.Done():
			return rs.ctx.Err()
		}
	}
	return nil
}

// startWorkers starts the goroutines that read packs and write files; the
// walker keeps planning while they work.
func (rs *restorer) startWorkers() {
	rs.jobs = make(chan *packJob, 4*rs.opts.Workers)
	for i := 0; i < rs.opts.Workers; i++ {
		rs.wg.Add(1)
		go func() {
			defer rs.wg.Done()
			for j := range rs.jobs {
				if rs.ctx.Err() == nil {
					rs.readPack(rs.ctx, j)
				}
			}
		}()
	}
}

// stopWorkers waits for every planned job.
func (rs *restorer) stopWorkers() {
	close(rs.jobs)
	rs.wg.Wait()
}

func dropFile(ts []target, f *fileState) []target {
	out := ts[:0]
	for _, t := range ts {
		if t.f != f {
			out = append(out, t)
		}
	}
	return out
}

// readPack reads one run of blobs and writes each into its files.
func (rs *restorer) readPack(ctx context.Context, j *packJob) {
	delivered := map[format.ID]bool{}
	err := rs.r.ReadPackBlobs(ctx, j.pack, j.blobs, func(b *format.Blob, data []byte, err error) error {
		delivered[b.ID] = true
		for _, t := range j.targets[b.ID] {
			if err != nil {
				t.f.setErr(err)
			} else {
				t.f.setErr(rs.write(t.f, t.off, data))
			}
			rs.chunkDone(t.f)
		}
		return nil
	})
	if err == nil {
		return
	}
	for _, b := range j.blobs {
		if delivered[b.ID] {
			continue
		}
		for _, t := range j.targets[b.ID] {
			t.f.setErr(err)
			rs.chunkDone(t.f)
		}
	}
}

func (f *fileState) setErr(err error) {
	if err == nil {
		return
	}
	f.mu.Lock()
	if f.err == nil {
		f.err = err
	}
	f.mu.Unlock()
}

func allZero(b []byte) bool {
	for len(b) >= 8 {
		if b[0]|b[1]|b[2]|b[3]|b[4]|b[5]|b[6]|b[7] != 0 {
			return false
		}
		b = b[8:]
	}
	for _, c := range b {
		if c != 0 {
			return false
		}
	}
	return true
}

// Runs of zeros that restore leaves as holes: whole holeBlock-sized blocks
// of the file, at least holeMin bytes in all. Shorter runs are written: a
// hole inside a page-cache folio saves nothing and splits the write.
const (
	holeBlock = 4096
	holeMin   = 64 << 10
)

// write puts data at off in f's temporary file, creating it on first use.
// Long runs of zeros are skipped (holes; the file is new, so they read as
// zeros), making the file sparse and sparing the page cache.
func (rs *restorer) write(f *fileState, off int64, data []byte) error {
	f.mu.Lock()
	defer f.mu.Unlock()
	if f.err != nil {
		return nil
	}
	if err := rs.open(f); err != nil {
		return err
	}
	pending := 0 // data[pending:] is not written yet
	for _, h := range holes(off, data) {
		if err := pwriteAll(f.fd, data[pending:h[0]], off+int64(pending)); err != nil {
			return err
		}
		pending = h[1]
		f.sparse = true
	}
	return pwriteAll(f.fd, data[pending:], off+int64(pending))
}

// holes returns the [start, end) ranges of data, which goes at file offset
// off, to leave as holes: runs of all-zero holeBlock-aligned blocks of at
// least holeMin bytes. Non-zero data costs one 8-byte test per block.
func holes(off int64, data []byte) [][2]int {
	if len(data) < holeMin {
		return nil
	}
	var out [][2]int
	i := int((holeBlock - off%holeBlock) % holeBlock) // first block boundary
	for i+holeBlock <= len(data) {
		if !allZero(data[i : i+holeBlock]) {
			i += holeBlock
			continue
		}
		j := i + holeBlock
		for j+holeBlock <= len(data) && allZero(data[j:j+holeBlock]) {
			j += holeBlock
		}
		if j-i >= holeMin {
			out = append(out, [2]int{i, j})
		}
		i = j
	}
	return out
}

func pwriteAll(fd int, data []byte, off int64) error {
	for len(data) > 0 {
		n, err := unix.Pwrite(fd, data, off)
		if err != nil {
			return fmt.Errorf("write: %w", err)
		}
		data, off = data[n:], off+int64(n)
	}
	return nil
}

// open creates the temporary file and keeps it open until finish (f.mu
// held). The file's directory descriptor stays pinned meanwhile. The file
// is unnamed where the file system allows (it gets its real name only once
// verified, and a crash leaves nothing behind); else it gets a fresh
// random name that no other entry has.
func (rs *restorer) open(f *fileState) error {
	if f.fd >= 0 {
		return nil
	}
	dfd, err := rs.dirFDs.acquire(f.dir)
	if err != nil {
		return err
	}
	f.pinned = true
	// Created with its final permission bits (umask permitting), so that
	// usually no chmod is needed; the descriptor stays writable whatever
	// the mode.
	mode := f.node.Mode & 0o777
	if rs.unnamed != linkNone && !f.dir.named.Load() {
		fd, err := openUnnamed(dfd, mode)
		if err == nil {
			f.fd = fd
			return nil
		}
		if !unnamedUnsupported(err) {
			return fmt.Errorf("create temporary file: %w", err)
		}
		f.dir.named.Store(true) // a file system without unnamed files
	}
	fd := -1
	name, err := rs.newName(func(name string) error {
		var err error
		fd, err = unix.Openat(dfd, name, unix.O_WRONLY|unix.O_CREAT|unix.O_EXCL|unix.O_NOFOLLOW|unix.O_CLOEXEC, mode)
		return err
	})
	if err != nil {
		return fmt.Errorf("create temporary file: %w", err)
	}
	var st unix.Stat_t
	if err := unix.Fstat(fd, &st); err != nil {
		unix.Close(fd)
		_ = unix.Unlinkat(dfd, name, 0) // created a moment ago
		return fmt.Errorf("create temporary file: %w", err)
	}
	f.fd, f.tmp = fd, name
	f.dev, f.ino = fileID(&st)
	return nil
}

func (rs *restorer) chunkDone(f *fileState) {
	if f.remaining.Add(-1) == 0 {
		rs.finish(f)
	}
}

// finish verifies a file whose blobs are all written and moves it into
// place, or removes it and reports why.
func (rs *restorer) finish(f *fileState) {
	f.mu.Lock()
	defer f.mu.Unlock()
	err := f.err
	if err == nil {
		err = rs.open(f)
	}
	if err == nil {
		err = rs.complete(f)
	}
	if f.fd >= 0 {
		if cerr := unix.Close(f.fd); err == nil && cerr != nil {
			err = fmt.Errorf("close: %w", cerr)
		}
		f.fd = -1
	}
	if f.pinned {
		if f.tmp != "" { // not renamed into place: remove it if still ours
			_ = rs.dirFDs.at(f.dir, func(dfd int) error { return unlinkOurs(dfd, f.tmp, f.dev, f.ino) })
			f.tmp = ""
		}
		rs.dirFDs.release(f.dir)
		f.pinned = false
	}
	if err != nil {
		rs.report(f.snapPath, err)
		return
	}
	f.done.Store(true)
	if f.xerr != nil {
		rs.fail(f.snapPath, f.xerr)
	}
	rs.files.Add(1)
	rs.bytes.Add(int64(f.node.Size))
	rs.opts.Progress.FilesDone.Add(1)
	rs.opts.Progress.BytesDone.Add(int64(f.node.Size))
}

// complete sets the metadata of the open temporary file and renames it
// over the final name (f.mu held, f.fd open, the directory pinned).
func (rs *restorer) complete(f *fileState) error {
	n := f.node
	if f.sparse {
		if err := unix.Ftruncate(f.fd, int64(n.Size)); err != nil {
			return fmt.Errorf("truncate: %w", err)
		}
	}
	if rs.owner && (int(n.UID) != rs.euid || int(n.GID) != rs.egid) {
		if err := unix.Fchown(f.fd, int(n.UID), int(n.GID)); err != nil {
			return fmt.Errorf("chown: %w", err)
		}
	}
	// chmod only when the umask or special bits made the mode differ (and
	// always after a chown, which clears setuid/setgid).
	if n.Mode&0o7000 != 0 || (n.Mode&0o777)&^rs.umask != n.Mode&0o777 {
		if err := unix.Fchmod(f.fd, n.Mode&0o7777); err != nil {
			return fmt.Errorf("chmod: %w", err)
		}
	}
	// After the content and the chown: writing to a file or changing its
	// owner removes its security.capability.
	f.xerr = rs.setXattrs(n, func(name string, value []byte) error { return fsmeta.FSetXattr(f.fd, name, value) })
	dfd, err := rs.dirFDs.acquire(f.dir)
	if err != nil {
		return err
	}
	defer rs.dirFDs.release(f.dir)
	ts := []unix.Timespec{unix.NsecToTimespec(n.MTime.UnixNano()), unix.NsecToTimespec(n.MTime.UnixNano())}
	if err := futimens(f.fd, dfd, f.tmp, ts); err != nil {
		return fmt.Errorf("set times: %w", err)
	}
	if err := rs.place(dfd, f); err != nil {
		return err
	}
	if n.Flags != 0 && !rs.opts.NoFlags {
		var st unix.Stat_t
		if err := unix.Fstat(f.fd, &st); err != nil {
			return fmt.Errorf("stat: %w", err)
		}
		dev, ino := fileID(&st)
		rs.queueFlags(pendingFlags{dir: f.dir, name: f.name, snapPath: f.snapPath, flags: n.Flags, dev: dev, ino: ino})
	}
	return nil
}

// place gives the verified temporary file f its real name in dfd (f.mu
// held, f.fd open). An existing regular file is replaced atomically
// (OverwriteNever keeps it); an entry of another type is a conflict, or
// with Options.Delete removed first. Only the file restore wrote and
// verified is ever renamed: an unnamed file is linked by its descriptor, a
// named one renamed after checking it still is the file created.
func (rs *restorer) place(dfd int, f *fileState) error {
	for range 3 {
		err := rs.linkNew(dfd, f)
		if err == nil {
			return nil
		}
		if !errors.Is(err, unix.EEXIST) {
			return fmt.Errorf("rename into place: %w", err)
		}
		var st unix.Stat_t
		if err := unix.Fstatat(dfd, f.name, &st, unix.AT_SYMLINK_NOFOLLOW); err != nil {
			if errors.Is(err, unix.ENOENT) {
				continue // gone meanwhile
			}
			return fmt.Errorf("rename into place: %w", err)
		}
		if hasType(&st, format.TypeFile) {
			if rs.opts.Overwrite == OverwriteNever {
				return errKept
			}
			err := rs.replace(dfd, f)
			if errors.Is(err, unix.EPERM) && immutable(dfd, f.name) {
				return errImmutable(f.name)
			}
			return err
		}
		if !rs.opts.Delete {
			return conflict(&st, format.TypeFile)
		}
		if err := rs.removeInWay(dfd, f.name, f.snapPath, &st); err != nil {
			return err
		}
	}
	return fmt.Errorf("rename into place: %s keeps being recreated", f.name)
}

// linkNew gives f its real name, failing with EEXIST when it is taken.
func (rs *restorer) linkNew(dfd int, f *fileState) error {
	if f.tmp != "" {
		if err := checkOurs(dfd, f.tmp, f.dev, f.ino); err != nil {
			return err
		}
		if err := renameNoReplace(dfd, f.tmp, f.name); err != nil {
			return err
		}
		f.tmp = ""
		return nil
	}
	if err := linkUnnamed(rs.unnamed, f.fd, dfd, f.name); err != nil {
		return err
	}
	if f.node.Links > 1 { // its links are made to this file
		var st unix.Stat_t
		if err := unix.Fstat(f.fd, &st); err != nil {
			return fmt.Errorf("stat: %w", err)
		}
		f.dev, f.ino = fileID(&st)
	}
	return nil
}

// replace renames f over the existing file of its name: an unnamed f first
// gets a temporary name of its own.
func (rs *restorer) replace(dfd int, f *fileState) error {
	if f.tmp == "" {
		var st unix.Stat_t
		if err := unix.Fstat(f.fd, &st); err != nil {
			return fmt.Errorf("replace: stat: %w", err)
		}
		f.dev, f.ino = fileID(&st)
		tmp, err := rs.newName(func(name string) error { return linkUnnamed(rs.unnamed, f.fd, dfd, name) })
		if err != nil {
			return fmt.Errorf("replace: %w", err)
		}
		f.tmp = tmp
	}
	if err := renameOurs(dfd, f.tmp, f.name, f.dev, f.ino); err != nil {
		return fmt.Errorf("replace: %w", err)
	}
	f.tmp = ""
	return nil
}

// dropExisting removes from files those that must not be restored: every
// existing one for OverwriteNever, and for OverwriteIfChanged those whose
// content already matches (checked by re-hashing at the blob boundaries).
// An entry of another type in the way is a conflict (unless Options.Delete,
// which leaves it for place to remove).
func (rs *restorer) dropExisting(files []*fileState) []*fileState {
	outcome := make([]error, len(files)) // nil: restore it
	xerrs := make([]error, len(files))   // attributes of a kept file not synced
	ids := make([][2]uint64, len(files))
	_ = runIndexed(rs.ctx, rs.opts.Workers, len(files), func(i int) {
		f := files[i]
		_ = rs.dirFDs.at(f.dir, func(dfd int) error {
			var st unix.Stat_t
			if unix.Fstatat(dfd, f.name, &st, unix.AT_SYMLINK_NOFOLLOW) != nil {
				return nil
			}
			switch {
			case !hasType(&st, format.TypeFile):
				if !rs.opts.Delete {
					outcome[i] = conflict(&st, format.TypeFile)
				}
			case rs.opts.Overwrite == OverwriteNever || (statMatches(&st, f.node) && rs.sameContent(dfd, f)):
				outcome[i] = errKept
				ids[i][0], ids[i][1] = fileID(&st)
				if rs.opts.Overwrite == OverwriteIfChanged {
					// Same content: the attributes and flags may still
					// differ (a change of them alone changes no mtime).
					xerrs[i] = rs.syncXattrs(entryPath(dfd, f.name), f.node)
					rs.queueFlags(pendingFlags{dir: f.dir, name: f.name, snapPath: f.snapPath, flags: f.node.Flags, dev: ids[i][0], ino: ids[i][1]})
				}
			}
			return nil
		})
	})
	out := files[:0]
	for i, f := range files {
		if outcome[i] == nil {
			out = append(out, f)
			continue
		}
		rs.report(f.snapPath, outcome[i])
		if xerrs[i] != nil {
			rs.fail(f.snapPath, xerrs[i])
		}
		if l, ok := rs.links[linkKey{f.node.DeviceID, f.node.Inode}]; ok && l.file == f && errors.Is(outcome[i], errKept) {
			f.dev, f.ino = ids[i][0], ids[i][1]
			f.done.Store(true) // existing and correct: later links may point to it
		}
	}
	return out
}

// sameContent reports whether the existing file has exactly the snapshot's
// content: each blob-sized piece must hash to its blob ID.
func (rs *restorer) sameContent(dfd int, f *fileState) bool {
	fd, err := unix.Openat(dfd, f.name, unix.O_RDONLY|unix.O_NOFOLLOW|unix.O_CLOEXEC, 0)
	if err != nil {
		return false
	}
	defer unix.Close(fd)
	idx := rs.r.Index()
	var buf []byte
	var off int64
	for _, id := range f.node.Content {
		loc, ok := idx.Lookup(id)
		if !ok {
			return false
		}
		if cap(buf) < int(loc.Blob.RawLen) {
			buf = make([]byte, loc.Blob.RawLen)
		}
		b := buf[:loc.Blob.RawLen]
		if !preadFull(fd, b, off) || rs.r.Hash(b) != id {
			return false
		}
		off += int64(len(b))
	}
	var one [1]byte
	n, _ := unix.Pread(fd, one[:], off)
	return n == 0
}

func preadFull(fd int, b []byte, off int64) bool {
	for len(b) > 0 {
		n, err := unix.Pread(fd, b, off)
		if err != nil || n <= 0 {
			return false
		}
		b, off = b[n:], off+int64(n)
	}
	return true
}

func runIndexed(ctx context.Context, workers, n int, fn func(i int)) error {
	var next atomic.Int64
	var wg sync.WaitGroup
	for w := 0; w < workers; w++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for ctx.Err() == nil {
				i := int(next.Add(1) - 1)
				if i >= n {
					return
				}
				fn(i)
			}
		}()
	}
	wg.Wait()
	return ctx.Err()
}
