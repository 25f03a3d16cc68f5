package prune

import (
	"context"
	"slices"
	"sync"

	"golang.org/x/sync/errgroup"

	"lifeboat/engine/format"
	"lifeboat/engine/repo"
)

// indexObjects reads the index objects of a run one at a time: each(ctx,
// i, fn) calls fn with every pack the i-th object lists. Prune reads them
// a few times rather than holding them (a repository of a million blobs
// has some 50 MB of index entries).
type indexObjects struct {
	ids  []format.ID
	each func(ctx context.Context, i int, fn func(p format.IndexPack) error) error
}

// repoObjects reads the index objects ids of r, each verified.
func repoObjects(r *repo.Repository, ids []format.ID) *indexObjects {
	return &indexObjects{ids: ids, each: func(ctx context.Context, i int, fn func(p format.IndexPack) error) error {
		return r.ReadIndexObjectFunc(ctx, ids[i], fn)
	}}
}

// readWorkers is how many index objects a pass reads at once (each is
// held decrypted while it is decoded).
const readWorkers = 2

// packStat is a pack as the union of the index objects lists it: every
// (blob, offset) entry once, so a blob stored twice in a pack is two used
// entries (rustic #392).
type packStat struct {
	size  int64
	total int64 // stored bytes of its entries
	used  int64 // stored bytes of the entries of used blobs
	objs  int   // how many times the objects list it
	// multi: listed more than once (by two objects, or twice by one), or
	// with an entry twice: counted from union, the deduplicated entries.
	multi bool
	union []format.Blob
	// live are the entries of its used blobs, one per blob ID, kept while
	// it may be repacked (its unused share above the threshold).
	live []format.Blob
}

// tally is the per-pack accounting of a run: counters for every pack, the
// entries only of the packs that may be repacked or are listed more than
// once (rare: a crashed run's leftovers). objPacks[i] are the packs the
// i-th object lists.
type tally struct {
	used      *usedSet
	maxUnused float64
	mu        sync.Mutex
	packs     map[format.ID]*packStat
	objPacks  [][]format.ID
}

// candidate reports whether a pack with these counters may be repacked.
func (t *tally) candidate(total, used int64) bool {
	return used > 0 && t.maxUnused >= 0 && total > 0 && float64(total-used) > t.maxUnused*float64(total)
}

// count sets ps's counters (and live entries, for a candidate) from blobs,
// its complete list of entries.
func (t *tally) count(ps *packStat, blobs []format.Blob) {
	ps.total, ps.used, ps.live = 0, 0, nil
	for i := range blobs {
		ps.total += int64(blobs[i].Length)
		if t.used.has(blobs[i].ID) {
			ps.used += int64(blobs[i].Length)
		}
	}
	if !t.candidate(ps.total, ps.used) {
		return
	}
	for i := range blobs {
		if t.used.has(blobs[i].ID) {
			ps.live = append(ps.live, blobs[i])
		}
	}
	// One copy per blob (a blob stored twice is copied once).
	slices.SortFunc(ps.live, func(a, b format.Blob) int { return compareID(a.ID, b.ID) })
	ps.live = slices.CompactFunc(ps.live, func(a, b format.Blob) bool { return a.ID == b.ID })
}

// increasing reports whether blobs' offsets strictly increase (as a writer
// lists them): then no entry is there twice.
func increasing(blobs []format.Blob) bool {
	for i := 1; i < len(blobs); i++ {
		if blobs[i].Offset <= blobs[i-1].Offset {
			return false
		}
	}
	return true
}

// build tallies every object of objs: one pass counting each pack from the
// object listing it, then, for the packs listed more than once, a pass
// over only the objects listing them that counts their union.
func (t *tally) build(ctx context.Context, objs *indexObjects) error {
	t.packs = map[format.ID]*packStat{}
	t.objPacks = make([][]format.ID, len(objs.ids))
	var g errgroup.Group
	g.SetLimit(readWorkers)
	for i := range objs.ids {
		g.Go(func() error {
			var ids []format.ID
			err := objs.each(ctx, i, func(p format.IndexPack) error {
				ids = append(ids, p.ID)
				ps := &packStat{size: p.Size, objs: 1, multi: !increasing(p.Blobs)}
				if !ps.multi {
					t.count(ps, p.Blobs)
				}
				t.mu.Lock()
				defer t.mu.Unlock()
				if old := t.packs[p.ID]; old != nil {
					old.objs++
					old.multi, old.live = true, nil
					return nil
				}
				t.packs[p.ID] = ps
				return nil
			})
			t.mu.Lock()
			t.objPacks[i] = ids
			t.mu.Unlock()
			return err
		})
	}
	if err := g.Wait(); err != nil {
		return err
	}
	return t.unions(ctx, objs)
}

// blobKey is one entry of a pack: a blob at an offset.
type blobKey struct {
	id  format.ID
	off uint32
}

// unions counts the packs listed more than once from the union of their
// entries, read again from the objects listing them, and keeps that union.
func (t *tally) unions(ctx context.Context, objs *indexObjects) error {
	seen := map[format.ID]map[blobKey]struct{}{}
	for pid, ps := range t.packs {
		if ps.multi {
			seen[pid] = map[blobKey]struct{}{}
		}
	}
	if len(seen) == 0 {
		return nil
	}
	for i, ids := range t.objPacks {
		if !slices.ContainsFunc(ids, func(id format.ID) bool { _, ok := seen[id]; return ok }) {
			continue
		}
		err := objs.each(ctx, i, func(p format.IndexPack) error {
			s, ok := seen[p.ID]
			if !ok {
				return nil
			}
			ps := t.packs[p.ID]
			for _, b := range p.Blobs {
				k := blobKey{b.ID, b.Offset}
				if _, dup := s[k]; !dup {
					s[k] = struct{}{}
					ps.union = append(ps.union, b)
				}
			}
			return nil
		})
		if err != nil {
			return err
		}
	}
	for pid := range seen {
		ps := t.packs[pid]
		t.count(ps, ps.union)
	}
	return nil
}
