package prune

import (
	"context"
	"encoding/binary"
	"fmt"
	"sync"

	"golang.org/x/sync/errgroup"

	"lifeboat/engine/format"
	"lifeboat/engine/repo"
)

// usedSet is the set of blobs the walked snapshots need, in a few bytes a
// blob: trees exactly, data blobs by the first 64 bits of their ID.
//
// Why each is safe:
//   - trees are few (a directory each) and the walk's "already visited"
//     test reads them: a false positive there would skip a subtree and
//     leave its blobs out of the set (data loss), so they are exact;
//   - a data blob the set wrongly reports (another blob with the same 64
//     bits: about n²/2⁶⁵ for n blobs, and IDs are keyed hashes, which no
//     one without the key can aim at) is only taken for used: its pack is
//     kept, or the blob copied when the pack is repacked, or its pack
//     rescued by a sweep. Garbage kept, never data lost. A blob the set
//     holds is never reported absent.
//
// has checks both parts whatever the type an index entry gives, so that
// a tree stored under a data entry (same ID) is found too.
type usedSet struct {
	trees map[format.ID]struct{}
	data  prefixSet
}

func newUsedSet() *usedSet { return &usedSet{trees: map[format.ID]struct{}{}} }

// has reports whether blob id may be used (exact for trees, see usedSet).
func (u *usedSet) has(id format.ID) bool {
	if _, ok := u.trees[id]; ok {
		return true
	}
	return u.data.has(prefixOf(id))
}

func prefixOf(id format.ID) uint64 { return binary.BigEndian.Uint64(id[:8]) }

// prefixSet is an open-addressing hash set of 64-bit keys (8 bytes a slot,
// at most 3/4 full). The key 0 marks an empty slot, so 0 is stored as 1:
// one more possible false positive, no false negative.
type prefixSet struct {
	slots []uint64
	n     int
}

func (s *prefixSet) slot(k uint64) int {
	mask := uint64(len(s.slots) - 1)
	return int((k * 0x9e3779b97f4a7c15 >> 17) & mask)
}

func (s *prefixSet) add(k uint64) {
	if k == 0 {
		k = 1
	}
	if (s.n+1)*4 > len(s.slots)*3 {
		s.grow()
	}
	if s.insert(k) {
		s.n++
	}
}

// insert adds k to the slots and reports whether it was new.
func (s *prefixSet) insert(k uint64) bool {
	mask := len(s.slots) - 1
	for i := s.slot(k); ; i = (i + 1) & mask {
		switch s.slots[i] {
		case k:
			return false
		case 0:
			s.slots[i] = k
			return true
		}
	}
}

func (s *prefixSet) grow() {
	old := s.slots
	s.slots = make([]uint64, max(1024, 2*len(old)))
	for _, k := range old {
		if k != 0 {
			s.insert(k)
		}
	}
}

func (s *prefixSet) has(k uint64) bool {
	if len(s.slots) == 0 {
		return false
	}
	if k == 0 {
		k = 1
	}
	mask := len(s.slots) - 1
	for i := s.slot(k); ; i = (i + 1) & mask {
		switch s.slots[i] {
		case k:
			return true
		case 0:
			return false
		}
	}
}

// walkWorkers is how many trees a walk loads at once.
const walkWorkers = 2

// walk calls fn for every tree (tree true) and data blob the trees of
// snaps reference, each tree once (data blobs as often as trees name
// them), one call at a time. Trees load walkWorkers at once (a subtree
// with no free worker is walked by the goroutine that found it). A
// snapshot or tree that cannot be read, or a data blob no index names,
// fails: prune never decides on a partial view.
func walk(ctx context.Context, r *repo.Repository, snaps []format.ID, fn func(id format.ID, tree bool)) error {
	var (
		mu   sync.Mutex // guards seen and the calls of fn
		seen = map[format.ID]struct{}{}
	)
	idx := r.Index()
	g, gctx := errgroup.WithContext(ctx)
	g.SetLimit(walkWorkers)
	// visit walks tree tid (of snapshot sid) and its subtrees, unless
	// another goroutine took it already. A tree is taken before it is
	// loaded: a failure to load it fails the whole walk.
	var visit func(sid, tid format.ID) error
	visit = func(sid, tid format.ID) error {
		mu.Lock()
		_, ok := seen[tid]
		seen[tid] = struct{}{}
		mu.Unlock()
		if ok {
			return nil
		}
		t, err := r.LoadTree(gctx, tid)
		if err != nil {
			return fmt.Errorf("snapshot %s: tree %s: %w: %w", sid.Short(), tid.Short(), ErrMissingBlob, err)
		}
		for i := range t.Nodes {
			for _, c := range t.Nodes[i].Content {
				if !idx.Has(c) {
					return fmt.Errorf("snapshot %s: data blob %s: %w", sid.Short(), c.Short(), ErrMissingBlob)
				}
			}
		}
		mu.Lock()
		fn(tid, true)
		for i := range t.Nodes {
			for _, c := range t.Nodes[i].Content {
				fn(c, false)
			}
		}
		mu.Unlock()
		for i := range t.Nodes {
			sub := t.Nodes[i].Subtree
			if sub == nil {
				continue
			}
			if !g.TryGo(func() error { return visit(sid, *sub) }) {
				if err := visit(sid, *sub); err != nil {
					return err
				}
			}
		}
		return nil
	}
	for _, sid := range snaps {
		s, err := r.LoadSnapshot(gctx, sid)
		if err != nil {
			// A failed walk cancels gctx: its error is the one to report.
			if werr := g.Wait(); werr != nil {
				return werr
			}
			return fmt.Errorf("snapshot %s: %w", sid.Short(), err)
		}
		g.Go(func() error { return visit(sid, s.Tree) })
	}
	return g.Wait()
}

// usedBlobs walks the trees of snaps (see walk) and returns every blob
// they need. It drops the repository's cache of tree packs afterwards:
// the walk is over, the memory is better spent on what follows.
func usedBlobs(ctx context.Context, r *repo.Repository, snaps []format.ID) (*usedSet, error) {
	u := newUsedSet()
	err := walk(ctx, r, snaps, func(id format.ID, tree bool) {
		if tree {
			u.trees[id] = struct{}{}
		} else {
			u.data.add(prefixOf(id))
		}
	})
	r.DropTreeCache()
	if err != nil {
		return nil, err
	}
	return u, nil
}
