package prune

import (
	"context"
	"crypto/sha256"
	"errors"
	"fmt"
	"slices"
	"sync/atomic"

	"golang.org/x/sync/errgroup"

	"lifeboat/engine/format"
	"lifeboat/engine/repo"
	"lifeboat/storage"
)

// writeRecord creates the record's generation; a generation already taken
// is ErrRaced.
func writeRecord(ctx context.Context, r *repo.Repository, g *format.GCRecord) error {
	err := r.SaveGCRecord(ctx, g)
	if errors.Is(err, storage.ErrExist) {
		return fmt.Errorf("gc record %d: %w", g.Generation, ErrRaced)
	}
	return err
}

// next returns the record's next generation, state and pending regions
// changed, everything else kept.
func next(g *format.GCRecord, state string, pending []string) *format.GCRecord {
	n := *g
	n.Generation = g.Generation + 1
	n.State = state
	n.Pending = pending
	return &n
}

// rescue returns the condemned packs the sweep must keep after all, and
// the index entries to write for them:
//   - packs an index object the record does not supersede names (one left
//     by a sweep that crashed after indexing rescued packs, or any other
//     writer): they stay indexed, so they must stay stored;
//   - packs a snapshot that appeared since the mark needs (a blob whose
//     every indexed copy is in a condemned pack): their only entries are in
//     superseded index objects, so they are indexed anew.
//
// It reads the index objects one at a time. Without a snapshot made since
// the mark (the usual case) it reads only the objects outside the record
// and loads no index at all; otherwise it walks the new snapshots (usedSet:
// data blobs by 64-bit prefix, so a false match only rescues a pack more),
// gathers the blobs they need that a condemned pack holds, and drops those
// of which a kept pack holds a copy, by exact ID.
func rescue(ctx context.Context, r *repo.Repository, g *format.GCRecord, l map[string]*names) ([]format.ID, []format.IndexPack, error) {
	snaps, err := liveSnapshots(ctx, r, l)
	if err != nil {
		return nil, nil, err
	}
	atMark := map[format.ID]bool{}
	for _, s := range g.Snapshots {
		atMark[s] = true
	}
	var fresh []format.ID
	for _, s := range snaps {
		if !atMark[s] {
			fresh = append(fresh, s)
		}
	}
	idxIDs, _, _ := union(l, format.IndexPrefix)
	idxIDs, err = r.LiveIDs(ctx, format.IndexPrefix, format.IndexName, idxIDs)
	if err != nil {
		return nil, nil, err
	}
	objs := repoObjects(r, idxIDs)
	condemned := map[format.ID]bool{}
	for _, id := range g.Condemned {
		condemned[id] = true
	}
	for _, id := range g.Rescued {
		delete(condemned, id)
	}
	superseded := map[format.ID]bool{}
	for _, id := range g.Superseded {
		superseded[id] = true
	}
	rescued := map[format.ID]bool{}
	for i, id := range idxIDs {
		if superseded[id] {
			continue
		}
		if err := objs.each(ctx, i, func(p format.IndexPack) error {
			if condemned[p.ID] {
				rescued[p.ID] = true
			}
			return nil
		}); err != nil {
			return nil, nil, err
		}
	}
	var entries []format.IndexPack
	if len(fresh) > 0 {
		if entries, err = rescueForFresh(ctx, r, objs, fresh, condemned, rescued, l); err != nil {
			return nil, nil, err
		}
	}
	ids := make([]format.ID, 0, len(rescued))
	for id := range rescued {
		ids = append(ids, id)
	}
	sortIDs(ids)
	slices.SortFunc(entries, func(a, b format.IndexPack) int { return compareID(a.ID, b.ID) })
	return ids, entries, nil
}

// rescueForFresh adds to rescued the condemned packs that the snapshots
// fresh need (see rescue) and returns their index entries (the union of
// what the objects list for them).
func rescueForFresh(ctx context.Context, r *repo.Repository, objs *indexObjects, fresh []format.ID, condemned, rescued map[format.ID]bool, l map[string]*names) ([]format.IndexPack, error) {
	if err := r.LoadIndex(ctx); err != nil {
		return nil, fmt.Errorf("load index: %w", err)
	}
	used, err := usedBlobs(ctx, r, fresh)
	if err != nil {
		return nil, err
	}
	gone := func(pid format.ID) bool { return condemned[pid] && !rescued[pid] }
	// The needed blobs a pack to delete holds, and those packs.
	cand := map[format.ID][]format.ID{}
	if err := eachObject(ctx, objs, func(p format.IndexPack) {
		if !gone(p.ID) {
			return
		}
		for _, b := range p.Blobs {
			if used.has(b.ID) && !slices.Contains(cand[b.ID], p.ID) {
				cand[b.ID] = append(cand[b.ID], p.ID)
			}
		}
	}); err != nil {
		return nil, err
	}
	if len(cand) == 0 {
		return nil, nil
	}
	// Those with a copy in a pack kept need nothing.
	if err := eachObject(ctx, objs, func(p format.IndexPack) {
		if gone(p.ID) {
			return
		}
		for _, b := range p.Blobs {
			delete(cand, b.ID)
		}
	}); err != nil {
		return nil, err
	}
	need := map[format.ID]map[blobKey]struct{}{}
	for _, packs := range cand {
		for _, pid := range packs {
			need[pid] = map[blobKey]struct{}{}
		}
	}
	if len(need) == 0 {
		return nil, nil
	}
	for pid := range need {
		// Its new index object goes to every region: every region must
		// hold the pack.
		name := format.PackName(pid)
		for rn, n := range l {
			if _, ok := n.objs[name]; !ok {
				return nil, fmt.Errorf("pack %s, which a snapshot made since the mark needs, is missing in region %q: %w", pid.Short(), rn, ErrIncomplete)
			}
		}
	}
	byPack := map[format.ID]*format.IndexPack{}
	if err := eachObject(ctx, objs, func(p format.IndexPack) {
		seen, ok := need[p.ID]
		if !ok {
			return
		}
		e := byPack[p.ID]
		if e == nil {
			e = &format.IndexPack{ID: p.ID, Size: p.Size}
			byPack[p.ID] = e
		}
		for _, b := range p.Blobs {
			k := blobKey{b.ID, b.Offset}
			if _, dup := seen[k]; !dup {
				seen[k] = struct{}{}
				e.Blobs = append(e.Blobs, b)
			}
		}
	}); err != nil {
		return nil, err
	}
	var entries []format.IndexPack
	for pid, e := range byPack {
		rescued[pid] = true
		entries = append(entries, *e)
	}
	return entries, nil
}

// eachObject calls fn with every pack of every object, one object at a
// time, in order.
func eachObject(ctx context.Context, objs *indexObjects, fn func(p format.IndexPack)) error {
	for i := range objs.ids {
		if err := objs.each(ctx, i, func(p format.IndexPack) error { fn(p); return nil }); err != nil {
			return err
		}
	}
	return nil
}

func compareID(a, b format.ID) int {
	for i := range a {
		if a[i] != b[i] {
			return int(a[i]) - int(b[i])
		}
	}
	return 0
}

// sweep deletes what record g condemned. first is true for a marked
// record (the sweep starts: rescue, tombstones, then deletions), false for
// a sweeping one (continue the pending regions).
func sweep(ctx context.Context, r *repo.Repository, opts Options, res *Result, g *format.GCRecord, regs []repo.Region, first bool) error {
	res.Action = ActionSweep
	configured := map[string]bool{}
	var all []string
	for _, reg := range regs {
		configured[reg.Name] = true
		all = append(all, reg.Name)
	}
	pending := all
	if !first {
		pending = nil
		for _, p := range g.Pending {
			if configured[p] {
				pending = append(pending, p)
			} else {
				res.Problems = append(res.Problems, fmt.Sprintf("region %q is pending but no longer configured: left alone", p))
			}
		}
	}
	if opts.DryRun {
		res.Pending = pending
		return nil
	}
	if first {
		// List again, now that the storage time is known to be past the
		// grace: every snapshot committed before is seen.
		l, err := listRegions(ctx, regs)
		if err != nil {
			return fmt.Errorf("prune sweep (nothing deleted): %w", err)
		}
		res.listing = l
		rescued, entries, err := rescue(ctx, r, g, res.listing)
		if err != nil {
			return fmt.Errorf("prune sweep: rescue (nothing deleted): %w", err)
		}
		n := next(g, format.GCSweeping, pending)
		if len(entries) > 0 {
			// The rescued packs lose their index entries with the
			// superseded objects: index them anew first.
			id, err := r.WriteIndexObject(ctx, entries)
			if err != nil {
				return fmt.Errorf("prune sweep: index rescued packs (nothing deleted): %w", err)
			}
			n.NewIndex = mergeIDs(g.NewIndex, []format.ID{id})
		}
		n.Rescued = mergeIDs(g.Rescued, rescued)
		if err := writeRecord(ctx, r, n); err != nil {
			return fmt.Errorf("prune sweep (nothing deleted): %w", err)
		}
		res.Rescued = rescued
		g = n
		res.Record = g
	}
	objects := sweepObjects(g)
	// Tombstones first, to every region (idempotent: a continued sweep
	// writes them again, which also repairs a region that missed them).
	// The index objects' tombstones before the packs': a keyed sync
	// deletes what tombstones bury, in any order, so a pack must never be
	// buried while an index object naming it is not (readers would look
	// blobs up in it). The packs, unindexed meanwhile, are not adopted as
	// orphans: repo.FindOrphans skips the packs of an outstanding record.
	names := slices.Concat(objects.index, objects.packs)
	for _, group := range [][]string{objects.index, objects.packs} {
		if err := r.PutTombstones(ctx, group, format.ReasonGC); err != nil {
			return fmt.Errorf("prune sweep: tombstones (nothing deleted): %w", err)
		}
	}
	tombs := make([][]byte, len(names))
	for i, name := range names {
		data, err := r.NewTombstone(name, format.ReasonGC)
		if err != nil {
			return fmt.Errorf("prune sweep: tombstone of %s: %w", name, err)
		}
		tombs[i] = data
	}
	objects.tombs = tombs
	objects.tombNames = names
	objects.verify = r.VerifyTombstone
	for _, id := range g.NewIndex {
		objects.newIndex = append(objects.newIndex, format.IndexName(id))
	}
	res.Deleted = map[string]int{}
	var still []string
	byName := map[string]repo.Region{}
	for _, reg := range regs {
		byName[reg.Name] = reg
	}
	for _, rn := range pending {
		n, err := sweepRegion(ctx, byName[rn], regs, objects)
		res.Deleted[rn] = n
		if err != nil {
			if ctx.Err() != nil {
				return fmt.Errorf("prune sweep: region %q: %w", rn, err)
			}
			res.Problems = append(res.Problems, fmt.Sprintf("region %q: %v (swept later)", rn, err))
			still = append(still, rn)
		}
	}
	r.Evict(names...)
	res.Evicted = len(names)
	state := format.GCSwept
	if len(still) > 0 {
		state = format.GCSweeping
	}
	if state == format.GCSweeping && slices.Equal(still, g.Pending) {
		res.Pending = still
		return nil // nothing changed: no new generation
	}
	n := next(g, state, still)
	if err := writeRecord(ctx, r, n); err != nil {
		return fmt.Errorf("prune sweep: %w", err)
	}
	res.Record = n
	res.Pending = still
	return nil
}

type objects struct {
	index, packs []string
	// tombNames and tombs are the tombstones of index and packs, encoded.
	tombNames []string
	tombs     [][]byte
	// newIndex are the index objects that replace index.
	newIndex []string
	// verify authenticates a tombstone (Repository.VerifyTombstone).
	verify func(name string, data []byte) error
}

// sweepObjects are the superseded index objects and the condemned packs
// not rescued, by name.
func sweepObjects(g *format.GCRecord) objects {
	var o objects
	for _, id := range g.Superseded {
		if !slices.Contains(g.NewIndex, id) {
			o.index = append(o.index, format.IndexName(id))
		}
	}
	for _, id := range g.Condemned {
		if !slices.Contains(g.Rescued, id) {
			o.packs = append(o.packs, format.PackName(id))
		}
	}
	return o
}

// sweepWorkers bounds the storage requests a sweep makes at once in a
// region (each write or delete of local storage waits for an fsync:
// concurrent ones share the file system's journal commits).
func sweepWorkers(st storage.Storage) int {
	return min(16, max(8, st.Capabilities().Concurrency))
}

// sweepRegion sweeps one region: it makes sure the region holds an
// authentic tombstone of every object it deletes (writing the missing
// ones) and every replacing index object (copied from another region when
// the region missed it), then deletes the index objects, then, only when
// they are all gone, the packs. A missing object counts as deleted. Each
// step runs sweepWorkers requests at once and ends before the next
// begins. It returns how many objects it deleted; an error leaves the
// region pending.
func sweepRegion(ctx context.Context, reg repo.Region, regs []repo.Region, o objects) (int, error) {
	st := reg.Storage
	workers := sweepWorkers(st)
	// The index objects' tombstones, then the packs' (see sweep).
	for _, r := range [][2]int{{0, len(o.index)}, {len(o.index), len(o.tombNames)}} {
		err := forEach(ctx, workers, r[1]-r[0], func(ctx context.Context, i int) error {
			i += r[0]
			name := format.TombstoneName(o.tombNames[i])
			// Usually there already (Repository.PutTombstones wrote it
			// through the region set): reading it is cheaper than a
			// write.
			if data, err := storage.ReadAll(ctx, st, name); err == nil && o.verify(name, data) == nil {
				return nil
			}
			if err := storage.PutBytes(ctx, st, name, o.tombs[i], storage.PutOptions{}); err != nil {
				return fmt.Errorf("write tombstone of %s (nothing deleted here): %w", o.tombNames[i], err)
			}
			return nil
		})
		if err != nil {
			return 0, err
		}
	}
	for _, name := range o.newIndex {
		if err := ensure(ctx, reg, regs, name); err != nil {
			return 0, fmt.Errorf("replacing index (nothing deleted here): %w", err)
		}
	}
	var deleted atomic.Int64
	del := func(names []string) error {
		errs := make([]error, len(names))
		_ = forEach(ctx, workers, len(names), func(ctx context.Context, i int) error {
			switch err := st.Delete(ctx, names[i]); {
			case err == nil:
				deleted.Add(1)
			case errors.Is(err, storage.ErrNotExist):
			default:
				errs[i] = fmt.Errorf("delete %s: %w", names[i], err)
			}
			return nil
		})
		return errors.Join(errs...)
	}
	if err := del(o.index); err != nil {
		return int(deleted.Load()), fmt.Errorf("index objects not deleted, packs left: %w", err)
	}
	err := del(o.packs)
	return int(deleted.Load()), err
}

// forEach runs fn(i) for i in [0,n), workers at a time, and returns the
// first error (the others still run to their end).
func forEach(ctx context.Context, workers, n int, fn func(ctx context.Context, i int) error) error {
	var g errgroup.Group
	g.SetLimit(workers)
	for i := 0; i < n; i++ {
		g.Go(func() error { return fn(ctx, i) })
	}
	return g.Wait()
}

// ensure makes sure reg holds the content-addressed object name, copying
// it from another region whose copy matches its name's hash.
func ensure(ctx context.Context, reg repo.Region, regs []repo.Region, name string) error {
	_, err := reg.Storage.Stat(ctx, name)
	if err == nil {
		return nil
	}
	if !errors.Is(err, storage.ErrNotExist) {
		return fmt.Errorf("stat %s: %w", name, err)
	}
	id, err := format.ParseName(format.IndexPrefix, name)
	if err != nil {
		return err
	}
	for _, src := range regs {
		if src.Name == reg.Name {
			continue
		}
		data, err := storage.ReadAll(ctx, src.Storage, name)
		if err != nil || format.ID(sha256.Sum256(data)) != id {
			continue
		}
		return storage.PutBytes(ctx, reg.Storage, name, data, storage.PutOptions{})
	}
	return fmt.Errorf("%s: no region holds a good copy: %w", name, storage.ErrNotExist)
}

func mergeIDs(a, b []format.ID) []format.ID {
	out := append(slices.Clone(a), b...)
	sortIDs(out)
	return slices.Compact(out)
}
