package prune

import (
	"context"
	"crypto/sha256"
	"errors"
	"fmt"
	"slices"

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
//   - packs a snapshot that appeared since the mark needs (a blob whose
//     every indexed copy is in a condemned pack): their only entries are in
//     superseded index objects, so they are indexed anew;
//   - packs an index object the record does not supersede names (one left
//     by a sweep that crashed after indexing rescued packs, or any other
//     writer): they stay indexed, so they must stay stored.
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
	if err := r.LoadIndex(ctx); err != nil {
		return nil, nil, fmt.Errorf("load index: %w", err)
	}
	idxIDs, _, _ := union(l, format.IndexPrefix)
	idxIDs, err = r.LiveIDs(ctx, format.IndexPrefix, format.IndexName, idxIDs)
	if err != nil {
		return nil, nil, err
	}
	objs, err := r.ReadIndexObjects(ctx, idxIDs)
	if err != nil {
		return nil, nil, err
	}
	used, err := usedBlobs(ctx, r, fresh)
	if err != nil {
		return nil, nil, err
	}
	condemned := map[format.ID]bool{}
	for _, id := range g.Condemned {
		condemned[id] = true
	}
	for _, id := range g.Rescued {
		delete(condemned, id)
	}
	rescued := map[format.ID]bool{}
	for _, o := range objs {
		if slices.Contains(g.Superseded, o.ID) {
			continue
		}
		for _, ip := range o.Packs {
			if condemned[ip.ID] {
				rescued[ip.ID] = true
			}
		}
	}
	packs := indexUnion(objs)
	safe := map[format.ID]bool{} // blobs with a copy in a pack kept
	for pid, p := range packs {
		if condemned[pid] && !rescued[pid] {
			continue
		}
		for _, b := range p.ip.Blobs {
			safe[b.ID] = true
		}
	}
	var entries []format.IndexPack
	for pid, p := range packs {
		if !condemned[pid] || rescued[pid] {
			continue
		}
		for _, b := range p.ip.Blobs {
			if _, ok := used[b.ID]; ok && !safe[b.ID] {
				// Its new index object goes to every region: every
				// region must hold the pack.
				name := format.PackName(pid)
				for rn, n := range l {
					if _, ok := n.objs[name]; !ok {
						return nil, nil, fmt.Errorf("pack %s, which a snapshot made since the mark needs, is missing in region %q: %w", pid.Short(), rn, ErrIncomplete)
					}
				}
				rescued[pid] = true
				entries = append(entries, p.ip)
				break
			}
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
	if err := r.PutTombstones(ctx, names, format.ReasonGC); err != nil {
		return fmt.Errorf("prune sweep: tombstones (nothing deleted): %w", err)
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

// sweepRegion sweeps one region: it stores there the tombstone of every
// object it deletes and every replacing index object (copied from another
// region when the region missed it), then deletes the index objects, then,
// only when they are all gone, the packs. A missing object counts as
// deleted. It returns how many objects it deleted; an error leaves the
// region pending.
func sweepRegion(ctx context.Context, reg repo.Region, regs []repo.Region, o objects) (int, error) {
	st := reg.Storage
	for i, name := range o.tombNames {
		if err := storage.PutBytes(ctx, st, format.TombstoneName(name), o.tombs[i], storage.PutOptions{}); err != nil {
			return 0, fmt.Errorf("write tombstone of %s (nothing deleted here): %w", name, err)
		}
	}
	for _, name := range o.newIndex {
		if err := ensure(ctx, reg, regs, name); err != nil {
			return 0, fmt.Errorf("replacing index (nothing deleted here): %w", err)
		}
	}
	n := 0
	var errs []error
	for _, name := range o.index {
		switch err := st.Delete(ctx, name); {
		case err == nil:
			n++
		case errors.Is(err, storage.ErrNotExist):
		default:
			errs = append(errs, fmt.Errorf("delete %s: %w", name, err))
		}
	}
	if len(errs) > 0 {
		return n, fmt.Errorf("index objects not deleted, packs left: %w", errors.Join(errs...))
	}
	for _, name := range o.packs {
		switch err := st.Delete(ctx, name); {
		case err == nil:
			n++
		case errors.Is(err, storage.ErrNotExist):
		default:
			errs = append(errs, fmt.Errorf("delete %s: %w", name, err))
		}
	}
	return n, errors.Join(errs...)
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
