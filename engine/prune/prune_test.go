package prune

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"testing"
	"time"

	"lifeboat/engine/format"
	"lifeboat/engine/repo"
	"lifeboat/storage"
	"lifeboat/storage/fault"
)

// snapshotObjects returns every object name of every region (state/ left
// out: the clock probe), to compare before and after a run.
func (f *fixture) all() map[string][]string {
	out := map[string][]string{}
	for _, rn := range regionNames {
		for _, n := range f.names(rn, "") {
			if len(n) >= 6 && n[:6] == "state/" {
				continue
			}
			out[rn] = append(out[rn], n)
		}
	}
	return out
}

func sameObjects(a, b map[string][]string) bool {
	for _, rn := range regionNames {
		if !slices.Equal(a[rn], b[rn]) {
			return false
		}
	}
	return true
}

// packsOf returns the packs the snapshot's blobs are indexed in.
func packsOf(t *testing.T, f *fixture, sid format.ID) map[format.ID]bool {
	t.Helper()
	ctx := context.Background()
	r := f.reopen()
	if err := r.LoadIndex(ctx); err != nil {
		t.Fatal(err)
	}
	out := map[format.ID]bool{}
	err := walk(ctx, r, []format.ID{sid}, func(id format.ID, _ bool) {
		loc, ok := r.Index().Lookup(id)
		if !ok {
			t.Fatalf("blob %s not indexed", id.Short())
		}
		out[loc.Pack.ID] = true
	})
	if err != nil {
		t.Fatal(err)
	}
	return out
}

// sweepAll runs prune until no record is outstanding (bounded), advancing
// the clock past each grace.
func (f *fixture) sweepAll(o Options) {
	f.t.Helper()
	for range 6 {
		res, err := f.run(o)
		if err != nil {
			f.t.Fatal(err)
		}
		switch res.Action {
		case ActionWait:
			f.clock = res.SweepAfter.Add(time.Second)
		case ActionSweep:
			if len(res.Pending) == 0 {
				return
			}
		case ActionNone:
			return
		}
	}
	f.t.Fatal("prune did not finish in 6 runs")
}

func TestUnusedPacksRemovedAfterGraceOnly(t *testing.T) {
	f := newFixture(t)
	s1 := f.mustBackup(1)
	s2 := f.mustBackup(2)
	only1 := packsOf(t, f, s1)
	for p := range packsOf(t, f, s2) {
		delete(only1, p)
	}
	if len(only1) == 0 {
		t.Fatal("test setup: no pack only the first snapshot uses")
	}
	f.forget(s1)
	before := f.all()
	res, err := f.run(f.opts())
	if err != nil {
		t.Fatal(err)
	}
	if res.Action != ActionMark || res.Record == nil || res.Record.State != format.GCMarked {
		t.Fatalf("first run: %+v", res)
	}
	for p := range only1 {
		if !slices.Contains(res.Record.Condemned, p) {
			t.Errorf("pack %s only the forgotten snapshot used is not condemned", p.Short())
		}
	}
	// Nothing deleted by the mark.
	after := f.all()
	for _, rn := range regionNames {
		for _, n := range before[rn] {
			if !slices.Contains(after[rn], n) {
				t.Fatalf("mark deleted %s in %s", n, rn)
			}
		}
	}
	f.check("after mark")
	// Within the grace: waits, deletes nothing.
	f.clock = f.clock.Add(59 * time.Minute)
	mid := f.all()
	res, err = f.run(f.opts())
	if err != nil || res.Action != ActionWait {
		t.Fatalf("within grace: %v %+v", err, res)
	}
	if !sameObjects(mid, f.all()) {
		t.Fatal("a run within the grace changed the repository")
	}
	// After the grace: swept everywhere.
	f.clock = f.clock.Add(2 * time.Minute)
	res, err = f.run(f.opts())
	if err != nil || res.Action != ActionSweep || len(res.Pending) != 0 || res.Record.State != format.GCSwept {
		t.Fatalf("after grace: %v %+v", err, res)
	}
	for _, rn := range regionNames {
		for p := range only1 {
			if slices.Contains(f.names(rn, format.DataPrefix), format.PackName(p)) {
				t.Errorf("region %s still holds condemned pack %s", rn, p.Short())
			}
		}
		if left := f.buriedPresent(rn); len(left) > 0 {
			t.Errorf("region %s holds swept objects %v", rn, left)
		}
	}
	f.check("after sweep")
	// Nothing left to do.
	res, err = f.run(f.opts())
	if err != nil || res.Action != ActionNone {
		t.Fatalf("third run: %v %+v", err, res)
	}
}

func TestRepackPartlyUsedPack(t *testing.T) {
	f := newFixture(t)
	// One snapshot of trees 2 and 3 (their blobs share packs), one of
	// tree 3 alone; forgetting the first leaves packs partly used.
	s2 := f.mustBackupPaths(2, 3)
	f.mustBackupPaths(3)
	f.forget(s2)
	o := f.opts()
	o.MaxUnused = 0.01
	// --max-repack-size bounds the work: a bound below every pack's size
	// repacks nothing (dry run).
	bounded := o
	bounded.DryRun, bounded.MaxRepackBytes = true, 1
	if res, err := f.run(bounded); err != nil || len(res.Plan.Repack) != 0 {
		t.Fatalf("bounded dry run: %v %+v", err, res.Plan)
	}
	res, err := f.run(o)
	if err != nil {
		t.Fatal(err)
	}
	if res.Action != ActionMark || len(res.Plan.Repack) == 0 {
		t.Fatalf("no pack repacked: %+v", res.Plan)
	}
	f.check("after mark with repack")
	f.clock = f.clock.Add(2 * time.Hour)
	f.sweepAll(o)
	f.check("after sweep with repack")
	for _, ps := range res.Plan.Repack {
		for _, rn := range regionNames {
			if slices.Contains(f.names(rn, format.DataPrefix), format.PackName(ps.ID)) {
				t.Errorf("repacked pack %s still in %s", ps.ID.Short(), rn)
			}
		}
	}
}

// memObjects serves index objects from memory, as tally reads them.
func memObjects(objs []repo.IndexObject) *indexObjects {
	ids := make([]format.ID, len(objs))
	for i, o := range objs {
		ids[i] = o.ID
	}
	return &indexObjects{ids: ids, each: func(_ context.Context, i int, fn func(p format.IndexPack) error) error {
		for _, p := range objs[i].Packs {
			if err := fn(p); err != nil {
				return err
			}
		}
		return nil
	}}
}

// usedOf is a usedSet of data blobs.
func usedOf(ids ...format.ID) *usedSet {
	u := newUsedSet()
	for _, id := range ids {
		u.data.add(prefixOf(id))
	}
	return u
}

// TestDuplicateBlobInOnePack is rustic #392: a pack holding a needed blob
// twice must count as used, not be condemned; the tally counts the union
// of the entries of a pack that several index objects list, each entry
// once.
func TestDuplicateBlobInOnePack(t *testing.T) {
	var blob, other format.ID
	blob[0], other[0] = 1, 2
	pack, single := format.ID{9}, format.ID{10}
	objs := []repo.IndexObject{
		{ID: format.ID{7}, Packs: []format.IndexPack{{ID: pack, Size: 300, Blobs: []format.Blob{
			{ID: blob, Offset: 0, Length: 100}, {ID: blob, Offset: 100, Length: 100}, {ID: other, Offset: 200, Length: 100}}}}},
		// The same pack listed again by a second index object, and a
		// pack listing the same entry twice.
		{ID: format.ID{8}, Packs: []format.IndexPack{{ID: pack, Size: 300, Blobs: []format.Blob{
			{ID: blob, Offset: 100, Length: 100}}},
			{ID: single, Size: 200, Blobs: []format.Blob{
				{ID: blob, Offset: 0, Length: 100}, {ID: other, Offset: 100, Length: 100}, {ID: other, Offset: 100, Length: 100}}}}},
	}
	for _, c := range []struct {
		used                       *usedSet
		packUsed, singleUsed, live int64
	}{
		{usedOf(blob), 200, 100, 1},
		{usedOf(other), 100, 100, 1},
		{usedOf(blob, other), 300, 200, 0},
	} {
		tl := &tally{used: c.used, maxUnused: 0.05}
		if err := tl.build(context.Background(), memObjects(objs)); err != nil {
			t.Fatal(err)
		}
		p, s := tl.packs[pack], tl.packs[single]
		if p == nil || s == nil || len(p.union) != 3 || len(s.union) != 2 {
			t.Fatalf("union: %+v %+v", p, s)
		}
		if p.used != c.packUsed || p.total != 300 || s.used != c.singleUsed || s.total != 200 {
			t.Fatalf("used %d of %d and %d of %d, want %d of 300 and %d of 200", p.used, p.total, s.used, s.total, c.packUsed, c.singleUsed)
		}
		// One copy of each needed blob when the pack is repacked.
		if int64(len(p.live)) != c.live {
			t.Fatalf("live entries %v, want %d", p.live, c.live)
		}
	}
}

func TestListingFaultAbortsWithNothingWritten(t *testing.T) {
	for _, tc := range []struct {
		name  string
		after bool
	}{{"before", false}, {"after", true}} {
		t.Run(tc.name, func(t *testing.T) {
			f := newFixture(t)
			s1 := f.mustBackup(1)
			f.mustBackup(2)
			f.forget(s1)
			before := f.all()
			fs := f.faults["b"]
			if tc.after {
				fs.FailAfter(fault.OpList, fault.Prefix(format.DataPrefix), storage.MarkTransient(fault.ErrInjected), -1)
			} else {
				fs.FailOn(fault.OpList, fault.Prefix(format.DataPrefix), storage.MarkTransient(fault.ErrInjected), -1)
			}
			_, err := f.run(f.opts())
			if !errors.Is(err, ErrListing) {
				t.Fatalf("run: %v, want ErrListing", err)
			}
			if !sameObjects(before, f.all()) {
				t.Fatal("a failed listing let prune write or delete")
			}
			for _, rn := range regionNames {
				if len(f.names(rn, "state/")) > 0 {
					t.Fatal("prune wrote its clock probe before listing completely")
				}
			}
		})
	}
}

func TestSnapshotOnlyInLaggingRegionKeepsItsPacks(t *testing.T) {
	f := newFixture(t)
	s1 := f.mustBackup(1)
	// Regions a and b refuse writes: the second snapshot and its packs
	// exist only in c.
	ra := f.faults["a"].FailOn(fault.OpPut, fault.Any, storage.MarkTransient(fault.ErrInjected), -1)
	rb := f.faults["b"].FailOn(fault.OpPut, fault.Any, storage.MarkTransient(fault.ErrInjected), -1)
	s2 := f.mustBackup(2)
	ra.Remove()
	rb.Remove()
	if slices.Contains(f.names("a", format.SnapshotPrefix), format.SnapshotName(s2)) {
		t.Fatal("test setup: snapshot reached region a")
	}
	f.forget(s1)
	need := packsOf(t, f, s2)
	res, err := f.run(f.opts())
	if err != nil {
		t.Fatal(err)
	}
	for _, p := range res.Plan.Condemned {
		if need[p.ID] {
			t.Fatalf("condemned pack %s of the snapshot only region c holds", p.ID.Short())
		}
	}
	f.clock = f.clock.Add(2 * time.Hour)
	f.sweepAll(f.opts())
	f.check("after sweep")
}

func TestRegionDownDuringSweepSweptLater(t *testing.T) {
	f := newFixture(t)
	s1 := f.mustBackup(1)
	f.mustBackup(2)
	f.forget(s1)
	if _, err := f.run(f.opts()); err != nil {
		t.Fatal(err)
	}
	f.clock = f.clock.Add(2 * time.Hour)
	down := f.faults["c"].FailOn(fault.OpDelete, fault.Any, storage.MarkTransient(fault.ErrInjected), -1)
	res, err := f.run(f.opts())
	if err != nil {
		t.Fatal(err)
	}
	if res.Action != ActionSweep || !slices.Equal(res.Pending, []string{"c"}) || res.Record.State != format.GCSweeping {
		t.Fatalf("sweep with c down: %+v", res)
	}
	if len(f.buriedPresent("a")) > 0 || len(f.buriedPresent("b")) > 0 {
		t.Fatal("regions a, b not swept")
	}
	if len(f.buriedPresent("c")) == 0 {
		t.Fatal("test setup: region c was swept although down")
	}
	f.check("with c pending")
	down.Remove()
	res, err = f.run(f.opts())
	if err != nil || len(res.Pending) != 0 || res.Record.State != format.GCSwept {
		t.Fatalf("second sweep: %v %+v", err, res)
	}
	if left := f.buriedPresent("c"); len(left) > 0 {
		t.Fatalf("c still holds %v", left)
	}
	f.check("after c swept")
}

func TestRefusedDeleteRetried(t *testing.T) {
	f := newFixture(t)
	s1 := f.mustBackup(1)
	f.mustBackup(2)
	f.forget(s1)
	res, err := f.run(f.opts())
	if err != nil || len(res.Record.Condemned) == 0 {
		t.Fatalf("mark: %v %+v", err, res)
	}
	locked := format.PackName(res.Record.Condemned[0])
	f.clock = f.clock.Add(2 * time.Hour)
	rule := f.faults["a"].FailOn(fault.OpDelete, fault.Exact(locked), storage.ErrPermission, -1)
	res, err = f.run(f.opts())
	if err != nil || !slices.Equal(res.Pending, []string{"a"}) {
		t.Fatalf("sweep with a refused delete: %v %+v", err, res)
	}
	if left := f.buriedPresent("a"); !slices.Equal(left, []string{locked}) {
		t.Fatalf("region a holds %v, want only the refused pack", left)
	}
	f.check("with a refused delete")
	rule.Remove()
	if res, err = f.run(f.opts()); err != nil || len(res.Pending) != 0 {
		t.Fatalf("retry: %v %+v", err, res)
	}
	if left := f.buriedPresent("a"); len(left) > 0 {
		t.Fatalf("region a still holds %v", left)
	}
}

func TestStorageTimeSkewRefused(t *testing.T) {
	f := newFixture(t)
	s1 := f.mustBackup(1)
	f.mustBackup(2)
	f.forget(s1)
	before := f.all()
	o := f.opts()
	o.StorageTime = func(context.Context) (time.Time, error) { return f.clock.Add(6 * time.Minute), nil }
	if _, err := f.run(o); !errors.Is(err, repo.ErrClockSkew) {
		t.Fatalf("run: %v, want ErrClockSkew", err)
	}
	if !sameObjects(before, f.all()) {
		t.Fatal("a refused run changed the repository")
	}
}

func TestYoungPacksNeverCondemned(t *testing.T) {
	f := newFixture(t)
	s1 := f.mustBackup(1)
	f.mustBackup(2)
	f.forget(s1)
	o := f.opts()
	o.MinPackAge = 72 * time.Hour // every pack is younger
	res, err := f.run(o)
	if err != nil {
		t.Fatal(err)
	}
	if res.Action != ActionNone || res.Plan.Young == 0 || len(res.Plan.Condemned) != 0 {
		t.Fatalf("young packs: %+v", res.Plan)
	}
}

func TestDryRunWritesNothing(t *testing.T) {
	f := newFixture(t)
	s1 := f.mustBackup(1)
	f.mustBackup(2)
	f.forget(s1)
	before := f.all()
	o := f.opts()
	o.DryRun = true
	res, err := f.run(o)
	if err != nil || res.Action != ActionMark || len(res.Plan.Condemned) == 0 || res.Plan.Reclaimable["a"] == 0 {
		t.Fatalf("dry run: %v %+v", err, res)
	}
	if !sameObjects(before, f.all()) {
		t.Fatal("dry run changed the repository")
	}
}

func TestRecordGenerationRaced(t *testing.T) {
	f := newFixture(t)
	g := &format.GCRecord{Version: format.GCRecordVersion, Generation: 1, RunID: "x", State: format.GCMarked, Marked: f.clock}
	if err := writeRecord(context.Background(), f.r, g); err != nil {
		t.Fatal(err)
	}
	if err := writeRecord(context.Background(), f.r, g); !errors.Is(err, ErrRaced) {
		t.Fatalf("second write: %v, want ErrRaced", err)
	}
}

// TestCrashAtEveryStep kills prune (every storage mutation fails from the
// n-th on, in every region) at each point of a mark and of a sweep in
// turn; each time the repository must restore completely, and a second
// run must finish the job.
func TestCrashAtEveryStep(t *testing.T) {
	base := newFixture(t)
	s1 := base.mustBackupPaths(1, 2)
	base.mustBackupPaths(2)
	base.forget(s1)
	for _, phase := range []string{"mark", "sweep"} {
		for n := 0; n < 400; n++ {
			b := &crashBudget{left: -1}
			f := newFixtureOn(t, cloneMems(t, base.mems), b)
			f.id, f.sources, f.clock = base.id, base.sources, base.clock
			o := f.opts()
			o.MaxUnused = 0.01
			if phase == "sweep" {
				if res, err := f.run(o); err != nil || res.Action != ActionMark {
					t.Fatalf("mark: %v", err)
				}
				f.clock = f.clock.Add(2 * time.Hour)
			}
			b.left = n
			_, err := f.run(o)
			crashed := b.hit
			b.left = -1
			if !crashed {
				if err != nil {
					t.Fatalf("%s, no crash: %v", phase, err)
				}
				if n == 0 {
					t.Fatalf("%s wrote nothing", phase)
				}
				t.Logf("%s: crashed at each of %d mutations", phase, n)
				break
			}
			f.checkBlobs(fmt.Sprintf("%s crashed after %d mutations", phase, n))
			f.sweepAll(o)
			if n%16 == 0 {
				f.check(fmt.Sprintf("%s crashed after %d mutations, then finished", phase, n))
			} else {
				f.checkBlobs(fmt.Sprintf("%s crashed after %d mutations, then finished", phase, n))
			}
			for _, rn := range regionNames {
				if left := f.buriedPresent(rn); len(left) > 0 {
					t.Fatalf("%s crashed after %d: region %s keeps %v", phase, n, rn, left)
				}
			}
		}
	}
}

// TestBackupDuringPendingSweep: while a region that was down still holds
// the superseded index objects, a new backup of the forgotten data must
// not reuse the condemned packs (gone from the other regions): readers
// never load a tombstoned index object.
func TestBackupDuringPendingSweep(t *testing.T) {
	f := newFixture(t)
	s1 := f.mustBackup(1)
	f.mustBackup(2)
	f.forget(s1)
	if _, err := f.run(f.opts()); err != nil {
		t.Fatal(err)
	}
	f.clock = f.clock.Add(2 * time.Hour)
	down := f.faults["c"].FailOn(fault.OpDelete, fault.Any, storage.MarkTransient(fault.ErrInjected), -1)
	if res, err := f.run(f.opts()); err != nil || !slices.Equal(res.Pending, []string{"c"}) {
		t.Fatalf("sweep: %v %+v", err, res)
	}
	f.mustBackup(1) // the forgotten tree again
	f.checkBlobs("backup during a pending sweep")
	down.Remove()
	f.sweepAll(f.opts())
	f.check("after the pending sweep")
}

// TestSweepRescuesPacksANewSnapshotNeeds: a snapshot committed after the
// mark that needs condemned data (a writer that ignored the record) keeps
// those packs: the sweep rescues them, and everything restores.
func TestSweepRescuesPacksANewSnapshotNeeds(t *testing.T) {
	f := newFixture(t)
	ctx := context.Background()
	s1 := f.mustBackup(1)
	f.mustBackup(2)
	old, err := f.reopen().LoadSnapshot(ctx, s1)
	if err != nil {
		t.Fatal(err)
	}
	src := f.sources[s1]
	f.forget(s1)
	res, err := f.run(f.opts())
	if err != nil || res.Action != ActionMark {
		t.Fatalf("mark: %v %+v", err, res)
	}
	again := *old
	again.Time = again.Time.Add(time.Minute)
	sid, err := f.reopen().SaveSnapshot(ctx, &again)
	if err != nil {
		t.Fatal(err)
	}
	f.sources[sid] = src
	f.clock = f.clock.Add(2 * time.Hour)
	res, err = f.run(f.opts())
	if err != nil || res.Action != ActionSweep || len(res.Rescued) == 0 || len(res.Pending) != 0 {
		t.Fatalf("sweep: %v %+v", err, res)
	}
	f.check("after a sweep that rescued")
	// A later run has nothing outstanding and keeps the rescued data.
	f.sweepAll(f.opts())
	f.check("after the next runs")
}
