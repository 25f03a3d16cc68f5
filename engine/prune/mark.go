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

// state is what mark computed, kept for the writing part.
type state struct {
	plan      *Plan
	tally     *tally
	objs      *indexObjects
	condemned map[format.ID]bool
	repack    []format.ID
	// superseded are the index objects replaced.
	superseded map[format.ID]bool
}

// plan computes what a mark condemns and repacks. It holds the index, the
// used set and per-pack counters, never the index objects themselves:
// they are read one at a time (tally).
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
	used, err := usedBlobs(ctx, r, snaps)
	if err != nil {
		return nil, err
	}
	packIDs, packMod, packWhere := union(l, format.DataPrefix)
	packIDs, err = r.LiveIDs(ctx, format.DataPrefix, format.PackName, packIDs)
	if err != nil {
		return nil, fmt.Errorf("pack tombstones: %w", err)
	}
	objs := repoObjects(r, idxIDs)
	t := &tally{used: used, maxUnused: opts.MaxUnused}
	if err := t.build(ctx, objs); err != nil {
		return nil, err
	}
	st := &state{tally: t, objs: objs, condemned: map[format.ID]bool{},
		plan: &Plan{Snapshots: snaps, Superseded: idxIDs, Reclaimable: map[string]int64{}}}
	cutoff := res.Now.Add(-opts.MinPackAge)
	var candidates []PackStat
	for _, pid := range packIDs {
		p := t.packs[pid]
		if p == nil {
			st.plan.Unindexed++
			continue
		}
		ps := PackStat{ID: pid, Size: p.size, Used: p.used, Total: p.total, Regions: packWhere[pid]}
		switch {
		case packMod[pid].IsZero() || packMod[pid].After(cutoff): // no time reported: young
			st.plan.Young++
		case p.used == 0:
			st.plan.Condemned = append(st.plan.Condemned, ps)
		case t.candidate(p.total, p.used):
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
	st.supersede(idxIDs, t.objPacks, packWhere, len(l))
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
	repack := map[format.ID]bool{}
	for _, ps := range st.plan.Repack {
		st.repack = append(st.repack, ps.ID)
		repack[ps.ID] = true
	}
	// Only the packs to repack keep their live entries.
	for pid, p := range t.packs {
		if !repack[pid] {
			p.live = nil
		}
	}
	return st, nil
}

// supersede chooses the index objects the new index replaces: those whose
// every pack not condemned is stored in every region (a consolidated
// index written to all regions must not name a pack a region lacks;
// such a pack keeps the index object it has until sync completes the
// region). A condemned pack that an index object left alone names is
// kept (it stays indexed), which may leave further objects alone: repeat
// until nothing changes (at most once per condemned pack). objPacks[i]
// are the packs the object ids[i] names.
func (st *state) supersede(ids []format.ID, objPacks [][]format.ID, where map[format.ID][]string, regions int) {
	complete := func(id format.ID) bool { return len(where[id]) == regions }
	for {
		var keep []int
		var super []format.ID
		for i, packs := range objPacks {
			ok := true
			for _, pid := range packs {
				if !st.condemned[pid] && !complete(pid) {
					ok = false
					break
				}
			}
			if ok {
				super = append(super, ids[i])
			} else {
				keep = append(keep, i)
			}
		}
		changed := false
		for _, i := range keep {
			for _, pid := range objPacks[i] {
				if st.condemned[pid] {
					delete(st.condemned, pid)
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
			return
		}
	}
}

// blobsPerIndex bounds the blob entries of one consolidated index object
// (some 5 MB encoded), which bounds the memory of writing it and of
// reading it. A variable for tests.
var blobsPerIndex = 100_000

// writeIndex writes the consolidated index objects, streaming: it reads
// the superseded objects again one at a time and writes an object
// whenever packsPerIndex packs or blobsPerIndex entries are gathered. A
// pack listed more than once goes in once, with the union of its entries.
// It returns the objects written, sorted.
func (st *state) writeIndex(ctx context.Context, r *repo.Repository) ([]format.ID, error) {
	var (
		out   []format.ID
		chunk []format.IndexPack
		blobs int
	)
	flush := func() error {
		if len(chunk) == 0 {
			return nil
		}
		id, err := r.WriteIndexObject(ctx, chunk)
		if err != nil {
			return err
		}
		out = append(out, id)
		chunk, blobs = nil, 0
		return nil
	}
	done := map[format.ID]bool{}
	for i, id := range st.objs.ids {
		if !st.superseded[id] {
			continue
		}
		err := st.objs.each(ctx, i, func(p format.IndexPack) error {
			if st.condemned[p.ID] || done[p.ID] {
				return nil
			}
			done[p.ID] = true
			if ps := st.tally.packs[p.ID]; ps != nil && ps.multi {
				p.Blobs = ps.union
			}
			if len(chunk) > 0 && (len(chunk) >= packsPerIndex || blobs+len(p.Blobs) > blobsPerIndex) {
				if err := flush(); err != nil {
					return err
				}
			}
			chunk = append(chunk, p)
			blobs += len(p.Blobs)
			return nil
		})
		if err != nil {
			return nil, err
		}
	}
	if err := flush(); err != nil {
		return nil, err
	}
	sortIDs(out)
	return out, nil
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
		p := st.tally.packs[pid]
		eg.Go(func() error {
			err := r.CopyBlobs(cctx, repo.PackInfo{ID: pid, Size: p.size}, p.live)
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
	// 2. Consolidated index objects: every pack the superseded objects
	// name except the condemned ones (the others keep their own index
	// objects), each once, written as they are read.
	newIndex, err := st.writeIndex(ctx, r)
	if err != nil {
		return fmt.Errorf("prune mark: write index (nothing deleted): %w", err)
	}
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
