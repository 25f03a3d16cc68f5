package repo

import (
	"context"
	"crypto/sha256"
	"errors"
	"fmt"
	"io"
	"sort"
	"sync"

	"lifeboat/crypto"
	"lifeboat/engine/compress"
	"lifeboat/engine/format"
	"lifeboat/storage"
)

// objectReaderAt adapts a stored object to io.ReaderAt for age's random
// access decryption. It serves reads from prefetched segments and fetches a
// missing range with one ranged Get.
type objectReaderAt struct {
	ctx  context.Context
	st   storage.Reader
	name string
	size int64

	mu   sync.Mutex
	segs []segment
}

type segment struct {
	off  int64
	data []byte
}

func newObjectReaderAt(ctx context.Context, st storage.Reader, name string, size int64) *objectReaderAt {
	return &objectReaderAt{ctx: ctx, st: st, name: name, size: size}
}

// release returns the segments' buffers to the pool; o must not be used
// afterwards.
func (o *objectReaderAt) release() {
	o.mu.Lock()
	defer o.mu.Unlock()
	for _, s := range o.segs {
		putBuf(s.data)
	}
	o.segs = nil
}

// fetch reads [off, off+n) into a new segment.
func (o *objectReaderAt) fetch(off, n int64) ([]byte, error) {
	if off < 0 || off+n > o.size {
		return nil, fmt.Errorf("read %s [%d,%d): beyond its %d bytes: %w", o.name, off, off+n, o.size, io.ErrUnexpectedEOF)
	}
	buf := getBuf(int(n))
	if err := storage.ReadRange(o.ctx, o.st, o.name, off, buf); err != nil {
		putBuf(buf)
		return nil, err
	}
	o.mu.Lock()
	o.segs = append(o.segs, segment{off: off, data: buf})
	o.mu.Unlock()
	return buf, nil
}

// prefetch loads the ranges age will read to return plaintext [plainOff,
// plainOff+plainLen): the header, the final chunk, and the covering chunks.
func (o *objectReaderAt) prefetch(plainOff, plainLen, plainSize int64) error {
	hdr := min(int64(4096), o.size)
	if _, err := o.fetch(0, hdr); err != nil {
		return err
	}
	off, n := crypto.SealedRange(plainOff, plainLen, plainSize)
	if off < hdr && off+n <= hdr {
		return nil
	}
	finalOff, finalLen := crypto.SealedRange(max(0, plainSize-1), 1, plainSize)
	if finalOff+finalLen > off+n || finalOff < off { // final chunk not inside the range
		if finalOff < hdr {
			finalLen -= hdr - finalOff
			finalOff = hdr
		}
		if finalLen > 0 {
			if _, err := o.fetch(finalOff, finalLen); err != nil {
				return err
			}
		}
	}
	if off < hdr {
		n -= hdr - off
		off = hdr
	}
	if n > 0 {
		_, err := o.fetch(off, n)
		return err
	}
	return nil
}

func (o *objectReaderAt) ReadAt(p []byte, off int64) (int, error) {
	if off >= o.size {
		return 0, io.EOF
	}
	want := min(int64(len(p)), o.size-off)
	done := int64(0)
	for done < want {
		cur := off + done
		var src []byte
		o.mu.Lock()
		for _, s := range o.segs {
			if cur >= s.off && cur < s.off+int64(len(s.data)) {
				src = s.data[cur-s.off:]
				break
			}
		}
		o.mu.Unlock()
		if src == nil {
			// Not prefetched: fetch up to the next segment start.
			end := off + want
			o.mu.Lock()
			for _, s := range o.segs {
				if s.off > cur && s.off < end {
					end = s.off
				}
			}
			o.mu.Unlock()
			var err error
			if src, err = o.fetch(cur, end-cur); err != nil {
				return int(done), err
			}
		}
		done += int64(copy(p[done:want], src))
	}
	if want < int64(len(p)) {
		return int(want), io.EOF
	}
	return int(want), nil
}

// openPack opens a pack for random-access reading of [plainOff,
// plainOff+plainLen), prefetching exactly the needed ranges.
func (r *Repository) openPack(ctx context.Context, rd storage.Reader, pack PackInfo, plainOff, plainLen int64) (io.ReaderAt, int64, func(), error) {
	name := format.PackName(pack.ID)
	plainSize := crypto.PlainSize(pack.Size)
	if plainSize < 0 {
		return nil, 0, nil, &IntegrityError{Object: name, Err: fmt.Errorf("impossible sealed size %d", pack.Size)}
	}
	o := newObjectReaderAt(ctx, rd, name, pack.Size)
	if err := o.prefetch(plainOff, plainLen, plainSize); err != nil {
		o.release()
		return nil, 0, nil, err
	}
	ra, size, err := r.dk.OpenReaderAt(o, pack.Size)
	if err != nil {
		o.release()
		if isStorageErr(err) {
			return nil, 0, nil, fmt.Errorf("read pack %s: %w", pack.ID.Short(), err)
		}
		return nil, 0, nil, &IntegrityError{Object: name, Err: err}
	}
	return ra, size, o.release, nil
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

// ReadPackBlobs reads the given blobs of one pack with a single ranged read
// covering them, and calls fn for each in offset order with its verified
// plaintext (valid only during the call) or its own verification error. A
// storage failure, or a failure to authenticate the pack, is returned
// without calling fn; an error returned by fn stops the read.
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
	// Blobs that fail in one region are read again from the next; fn sees
	// each blob once, verified, or with the last region's error.
	name := format.PackName(pack.ID)
	todo := sorted
	var lastErr, fnErr error
	err := r.withReplicas(ctx, name, func(rep storage.Replica) error {
		start, end := span(todo)
		ra, plainSize, release, err := r.openPack(ctx, rep.Reader, pack, start, end-start)
		if err != nil {
			lastErr = err
			return err
		}
		defer release()
		var failed []format.Blob
		var firstErr error
		err = r.readBlobsFrom(ra, plainSize, pack.ID, todo, start, end, func(b *format.Blob, stored, data []byte, err error) error {
			if err != nil {
				failed = append(failed, *b)
				firstErr = cmpErr(firstErr, err)
				return nil
			}
			if err := fn(b, stored, data, nil); err != nil {
				fnErr = err
				return err
			}
			return nil
		})
		if fnErr != nil {
			return nil // the caller stopped the read: no failover
		}
		if err != nil {
			lastErr = err
			return err
		}
		r.reads.served(rep.Region, end-start)
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

// span returns the plaintext range covering sorted blobs.
func span(sorted []format.Blob) (start, end int64) {
	start = int64(sorted[0].Offset)
	for i := range sorted {
		end = max(end, int64(sorted[i].Offset)+int64(sorted[i].Length))
	}
	return start, end
}

func cmpErr(a, b error) error {
	if a != nil {
		return a
	}
	return b
}

// readBlobsFrom reads the sorted blobs, which span [start,end) of the pack
// plaintext, from ra and hands each to fn.
func (r *Repository) readBlobsFrom(ra io.ReaderAt, plainSize int64, pack format.ID, sorted []format.Blob, start, end int64, fn func(b *format.Blob, stored, plain []byte, err error) error) error {
	if end > plainSize {
		return &IntegrityError{Object: format.PackName(pack), Err: fmt.Errorf("blobs end at %d beyond the pack's %d bytes", end, plainSize)}
	}
	stored := getBuf(int(end - start))
	defer putBuf(stored)
	if _, err := ra.ReadAt(stored, start); err != nil && !errors.Is(err, io.EOF) {
		if isStorageErr(err) {
			return fmt.Errorf("read pack %s: %w", pack.Short(), err)
		}
		// Damage somewhere in the range: read blob by blob, so that only
		// the blobs in damaged encryption chunks fail.
		return r.readBlobsOneByOne(ra, pack, sorted, fn)
	}
	// Decompressed blobs share one pooled buffer: fn may not keep data.
	var dst []byte
	defer func() { putBuf(dst) }()
	for i := range sorted {
		b := &sorted[i]
		s := stored[int64(b.Offset)-start : int64(b.Offset)-start+int64(b.Length)]
		if need := int(b.RawLen) + compress.DecompressSlack; b.Compressed() && cap(dst) < need {
			putBuf(dst)
			dst = getBuf(need)
		}
		plain, err := r.decodeBlob(pack, b, s, dst)
		if err := fn(b, s, plain, err); err != nil {
			return err
		}
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
		ra, _, release, err := r.openPack(ctx, rep.Reader, pack, plainSize-8, 8)
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
