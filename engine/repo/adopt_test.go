package repo_test

import (
	"bytes"
	"context"
	"path/filepath"
	"reflect"
	"slices"
	"testing"

	"lifeboat/engine/backup"
	"lifeboat/engine/check"
	"lifeboat/engine/enginetest"
	"lifeboat/engine/format"
	"lifeboat/engine/repo"
	"lifeboat/engine/restore"
	"lifeboat/engine/syncer"
	"lifeboat/engine/treecmp"
	"lifeboat/storage"
)

// indexObjects returns every index object of r: its name, sealed bytes and
// decoded packs (sorted by pack ID).
func indexObjects(t *testing.T, r *repo.Repository) (map[string][]byte, []format.IndexPack) {
	t.Helper()
	ctx := context.Background()
	sealed := map[string][]byte{}
	var packs []format.IndexPack
	err := r.List(ctx, format.IndexPrefix, func(fi storage.Info) error {
		id, err := format.ParseName(format.IndexPrefix, fi.Name)
		if err != nil {
			return err
		}
		if sealed[fi.Name], err = storage.ReadAll(ctx, r.Storage(), fi.Name); err != nil {
			return err
		}
		ps, err := r.ReadIndexObject(ctx, id)
		packs = append(packs, ps...)
		return err
	})
	if err != nil {
		t.Fatal(err)
	}
	slices.SortFunc(packs, func(a, b format.IndexPack) int { return bytes.Compare(a.ID[:], b.ID[:]) })
	return sealed, packs
}

// Adoption describes a pack exactly as the backup that stored it would
// have, and the duplicate index entries that result when that backup (on
// another host, racing) indexes the pack too are harmless to readers,
// check, sync and audit.
func TestAdoptionMatchesTheWriterAndDuplicatesAreHarmless(t *testing.T) {
	ctx := context.Background()
	set, faults := threeRegions(t)
	r, id := enginetest.NewRepo(t, set)
	src := filepath.Join(t.TempDir(), "src")
	enginetest.MakeTree(t, src, 21)
	res, err := backup.Run(ctx, r, backup.Options{Paths: []string{src}, Host: "h"})
	if err != nil {
		t.Fatal(err)
	}
	// Lose every index object: every pack becomes an orphan, as if the
	// backup had died after its last pack.
	written, want := indexObjects(t, r)
	if len(want) < 2 {
		t.Fatalf("backup wrote %d packs; the test needs several", len(want))
	}
	for name := range written {
		if err := set.Delete(ctx, name); err != nil {
			t.Fatal(err)
		}
	}
	r2 := enginetest.Reopen(t, set, id)
	ares, err := r2.AdoptOrphans(ctx, repo.AdoptOptions{})
	if err != nil {
		t.Fatal(err)
	}
	if ares.Orphans != len(want) || len(ares.Adopted) != len(want) || len(ares.Rejected) != 0 || ares.Deferred != 0 {
		t.Fatalf("adoption: %+v, want all %d packs adopted", ares, len(want))
	}
	if _, err := r2.Flush(ctx); err != nil {
		t.Fatal(err)
	}
	adoptedObjects, got := indexObjects(t, r2)
	if !reflect.DeepEqual(got, want) {
		t.Fatalf("adopted index entries differ from the writer's:\n got %+v\nwant %+v", got, want)
	}
	if len(adoptedObjects) != 1 {
		t.Fatalf("%d index objects after Flush, want the one consolidated object", len(adoptedObjects))
	}
	// The "other host" now writes its index objects too, into region a
	// only: every pack is named twice, identically.
	ra, ok := set.Region("a")
	if !ok {
		t.Fatal("no region a")
	}
	for name, data := range written {
		if err := storage.PutBytes(ctx, ra, name, data, storage.PutOptions{}); err != nil {
			t.Fatal(err)
		}
	}
	if _, err := syncer.Sync(ctx, set, syncer.Options{}); err != nil {
		t.Fatal(err)
	}
	r3 := enginetest.Reopen(t, set, id)
	audit, err := syncer.Audit(ctx, r3, set)
	if err != nil {
		t.Fatal(err)
	}
	if audit.Drift() || len(audit.Unreferenced) > 0 || len(audit.IndexErrors) > 0 || len(audit.PackSizes) > 0 {
		t.Fatalf("audit with duplicate index entries: %+v", audit)
	}
	if n := len(r3.Index().Packs()); n != len(want) {
		t.Fatalf("index knows %d packs, want %d", n, len(want))
	}
	var problems []check.Problem
	cres, err := check.Run(ctx, r3, check.Options{ReadData: true, OnProblem: func(p check.Problem) { problems = append(problems, p) }})
	if err != nil || cres.Warnings != 0 || cres.PacksRead != int64(len(want)*len(cres.Regions)) {
		t.Fatalf("check with duplicate index entries: %v %v %+v", err, problems, cres)
	}
	for _, f := range faults {
		f.Reset()
	}
	target := t.TempDir()
	rres, err := restore.Run(ctx, r3, res.Snapshot, restore.Options{Target: target})
	if err != nil || rres.Errors > 0 {
		t.Fatalf("restore: %v %+v", err, rres)
	}
	if diffs, err := treecmp.Compare(src, filepath.Join(target, src), treecmp.Options{}); err != nil || len(diffs) > 0 {
		t.Fatalf("restore differs: %v %v", diffs, err)
	}
}

// One call adopts at most Max orphans; later calls adopt the rest.
func TestAdoptionIsBoundedPerRun(t *testing.T) {
	ctx := context.Background()
	set, _ := threeRegions(t)
	r, id := enginetest.NewRepo(t, set)
	src := filepath.Join(t.TempDir(), "src")
	enginetest.MakeTree(t, src, 22)
	if _, err := backup.Run(ctx, r, backup.Options{Paths: []string{src}, Host: "h"}); err != nil {
		t.Fatal(err)
	}
	written, want := indexObjects(t, r)
	for name := range written {
		if err := set.Delete(ctx, name); err != nil {
			t.Fatal(err)
		}
	}
	adopted := 0
	for run := 1; run <= len(want); run++ {
		r2 := enginetest.Reopen(t, set, id)
		res, err := r2.AdoptOrphans(ctx, repo.AdoptOptions{Max: 1, Seed: uint64(run)})
		if err != nil {
			t.Fatal(err)
		}
		if len(res.Adopted) != 1 || res.Orphans != len(want)-adopted || res.Deferred != res.Orphans-1 {
			t.Fatalf("run %d: %+v with %d of %d adopted before", run, res, adopted, len(want))
		}
		adopted++
	}
	orphans, err := enginetest.Reopen(t, set, id).FindOrphans(ctx)
	if err != nil || len(orphans) != 0 {
		t.Fatalf("orphans left after %d runs: %v %v", len(want), orphans, err)
	}
}
