package repo_test

import (
	"context"
	"crypto/sha256"
	"errors"
	"path/filepath"
	"slices"
	"sync"
	"testing"
	"time"

	"lifeboat/engine/backup"
	"lifeboat/engine/enginetest"
	"lifeboat/engine/format"
	"lifeboat/engine/restore"
	"lifeboat/engine/treecmp"
	"lifeboat/storage"
	"lifeboat/storage/fault"
	"lifeboat/storage/mem"
	"lifeboat/storage/readonly"
	"lifeboat/storage/regions"
	"lifeboat/storage/retry"
)

// noSleep makes retries immediate.
func noSleep(context.Context, time.Duration) error { return nil }

func withRetry(st storage.Storage) storage.Storage {
	return retry.New(st, retry.Options{Sleep: noSleep})
}

// A region set behind a wrapper keeps per-object failover on bad content
// and, where the wrapper allows writes, repair: a retry wrapper repairs,
// a read-only one reads from the good region and repairs nothing.
func TestWrappedSetFailsOverAndRepairs(t *testing.T) {
	for _, tc := range []struct {
		name     string
		wrap     func(storage.Storage) storage.Storage
		repaired bool
	}{
		{"retry", withRetry, true},
		{"readonly", readonly.New, false},
	} {
		t.Run(tc.name, func(t *testing.T) {
			set, faults := threeRegions(t)
			r, id := enginetest.NewRepo(t, withRetry(set))
			src := filepath.Join(t.TempDir(), "src")
			enginetest.MakeTree(t, src, 5)
			res, err := backup.Run(context.Background(), r, backup.Options{Paths: []string{src}, Host: "h"})
			if err != nil {
				t.Fatal(err)
			}
			// Region a (preferred) holds corrupt packs; b and c are good.
			packs := corruptPacks(t, faults[0])
			r2 := enginetest.Reopen(t, tc.wrap(set), id)
			r2.SetRepair(true)
			target := t.TempDir()
			var errs []string
			var mu sync.Mutex
			rres, err := restore.Run(context.Background(), r2, res.Snapshot, restore.Options{Target: target,
				OnError: func(p string, err error) { mu.Lock(); errs = append(errs, p+": "+err.Error()); mu.Unlock() }})
			if err != nil {
				t.Fatal(err)
			}
			if len(errs) > 0 || rres.Errors > 0 {
				t.Fatalf("restore through %s failed despite good regions: %v", tc.name, errs)
			}
			if diffs, err := treecmp.Compare(src, filepath.Join(target, src), treecmp.Options{}); err != nil || len(diffs) > 0 {
				t.Fatalf("restore differs: %v %v", diffs, err)
			}
			stats := r2.ReadStats()
			fromA := false
			for _, f := range stats.Failovers {
				if f.Region == "a" && isData(f.Object) {
					fromA = true
					if f.Served != "b" {
						t.Errorf("failover of %s served by %q, want b", f.Object, f.Served)
					}
				}
			}
			if !fromA {
				t.Fatalf("no failover away from the corrupt region a: %+v", stats.Failovers)
			}
			if h := set.Health()[0]; h.BadContent == 0 {
				t.Fatalf("region a's bad content was not reported to the set: %+v", h)
			}
			if len(stats.Repairs) == 0 {
				t.Fatal("no repair attempted with repair on")
			}
			for _, rep := range stats.Repairs {
				if tc.repaired && rep.Err != "" {
					t.Errorf("repair of %s in %s failed: %s", rep.Object, rep.Region, rep.Err)
				}
				if !tc.repaired && rep.Err == "" {
					t.Errorf("repair of %s in %s through a read-only storage succeeded", rep.Object, rep.Region)
				}
			}
			// Region a's copies are good again exactly when repaired.
			for _, f := range stats.Failovers {
				if f.Region != "a" || !isData(f.Object) {
					continue
				}
				if got := goodCopy(t, faults[0], f.Object); got != tc.repaired {
					t.Errorf("region a's copy of %s good = %v, want %v", f.Object, got, tc.repaired)
				}
			}
			if len(packs) == 0 {
				t.Fatal("no packs corrupted")
			}
		})
	}
}

// corruptPacks overwrites every pack in st with damaged bytes and returns
// their names.
func corruptPacks(t *testing.T, st storage.Storage) []string {
	t.Helper()
	ctx := context.Background()
	var names []string
	if err := st.List(ctx, format.DataPrefix, func(info storage.Info) error {
		names = append(names, info.Name)
		return nil
	}); err != nil {
		t.Fatal(err)
	}
	slices.Sort(names)
	for _, name := range names {
		data, err := storage.ReadAll(ctx, st, name)
		if err != nil {
			t.Fatal(err)
		}
		data[len(data)/2] ^= 0xff
		if err := storage.PutBytes(ctx, st, name, data, storage.PutOptions{}); err != nil {
			t.Fatal(err)
		}
	}
	return names
}

// goodCopy reports whether st's copy of the pack name hashes to its name.
func goodCopy(t *testing.T, st storage.Storage, name string) bool {
	t.Helper()
	id, err := format.ParseName(format.DataPrefix, name)
	if err != nil {
		t.Fatal(err)
	}
	data, err := storage.ReadAll(context.Background(), st, name)
	if err != nil {
		t.Fatal(err)
	}
	return format.ID(sha256.Sum256(data)) == id
}

// The commit rule holds through a retry wrapper: a region that missed
// pack writes does not get the snapshot that references them, and
// CommitSnapshot names it behind.
func TestWrappedSetCommitRule(t *testing.T) {
	ctx := context.Background()
	var rs []regions.Region
	var faults []*fault.Storage
	for i, name := range []string{"a", "b", "c"} {
		f := fault.New(mem.New())
		faults = append(faults, f)
		rs = append(rs, regions.Region{Name: name, Storage: f, Priority: i})
	}
	set, err := regions.New(rs, regions.Options{WriteQuorum: 2})
	if err != nil {
		t.Fatal(err)
	}
	st := withRetry(set)
	r, _ := enginetest.NewRepo(t, st)
	faults[2].FailOn(fault.OpPut, fault.Prefix(format.DataPrefix), nil, -1)
	src := filepath.Join(t.TempDir(), "src")
	enginetest.MakeTree(t, src, 3)
	res, err := backup.Run(ctx, r, backup.Options{Paths: []string{src}, Host: "h"})
	if err != nil {
		t.Fatal(err)
	}
	name := format.SnapshotName(res.ID)
	for i, region := range []string{"a", "b", "c"} {
		_, err := faults[i].Stat(ctx, name)
		if has := err == nil; has != (region != "c") {
			t.Errorf("region %s holds the snapshot: %v (%v)", region, has, err)
		}
	}
	if got := set.Lagging(); !slices.Equal(got, []string{"c"}) {
		t.Fatalf("lagging = %q, want [c]", got)
	}
	// Committing again through the wrapper leaves c out and says so.
	snap := *res.Snapshot
	snap.Host = "other"
	id, behind, err := r.CommitSnapshot(ctx, &snap)
	if err != nil || !slices.Equal(behind, []string{"c"}) {
		t.Fatalf("commit through retry: behind %q, %v; want [c]", behind, err)
	}
	if _, err := faults[2].Stat(ctx, format.SnapshotName(id)); !errors.Is(err, storage.ErrNotExist) {
		t.Fatalf("region c got the second snapshot: %v", err)
	}
}
