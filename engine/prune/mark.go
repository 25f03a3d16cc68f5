package prune

import (
	"context"
	"fmt"
	"slices"
	"sort"

	"golang.org/x/sync/errgroup"

	"lifeboat/engine/format"
	"lifeboat/engine/repo"
)

// repackWorkers is how many packs a mark repacks at once.
const repackWorkers = 3

// liveSnapshots returns the snapshots of the listing (any region) that no
// authenticated tombstone buries.
func liveSnapshots(ctx context.Context, r *repo.Repository, l map[string]*names) ([]format.ID, error) {
	ids, _, _ := union(l, format.SnapshotPrefix)
	live, err := r.LiveIDs(ctx, format.SnapshotPrefix, format.SnapshotName, ids)
	if err != nil {
		return nil, fmt.Errorf("snapshot tombstones: %w", err)
	}
	return live, nil
}

// usedBlobs walks the trees of snapshots and returns every blob they
// need. A snapshot or tree that cannot be read, or a data blob no index
// names, fails: prune never decides on a partial view.
func usedBlobs(ctx context.Context, r *repo.Repository, snaps []format.ID) (map[format.ID]struct{}, error) {
	used := map[format.ID]struct{}{}
	idx := r.Index()
	for _, sid := range snaps {
		s, err := r.LoadSnapshot(ctx, sid)
		if err != nil {
			return nil, fmt.Errorf("snapshot %s: %w", sid.Short(), err)
		}
		stack := []format.ID{s.Tree}
		for len(stack) > 0 {
			tid := stack[len(stack)-1]
			stack = stack[:len(stack)-1]
			if _, ok := used[tid]; ok {
				continue
			}
			t, err := r.LoadTree(ctx, tid)
			if err != nil {
				return nil, fmt.Errorf("snapshot %s: tree %s: %w: %w", sid.Short(), tid.Short(), ErrMissingBlob, err)
			}
			used[tid] = struct{}{}
			for i := range t.Nodes {
				n := &t.Nodes[i]
				if n.Subtree != nil {
					stack = append(stack, *n.Subtree)
				}
				for _, c := range n.Content {
					if !idx.Has(c) {
						return nil, fmt.Errorf("snapshot %s: data blob %s: %w", sid.Short(), c.Short(), ErrMissingBlob)
					}
					used[c] = struct{}{}
				}
			}
		}
	}
	return used, nil
}

// packEntry is a pack as the union of the index objects lists it.
type packEntry struct {
	ip    format.IndexPack
	seen  map[[2]uint64]bool // (blob ID prefix, offset) already added
	total int64
	used  int64
}

func (p *packEntry) addBlobs(blobs []format.Blob) {
	for _, b := range blobs {
		k := [2]uint64{uint64(b.Offset), beUint64(b.ID[:8])}
		if p.seen[k] {
			continue
		}
		p.seen[k] = true
		p.ip.Blobs = append(p.ip.Blobs, b)
	}
}

func beUint64(b []byte) uint64 {
	var v uint64
	for _, c := range b {
		v = v<<8 | uint64(c)
	}
	return v
}

// count sets the pack's total and used stored bytes: every entry counts,
// so a blob stored twice is used twice.
func (p *packEntry) count(used map[format.ID]struct{}) {
	p.total, p.used = 0, 0
	for _, b := range p.ip.Blobs {
		p.total += int64(b.Length)
		if _, ok := used[b.ID]; ok {
			p.used += int64(b.Length)
		}
	}
}

// indexUnion merges the index objects: every pack once, every blob entry
// of it once (a blob stored twice in one pack is two entries: both count).
func indexUnion(objs []repo.IndexObject) map[format.ID]*packEntry {
	packs := map[format.ID]*packEntry{}
	for _, o := range objs {
		for i := range o.Packs {
			ip := &o.Packs[i]
			p := packs[ip.ID]
			if p == nil {
				p = &packEntry{ip: format.IndexPack{ID: ip.ID, Size: ip.Size}, seen: map[[2]uint64]bool{}}
				packs[ip.ID] = p
			}
			p.addBlobs(ip.Blobs)
		}
	}
	return packs
}

// state is what mark computed, kept for the writing part.
type state struct {
	plan      *Plan
	packs     map[format.ID]*packEntry
	used      map[format.ID]struct{}
	condemned map[format.ID]bool
	repack    []format.ID
	// superseded are the index objects replaced; objs all those read.
	superseded map[format.ID]bool
	objs       []repo.IndexObject
}

// plan computes what a mark condemns and repacks.
func plan(ctx context.Context, r *repo.Repository, opts *Options, res *Result) (*state, error) {
	l := res.listing
	if err := r.LoadIndex(ctx); err != nil {
		return nil, fmt.Errorf("load index: %w", err)
	}
	snaps, err := liveSnapshots(ctx, r, l)
	if err != nil {
		return nil, err
	}
	idxIDs, _, _ := union(l, format.IndexPrefix)
	idxIDs, err = r.LiveIDs(ctx, format.IndexPrefix, format.IndexName, idxIDs)
	if err != nil {
		return nil, fmt.Errorf("index tombstones: %w", err)
	}
	objs, err := r.ReadIndexObjects(ctx, idxIDs)
	if err != nil {
		return nil, err
	}
	used, err := usedBlobs(ctx, r, snaps)
	if err != nil {
		return nil, err
	}
	packIDs, packMod, packWhere := union(l, format.DataPrefix)
	packIDs, err = r.LiveIDs(ctx, format.DataPrefix, format.PackName, packIDs)
	if err != nil {
		return nil, fmt.Errorf("pack tombstones: %w", err)
	}
	packs := indexUnion(objs)
	st := &state{packs: packs, used: used, condemned: map[format.ID]bool{},
		plan: &Plan{Snapshots: snaps, Superseded: idxIDs, Reclaimable: map[string]int64{}}}
	cutoff := res.Now.Add(-opts.MinPackAge)
	var candidates []PackStat
	for _, pid := range packIDs {
		p := packs[pid]
		if p == nil {
			st.plan.Unindexed++
			continue
		}
		p.count(used)
		ps := PackStat{ID: pid, Size: p.ip.Size, Used: p.used, Total: p.total, Regions: packWhere[pid]}
		switch {
		case packMod[pid].IsZero() || packMod[pid].After(cutoff): // no time reported: young
			st.plan.Young++
		case p.used == 0:
			st.plan.Condemned = append(st.plan.Condemned, ps)
		case opts.MaxUnused >= 0 && p.total > 0 && float64(p.total-p.used) > opts.MaxUnused*float64(p.total):
			candidates = append(candidates, ps)
		default:
			st.plan.Kept++
		}
	}
	// Most unused first, within the bound.
	sort.SliceStable(candidates, func(i, j int) bool {
		return candidates[i].Total-candidates[i].Used > candidates[j].Total-candidates[j].Used
	})
	var budget int64
	for _, c := range candidates {
		if opts.MaxRepackBytes > 0 && budget+c.Size > opts.MaxRepackBytes {
			st.plan.Kept++
			continue
		}
		budget += c.Size
		st.plan.Repack = append(st.plan.Repack, c)
		st.plan.RepackBytes += c.Used
	}
	for _, list := range [][]PackStat{st.plan.Condemned, st.plan.Repack} {
		for _, ps := range list {
			st.condemned[ps.ID] = true
		}
	}
	st.supersede(objs, packWhere, len(l))
	st.plan.Condemned = slices.DeleteFunc(st.plan.Condemned, func(ps PackStat) bool { return !st.condemned[ps.ID] })
	st.plan.Repack = slices.DeleteFunc(st.plan.Repack, func(ps PackStat) bool { return !st.condemned[ps.ID] })
	st.plan.RepackBytes = 0
	for _, ps := range st.plan.Repack {
		st.plan.RepackBytes += ps.Used
	}
	for _, list := range [][]PackStat{st.plan.Condemned, st.plan.Repack} {
		for _, ps := range list {
			for _, rn := range ps.Regions {
				if fi, ok := l[rn].objs[format.PackName(ps.ID)]; ok {
					st.plan.Reclaimable[rn] += fi.Size
				}
			}
		}
	}
	for _, ps := range st.plan.Repack {
		st.repack = append(st.repack, ps.ID)
	}
	return st, nil
}

// supersede chooses the index objects the new index replaces: those whose
// every pack not condemned is stored in every region (a consolidated
// index written to all regions must not name a pack a region lacks;
// such a pack keeps the index object it has until sync completes the
// region). A condemned pack that an index object left alone names is
// kept (it stays indexed), which may leave further objects alone: repeat
// until nothing changes (at most once per condemned pack).
func (st *state) supersede(objs []repo.IndexObject, where map[format.ID][]string, regions int) {
	complete := func(id format.ID) bool { return len(where[id]) == regions }
	for {
		var keep []repo.IndexObject
		var super []format.ID
		for _, o := range objs {
			ok := true
			for _, ip := range o.Packs {
				if !st.condemned[ip.ID] && !complete(ip.ID) {
					ok = false
					break
				}
			}
			if ok {
				super = append(super, o.ID)
			} else {
				keep = append(keep, o)
			}
		}
		changed := false
		for _, o := range keep {
			for _, ip := range o.Packs {
				if st.condemned[ip.ID] {
					delete(st.condemned, ip.ID)
					st.plan.Kept++
					changed = true
				}
			}
		}
		if !changed {
			sortIDs(super)
			st.plan.Superseded = super
			st.superseded = map[format.ID]bool{}
			for _, id := range super {
				st.superseded[id] = true
			}
			st.objs = objs
			return
		}
	}
}

// mark plans and, unless a dry run, repacks, writes the consolidated index
// and the marked record. It deletes nothing.
func mark(ctx context.Context, r *repo.Repository, opts Options, res *Result, recs []*format.GCRecord, regs []repo.Region) error {
	st, err := plan(ctx, r, &opts, res)
	if err != nil {
		return fmt.Errorf("prune mark (nothing written or deleted): %w", err)
	}
	res.Plan = st.plan
	if len(st.condemned) == 0 {
		res.Action = ActionNone
		return nil
	}
	res.Action = ActionMark
	if opts.DryRun {
		return nil
	}
	// 1. Copy the live blobs of the packs to repack: new packs first,
	// each with its own index object, durable at Flush.
	// Several packs at once: reading, verifying and sealing overlap
	// the writer's uploads.
	// Not errgroup.WithContext: the session's writer keeps the context
	// of its first blob, which must outlive the group (until Flush).
	cctx, cancel := context.WithCancelCause(ctx)
	defer cancel(nil)
	var eg errgroup.Group
	eg.SetLimit(repackWorkers)
	for _, pid := range st.repack {
		p := st.packs[pid]
		var live []format.Blob
		seen := map[format.ID]bool{}
		for _, b := range p.ip.Blobs {
			if _, ok := st.used[b.ID]; ok && !seen[b.ID] {
				seen[b.ID] = true
				live = append(live, b)
			}
		}
		eg.Go(func() error {
			err := r.CopyBlobs(cctx, repo.PackInfo{ID: pid, Size: p.ip.Size}, live)
			if err != nil {
				cancel(err)
			}
			return err
		})
	}
	if err := eg.Wait(); err != nil {
		return fmt.Errorf("prune mark: repack (nothing deleted): %w", err)
	}
	if _, err := r.Flush(ctx); err != nil {
		return fmt.Errorf("prune mark: repack (nothing deleted): %w", err)
	}
	// 2. Consolidated index objects: every pack of the index objects read
	// except the condemned ones.
	// Only packs the superseded objects name go in: the others keep
	// their own index objects.
	inSuper := map[format.ID]bool{}
	for _, o := range st.objs {
		if st.superseded[o.ID] {
			for _, ip := range o.Packs {
				inSuper[ip.ID] = true
			}
		}
	}
	var keep []format.IndexPack
	ids := make([]format.ID, 0, len(st.packs))
	for id := range st.packs {
		ids = append(ids, id)
	}
	sortIDs(ids)
	for _, id := range ids {
		if !st.condemned[id] && inSuper[id] {
			keep = append(keep, st.packs[id].ip)
		}
	}
	var newIndex []format.ID
	for start := 0; start < len(keep); start += packsPerIndex {
		id, err := r.WriteIndexObject(ctx, keep[start:min(len(keep), start+packsPerIndex)])
		if err != nil {
			return fmt.Errorf("prune mark: write index (nothing deleted): %w", err)
		}
		newIndex = append(newIndex, id)
	}
	sortIDs(newIndex)
	// 3. The marked record.
	runID, err := opts.runID()
	if err != nil {
		return err
	}
	condemned := make([]format.ID, 0, len(st.condemned))
	for id := range st.condemned {
		condemned = append(condemned, id)
	}
	sortIDs(condemned)
	superseded := slices.Clone(st.plan.Superseded)
	sortIDs(superseded)
	g := &format.GCRecord{Version: format.GCRecordVersion, Generation: nextGeneration(recs), RunID: runID,
		State: format.GCMarked, Marked: res.Now.UTC(), GraceSeconds: int64(opts.Grace / 1e9), Host: opts.Host,
		Snapshots: st.plan.Snapshots, Condemned: condemned, Superseded: superseded, NewIndex: newIndex}
	if err := writeRecord(ctx, r, g); err != nil {
		return fmt.Errorf("prune mark (nothing deleted): %w", err)
	}
	res.Record = g
	res.SweepAfter = g.Marked.Add(g.Grace())
	return nil
}
