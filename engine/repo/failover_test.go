package repo_test

import (
	"context"
	"io"
	"path/filepath"
	"strings"
	"sync"
	"testing"

	"lifeboat/engine/backup"
	"lifeboat/engine/enginetest"
	"lifeboat/engine/format"
	"lifeboat/engine/repo"
	"lifeboat/engine/restore"
	"lifeboat/engine/treecmp"
	"lifeboat/storage"
	"lifeboat/storage/fault"
	"lifeboat/storage/mem"
	"lifeboat/storage/regions"
)

// threeRegions returns a region set over three fault-injecting mem regions.
func threeRegions(t *testing.T) (*regions.Set, []*fault.Storage) {
	t.Helper()
	var rs []regions.Region
	var faults []*fault.Storage
	for i, name := range []string{"a", "b", "c"} {
		f := fault.New(mem.New())
		faults = append(faults, f)
		rs = append(rs, regions.Region{Name: name, Storage: f, Priority: i})
	}
	set, err := regions.New(rs, regions.Options{})
	if err != nil {
		t.Fatal(err)
	}
	return set, faults
}

func isData(name string) bool { return strings.HasPrefix(name, format.DataPrefix) }

func TestRestoreFailsOverPerObject(t *testing.T) {
	set, faults := threeRegions(t)
	r, id := enginetest.NewRepo(t, set)
	src := filepath.Join(t.TempDir(), "src")
	enginetest.MakeTree(t, src, 5)
	res, err := backup.Run(context.Background(), r, backup.Options{Paths: []string{src}, Host: "h"})
	if err != nil {
		t.Fatal(err)
	}
	// Region a lies about every data pack; region b has lost them all;
	// only c is good.
	faults[0].Corrupt(isData)
	faults[1].FailOn(fault.OpGet, isData, storage.ErrNotExist, -1)
	r2 := enginetest.Reopen(t, set, id)
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
		t.Fatalf("restore failed despite a good region: %v", errs)
	}
	diffs, err := treecmp.Compare(src, filepath.Join(target, src), treecmp.Options{})
	if err != nil || len(diffs) > 0 {
		t.Fatalf("restore differs: %v %v", diffs, err)
	}
	stats := r2.ReadStats()
	if stats.Regions["c"] == nil || stats.Regions["c"].Objects == 0 {
		t.Fatalf("region c served nothing: %+v", stats.Regions)
	}
	var fromA, fromB bool
	for _, f := range stats.Failovers {
		if f.Served != "c" && isData(f.Object) {
			t.Errorf("failover of %s not resolved by c: %+v", f.Object, f)
		}
		fromA = fromA || f.Region == "a"
		fromB = fromB || f.Region == "b"
	}
	if !fromA || !fromB {
		t.Fatalf("failovers do not name both bad regions: %+v", stats.Failovers)
	}
	if len(stats.Repairs) == 0 {
		t.Fatal("no repairs recorded with repair on")
	}
	for _, rep := range stats.Repairs {
		if rep.Err != "" && rep.Region == "a" {
			t.Errorf("repair of %s in a failed: %s", rep.Object, rep.Err)
		}
	}
	// After the repair, region a's copies are good again.
	faults[0].Reset()
	faults[1].Reset()
	ra, _ := set.Region("a")
	n := 0
	err = ra.List(context.Background(), format.DataPrefix, func(fi storage.Info) error {
		n++
		return nil
	})
	if err != nil || n == 0 {
		t.Fatalf("region a lists %d packs: %v", n, err)
	}
}

func TestAllRegionsBadReportsTheFile(t *testing.T) {
	set, faults := threeRegions(t)
	r, id := enginetest.NewRepo(t, set)
	src := filepath.Join(t.TempDir(), "src")
	enginetest.MakeTree(t, src, 6)
	res, err := backup.Run(context.Background(), r, backup.Options{Paths: []string{src}, Host: "h"})
	if err != nil {
		t.Fatal(err)
	}
	dataPacks := map[string]bool{}
	r.Index().Each(func(loc repo.Location) {
		if loc.Blob.Type == format.BlobData {
			dataPacks[format.PackName(loc.Pack.ID)] = true
		}
	})
	// Every region returns a truncated copy of every data pack.
	for _, f := range faults {
		f.Truncate(func(name string) bool { return dataPacks[name] }, 100)
	}
	r2 := enginetest.Reopen(t, set, id)
	failed := map[string]bool{}
	var mu sync.Mutex
	_, err = restore.Run(context.Background(), r2, res.Snapshot, restore.Options{Target: t.TempDir(),
		OnError: func(p string, err error) { mu.Lock(); failed[p] = true; mu.Unlock() }})
	if err != nil {
		t.Fatal(err)
	}
	if !failed[filepath.Join(src, "big", "large.bin")] {
		t.Fatalf("file with data in corrupt packs not reported: %v", failed)
	}
}

// copyingStorage copies every snapshot it stores into another storage,
// as a sync running beside a backup does.
type copyingStorage struct {
	storage.Storage
	to storage.Storage
}

func (c copyingStorage) Put(ctx context.Context, name string, r io.ReadSeeker, size int64, opt storage.PutOptions) error {
	if err := c.Storage.Put(ctx, name, r, size, opt); err != nil {
		return err
	}
	if !strings.HasPrefix(name, format.SnapshotPrefix) {
		return nil
	}
	if _, err := r.Seek(0, io.SeekStart); err != nil {
		return err
	}
	return c.to.Put(ctx, name, r, size, storage.PutOptions{})
}

// A sync may copy a snapshot to a region between its creation in the
// first region and in the others; the backup still commits to all.
func TestCommitSnapshotBesideSync(t *testing.T) {
	a, b := mem.New(), mem.New()
	set, err := regions.New([]regions.Region{
		{Name: "a", Storage: copyingStorage{Storage: a, to: b}, Priority: 0},
		{Name: "b", Storage: b, Priority: 1},
	}, regions.Options{})
	if err != nil {
		t.Fatal(err)
	}
	r, _ := enginetest.NewRepo(t, set)
	src := filepath.Join(t.TempDir(), "src")
	enginetest.MakeTree(t, src, 2)
	res, err := backup.Run(context.Background(), r, backup.Options{Paths: []string{src}, Host: "h"})
	if err != nil {
		t.Fatalf("backup beside a sync: %v", err)
	}
	for name, st := range map[string]storage.Storage{"a": a, "b": b} {
		if _, err := st.Stat(context.Background(), format.SnapshotName(res.ID)); err != nil {
			t.Errorf("region %s: snapshot: %v", name, err)
		}
	}
}
