package backup

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"sync"
	"sync/atomic"
	"time"

	"lifeboat/engine/format"
	"lifeboat/engine/repo"
)

// ErrSwept reports a backup that refused to commit its snapshot because a
// prune it learnt of too late (sweeping or swept, or past the point where
// rescuing was still safe) condemned data the snapshot would reference.
// Everything the backup uploaded stays indexed for the next run to reuse.
var ErrSwept = errors.New("a prune swept data this backup references; run the backup again")

// DefaultGCCheck is how often a backup re-reads gc/ while it runs when no
// record (whose grace would set a shorter cadence) is known.
const DefaultGCCheck = time.Minute

// minGCCheck bounds the cadence from below (a record with no grace).
const minGCCheck = time.Second

// gcWatch makes a backup honour prune's GC records (FORMAT.md, "Backups
// and GC records"):
//
//   - At the start (after the index is loaded) it reads gc/ (every
//     region's) and condemns, in the index, every pack a record names in
//     Condemned and not in Rescued, whatever the record's state: the
//     backup's dedup never reuses a blob whose only indexed copies are
//     there, so it stores such a blob again.
//   - While the backup runs it lists gc/ again once the injected clock
//     (repo.Options.Now) says the cadence has passed since the last
//     successful check: the shortest grace/4 of the records seen, or
//     DefaultGCCheck. It checks from the file workers (per file and per
//     chunk) and before each tree is saved, so a backup busy in one large
//     file checks too. It checks once more after the final Flush,
//     immediately before the snapshot is committed, and once after the
//     commit (afterCommit: a process suspended between the two).
//   - A record not seen before condemns its packs from then on. Of those
//     packs, the ones the backup already used (found a blob in, or
//     uploaded) are looked at: if the record is marked and the clock is
//     still before Marked + 3/4 of the grace, the blobs indexed there are
//     copied into the backup's own new packs (rescue); otherwise (the
//     record is sweeping or swept, or the grace has nearly passed: a
//     backup that was suspended across the grace, or missed its checks)
//     the backup refuses to commit with ErrSwept.
type gcWatch struct {
	r *repo.Repository

	mu      sync.Mutex // serializes checks
	known   map[uint64]bool
	done    map[format.ID]bool // packs condemned so far
	runs    map[string]*gcRun  // by RunID
	rescued int                // blobs copied by rescues
	// broken is an error after packs were condemned (the packs used among
	// them are then known only to the failed check): every later check
	// returns it, so the backup cannot commit.
	broken error

	last    atomic.Int64 // clock (UnixNano) of the last successful check
	cadence atomic.Int64 // nanoseconds
}

// gcRun is what a backup knows of one prune run.
type gcRun struct {
	first, newest *format.GCRecord // its lowest and highest generation seen
	rescued       map[format.ID]bool
}

// startGC reads the records at the backup's start and starts tracking the
// packs the backup uses.
func startGC(ctx context.Context, r *repo.Repository) (*gcWatch, error) {
	g := &gcWatch{r: r, known: map[uint64]bool{}, done: map[format.ID]bool{}, runs: map[string]*gcRun{}}
	g.cadence.Store(int64(DefaultGCCheck))
	r.TrackReferences()
	if _, err := g.check(ctx, true); err != nil {
		return nil, err
	}
	return g, nil
}

// due reports whether a periodic check is due by the injected clock.
func (g *gcWatch) due() bool {
	return g.r.Now().UnixNano()-g.last.Load() >= g.cadence.Load()
}

// maybe runs a periodic check when one is due and no other is running. A
// check that fails for storage reasons is tried again a cadence later (the
// check before the commit must succeed; a record missed meanwhile is
// judged by the time rule there); a refusal is returned.
func (g *gcWatch) maybe(ctx context.Context) error {
	if !g.due() || !g.mu.TryLock() {
		return nil
	}
	defer g.mu.Unlock()
	if !g.due() {
		return nil
	}
	_, err := g.checkLocked(ctx, false)
	if err != nil && !errors.Is(err, ErrSwept) && g.broken == nil {
		g.last.Store(g.r.Now().UnixNano())
		return nil
	}
	return err
}

// check lists gc/ and applies the records not seen yet; it returns the
// number of blobs rescued by this check.
func (g *gcWatch) check(ctx context.Context, atStart bool) (int, error) {
	g.mu.Lock()
	defer g.mu.Unlock()
	return g.checkLocked(ctx, atStart)
}

func (g *gcWatch) checkLocked(ctx context.Context, atStart bool) (rescued int, err error) {
	if g.broken != nil {
		return 0, g.broken
	}
	now := g.r.Now()
	gens, err := g.r.ListGC(ctx)
	if err != nil {
		return 0, fmt.Errorf("gc records: %w", err)
	}
	var recs []*format.GCRecord
	for _, gen := range gens {
		if g.known[gen] {
			continue
		}
		rec, err := g.r.LoadGCRecord(ctx, gen)
		if err != nil {
			return 0, err
		}
		recs = append(recs, rec)
	}
	// Every record seen goes to its run: a later generation may name
	// packs in Rescued (not condemned by the run, though a pack once
	// condemned in this backup stays so), and the run's newest state
	// decides whether a rescue is still safe.
	for _, rec := range recs {
		run := g.runs[rec.RunID]
		if run == nil {
			run = &gcRun{rescued: map[format.ID]bool{}}
			g.runs[rec.RunID] = run
		}
		if run.first == nil || rec.Generation < run.first.Generation {
			run.first = rec
		}
		if run.newest == nil || rec.Generation > run.newest.Generation {
			run.newest = rec
		}
		for _, p := range rec.Rescued {
			run.rescued[p] = true
		}
	}
	fresh := map[string][]format.ID{} // by run: packs condemned by this check
	var all, newIndex []format.ID
	for _, rec := range recs {
		run := g.runs[rec.RunID]
		for _, p := range rec.Condemned {
			if !g.done[p] && !run.rescued[p] {
				g.done[p] = true
				fresh[rec.RunID] = append(fresh[rec.RunID], p)
				all = append(all, p)
			}
		}
		newIndex = append(newIndex, rec.NewIndex...)
	}
	defer func() {
		if err != nil && !errors.Is(err, ErrSwept) {
			g.broken = err
		}
	}()
	if len(all) > 0 {
		// From here on Has reports none of these packs' blobs, so the set
		// of packs the backup used among them is final.
		g.r.CondemnPacks(all)
		slices.SortFunc(newIndex, compareID)
		if err := g.r.ReloadIndexObjects(ctx, slices.Compact(newIndex)); err != nil {
			return 0, fmt.Errorf("gc records: new index: %w", err)
		}
	}
	if !atStart {
		runIDs := make([]string, 0, len(fresh))
		for id := range fresh {
			runIDs = append(runIDs, id)
		}
		slices.Sort(runIDs)
		for _, id := range runIDs {
			used := g.r.ReferencedPacks(fresh[id])
			if len(used) == 0 {
				continue
			}
			run := g.runs[id]
			// The grace runs from the run's decision (its first
			// generation's Marked, storage time); a quarter of it is kept
			// for the rescue and for clock skew.
			marked, grace := run.first.Marked, run.first.Grace()
			if run.newest.State != format.GCMarked || !now.Before(marked.Add(grace*3/4)) {
				return rescued, fmt.Errorf("%w (gc generation %d, %s, marked %s, grace %s: %d condemned packs in use, first learnt of at %s)",
					ErrSwept, run.newest.Generation, run.newest.State, marked.UTC().Format(time.RFC3339), grace, len(used), now.UTC().Format(time.RFC3339))
			}
			n, err := g.r.Rescue(ctx, used)
			rescued += n
			if err != nil {
				return rescued, fmt.Errorf("gc generation %d: %w", run.newest.Generation, err)
			}
		}
	}
	for _, rec := range recs {
		g.known[rec.Generation] = true
		if c := max(rec.Grace()/4, minGCCheck); c < time.Duration(g.cadence.Load()) {
			g.cadence.Store(int64(c))
		}
	}
	g.rescued += rescued
	g.last.Store(now.UnixNano())
	return rescued, nil
}

func compareID(a, b format.ID) int {
	for i := range a {
		if a[i] != b[i] {
			return int(a[i]) - int(b[i])
		}
	}
	return 0
}

// beforeCommit flushes and then checks, immediately before the snapshot
// is committed (so a backup without records lists gc/ twice in all: at its
// start and here). A rescue found by that check needs another Flush and
// check, a bounded number of times.
func (g *gcWatch) beforeCommit(ctx context.Context, flush func() error) error {
	const rounds = 3
	for range rounds {
		if err := flush(); err != nil {
			return err
		}
		n, err := g.check(ctx, false)
		if err != nil || n == 0 {
			return err
		}
	}
	return fmt.Errorf("%w (prunes kept condemning data this backup uses)", ErrSwept)
}

// afterCommit checks gc/ once more after snapshot id was committed. A
// backup suspended between its last check and the commit for longer than
// a prune's grace could otherwise commit a snapshot naming packs a sweep
// deleted meanwhile (restic #2715, kopia #1949). A record it had not seen
// that condemns packs the backup used is judged as before the commit: a
// rescue while that is still safe (the snapshot names blobs, not packs:
// the rescued copies are made durable by flush before the sweep may
// delete the originals), otherwise the snapshot is forgotten again
// (tombstone, then delete: no reader picks it any more) and ErrSwept is
// returned. On append-only storage the snapshot cannot be forgotten; the
// error then names it for a trusted host to forget.
func (g *gcWatch) afterCommit(ctx context.Context, id format.ID, flush func() error) error {
	n, err := g.check(ctx, false)
	if err == nil && n > 0 {
		err = flush()
	}
	if err == nil {
		return nil
	}
	if !errors.Is(err, ErrSwept) {
		return fmt.Errorf("snapshot %s committed, but the gc records could not be checked after the commit (run check): %w", id.Short(), err)
	}
	if _, ferr := g.r.Forget(context.WithoutCancel(ctx), []format.ID{id}); ferr != nil {
		return fmt.Errorf("snapshot %s was committed after a prune swept data it names, and could not be forgotten (forget it from a host that may delete): %w", id.Short(), errors.Join(err, ferr))
	}
	return fmt.Errorf("snapshot %s forgotten again after its commit: %w", id.Short(), err)
}
