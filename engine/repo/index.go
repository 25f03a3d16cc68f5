package repo

import (
	"context"
	"errors"
	"fmt"
	"sync"
	"sync/atomic"

	"lifeboat/engine/format"
	"lifeboat/storage"
)

// PackInfo is a pack the index knows.
type PackInfo struct {
	ID   format.ID
	Size int64 // sealed size
}

// entry is the compact in-memory form of a blob's location.
type entry struct {
	pack   uint32
	offset uint32
	length uint32
	rawLen uint32
	typ    format.BlobType
	flags  uint8
}

// Location is where a blob is stored.
type Location struct {
	Pack PackInfo
	Blob format.Blob
}

// Index maps blob IDs to their location, in about 54 bytes per blob (see
// blobtable.go): a sorted base of 52-byte records (the ID and an entry
// naming the pack by its position) and an overlay of the blobs added since
// the overlay was last merged into the base. It is safe for concurrent
// use.
type Index struct {
	mu      sync.RWMutex
	packs   []PackInfo
	packPos map[format.ID]uint32
	// packFlags holds, by pack position, packCondemned.
	packFlags []uint8
	files     map[format.ID]struct{} // index objects loaded

	base sortedBlobs
	ov   overlay

	// condemned are packs a prune condemned (CondemnPacks): Has does
	// not report their blobs, and add prefers any other copy. Packs
	// known when condemned, or added later, have packCondemned set.
	condemned map[format.ID]struct{}
	// refs, while tracking (TrackReferences), flags by pack position the
	// packs the session used (set atomically under the read lock, grown
	// by add under the write lock).
	tracking bool
	refs     []uint32
}

// packCondemned flags a condemned pack in Index.packFlags.
const packCondemned uint8 = 1

func newIndex() *Index {
	return &Index{packPos: map[format.ID]uint32{}, files: map[format.ID]struct{}{}}
}

// locate returns the entry of id, or nil. The caller holds the lock.
func (x *Index) locate(id *format.ID) *entry {
	if k := x.base.find(id); k >= 0 {
		return x.base.ent(k)
	}
	if j := x.ov.find(id); j >= 0 {
		return &x.ov.ents[j]
	}
	return nil
}

func (x *Index) isCondemned(pos uint32) bool { return x.packFlags[pos]&packCondemned != 0 }

// add records a pack and its blobs. A blob already known keeps its first
// location, unless that is in a condemned pack and this one is not.
func (x *Index) add(p *format.IndexPack) {
	x.mu.Lock()
	defer x.mu.Unlock()
	pos, ok := x.packPos[p.ID]
	if !ok {
		pos = uint32(len(x.packs))
		x.packs = append(x.packs, PackInfo{ID: p.ID, Size: p.Size})
		x.packPos[p.ID] = pos
		var flags uint8
		if _, c := x.condemned[p.ID]; c {
			flags |= packCondemned
		}
		x.packFlags = append(x.packFlags, flags)
		if x.tracking {
			x.refs = append(x.refs, 0)
		}
	}
	newCondemned := x.isCondemned(pos)
	for i := range p.Blobs {
		b := &p.Blobs[i]
		e := entry{pack: pos, offset: b.Offset, length: b.Length, rawLen: b.RawLen, typ: b.Type, flags: b.Flags}
		if old := x.locate(&b.ID); old != nil {
			// A copy outside the condemned packs replaces one inside.
			if x.isCondemned(old.pack) && !newCondemned {
				*old = e
			}
			continue
		}
		x.ov.insert(&b.ID, e)
	}
	if len(x.ov.ids) > max(minOverlay, x.base.n/overlayDiv) {
		x.base.merge(&x.ov)
	}
}

// settle merges the overlay into the base when it holds a good part of the
// index (after a load), so that the index holds only the base.
func (x *Index) settle() {
	x.mu.Lock()
	defer x.mu.Unlock()
	if m := len(x.ov.ids); m > 0 && m >= x.base.n/settleDiv {
		x.base.merge(&x.ov)
	}
}

// condemn marks packs condemned.
func (x *Index) condemn(packs []format.ID) {
	x.mu.Lock()
	defer x.mu.Unlock()
	if x.condemned == nil {
		x.condemned = map[format.ID]struct{}{}
	}
	for _, p := range packs {
		x.condemned[p] = struct{}{}
		if pos, ok := x.packPos[p]; ok {
			x.packFlags[pos] |= packCondemned
		}
	}
}

// Has reports whether the index knows blob id in a pack that is not
// condemned (Repository.CondemnPacks). While the session tracks references
// (Repository.TrackReferences), a blob found marks its pack as used.
func (x *Index) Has(id format.ID) bool {
	x.mu.RLock()
	defer x.mu.RUnlock()
	e := x.locate(&id)
	if e == nil || x.isCondemned(e.pack) {
		return false
	}
	if x.tracking && atomic.LoadUint32(&x.refs[e.pack]) == 0 {
		atomic.StoreUint32(&x.refs[e.pack], 1)
	}
	return true
}

// markPack flags pack as used by the session, while tracking.
func (x *Index) markPack(pack format.ID) {
	x.mu.RLock()
	defer x.mu.RUnlock()
	if pos, ok := x.packPos[pack]; ok && x.tracking {
		atomic.StoreUint32(&x.refs[pos], 1)
	}
}

// location makes the Location of blob id at e.
func (x *Index) location(id *format.ID, e *entry) Location {
	return Location{
		Pack: x.packs[e.pack],
		Blob: format.Blob{Type: e.typ, Flags: e.flags, ID: *id, Offset: e.offset, Length: e.length, RawLen: e.rawLen},
	}
}

// Lookup returns a blob's location.
func (x *Index) Lookup(id format.ID) (Location, bool) {
	x.mu.RLock()
	defer x.mu.RUnlock()
	e := x.locate(&id)
	if e == nil {
		return Location{}, false
	}
	return x.location(&id, e), true
}

// Packs returns every known pack.
func (x *Index) Packs() []PackInfo {
	x.mu.RLock()
	defer x.mu.RUnlock()
	return append([]PackInfo(nil), x.packs...)
}

// Len returns the number of known blobs.
func (x *Index) Len() int {
	x.mu.RLock()
	defer x.mu.RUnlock()
	return x.base.n + len(x.ov.ids)
}

// Files returns the IDs of the index objects loaded.
func (x *Index) Files() []format.ID {
	x.mu.RLock()
	defer x.mu.RUnlock()
	ids := make([]format.ID, 0, len(x.files))
	for id := range x.files {
		ids = append(ids, id)
	}
	return ids
}

// Each calls fn for every blob, grouped by nothing in particular. fn must
// not call back into the index.
func (x *Index) Each(fn func(loc Location)) {
	x.mu.RLock()
	defer x.mu.RUnlock()
	for k := 0; k < x.base.n; k++ {
		fn(x.location(x.base.id(k), x.base.ent(k)))
	}
	for j := range x.ov.ids {
		fn(x.location(&x.ov.ids[j], &x.ov.ents[j]))
	}
}

// LoadIndex reads every index object not loaded yet. An index object
// deleted between listing and reading (a concurrent consolidation) is
// tolerated by listing again, a bounded number of times.
func (r *Repository) LoadIndex(ctx context.Context) error {
	const attempts = 3
	for attempt := 1; ; attempt++ {
		err := r.loadIndexOnce(ctx)
		if err == nil || !errors.Is(err, storage.ErrNotExist) || attempt == attempts {
			return err
		}
	}
}

func (r *Repository) loadIndexOnce(ctx context.Context) error {
	ids, err := listIDs(ctx, r.st, format.IndexPrefix)
	if err != nil {
		return err
	}
	// An index object prune swept (tombstoned) but a region still holds
	// names packs that may be gone: never load it.
	if ids, err = r.dropBuried(ctx, format.IndexPrefix, format.IndexName, ids); err != nil {
		return err
	}
	var todo []format.ID
	r.idx.mu.RLock()
	for _, id := range ids {
		if _, ok := r.idx.files[id]; !ok {
			todo = append(todo, id)
		}
	}
	r.idx.mu.RUnlock()
	err = parallel(ctx, r.concurrency(), len(todo), func(ctx context.Context, i int) error {
		packs, err := r.ReadIndexObject(ctx, todo[i])
		if err != nil {
			return err
		}
		for j := range packs {
			r.idx.add(&packs[j])
		}
		r.idx.mu.Lock()
		r.idx.files[todo[i]] = struct{}{}
		r.idx.mu.Unlock()
		return nil
	})
	r.idx.settle()
	return err
}

// ReadIndexObject reads, verifies and decodes one index object.
func (r *Repository) ReadIndexObject(ctx context.Context, id format.ID) ([]format.IndexPack, error) {
	name := format.IndexName(id)
	plain, err := r.readIndexPlain(ctx, name, id) // indexcache.go
	if err != nil {
		return nil, err
	}
	packs, err := format.DecodeIndex(plain)
	if err != nil {
		return nil, &IntegrityError{Object: name, Err: err}
	}
	return packs, nil
}

// writeIndex stores an index object for packs and returns its ID.
func (r *Repository) writeIndex(ctx context.Context, packs []format.IndexPack) (format.ID, error) {
	id, err := r.writeSealed(ctx, format.IndexName, format.EncodeIndex(packs), storage.PutOptions{})
	if err != nil {
		return id, fmt.Errorf("write index: %w", err)
	}
	r.idx.mu.Lock()
	r.idx.files[id] = struct{}{}
	r.idx.mu.Unlock()
	return id, nil
}

// parallel runs fn(i) for i in [0,n) on up to workers goroutines, stopping
// at the first error.
func parallel(ctx context.Context, workers, n int, fn func(ctx context.Context, i int) error) error {
	if n == 0 {
		return nil
	}
	ctx, cancel := context.WithCancelCause(ctx)
	defer cancel(nil)
	next := make(chan int)
	var wg sync.WaitGroup
	var once sync.Once
	var first error
	for w := 0; w < min(workers, n); w++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := range next {
				if err := fn(ctx, i); err != nil {
					once.Do(func() { first = err; cancel(err) })
				}
			}
		}()
	}
loop:
	for i := 0; i < n; i++ {
		select {
		case next <- i:
		case <-ctx.Done():
			break loop
		}
	}
	close(next)
	wg.Wait()
	if first != nil {
		return first
	}
	return ctx.Err()
}
