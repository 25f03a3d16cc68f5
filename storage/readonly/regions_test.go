package readonly_test

import (
	"context"
	"errors"
	"testing"

	"lifeboat/storage"
	"lifeboat/storage/mem"
	"lifeboat/storage/readonly"
	"lifeboat/storage/regions"
	"lifeboat/storage/storagetest"
)

func newSet(t *testing.T, names []string, rs []storage.Storage) storage.Storage {
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

// A read-only wrapper around a region set keeps the set's reads (replicas,
// regions, union listing, health reports) and refuses its writes.
func TestRegionSetKeptReadOnly(t *testing.T) {
	storagetest.RunRegions(t, newSet, func(_ *testing.T, set storage.Storage) storage.Storage { return readonly.New(set) }, true)
}

// Two views of the same set compare equal, as Capabilities do.
func TestRegionsViewComparable(t *testing.T) {
	s := readonly.New(newSet(t, []string{"a", "b"}, []storage.Storage{mem.New(), mem.New()}))
	defer s.Close()
	if s.Capabilities() != s.Capabilities() {
		t.Fatal("capabilities of the same read-only set differ")
	}
	st, _ := s.Capabilities().Regions.Region("a")
	if err := st.Delete(context.Background(), "x"); !errors.Is(err, storage.ErrReadOnly) {
		t.Fatalf("delete through a region of the read-only view: %v, want ErrReadOnly", err)
	}
}
