package repo

import (
	"context"
	"crypto/sha256"
	"errors"
	"fmt"
	"hash"
	"io"
	"os"
	"runtime"
	"sync"
	"sync/atomic"

	"lifeboat/engine/compress"
	"lifeboat/engine/format"
	"lifeboat/storage"
)

// WriteStats counts what a writing session added.
type WriteStats struct {
	Blobs       int64 // new blobs
	BytesAdded  int64 // plaintext bytes of new blobs
	Packs       int64 // packs uploaded
	BytesStored int64 // sealed bytes of new packs
}

// writer packs new blobs and uploads sealed packs in the background. Each
// uploaded pack is immediately described by its own small index object (so
// an interrupted backup leaves reusable, indexed packs); Flush replaces those
// with one consolidated index object.
type writer struct {
	r   *Repository
	ctx context.Context

	mu      sync.Mutex // guards pending and stats
	pending map[format.ID]struct{}
	stats   WriteStats

	sendMu sync.Mutex // serializes hand-offs of full packs
	// slots are the packs being filled, by blob type: several per type,
	// each with its own lock, so that callers encrypt and write their
	// blobs in parallel.
	slots [3][]*packSlot
	next  atomic.Uint32 // round-robin start for slot selection

	uploads chan *packBuf
	wg      sync.WaitGroup

	doneMu    sync.Mutex
	written   []format.IndexPack
	fragments []format.ID
	err       error
}

// packSlot holds one pack being filled.
type packSlot struct {
	mu sync.Mutex
	p  *packBuf
}

// packBuf is a pack being filled. Blobs are encrypted as they are added,
// straight into an unlinked temporary file (hashing as it goes): packs are
// never held in memory, which keeps a backup's memory small; the page cache
// absorbs the file.
type packBuf struct {
	typ   format.BlobType
	file  *os.File
	hash  hash.Hash
	out   countingWriter
	sw    io.WriteCloser // age stream writer into out
	size  int64          // plaintext bytes written so far
	blobs []format.Blob
}

// countingWriter writes to a file and a hash, counting bytes.
type countingWriter struct {
	f *os.File
	h hash.Hash
	n int64
}

func (c *countingWriter) Write(p []byte) (int, error) {
	n, err := c.f.Write(p)
	c.h.Write(p[:n])
	c.n += int64(n)
	return n, err
}

func (r *Repository) getWriter(ctx context.Context) *writer {
	r.writeMu.Lock()
	defer r.writeMu.Unlock()
	if r.writer == nil {
		// Packs wait in unnamed temporary files, not in memory, so several
		// may queue; a couple of uploaders hide the fsyncs of local
		// storage, more keep remote regions busy (a region set already
		// fans each upload out to every region in parallel).
		n := 2
		if !r.st.Capabilities().Local {
			n = min(r.concurrency(), 4)
		}
		w := &writer{
			r: r, ctx: ctx,
			pending: map[format.ID]struct{}{},
			uploads: make(chan *packBuf, 8), // waiting packs cost disk, not memory
		}
		for t := range w.slots {
			for range max(1, runtime.GOMAXPROCS(0)) {
				w.slots[t] = append(w.slots[t], &packSlot{})
			}
		}
		for i := 0; i < n; i++ {
			w.wg.Add(1)
			go w.uploader()
		}
		r.writer = w
	}
	return r.writer
}

// SaveBlob stores a blob whose keyed ID is id (the caller computed it with
// Hash), unless the repository already has it. It returns whether the blob
// was new. Data is compressed here, in the caller's goroutine, so callers
// parallelize compression by calling SaveBlob concurrently. data is not
// retained.
func (r *Repository) SaveBlob(ctx context.Context, typ format.BlobType, id format.ID, data []byte) (bool, error) {
	if r.idx.Has(id) {
		return false, nil
	}
	w := r.getWriter(ctx)
	if err := w.failed(); err != nil {
		return false, err
	}
	w.mu.Lock()
	if _, ok := w.pending[id]; ok {
		w.mu.Unlock()
		return false, nil
	}
	w.pending[id] = struct{}{}
	w.mu.Unlock()

	scratch := getScratch(len(data))
	stored, compressed := compress.Compress(scratch, data, r.level)
	flags := uint8(0)
	if compressed {
		flags = format.FlagCompressed
		defer putScratch(stored)
	} else {
		stored = data
		defer putScratch(scratch)
	}
	if len(stored) > format.MaxChunkSize+1<<16 || len(data) > format.MaxTreeSize {
		return false, fmt.Errorf("save blob %s: %d bytes is above the format limit", id.Short(), len(data))
	}
	err := w.add(typ, format.Blob{Type: typ, Flags: flags, ID: id, Length: uint32(len(stored)), RawLen: uint32(len(data))}, stored)
	if err != nil {
		return false, err
	}
	return true, nil
}

func (w *writer) failed() error {
	w.doneMu.Lock()
	defer w.doneMu.Unlock()
	return w.err
}

func (w *writer) fail(err error) {
	w.doneMu.Lock()
	if w.err == nil {
		w.err = err
	}
	w.doneMu.Unlock()
}

func (w *writer) add(typ format.BlobType, b format.Blob, stored []byte) error {
	slot := w.lockSlot(typ)
	var full *packBuf
	p := slot.p
	if p != nil && len(p.blobs) > 0 && p.size+int64(len(stored)) > w.r.cfg.PackSize {
		full, p = p, nil
		slot.p = nil
	}
	if p == nil {
		var err error
		if p, err = w.newPack(typ); err != nil {
			slot.mu.Unlock()
			return err
		}
		slot.p = p
	}
	b.Offset = uint32(p.size)
	_, err := p.sw.Write(stored)
	p.size += int64(len(stored))
	p.blobs = append(p.blobs, b)
	slot.mu.Unlock()
	if err != nil {
		return fmt.Errorf("seal pack: %w", err)
	}
	w.mu.Lock()
	w.stats.Blobs++
	w.stats.BytesAdded += int64(b.RawLen)
	w.mu.Unlock()
	if full != nil {
		// One full pack is handed over at a time; packs wait in
		// temporary files, so the queue costs no memory.
		w.sendMu.Lock()
		defer w.sendMu.Unlock()
		return w.send(full)
	}
	return nil
}

// lockSlot locks and returns a slot for typ: a free one if any, else the
// next in turn. Tree blobs use one slot (they are few and small).
func (w *writer) lockSlot(typ format.BlobType) *packSlot {
	slots := w.slots[typ]
	if typ == format.BlobTree {
		slots = slots[:1]
	}
	start := int(w.next.Add(1))
	for i := range slots {
		s := slots[(start+i)%len(slots)]
		if s.mu.TryLock() {
			return s
		}
	}
	s := slots[start%len(slots)]
	s.mu.Lock()
	return s
}

// newPack starts a pack in a new unlinked temporary file.
func (w *writer) newPack(typ format.BlobType) (*packBuf, error) {
	f, err := tempFile(w.r.tmpDir)
	if err != nil {
		return nil, fmt.Errorf("pack temporary file: %w", err)
	}
	p := &packBuf{typ: typ, file: f, hash: sha256.New()}
	p.out = countingWriter{f: f, h: p.hash}
	if p.sw, err = w.r.dk.SealWriter(&p.out); err != nil {
		f.Close()
		return nil, fmt.Errorf("seal pack: %w", err)
	}
	return p, nil
}

// send hands a full pack to the uploaders. Blocking here, with no lock
// held, is the backpressure that bounds memory.
func (w *writer) send(p *packBuf) error {
	select {
	case w.uploads <- p:
		return nil
	case <-w.ctx.Done():
		return w.ctx.Err()
	}
}

func (w *writer) uploader() {
	defer w.wg.Done()
	for p := range w.uploads {
		if w.failed() != nil {
			continue // drain
		}
		if err := w.upload(p); err != nil {
			w.fail(err)
		}
	}
}

func (w *writer) upload(p *packBuf) error {
	r := w.r
	defer p.file.Close()
	if _, err := p.sw.Write(format.EncodePackTrailer(p.blobs)); err != nil {
		return fmt.Errorf("seal pack: %w", err)
	}
	if err := p.sw.Close(); err != nil {
		return fmt.Errorf("seal pack: %w", err)
	}
	size := p.out.n
	var id format.ID
	p.hash.Sum(id[:0])
	name := format.PackName(id)
	if _, err := p.file.Seek(0, io.SeekStart); err != nil {
		return fmt.Errorf("upload pack %s: %w", id.Short(), err)
	}
	if err := r.st.Put(w.ctx, name, p.file, size, storage.PutOptions{}); err != nil {
		return fmt.Errorf("upload pack %s: %w", id.Short(), err)
	}
	if r.cache != nil && p.typ == format.BlobTree {
		sealed := make([]byte, size)
		if _, err := p.file.ReadAt(sealed, 0); err == nil {
			r.cache.put(name, sealed)
		}
	}
	ip := format.IndexPack{ID: id, Size: size, Blobs: p.blobs}
	frag, err := r.writeIndex(w.ctx, []format.IndexPack{ip})
	if err != nil {
		return err
	}
	r.idx.add(&ip)
	r.idx.markPack(id)
	w.mu.Lock()
	for i := range p.blobs {
		delete(w.pending, p.blobs[i].ID)
	}
	w.stats.Packs++
	w.stats.BytesStored += size
	w.mu.Unlock()
	w.doneMu.Lock()
	w.written = append(w.written, ip)
	w.fragments = append(w.fragments, frag)
	w.doneMu.Unlock()
	return nil
}

// Flush uploads every partly filled pack, waits for all uploads, and
// replaces this session's per-pack index objects (of the packs it uploaded
// and of those AdoptOrphans adopted) with one consolidated index object
// (not on append-only storage: the one-pack objects stay). After Flush returns nil, every blob saved so far is durable and
// indexed. It returns the session's statistics.
func (r *Repository) Flush(ctx context.Context) (WriteStats, error) {
	defer r.persistIndexCache() // for the next session (indexcache.go)
	r.writeMu.Lock()
	w := r.writer
	r.writer = nil
	adopted := r.adopted
	r.adopted = nil
	r.writeMu.Unlock()
	if w == nil {
		return WriteStats{}, r.consolidate(ctx, adopted, nil, nil)
	}
	var sendErr error
	for _, slots := range w.slots {
		for _, slot := range slots {
			slot.mu.Lock()
			p := slot.p
			slot.p = nil
			slot.mu.Unlock()
			if p != nil && len(p.blobs) > 0 && sendErr == nil {
				sendErr = w.send(p)
			}
		}
	}
	close(w.uploads)
	w.wg.Wait()
	w.mu.Lock()
	stats := w.stats
	w.mu.Unlock()
	if err := errors.Join(sendErr, w.failed()); err != nil {
		return stats, err
	}
	return stats, r.consolidate(ctx, adopted, w.written, w.fragments)
}

// consolidate replaces the one-pack index objects of a session (its
// uploaded packs, and the packs it adopted) with one index object naming
// them all, when there is more than one. On append-only storage it does
// nothing: no deletes.
func (r *Repository) consolidate(ctx context.Context, adopted []adoptedPack, written []format.IndexPack, fragments []format.ID) error {
	for _, a := range adopted {
		written = append(written, a.ip)
		fragments = append(fragments, a.frag)
	}
	if len(fragments) <= 1 {
		r.noteIndex(fragments...) // for the commit record (chain.go)
		return nil
	}
	if r.st.Capabilities().AppendOnly {
		// The one-pack objects cannot be deleted, so a consolidated
		// object would only duplicate them: they stay the session's
		// index, for a trusted host to consolidate (FORMAT.md §6).
		r.noteIndex(fragments...)
		return nil
	}
	cid, err := r.writeIndex(ctx, written)
	if err != nil {
		return err
	}
	r.noteIndex(cid)
	// Removing the per-pack index objects is housekeeping: a failure
	// (a region down) leaves harmless duplicates for a later run. Several
	// at once: each local deletion waits for an fsync.
	_ = eachLimit(ctx, r.concurrency(), len(fragments), func(ctx context.Context, i int) error {
		id := fragments[i]
		_ = r.st.Delete(ctx, format.IndexName(id))
		r.idx.mu.Lock()
		delete(r.idx.files, id)
		r.idx.mu.Unlock()
		if r.cache != nil {
			r.cache.remove(format.IndexName(id))
		}
		return nil
	})
	return nil
}

var scratchPool sync.Pool

func getScratch(n int) []byte {
	if b, ok := scratchPool.Get().(*[]byte); ok && cap(*b) >= n {
		return (*b)[:0]
	}
	return make([]byte, 0, n+n/8+64)
}

func putScratch(b []byte) {
	b = b[:0]
	scratchPool.Put(&b)
}
