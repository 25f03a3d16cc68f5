package repo

import (
	"context"
	"crypto/sha256"
	"errors"
	"fmt"
	"io"
	"slices"
	"sort"
	"sync"

	"lifeboat/crypto"
	"lifeboat/engine/compress"
	"lifeboat/engine/format"
	"lifeboat/storage"
)

// objectReaderAt adapts a stored object to io.ReaderAt for age's random
// access decryption. A read inside one of the planned runs (sealed ranges
// read in ascending order) is served from one streamed Get per run, the
// body read straight into the caller's buffer; what lies between two reads
// of a run is skipped on the stream. Any other read (the header, the final
// chunk, a read going back) is fetched with its own ranged Get and kept as
// a segment, so that reading it again costs no request.
type objectReaderAt struct {
	ctx  context.Context
	st   storage.Reader
	name string
	size int64
	runs [][2]int64 // planned sealed ranges, ascending

	mu   sync.Mutex
	segs []segment
	// head and final keep copies of the header and of the final chunk
	// when they are read, if keepHead (for the pack-head cache).
	keepHead    bool
	head, final segment
	// body streams [pos, end) of the object while a run is being read.
	body     io.ReadCloser
	pos, end int64
}

type segment struct {
	off    int64
	data   []byte
	shared bool // from the pack-head cache: read only, not pooled
}

func newObjectReaderAt(ctx context.Context, st storage.Reader, name string, size int64, runs [][2]int64) *objectReaderAt {
	return &objectReaderAt{ctx: ctx, st: st, name: name, size: size, runs: runs}
}

// release closes the stream and returns the segments' buffers to the pool;
// o must not be used afterwards.
func (o *objectReaderAt) release() {
	o.mu.Lock()
	defer o.mu.Unlock()
	o.closeBody()
	for _, s := range o.segs {
		if !s.shared {
			putBuf(s.data)
		}
	}
	o.segs = nil
}

func (o *objectReaderAt) closeBody() {
	if o.body != nil {
		o.body.Close()
		o.body = nil
	}
}

// maxSegBytes bounds the fetched segments an objectReaderAt keeps; older
// ones are dropped beyond it (reads that go back, blob by blob, after
// damage, would otherwise keep a whole pack).
const maxSegBytes = 2 * readWindow

// fetch reads [off, off+n) into a new segment (o.mu held).
func (o *objectReaderAt) fetch(off, n int64) ([]byte, error) {
	buf := getBuf(int(n))
	if err := storage.ReadRange(o.ctx, o.st, o.name, off, buf); err != nil {
		putBuf(buf)
		return nil, err
	}
	kept := int64(0)
	for _, s := range o.segs {
		if !s.shared {
			kept += int64(len(s.data))
		}
	}
	if kept+n > maxSegBytes {
		segs := o.segs[:0]
		for _, s := range o.segs {
			if s.shared {
				segs = append(segs, s)
			} else {
				putBuf(s.data)
			}
		}
		o.segs = segs
	}
	o.segs = append(o.segs, segment{off: off, data: buf})
	return buf, nil
}

// streamGap is the largest gap between two blobs of a pack that a read
// streams through rather than starting another request for the next; more
// than that between two reads of a stream is fetched on its own.
const (
	streamGap  = 1 << 20
	streamSkip = streamGap + 256<<10
)

// streamable reports whether [off, off+n) can be read from the current
// stream, or opens one from off to the end of the planned run when off is
// at its start (within streamSkip) (o.mu held).
func (o *objectReaderAt) streamable(off, n int64) (bool, error) {
	if o.body != nil && off >= o.pos && off-o.pos <= streamSkip && off+n <= o.end {
		return true, nil
	}
	for _, r := range o.runs {
		if off >= r[0] && off-r[0] <= streamSkip && off+n <= r[1] {
			o.closeBody()
			body, err := o.st.Get(o.ctx, o.name, off, r[1]-off)
			if err != nil {
				return false, err
			}
			o.body, o.pos, o.end = body, off, r[1]
			return true, nil
		}
	}
	return false, nil
}

// stream reads p at off from the stream (o.mu held; streamable said so).
func (o *objectReaderAt) stream(p []byte, off int64) error {
	if skip := off - o.pos; skip > 0 {
		if _, err := io.CopyN(io.Discard, o.body, skip); err != nil {
			o.closeBody()
			return o.shortErr(o.pos, err)
		}
		o.pos = off
	}
	if _, err := io.ReadFull(o.body, p); err != nil {
		o.closeBody()
		return o.shortErr(off, err)
	}
	o.pos += int64(len(p))
	return nil
}

// errShortBody reports a streamed read whose body ended before its range.
var errShortBody = errors.New("body ended before the requested range")

// shortErr describes a failed read of the stream at off. A body that ends
// early is the storage's failure (another region may serve), not damage:
// it is reported as errShortBody, marked transient, and not as
// io.ErrUnexpectedEOF, which decryption takes for a truncated object.
func (o *objectReaderAt) shortErr(off int64, err error) error {
	if errors.Is(err, io.EOF) || errors.Is(err, io.ErrUnexpectedEOF) {
		err = storage.MarkTransient(fmt.Errorf("%w (%v)", errShortBody, err))
	}
	return fmt.Errorf("read %s at %d: %w", o.name, off, err)
}

func (o *objectReaderAt) ReadAt(p []byte, off int64) (int, error) {
	if off >= o.size {
		return 0, io.EOF
	}
	want := min(int64(len(p)), o.size-off)
	o.mu.Lock()
	defer o.mu.Unlock()
	if err := o.readAt(p[:want], off); err != nil {
		return 0, err
	}
	if o.keepHead {
		o.keep(p[:want], off)
	}
	if want < int64(len(p)) {
		return int(want), io.EOF
	}
	return int(want), nil
}

// keep copies a read of exactly the header or the final chunk (o.mu held).
func (o *objectReaderAt) keep(p []byte, off int64) {
	plainSize := crypto.PlainSize(o.size)
	fo, fn := crypto.FinalChunkRange(plainSize)
	switch {
	case off == 0 && len(p) == crypto.HeaderSize && o.head.data == nil:
		o.head = segment{off: 0, data: append([]byte(nil), p...), shared: true}
	case off == fo && int64(len(p)) == fn && o.final.data == nil:
		o.final = segment{off: fo, data: append([]byte(nil), p...), shared: true}
	}
}

// readAt fills p from off (o.mu held).
func (o *objectReaderAt) readAt(p []byte, off int64) error {
	if off < 0 {
		return fmt.Errorf("read %s at %d: %w", o.name, off, storage.ErrInvalidRange)
	}
	done := int64(0)
	want := int64(len(p))
	for done < want {
		cur := off + done
		var src []byte
		for _, s := range o.segs {
			if cur >= s.off && cur < s.off+int64(len(s.data)) {
				src = s.data[cur-s.off:]
				break
			}
		}
		if src == nil {
			ok, err := o.streamable(cur, want-done)
			if err != nil {
				return err
			}
			if ok {
				return o.stream(p[done:], cur)
			}
			// Not planned: fetch up to the next segment start.
			end := off + want
			for _, s := range o.segs {
				if s.off > cur && s.off < end {
					end = s.off
				}
			}
			if src, err = o.fetch(cur, end-cur); err != nil {
				return err
			}
		}
		done += int64(copy(p[done:], src))
	}
	return nil
}

// sealedRuns returns the sealed ranges to stream for plaintext runs of a
// pack of plainSize bytes. A run starting in the first chunk also streams
// the header, so the first read of a pack is one request.
func sealedRuns(plain [][2]int64, plainSize int64) [][2]int64 {
	out := make([][2]int64, 0, len(plain))
	for _, r := range plain {
		off, n := crypto.SealedRange(r[0], r[1]-r[0], plainSize)
		end := off + n
		if off == crypto.HeaderSize {
			off = 0
		}
		out = append(out, [2]int64{off, end})
	}
	return out
}

// openPack opens a pack for random-access reading, streaming the sealed
// runs (ascending) it is read in; everything else age reads (the header,
// the final chunk) is fetched by ranged reads.
//
// The header and final chunk of a pack that opened (age authenticated
// both) are kept in the pack-head cache for the region, so that the next
// read of the same pack from there costs only its runs.
func (r *Repository) openPack(ctx context.Context, rep storage.Replica, pack PackInfo, runs [][2]int64) (io.ReaderAt, int64, func(), error) {
	name := format.PackName(pack.ID)
	plainSize := crypto.PlainSize(pack.Size)
	if plainSize < 0 {
		return nil, 0, nil, &IntegrityError{Object: name, Err: fmt.Errorf("impossible sealed size %d", pack.Size)}
	}
	o := newObjectReaderAt(ctx, rep.Reader, name, pack.Size, runs)
	key := headKey{region: rep.Region, pack: pack.ID}
	cached := r.heads.get(key)
	o.segs = append(o.segs, cached...)
	o.keepHead = cached == nil
	ra, size, err := r.dk.OpenReaderAt(o, pack.Size)
	if err != nil {
		o.release()
		if cached != nil {
			r.heads.drop(key)
		}
		if isStorageErr(err) {
			return nil, 0, nil, fmt.Errorf("read pack %s: %w", pack.ID.Short(), err)
		}
		return nil, 0, nil, &IntegrityError{Object: name, Err: err}
	}
	if cached == nil && o.head.data != nil && o.final.data != nil {
		r.heads.put(key, []segment{o.head, o.final})
	}
	return ra, size, o.release, nil
}

// maxPackHeads bounds the pack-head cache (each entry is at most one
// encryption chunk and a header: about 64 KiB).
const maxPackHeads = 64

// packHeads caches the authenticated header and final chunk of the packs
// read last, per region, first in first out. The zero value is ready.
type packHeads struct {
	mu    sync.Mutex
	m     map[headKey][]segment
	order []headKey
}

type headKey struct {
	region string
	pack   format.ID
}

func (h *packHeads) get(k headKey) []segment {
	h.mu.Lock()
	defer h.mu.Unlock()
	return h.m[k]
}

func (h *packHeads) put(k headKey, segs []segment) {
	h.mu.Lock()
	defer h.mu.Unlock()
	if h.m == nil {
		h.m = map[headKey][]segment{}
	}
	if _, ok := h.m[k]; ok {
		return
	}
	for len(h.order) >= maxPackHeads {
		delete(h.m, h.order[0])
		h.order = h.order[1:]
	}
	h.m[k] = segs
	h.order = append(h.order, k)
}

func (h *packHeads) drop(k headKey) {
	h.mu.Lock()
	defer h.mu.Unlock()
	delete(h.m, k)
	if i := slices.Index(h.order, k); i >= 0 {
		h.order = slices.Delete(h.order, i, i+1)
	}
}

// isStorageErr tells storage failures (worth another region) from
// verification failures of the bytes themselves.
func isStorageErr(err error) bool {
	for _, s := range []error{storage.ErrNotExist, storage.ErrTransient, storage.ErrPermission, storage.ErrInvalidRange, context.Canceled, context.DeadlineExceeded} {
		if errors.Is(err, s) {
			return true
		}
	}
	return false
}

// decodeBlob decompresses a stored blob and verifies its keyed ID. dst is
// reused when large enough.
func (r *Repository) decodeBlob(pack format.ID, b *format.Blob, stored, dst []byte) ([]byte, error) {
	plain := stored
	if b.Compressed() {
		var err error
		plain, err = compress.Decompress(dst[:0], stored, int(b.RawLen))
		if err != nil {
			return nil, &IntegrityError{Object: format.PackName(pack), Blob: b.ID, Err: err}
		}
	}
	if len(plain) != int(b.RawLen) {
		return nil, &IntegrityError{Object: format.PackName(pack), Blob: b.ID, Err: fmt.Errorf("length %d, want %d", len(plain), b.RawLen)}
	}
	if r.Hash(plain) != b.ID {
		return nil, &IntegrityError{Object: format.PackName(pack), Blob: b.ID, Err: ErrHashMismatch}
	}
	return plain, nil
}

// LoadBlob reads, decrypts, decompresses and verifies one blob, reading only
// the part of its pack that holds it.
func (r *Repository) LoadBlob(ctx context.Context, id format.ID) ([]byte, error) {
	loc, ok := r.idx.Lookup(id)
	if !ok {
		return nil, fmt.Errorf("load blob %s: %w", id.Short(), ErrBlobNotFound)
	}
	if loc.Blob.Type == format.BlobTree {
		return r.loadTreeBlob(ctx, loc)
	}
	var out []byte
	err := r.ReadPackBlobs(ctx, loc.Pack, []format.Blob{loc.Blob}, func(b *format.Blob, data []byte, err error) error {
		if err != nil {
			return err
		}
		out = append([]byte(nil), data...)
		return nil
	})
	return out, err
}

// ReadPackBlobs reads the given blobs of one pack and calls fn for each in
// offset order with its verified plaintext (valid only during the call) or
// its own verification error. Blobs no more than streamGap apart are read
// with one streamed ranged read per run, through a bounded window: memory
// does not grow with the run. When a region fails (storage failure, or the
// pack cannot be authenticated), the blobs not yet handed to fn are read
// from the next region, as are those that failed verification; fn sees
// each blob once, verified, or with the last region's error. An error
// returned by fn stops the read.
func (r *Repository) ReadPackBlobs(ctx context.Context, pack PackInfo, blobs []format.Blob, fn func(b *format.Blob, data []byte, err error) error) error {
	return r.readPackBlobs(ctx, pack, blobs, func(b *format.Blob, _, plain []byte, err error) error { return fn(b, plain, err) })
}

// readPackBlobs is ReadPackBlobs whose fn also gets each blob's stored
// bytes (as in the pack: compressed or not; valid only during the call)
// beside its verified plaintext.
func (r *Repository) readPackBlobs(ctx context.Context, pack PackInfo, blobs []format.Blob, fn func(b *format.Blob, stored, plain []byte, err error) error) error {
	if len(blobs) == 0 {
		return nil
	}
	sorted := append([]format.Blob(nil), blobs...)
	sort.Slice(sorted, func(i, j int) bool { return sorted[i].Offset < sorted[j].Offset })
	name := format.PackName(pack.ID)
	todo := sorted
	var lastErr, fnErr error
	err := r.withReplicas(ctx, name, func(rep storage.Replica) error {
		plainSize := crypto.PlainSize(pack.Size)
		ra, _, release, err := r.openPack(ctx, rep, pack, sealedRuns(plainRuns(todo), plainSize))
		if err != nil {
			lastErr = err
			return err
		}
		defer release()
		var failed []format.Blob
		var firstErr error
		handled, bytes := 0, int64(0)
		err = r.readBlobsFrom(ra, plainSize, pack.ID, todo, func(b *format.Blob, stored, data []byte, err error) error {
			handled++
			if err != nil {
				failed = append(failed, *b)
				firstErr = cmpErr(firstErr, err)
				return nil
			}
			bytes += int64(b.Length)
			if err := fn(b, stored, data, nil); err != nil {
				fnErr = err
				return err
			}
			return nil
		})
		if fnErr != nil {
			return nil // the caller stopped the read: no failover
		}
		if bytes > 0 {
			r.reads.served(rep.Region, bytes)
		}
		if err != nil {
			todo = append(failed, todo[handled:]...)
			lastErr = err
			return err
		}
		if len(failed) > 0 {
			todo = failed
			lastErr = firstErr
			return firstErr
		}
		return nil
	})
	if fnErr != nil {
		return fnErr
	}
	if err != nil && ctx.Err() == nil {
		// Every region failed for these blobs: report each of them.
		for i := range todo {
			if ferr := fn(&todo[i], nil, nil, lastErr); ferr != nil {
				return ferr
			}
		}
		return nil
	}
	return err
}

// plainRuns returns the plaintext ranges covering sorted blobs, split
// where they are more than streamGap apart.
func plainRuns(sorted []format.Blob) [][2]int64 {
	var runs [][2]int64
	for i := range sorted {
		start, end := int64(sorted[i].Offset), int64(sorted[i].Offset)+int64(sorted[i].Length)
		if n := len(runs); n > 0 && start-runs[n-1][1] <= streamGap {
			runs[n-1][1] = max(runs[n-1][1], end)
			continue
		}
		runs = append(runs, [2]int64{start, end})
	}
	return runs
}

func cmpErr(a, b error) error {
	if a != nil {
		return a
	}
	return b
}

// readWindow bounds the plaintext read at once: neighbouring blobs are read
// together up to this much (a larger blob alone).
const readWindow = 2 << 20

// readBlobsFrom reads the sorted blobs from ra and hands each to fn, in
// windows of neighbouring blobs of at most readWindow bytes.
func (r *Repository) readBlobsFrom(ra io.ReaderAt, plainSize int64, pack format.ID, sorted []format.Blob, fn func(b *format.Blob, stored, plain []byte, err error) error) error {
	// Decompressed blobs share one pooled buffer: fn may not keep data.
	var dst []byte
	defer func() { putBuf(dst) }()
	for i := 0; i < len(sorted); {
		start := int64(sorted[i].Offset)
		end := start + int64(sorted[i].Length)
		j := i + 1
		for ; j < len(sorted); j++ {
			bs, be := int64(sorted[j].Offset), int64(sorted[j].Offset)+int64(sorted[j].Length)
			if bs-end > 64<<10 || max(end, be)-start > readWindow {
				break
			}
			end = max(end, be)
		}
		group := sorted[i:j]
		i = j
		if end > plainSize {
			err := &IntegrityError{Object: format.PackName(pack), Err: fmt.Errorf("blobs end at %d beyond the pack's %d bytes", end, plainSize)}
			for k := range group {
				if ferr := fn(&group[k], nil, nil, err); ferr != nil {
					return ferr
				}
			}
			continue
		}
		stored := getBuf(int(end - start))
		if _, err := ra.ReadAt(stored, start); err != nil && !errors.Is(err, io.EOF) {
			putBuf(stored)
			if isStorageErr(err) {
				return fmt.Errorf("read pack %s: %w", pack.Short(), err)
			}
			// Damage somewhere in the range: read blob by blob, so that
			// only the blobs in damaged encryption chunks fail.
			if err := r.readBlobsOneByOne(ra, pack, group, fn); err != nil {
				return err
			}
			continue
		}
		for k := range group {
			b := &group[k]
			s := stored[int64(b.Offset)-start : int64(b.Offset)-start+int64(b.Length)]
			if need := int(b.RawLen) + compress.DecompressSlack; b.Compressed() && cap(dst) < need {
				putBuf(dst)
				dst = getBuf(need)
			}
			plain, err := r.decodeBlob(pack, b, s, dst)
			if err := fn(b, s, plain, err); err != nil {
				putBuf(stored)
				return err
			}
		}
		putBuf(stored)
	}
	return nil
}

// readBlobsOneByOne reads each blob with its own ReadAt.
func (r *Repository) readBlobsOneByOne(ra io.ReaderAt, pack format.ID, sorted []format.Blob, fn func(b *format.Blob, stored, plain []byte, err error) error) error {
	for i := range sorted {
		b := &sorted[i]
		s := make([]byte, b.Length)
		var plain []byte
		_, err := ra.ReadAt(s, int64(b.Offset))
		switch {
		case err != nil && !errors.Is(err, io.EOF) && isStorageErr(err):
			return fmt.Errorf("read pack %s: %w", pack.Short(), err)
		case err != nil && !errors.Is(err, io.EOF):
			err = &IntegrityError{Object: format.PackName(pack), Blob: b.ID, Err: err}
		default:
			plain, err = r.decodeBlob(pack, b, s, nil)
		}
		if err := fn(b, s, plain, err); err != nil {
			return err
		}
	}
	return nil
}

// ReadPackTrailer reads and decodes the trailer of a stored pack, the
// pack's own list of its blobs (check compares it with the index).
func (r *Repository) ReadPackTrailer(ctx context.Context, pack PackInfo) ([]format.Blob, error) {
	name := format.PackName(pack.ID)
	plainSize := crypto.PlainSize(pack.Size)
	if plainSize < 8 {
		return nil, &IntegrityError{Object: name, Err: fmt.Errorf("sealed size %d too small", pack.Size)}
	}
	var blobs []format.Blob
	err := r.withReplicas(ctx, name, func(rep storage.Replica) error {
		ra, _, release, err := r.openPack(ctx, rep, pack, nil)
		if err != nil {
			return err
		}
		defer release()
		blobs, err = trailerFrom(ra, name, plainSize)
		return err
	})
	return blobs, err
}

// trailerFrom reads and decodes the trailer of a pack plaintext.
func trailerFrom(ra io.ReaderAt, name string, plainSize int64) ([]format.Blob, error) {
	tail := make([]byte, 8)
	if _, err := ra.ReadAt(tail, plainSize-8); err != nil && !errors.Is(err, io.EOF) {
		return nil, &IntegrityError{Object: name, Err: err}
	}
	n, err := format.PackTrailerLen(tail)
	if err != nil || int64(n) > plainSize {
		return nil, &IntegrityError{Object: name, Err: errors.Join(err, format.ErrFormat)}
	}
	trailer := make([]byte, n)
	if _, err := ra.ReadAt(trailer, plainSize-int64(n)); err != nil && !errors.Is(err, io.EOF) {
		return nil, &IntegrityError{Object: name, Err: err}
	}
	blobs, err := format.DecodePackTrailer(trailer, plainSize)
	if err != nil {
		return nil, &IntegrityError{Object: name, Err: err}
	}
	return blobs, nil
}

// VerifyPackBytes verifies a whole downloaded pack: its SHA-256 against its
// ID, its authentication, its trailer, and every blob in it (fn is called
// per blob with nil or the blob's error). It returns the trailer's blobs.
func (r *Repository) VerifyPackBytes(pack PackInfo, sealed []byte, fn func(b *format.Blob, err error)) ([]format.Blob, error) {
	if format.ID(sha256.Sum256(sealed)) != pack.ID {
		return nil, &IntegrityError{Object: format.PackName(pack.ID), Err: fmt.Errorf("content does not match its name: %w", ErrHashMismatch)}
	}
	return r.VerifyPackContents(pack, sealed, fn)
}

// verifyWindow is the plaintext VerifyPackContents decrypts at once: blobs
// are decrypted in runs of about this size into one reused buffer, so a
// pack costs a few allocations of the decryption layer, not one per blob,
// and no plaintext copy of the whole pack is made.
const verifyWindow = 1 << 20

// VerifyPackContents is VerifyPackBytes without the SHA-256: for a caller
// that hashed the sealed bytes as it read them. It authenticates and
// decrypts them, decodes the trailer, and decompresses and re-hashes every
// blob (fn is called per blob, in offset order, with nil or the blob's
// error). It returns the trailer's blobs. It is safe for concurrent use;
// its buffers are reused across calls.
func (r *Repository) VerifyPackContents(pack PackInfo, sealed []byte, fn func(b *format.Blob, err error)) ([]format.Blob, error) {
	name := format.PackName(pack.ID)
	ra, plainSize, err := r.dk.OpenReaderAt(bytesReaderAt(sealed), int64(len(sealed)))
	if err != nil {
		return nil, &IntegrityError{Object: name, Err: err}
	}
	if plainSize < 8 {
		return nil, &IntegrityError{Object: name, Err: fmt.Errorf("plaintext of %d bytes", plainSize)}
	}
	blobs, err := trailerFrom(ra, name, plainSize)
	if err != nil {
		return nil, err
	}
	var dst []byte // decompressed blobs, grown as needed
	defer func() { putBuf(dst) }()
	decode := func(b *format.Blob, s []byte) {
		if need := int(b.RawLen) + compress.DecompressSlack; b.Compressed() && cap(dst) < need {
			putBuf(dst)
			dst = getBuf(need)
		}
		_, err := r.decodeBlob(pack.ID, b, s, dst)
		fn(b, err)
	}
	// The trailer's blobs are contiguous from offset 0, in offset order
	// (DecodePackTrailer): read them in runs of about verifyWindow.
	for i := 0; i < len(blobs); {
		start := int64(blobs[i].Offset)
		end := start + int64(blobs[i].Length)
		j := i + 1
		for j < len(blobs) && int64(blobs[j].Offset)+int64(blobs[j].Length)-start <= verifyWindow {
			end = int64(blobs[j].Offset) + int64(blobs[j].Length)
			j++
		}
		run := getBuf(int(end - start))
		if _, err := ra.ReadAt(run, start); err != nil && !errors.Is(err, io.EOF) {
			// Damage somewhere in the run: blob by blob, so that only
			// the blobs in damaged encryption chunks fail.
			for k := i; k < j; k++ {
				b := &blobs[k]
				s := run[int64(b.Offset)-start : int64(b.Offset)-start+int64(b.Length)]
				if _, err := ra.ReadAt(s, int64(b.Offset)); err != nil && !errors.Is(err, io.EOF) {
					fn(b, &IntegrityError{Object: name, Blob: b.ID, Err: err})
					continue
				}
				decode(b, s)
			}
		} else {
			for k := i; k < j; k++ {
				b := &blobs[k]
				decode(b, run[int64(b.Offset)-start:int64(b.Offset)-start+int64(b.Length)])
			}
		}
		putBuf(run)
		i = j
	}
	return blobs, nil
}
