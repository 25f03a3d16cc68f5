package repo

import (
	"context"
	"errors"
	"testing"
	"time"

	"lifeboat/engine/format"
	"lifeboat/storage"
	"lifeboat/storage/mem"
	"lifeboat/storage/regions"
)

// gcRegions returns a region set over three mem regions.
func gcRegions(t *testing.T) (*regions.Set, []storage.Storage) {
	t.Helper()
	var rs []regions.Region
	var sts []storage.Storage
	for i, name := range []string{"a", "b", "c"} {
		st := mem.New()
		sts = append(sts, st)
		rs = append(rs, regions.Region{Name: name, Storage: st, Priority: i})
	}
	set, err := regions.New(rs, regions.Options{})
	if err != nil {
		t.Fatal(err)
	}
	return set, sts
}

func gcRecord(gen uint64, state string) *format.GCRecord {
	return &format.GCRecord{
		Version: format.GCRecordVersion, Generation: gen, RunID: "r1", State: state,
		Marked: time.Date(2026, 1, 2, 0, 0, 0, 0, time.UTC), GraceSeconds: 3600,
		Condemned: []format.ID{{1}, {2}},
	}
}

// GC records round-trip sealed, a generation is written once, and LoadGC
// reads the union of the regions: a record stored in one region only (the
// others were down) is found.
func TestGCRecordsUnionOfRegions(t *testing.T) {
	ctx := context.Background()
	set, fs := gcRegions(t)
	r, _ := initVersion(t, set, 0)
	if err := r.SaveGCRecord(ctx, gcRecord(1, format.GCMarked)); err != nil {
		t.Fatal(err)
	}
	if err := r.SaveGCRecord(ctx, gcRecord(1, format.GCSweeping)); !errors.Is(err, storage.ErrExist) {
		t.Fatalf("second write of generation 1: %v, want ErrExist", err)
	}
	// Generation 2 lands in the last region only.
	plain, err := format.EncodeGCRecord(gcRecord(2, format.GCSweeping))
	if err != nil {
		t.Fatal(err)
	}
	sealed, err := r.dk.Seal(plain)
	if err != nil {
		t.Fatal(err)
	}
	if err := storage.PutBytes(ctx, fs[2], format.GCName(2), sealed, storage.PutOptions{}); err != nil {
		t.Fatal(err)
	}
	// A foreign object under gc/ is not a record.
	if err := storage.PutBytes(ctx, fs[0], format.GCPrefix+"junk", []byte("x"), storage.PutOptions{}); err != nil {
		t.Fatal(err)
	}
	recs, err := r.LoadGC(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if len(recs) != 2 || recs[0].Generation != 1 || recs[0].State != format.GCMarked || recs[1].Generation != 2 || recs[1].State != format.GCSweeping {
		t.Fatalf("LoadGC = %+v", recs)
	}
}

// A record whose content does not authenticate, or names another
// generation than its object name, is an integrity error.
func TestGCRecordIntegrity(t *testing.T) {
	ctx := context.Background()
	set, fs := gcRegions(t)
	r, _ := initVersion(t, set, 0)
	plain, err := format.EncodeGCRecord(gcRecord(7, format.GCMarked))
	if err != nil {
		t.Fatal(err)
	}
	sealed, err := r.dk.Seal(plain)
	if err != nil {
		t.Fatal(err)
	}
	for _, f := range fs {
		if err := storage.PutBytes(ctx, f, format.GCName(8), sealed, storage.PutOptions{}); err != nil {
			t.Fatal(err)
		}
		if err := storage.PutBytes(ctx, f, format.GCName(9), []byte("not sealed"), storage.PutOptions{}); err != nil {
			t.Fatal(err)
		}
	}
	for _, gen := range []uint64{8, 9} {
		var ie *IntegrityError
		if _, err := r.LoadGCRecord(ctx, gen); !errors.As(err, &ie) {
			t.Fatalf("generation %d: %v, want an IntegrityError", gen, err)
		}
	}
}

// Condemned packs: Has no longer reports their blobs (Lookup still does),
// a copy elsewhere replaces the condemned location, and the packs a
// session used are reported.
func TestIndexCondemnedPacks(t *testing.T) {
	x := newIndex()
	a, b, c := format.ID{0xa}, format.ID{0xb}, format.ID{0xc}
	blob := func(id byte) format.Blob {
		return format.Blob{Type: format.BlobData, ID: format.ID{id}, Length: 1, RawLen: 1}
	}
	x.add(&format.IndexPack{ID: a, Size: 10, Blobs: []format.Blob{blob(1), blob(2)}})
	x.add(&format.IndexPack{ID: c, Size: 10, Blobs: []format.Blob{blob(3)}})
	r := &Repository{idx: x}
	r.TrackReferences()
	if !x.Has(format.ID{3}) {
		t.Fatal("blob 3 not found")
	}
	r.CondemnPacks([]format.ID{a})
	if x.Has(format.ID{1}) || x.Has(format.ID{2}) {
		t.Fatal("Has reports a blob only in a condemned pack")
	}
	if _, ok := x.Lookup(format.ID{1}); !ok {
		t.Fatal("Lookup lost the condemned copy")
	}
	x.add(&format.IndexPack{ID: b, Size: 10, Blobs: []format.Blob{blob(1)}})
	if loc, ok := x.Lookup(format.ID{1}); !ok || loc.Pack.ID != b || !x.Has(format.ID{1}) {
		t.Fatalf("blob 1 at %v, want the copy in pack b", loc.Pack.ID)
	}
	if got := r.ReferencedPacks([]format.ID{a, b, c}); len(got) != 2 || got[0] != b || got[1] != c {
		t.Fatalf("ReferencedPacks = %v, want [b c] (a condemned before use)", got)
	}
}
