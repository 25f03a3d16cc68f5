package repo

import (
	"context"
	"testing"

	"lifeboat/engine/format"
	"lifeboat/storage/fault"
)

// TestFindOrphansListsIndexOnlyWhenNeeded: with every stored pack in the
// loaded index, FindOrphans does not list index/ again (a cost that grew
// with every backup); a pack another session indexed after this one loaded
// its index is still recognized, not taken for an orphan.
func TestFindOrphansListsIndexOnlyWhenNeeded(t *testing.T) {
	ctx := context.Background()
	f := newIndexFixture(t, 5)
	r := f.open(t, false)
	if err := r.LoadIndex(ctx); err != nil {
		t.Fatal(err)
	}
	lists := f.st.Delay(fault.OpList, fault.Prefix(format.IndexPrefix), 0)
	defer lists.Remove()
	orphans, err := r.FindOrphans(ctx)
	if err != nil || len(orphans) != 0 {
		t.Fatalf("FindOrphans = %v, %v; want none", orphans, err)
	}
	if n := lists.Hits(); n != 0 {
		t.Fatalf("listed index/ %d times, want 0", n)
	}
	// Another session stores and indexes a pack.
	other := f.open(t, false)
	data := []byte("concurrent")
	id := other.Hash(data)
	if _, err := other.SaveBlob(ctx, format.BlobData, id, data); err != nil {
		t.Fatal(err)
	}
	if _, err := other.Flush(ctx); err != nil {
		t.Fatal(err)
	}
	orphans, err = r.FindOrphans(ctx)
	if err != nil || len(orphans) != 0 {
		t.Fatalf("FindOrphans = %v, %v; want none (the new pack is indexed)", orphans, err)
	}
	if n := lists.Hits(); n != 1 {
		t.Fatalf("listed index/ %d times, want 1", n)
	}
	if !r.Index().Has(id) {
		t.Fatal("the other session's blob is not in the index after FindOrphans")
	}
}
