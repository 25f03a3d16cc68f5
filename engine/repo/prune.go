package repo

import (
	"cmp"
	"context"
	"errors"
	"fmt"
	"slices"
	"strings"
	"time"

	"golang.org/x/sync/errgroup"

	"lifeboat/engine/format"
	"lifeboat/storage"
)

// This file holds what prune (engine/prune) needs of a repository:
// reading index objects one by one, writing consolidated index objects,
// copying live blobs into new packs, GC records, tombstones without
// deletion, storage time and cache eviction.

// ErrClockSkew reports a storage clock too far from the local clock.
var ErrClockSkew = errors.New("storage time and local clock disagree")

// IndexObject is one index object and the packs it lists.
type IndexObject struct {
	ID    format.ID
	Packs []format.IndexPack
}

// ReadIndexObjectFunc reads and verifies the index object id and calls fn
// with each pack it lists, decoding one pack at a time (the decoded object
// is never held whole). A failure to read or verify the object comes
// before any call; a decoding failure may come after some.
func (r *Repository) ReadIndexObjectFunc(ctx context.Context, id format.ID, fn func(p format.IndexPack) error) error {
	name := format.IndexName(id)
	plain, err := r.readVerified(ctx, name, id)
	if err != nil {
		return fmt.Errorf("read index %s: %w", id.Short(), err)
	}
	var fnErr error
	err = format.DecodeIndexFunc(plain, func(p format.IndexPack) error {
		fnErr = fn(p)
		return fnErr
	})
	if fnErr != nil {
		return fnErr
	}
	if err != nil {
		return fmt.Errorf("read index %s: %w", id.Short(), &IntegrityError{Object: name, Err: err})
	}
	return nil
}

// WriteIndexObject stores a new index object listing packs (through the
// region set: every region, the write quorum at least) and returns its ID.
// It then records the object in the commit chain (chain.go); a failure
// there does not fail the write: the object stays pending and goes into
// this session's next record.
func (r *Repository) WriteIndexObject(ctx context.Context, packs []format.IndexPack) (format.ID, error) {
	id, err := r.writeIndex(ctx, packs)
	if err != nil {
		return id, err
	}
	_ = r.appendChain(ctx, format.ChainRecord{Op: format.ChainIndex, Index: []format.ID{id}})
	return id, nil
}

// copySpan bounds the plaintext range of a pack that CopyBlobs reads at
// once (a larger pack is read in several ranged reads), which bounds its
// memory whatever the pack size: the sealed range (whole 64 KiB chunks,
// one more at each end) then fits the 2 MiB buffers of the read pool.
const copySpan = 2<<20 - 192<<10

// CopyBlobs copies the given blobs of pack into new packs of this
// session, even though the index already knows them (the copy is what
// lets prune delete the old pack). Each blob is read and verified (its
// plaintext against its keyed ID), then its stored bytes are copied as
// they are, compressed or not: no recompression. A blob that cannot be
// read fails the copy. The copies are durable and indexed after Flush.
// It is safe to call concurrently (for different packs).
func (r *Repository) CopyBlobs(ctx context.Context, pack PackInfo, blobs []format.Blob) error {
	sorted := slices.Clone(blobs)
	slices.SortFunc(sorted, func(a, b format.Blob) int { return cmp.Compare(a.Offset, b.Offset) })
	for len(sorted) > 0 {
		n := 1
		for n < len(sorted) && int64(sorted[n].Offset)+int64(sorted[n].Length)-int64(sorted[0].Offset) <= copySpan {
			n++
		}
		err := r.readPackBlobs(ctx, pack, sorted[:n], func(b *format.Blob, stored, _ []byte, err error) error {
			if err != nil {
				return fmt.Errorf("copy blob %s of pack %s: %w", b.ID.Short(), pack.ID.Short(), err)
			}
			return r.saveCopy(ctx, b, stored)
		})
		if err != nil {
			return err
		}
		sorted = sorted[n:]
	}
	return nil
}

// saveCopy is SaveBlob without the check that the index has the blob, and
// with the blob's stored bytes (b says whether they are compressed).
func (r *Repository) saveCopy(ctx context.Context, b *format.Blob, stored []byte) error {
	w := r.getWriter(ctx)
	if err := w.failed(); err != nil {
		return err
	}
	w.mu.Lock()
	if _, ok := w.pending[b.ID]; ok {
		w.mu.Unlock()
		return nil
	}
	w.pending[b.ID] = struct{}{}
	w.mu.Unlock()
	return w.add(b.Type, format.Blob{Type: b.Type, Flags: b.Flags, ID: b.ID, Length: uint32(len(stored)), RawLen: b.RawLen}, stored)
}

// LiveIDs returns ids (objects named nameOf(id) under prefix) without
// those an authenticated tombstone buries.
func (r *Repository) LiveIDs(ctx context.Context, prefix string, nameOf func(format.ID) string, ids []format.ID) ([]format.ID, error) {
	return r.dropBuried(ctx, prefix, nameOf, slices.Clone(ids))
}

// PutTombstones writes an authenticated tombstone of each object (through
// the region set: every region, the write quorum at least), several at
// once, and deletes nothing; it returns when all are written. Prune deletes per region afterwards.
func (r *Repository) PutTombstones(ctx context.Context, objects []string, reason string) error {
	if r.cfg.Version < format.TombstoneVersion {
		return fmt.Errorf("format version %d: %w", r.cfg.Version, ErrNoTombstones)
	}
	for _, obj := range objects {
		if !format.TombstonableObject(obj) {
			return fmt.Errorf("tombstone %q: not a key, pack, index or snapshot name", obj)
		}
	}
	// Several at once: on local storage each write waits for fsyncs,
	// which concurrent writes share.
	return eachLimit(ctx, max(8, r.concurrency()), len(objects), func(ctx context.Context, i int) error {
		data, err := r.NewTombstone(objects[i], reason)
		if err != nil {
			return fmt.Errorf("tombstone %s: %w", objects[i], err)
		}
		if err := storage.PutBytes(ctx, r.st, format.TombstoneName(objects[i]), data, storage.PutOptions{}); err != nil {
			return fmt.Errorf("write tombstone of %s: %w", objects[i], err)
		}
		return nil
	})
}

// Evict removes the named objects from the local cache (they were
// deleted from the repository).
func (r *Repository) Evict(names ...string) {
	if r.cache == nil {
		return
	}
	for _, n := range names {
		r.cache.remove(n)
	}
}

// Region is one region of the repository's storage, by name: the regions
// of a region set, or the storage itself under the name "".
type Region struct {
	Name    string
	Storage storage.Storage
}

// Regions returns the repository's regions in configuration order.
func (r *Repository) Regions() []Region {
	rs := regionsOf(r.st)
	if rs == nil {
		return []Region{{Name: "", Storage: r.st}}
	}
	var out []Region
	for _, n := range rs.Names() {
		if st, ok := rs.Region(n); ok {
			out = append(out, Region{Name: n, Storage: st})
		}
	}
	return out
}

// ClockProbeName is the object StorageTime writes for host.
func ClockProbeName(host string) string {
	var b strings.Builder
	for _, c := range host {
		switch {
		case c >= 'a' && c <= 'z', c >= 'A' && c <= 'Z', c >= '0' && c <= '9', c == '-', c == '_', c == '.':
			b.WriteRune(c)
		default:
			b.WriteByte('_')
		}
	}
	if b.Len() == 0 || strings.Trim(b.String(), ".") == "" {
		return "state/prune-clock"
	}
	return "state/prune-clock-" + b.String()
}

// StorageTime writes a small probe object to every region and returns the
// newest modification time they report for it: the storage's "now". A
// region that fails, or reports no time, fails the call.
func (r *Repository) StorageTime(ctx context.Context, host string) (time.Time, error) {
	name := ClockProbeName(host)
	body := []byte(r.now().UTC().Format(time.RFC3339Nano))
	var newest time.Time
	for _, reg := range r.Regions() {
		if err := storage.PutBytes(ctx, reg.Storage, name, body, storage.PutOptions{}); err != nil {
			return time.Time{}, fmt.Errorf("storage time: probe region %q: %w", reg.Name, err)
		}
		fi, err := reg.Storage.Stat(ctx, name)
		if err != nil {
			return time.Time{}, fmt.Errorf("storage time: probe region %q: %w", reg.Name, err)
		}
		if fi.ModTime.IsZero() {
			return time.Time{}, fmt.Errorf("storage time: region %q reports no modification time", reg.Name)
		}
		if fi.ModTime.After(newest) {
			newest = fi.ModTime
		}
	}
	return newest, nil
}

// dropBuriedPacks leaves out of packs those an authenticated tombstone
// buries (swept by prune, their deletion pending somewhere).
func (r *Repository) dropBuriedPacks(ctx context.Context, packs []PackInfo) ([]PackInfo, error) {
	if len(packs) == 0 {
		return packs, nil
	}
	ids := make([]format.ID, len(packs))
	for i, p := range packs {
		ids[i] = p.ID
	}
	live, err := r.dropBuried(ctx, format.DataPrefix, format.PackName, ids)
	if err != nil {
		return nil, fmt.Errorf("find orphan packs: %w", err)
	}
	keep := map[format.ID]bool{}
	for _, id := range live {
		keep[id] = true
	}
	out := packs[:0:0]
	for _, p := range packs {
		if keep[p.ID] {
			out = append(out, p)
		}
	}
	return out, nil
}

// OutstandingCondemned returns the packs the newest GC record condemns
// (not rescued) while it is marked or sweeping; nothing when there is no
// record or the newest is swept. Prune runs one record at a time, so the
// newest generation is the whole outstanding decision.
func (r *Repository) OutstandingCondemned(ctx context.Context) (map[format.ID]bool, error) {
	gens, err := r.ListGC(ctx)
	if err != nil {
		return nil, err
	}
	out := map[format.ID]bool{}
	if len(gens) == 0 {
		return out, nil
	}
	g, err := r.LoadGCRecord(ctx, gens[len(gens)-1])
	if err != nil {
		return nil, err
	}
	if g.State == format.GCSwept {
		return out, nil
	}
	for _, id := range g.Condemned {
		out[id] = true
	}
	for _, id := range g.Rescued {
		delete(out, id)
	}
	return out, nil
}

// eachLimit runs fn(i) for i in [0,n), at most workers at once, and
// returns the first error; the first error cancels the context the others
// get.
func eachLimit(ctx context.Context, workers, n int, fn func(ctx context.Context, i int) error) error {
	g, gctx := errgroup.WithContext(ctx)
	g.SetLimit(workers)
	for i := 0; i < n; i++ {
		g.Go(func() error { return fn(gctx, i) })
	}
	return g.Wait()
}
