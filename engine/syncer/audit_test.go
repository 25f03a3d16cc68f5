package syncer_test

import (
	"context"
	"crypto/sha256"
	"slices"
	"testing"

	"lifeboat/engine/format"
	"lifeboat/engine/syncer"
	"lifeboat/storage/fault"
)

func TestAudit(t *testing.T) {
	ctx := context.Background()
	f := newSet(t, 2)
	f.initRepo(t)
	f.faults["c"].FailOn(fault.OpPut, fault.Prefix(format.DataPrefix), nil, -1)
	res, err := f.backup(t)
	if err != nil {
		t.Fatal(err)
	}
	f.faults["c"].Reset()
	junk := []byte("not a pack of this repository")
	junkName := format.PackName(format.ID(sha256.Sum256(junk)))
	mustPut(t, f.mems["a"], junkName, junk)
	packs := names(t, f.mems["b"], format.DataPrefix)

	rep, err := syncer.Audit(ctx, f.r, f.set)
	if err != nil {
		t.Fatal(err)
	}
	if !rep.Drift() {
		t.Fatalf("no drift: %+v", rep)
	}
	if !slices.Equal(rep.Regions, regionNames) || rep.Unreachable != nil || rep.Config != nil || rep.Keys != nil || rep.Index != nil || rep.IndexErrors != nil {
		t.Fatalf("report = %+v", rep)
	}
	if len(rep.Snapshots) != 1 || rep.Snapshots[0].Object != format.SnapshotName(res.ID) || !slices.Equal(rep.Snapshots[0].Missing, []string{"c"}) {
		t.Fatalf("snapshot drift = %+v", rep.Snapshots)
	}
	if len(rep.MissingPacks) != len(packs) {
		t.Fatalf("%d missing packs, want %d", len(rep.MissingPacks), len(packs))
	}
	for _, p := range rep.MissingPacks {
		if !slices.Contains(packs, p.Object) || !slices.Equal(p.Missing, []string{"c"}) || !slices.Equal(p.Present, []string{"a", "b"}) {
			t.Fatalf("missing pack %+v", p)
		}
	}
	if len(rep.Unreferenced) != 1 || rep.Unreferenced[0].Object != junkName || !slices.Equal(rep.Unreferenced[0].Regions, []string{"a"}) || rep.Unreferenced[0].Size != int64(len(junk)) {
		t.Fatalf("unreferenced = %+v", rep.Unreferenced)
	}
	if rep.Packs != len(packs)+1 || rep.IndexObjects == 0 {
		t.Fatalf("counts: %d packs, %d index objects", rep.Packs, rep.IndexObjects)
	}

	// After a sync the regions agree; an unreferenced pack is no drift.
	if _, err := syncer.Sync(ctx, f.set, opts()); err != nil {
		t.Fatal(err)
	}
	rep, err = syncer.Audit(ctx, f.r, f.set)
	if err != nil || rep.Drift() || len(rep.Unreferenced) != 1 || !slices.Equal(rep.Unreferenced[0].Regions, regionNames) {
		t.Fatalf("after sync: %+v, %v", rep, err)
	}

	// A pack of the wrong size, an index object in one region only, an
	// unreadable index object, a region holding no config.
	name, data := largestPack(t, f.mems["b"])
	mustPut(t, f.mems["b"], name, data[:len(data)-1])
	garbage := []byte("garbage index")
	idxName := format.IndexName(format.ID(sha256.Sum256(garbage)))
	mustPut(t, f.mems["a"], idxName, garbage)
	if err := f.mems["c"].Delete(ctx, format.ConfigName); err != nil {
		t.Fatal(err)
	}
	f.faults["b"].FailOn(fault.OpList, fault.Exact(format.KeysPrefix), nil, -1)
	rep, err = syncer.Audit(ctx, f.r, f.set)
	if err != nil || !rep.Drift() {
		t.Fatalf("audit: %+v, %v", rep, err)
	}
	if len(rep.PackSizes) != 0 {
		t.Fatalf("unreachable b compared: %+v", rep.PackSizes)
	}
	if rep.Unreachable["b"] == "" || !slices.Equal(rep.Regions, []string{"a", "c"}) || !slices.Equal(rep.Config, []string{"c"}) {
		t.Fatalf("report = %+v", rep)
	}
	if len(rep.Index) != 1 || rep.Index[0].Object != idxName || len(rep.IndexErrors) != 1 {
		t.Fatalf("index drift %+v, errors %q", rep.Index, rep.IndexErrors)
	}
	f.faults["b"].Reset()
	rep, err = syncer.Audit(ctx, f.r, f.set)
	if err != nil {
		t.Fatal(err)
	}
	if len(rep.PackSizes) != 1 || rep.PackSizes[0].Object != name || rep.PackSizes[0].Want != int64(len(data)) || rep.PackSizes[0].Sizes["b"] != int64(len(data)-1) {
		t.Fatalf("pack sizes = %+v", rep.PackSizes)
	}
}
