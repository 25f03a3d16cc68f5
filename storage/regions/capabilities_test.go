package regions

import (
	"testing"

	"lifeboat/storage"
	"lifeboat/storage/storagetest"
)

// newTestSet builds a set for storagetest.RunRegions: regions in the given
// order and priority, write quorum 1.
func newTestSet(t *testing.T, names []string, rs []storage.Storage) storage.Storage {
	t.Helper()
	var regs []Region
	for i, st := range rs {
		regs = append(regs, Region{Name: names[i], Storage: st, Priority: i})
	}
	s, err := New(regs, Options{WriteQuorum: 1})
	if err != nil {
		t.Fatal(err)
	}
	return s
}

// The set is its own region set: Capabilities().Regions reaches its
// regions.
func TestCapabilitiesRegions(t *testing.T) {
	storagetest.RunRegions(t, newTestSet, func(_ *testing.T, set storage.Storage) storage.Storage { return set }, false)
}
