package restore

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"path"
	"sort"
	"sync"
	"sync/atomic"

	"lifeboat/engine/format"
	"lifeboat/engine/repo"
)

// fileState tracks one regular file being restored.
type fileState struct {
	dir      *dirEntry
	name     string
	rel      string
	snapPath string
	node     *format.Node
	tmp      string

	remaining atomic.Int64
	mu        sync.Mutex
	created   bool
	sparse    bool
	err       error
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

// maxGap is the largest hole between two needed blobs that is still read
// through rather than split into two requests.
const maxGap = 1 << 20

// flushBatch restores the planned files.
func (rs *restorer) flushBatch() error {
	files := rs.batch
	rs.batch = nil
	if len(files) == 0 {
		return nil
	}
	ctx := rs.ctx
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
		f.tmp = fmt.Sprintf(".%s.lifeboat-%x.tmp", truncName(f.name), n.Hash[:6])
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
			// Undo the targets already planned for this file.
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
		sort.Slice(blobs, func(a, b int) bool { return blobs[a].Offset < blobs[b].Offset })
		// Split into runs so a partial restore does not read whole packs.
		start := 0
		for i := 1; i <= len(blobs); i++ {
			if i == len(blobs) || int64(blobs[i].Offset)-int64(blobs[i-1].Offset+blobs[i-1].Length) > maxGap {
				jobs = append(jobs, &packJob{pack: j.pack, blobs: blobs[start:i], targets: j.targets})
				start = i
			}
		}
	}
	sort.Slice(jobs, func(a, b int) bool {
		if jobs[a].pack.ID != jobs[b].pack.ID {
			return bytes.Compare(jobs[a].pack.ID[:], jobs[b].pack.ID[:]) < 0
		}
		return jobs[a].blobs[0].Offset < jobs[b].blobs[0].Offset
	})
	return runJobs(ctx, rs.opts.Workers, jobs, rs.readPack)
}

func truncName(n string) string {
	if len(n) > 200 {
		return n[:200]
	}
	return n
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

func runJobs(ctx context.Context, workers int, jobs []*packJob, fn func(context.Context, *packJob)) error {
	ch := make(chan *packJob)
	var wg sync.WaitGroup
	for i := 0; i < workers; i++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for j := range ch {
				fn(ctx, j)
			}
		}()
	}
	var err error
	for _, j := range jobs {
		select {
		case ch <- j:
			continue
		case <-ctx.Done():
			err = ctx.Err()
		}
		break
	}
	close(ch)
	wg.Wait()
	return err
}

// readPack reads one run of blobs and writes each into its files.
func (rs *restorer) readPack(ctx context.Context, j *packJob) {
	delivered := map[format.ID]bool{}
	err := rs.r.ReadPackBlobs(ctx, j.pack, j.blobs, func(b *format.Blob, data []byte, err error) error {
		delivered[b.ID] = true
		zero := err == nil && allZero(data)
		for _, t := range j.targets[b.ID] {
			if err != nil {
				t.f.setErr(err)
			} else {
				t.f.setErr(rs.write(t.f, t.off, data, zero))
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

// write puts data at off in f's temporary file, creating it on first use.
// All-zero blocks are skipped (a hole), making the file sparse.
func (rs *restorer) write(f *fileState, off int64, data []byte, zero bool) error {
	f.mu.Lock()
	defer f.mu.Unlock()
	if f.err != nil {
		return nil
	}
	if err := rs.create(f); err != nil {
		return err
	}
	if zero && len(data) >= 4096 {
		f.sparse = true
		return nil
	}
	h, err := rs.root.OpenFile(path.Join(f.dir.rel, f.tmp), os.O_WRONLY, 0)
	if err != nil {
		return fmt.Errorf("open temporary file: %w", err)
	}
	if _, err := h.WriteAt(data, off); err != nil {
		h.Close()
		return fmt.Errorf("write: %w", err)
	}
	if err := h.Close(); err != nil {
		return fmt.Errorf("write: %w", err)
	}
	return nil
}

// create makes the temporary file (with f.mu held).
func (rs *restorer) create(f *fileState) error {
	if f.created {
		return nil
	}
	p := path.Join(f.dir.rel, f.tmp)
	h, err := rs.root.OpenFile(p, os.O_WRONLY|os.O_CREATE|os.O_EXCL, 0o600)
	if errors.Is(err, os.ErrExist) { // left by an interrupted restore
		if err = rs.root.Remove(p); err == nil {
			h, err = rs.root.OpenFile(p, os.O_WRONLY|os.O_CREATE|os.O_EXCL, 0o600)
		}
	}
	if err != nil {
		return fmt.Errorf("create temporary file: %w", err)
	}
	if err := h.Close(); err != nil {
		return fmt.Errorf("create temporary file: %w", err)
	}
	f.created = true
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
	p := path.Join(f.dir.rel, f.tmp)
	err := f.err
	if err == nil {
		err = rs.create(f)
	}
	if err == nil {
		err = rs.complete(f, p)
	}
	if err != nil {
		if f.created {
			_ = rs.root.Remove(p)
		}
		rs.fail(f.snapPath, err)
		return
	}
	rs.files.Add(1)
	rs.bytes.Add(int64(f.node.Size))
	rs.opts.Progress.FilesDone.Add(1)
	rs.opts.Progress.BytesDone.Add(int64(f.node.Size))
}

func (rs *restorer) complete(f *fileState, p string) error {
	n := f.node
	h, err := rs.root.OpenFile(p, os.O_WRONLY, 0)
	if err != nil {
		return fmt.Errorf("open temporary file: %w", err)
	}
	fi, err := h.Stat()
	if err == nil && (f.sparse || fi.Size() != int64(n.Size)) {
		err = h.Truncate(int64(n.Size))
	}
	if err == nil && rs.owner {
		err = h.Chown(int(n.UID), int(n.GID))
	}
	if err == nil {
		err = h.Chmod(fileMode(n.Mode))
	}
	if cerr := h.Close(); err == nil {
		err = cerr
	}
	if err != nil {
		return fmt.Errorf("finish file: %w", err)
	}
	if err := rs.lutimes(p, n.MTime); err != nil {
		return err
	}
	if fi, err := rs.root.Lstat(f.rel); err == nil && fi.IsDir() {
		if err := rs.root.RemoveAll(f.rel); err != nil {
			return fmt.Errorf("replace directory: %w", err)
		}
	}
	if err := rs.root.Rename(p, f.rel); err != nil {
		return fmt.Errorf("rename into place: %w", err)
	}
	return nil
}

// dropExisting removes from files those that must not be restored: every
// existing one for OverwriteNever, and for OverwriteIfChanged those whose
// content already matches (checked by re-hashing at the blob boundaries).
func (rs *restorer) dropExisting(files []*fileState) []*fileState {
	keep := make([]bool, len(files))
	_ = runIndexed(rs.ctx, rs.opts.Workers, len(files), func(i int) {
		f := files[i]
		fi, err := rs.root.Lstat(f.rel)
		if err != nil {
			keep[i] = true
			return
		}
		if rs.opts.Overwrite == OverwriteNever || (statMatches(fi, f.node) && rs.sameContent(f)) {
			rs.skipped.Add(1)
			rs.opts.Progress.FilesSkipped.Add(1)
			return
		}
		keep[i] = true
	})
	out := files[:0]
	for i, f := range files {
		if keep[i] {
			out = append(out, f)
		}
	}
	return out
}

// sameContent reports whether the existing file has exactly the snapshot's
// content: each blob-sized piece must hash to its blob ID.
func (rs *restorer) sameContent(f *fileState) bool {
	h, err := rs.root.Open(f.rel)
	if err != nil {
		return false
	}
	defer h.Close()
	idx := rs.r.Index()
	var buf []byte
	for _, id := range f.node.Content {
		loc, ok := idx.Lookup(id)
		if !ok {
			return false
		}
		if cap(buf) < int(loc.Blob.RawLen) {
			buf = make([]byte, loc.Blob.RawLen)
		}
		b := buf[:loc.Blob.RawLen]
		if _, err := io.ReadFull(h, b); err != nil || rs.r.Hash(b) != id {
			return false
		}
	}
	var one [1]byte
	n, _ := h.Read(one[:])
	return n == 0
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
