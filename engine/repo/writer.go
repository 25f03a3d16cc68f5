package repo

import (
	"bytes"
	"context"
	"crypto/sha256"
	"errors"
	"fmt"
	"sync"

	"lifeboat/crypto"
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

	packMu sync.Mutex  // guards open
	open   [3]*packBuf // packs being filled, by blob type

	uploads chan *packBuf
	wg      sync.WaitGroup
	free    chan []byte // recycled plaintext buffers

	doneMu    sync.Mutex
	written   []format.IndexPack
	fragments []format.ID
	err       error
}

type packBuf struct {
	typ   format.BlobType
	buf   []byte
	blobs []format.Blob
}

func (r *Repository) getWriter(ctx context.Context) *writer {
	r.writeMu.Lock()
	defer r.writeMu.Unlock()
	if r.writer == nil {
		// Each uploader holds one sealed pack while it uploads; a region
		// set already fans each upload out to every region in parallel, so
		// a few uploaders keep the network busy without much memory.
		n := 2
		if !r.st.Capabilities().Local {
			n = min(r.concurrency(), 4)
		}
		w := &writer{
			r: r, ctx: ctx,
			pending: map[format.ID]struct{}{},
			uploads: make(chan *packBuf),
			free:    make(chan []byte, 2),
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
	w.packMu.Lock()
	var full *packBuf
	p := w.open[typ]
	if p != nil && len(p.blobs) > 0 && int64(len(p.buf)+len(stored)) > w.r.cfg.PackSize {
		full, p = p, nil
	}
	if p == nil {
		p = &packBuf{typ: typ, buf: w.buffer()}
		w.open[typ] = p
	}
	b.Offset = uint32(len(p.buf))
	p.buf = append(p.buf, stored...)
	p.blobs = append(p.blobs, b)
	w.packMu.Unlock()
	w.mu.Lock()
	w.stats.Blobs++
	w.stats.BytesAdded += int64(b.RawLen)
	w.mu.Unlock()
	if full != nil {
		return w.send(full)
	}
	return nil
}

func (w *writer) buffer() []byte {
	select {
	case b := <-w.free:
		return b[:0]
	default:
		return make([]byte, 0, w.r.cfg.PackSize+64<<10)
	}
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
	var sealBuf bytes.Buffer
	for p := range w.uploads {
		if w.failed() != nil {
			continue // drain
		}
		if err := w.upload(p, &sealBuf); err != nil {
			w.fail(err)
		}
	}
}

// recycle returns a pack's plaintext buffer for the packers to refill.
func (w *writer) recycle(buf []byte) {
	select {
	case w.free <- buf:
	default:
	}
}

func (w *writer) upload(p *packBuf, sealBuf *bytes.Buffer) error {
	r := w.r
	p.buf = append(p.buf, format.EncodePackTrailer(p.blobs)...)
	sealBuf.Reset()
	sealBuf.Grow(int(crypto.SealedSize(int64(len(p.buf)))))
	sw, err := r.dk.SealWriter(sealBuf)
	if err != nil {
		return fmt.Errorf("seal pack: %w", err)
	}
	if _, err := sw.Write(p.buf); err != nil {
		return fmt.Errorf("seal pack: %w", err)
	}
	if err := sw.Close(); err != nil {
		return fmt.Errorf("seal pack: %w", err)
	}
	w.recycle(p.buf) // sealed: the plaintext is no longer needed
	p.buf = nil
	sealed := sealBuf.Bytes()
	id := format.ID(sha256.Sum256(sealed))
	name := format.PackName(id)
	if err := r.st.Put(w.ctx, name, bytes.NewReader(sealed), int64(len(sealed)), storage.PutOptions{}); err != nil {
		return fmt.Errorf("upload pack %s: %w", id.Short(), err)
	}
	if r.cache != nil && p.typ == format.BlobTree {
		r.cache.put(name, sealed)
	}
	ip := format.IndexPack{ID: id, Size: int64(len(sealed)), Blobs: p.blobs}
	frag, err := r.writeIndex(w.ctx, []format.IndexPack{ip})
	if err != nil {
		return err
	}
	r.idx.add(&ip)
	w.mu.Lock()
	for i := range p.blobs {
		delete(w.pending, p.blobs[i].ID)
	}
	w.stats.Packs++
	w.stats.BytesStored += int64(len(sealed))
	w.mu.Unlock()
	w.doneMu.Lock()
	w.written = append(w.written, ip)
	w.fragments = append(w.fragments, frag)
	w.doneMu.Unlock()
	return nil
}

// Flush uploads every partly filled pack, waits for all uploads, and
// replaces this session's per-pack index objects with one consolidated index
// object. After Flush returns nil, every blob saved so far is durable and
// indexed. It returns the session's statistics.
func (r *Repository) Flush(ctx context.Context) (WriteStats, error) {
	r.writeMu.Lock()
	w := r.writer
	r.writer = nil
	r.writeMu.Unlock()
	if w == nil {
		return WriteStats{}, nil
	}
	w.packMu.Lock()
	open := w.open
	w.open = [3]*packBuf{}
	w.packMu.Unlock()
	var sendErr error
	for _, p := range open {
		if p != nil && len(p.blobs) > 0 && sendErr == nil {
			sendErr = w.send(p)
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
	if len(w.fragments) > 1 {
		if _, err := r.writeIndex(ctx, w.written); err != nil {
			return stats, err
		}
		for _, id := range w.fragments {
			err := r.st.Delete(ctx, format.IndexName(id))
			if err != nil && !errors.Is(err, storage.ErrNotExist) {
				return stats, fmt.Errorf("remove superseded index %s: %w", id.Short(), err)
			}
			r.idx.mu.Lock()
			delete(r.idx.files, id)
			r.idx.mu.Unlock()
			if r.cache != nil {
				r.cache.remove(format.IndexName(id))
			}
		}
	}
	return stats, nil
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
