package retry_test

import (
	"testing"

	"lifeboat/storage"
	"lifeboat/storage/regions"
	"lifeboat/storage/retry"
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

// A retry wrapper around a region set passes the set's regions through.
func TestRegionSetKept(t *testing.T) {
	storagetest.RunRegions(t, newSet, func(_ *testing.T, set storage.Storage) storage.Storage {
		return retry.New(set, retry.Options{})
	}, false)
}
