package drill_test

import (
	"context"
	"slices"
	"testing"

	"lifeboat/engine/drill"
	"lifeboat/engine/format"
	"lifeboat/storage"
	"lifeboat/storage/mem"
	"lifeboat/storage/regions"
	"lifeboat/storage/retry"
	"lifeboat/storage/storagetest"
)

func newTrackSet(t *testing.T, names []string, rs []storage.Storage) storage.Storage {
	t.Helper()
	var regs []regions.Region
	for i, st := range rs {
		regs = append(regs, regions.Region{Name: names[i], Storage: st, Priority: i})
	}
	s, err := regions.New(regs, regions.Options{WriteQuorum: 1})
	if err != nil {
		t.Fatal(err)
	}
	return s
}

// The tracker keeps the region set it wraps.
func TestTrackerKeepsRegionSet(t *testing.T) {
	storagetest.RunRegions(t, newTrackSet, func(_ *testing.T, set storage.Storage) storage.Storage { return drill.Track(set) }, false)
}

// A tracker around a region set behind a retry wrapper still records the
// region that served each pack read through the set's replicas.
func TestTrackerThroughRetry(t *testing.T) {
	ctx := context.Background()
	a, b := mem.New(), mem.New()
	set := newTrackSet(t, []string{"a", "b"}, []storage.Storage{a, b})
	tr := drill.Track(retry.New(set, retry.Options{}))
	defer tr.Close()
	pack := format.PackName(format.ID{7})
	storagetest.PutString(t, b, pack, "pack")
	rs := tr.Capabilities().Regions
	if rs == nil {
		t.Fatal("the tracker around retry has no region set")
	}
	for _, rep := range rs.Replicas() {
		if _, err := storage.ReadAll(ctx, rep.Reader, pack); (err == nil) != (rep.Region == "b") {
			t.Fatalf("replica %s: %v", rep.Region, err)
		}
	}
	if got := tr.ServedBy(pack); !slices.Equal(got, []string{"b"}) {
		t.Fatalf("served by %q, want [b]", got)
	}
	if got := tr.Preferred(); got != "a" {
		t.Fatalf("preferred = %q, want a", got)
	}
}
