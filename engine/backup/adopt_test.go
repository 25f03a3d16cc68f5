package backup_test

import (
	"context"
	"errors"
	"path/filepath"
	"strings"
	"sync/atomic"
	"testing"

	"lifeboat/engine/backup"
	"lifeboat/engine/check"
	"lifeboat/engine/enginetest"
	"lifeboat/engine/format"
	"lifeboat/engine/repo"
	"lifeboat/engine/restore"
	"lifeboat/engine/treecmp"
	"lifeboat/storage"
	"lifeboat/storage/fault"
	"lifeboat/storage/mem"
)

// crashBeforeIndex runs a backup of src that dies the way a killed one
// does between storing a pack and writing its one-pack index object: the
// first keep index objects are stored, every later one fails, so the packs
// uploaded from then on are stored and named by no index.
func crashBeforeIndex(t *testing.T, st *fault.Storage, r *repo.Repository, src string, keep int64) {
	t.Helper()
	var n atomic.Int64
	st.FailOn(fault.OpPut, func(name string) bool {
		return strings.HasPrefix(name, format.IndexPrefix) && n.Add(1) > keep
	}, errors.New("killed"), -1)
	if _, err := backup.Run(context.Background(), r, backup.Options{Paths: []string{src}, Host: "h"}); err == nil {
		t.Fatal("backup succeeded although no index object could be written")
	}
	st.Reset()
}

// storedData reads the trailer of every stored pack and returns how many
// times each data blob is stored and the sealed bytes of the data packs.
// (Tree blobs are left out: the directories above a test's source, which
// every snapshot includes, change while other tests run.)
func storedData(t *testing.T, r *repo.Repository) (map[format.ID]int, int64) {
	t.Helper()
	ctx := context.Background()
	var packs []repo.PackInfo
	err := r.List(ctx, format.DataPrefix, func(fi storage.Info) error {
		id, err := format.ParseName(format.DataPrefix, fi.Name)
		if err != nil {
			return err
		}
		packs = append(packs, repo.PackInfo{ID: id, Size: fi.Size})
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	blobs := map[format.ID]int{}
	var bytes int64
	for _, p := range packs {
		bs, err := r.ReadPackTrailer(ctx, p)
		if err != nil {
			t.Fatal(err)
		}
		if len(bs) == 0 || bs[0].Type != format.BlobData {
			continue
		}
		bytes += p.Size
		for _, b := range bs {
			blobs[b.ID]++
		}
	}
	return blobs, bytes
}

func restoreAndCompare(t *testing.T, r *repo.Repository, snap *format.Snapshot, src string) {
	t.Helper()
	target := t.TempDir()
	var errs []string
	res, err := restore.Run(context.Background(), r, snap, restore.Options{Target: target,
		OnError: func(p string, err error) { errs = append(errs, p+": "+err.Error()) }})
	if err != nil || res.Errors > 0 || len(errs) > 0 {
		t.Fatalf("restore: %v %v", err, errs)
	}
	diffs, err := treecmp.Compare(src, filepath.Join(target, src), treecmp.Options{})
	if err != nil || len(diffs) > 0 {
		t.Fatalf("restore differs: %v %v", diffs, err)
	}
}

// A backup that dies between storing a pack and indexing it costs no
// space: the next backup verifies and adopts the pack instead of uploading
// its blobs again, so the repository holds exactly the data blobs of a
// clean run, each once, in as many bytes give or take pack overhead.
func TestCrashBeforeIndexCostsNoSpace(t *testing.T) {
	ctx := context.Background()
	src := filepath.Join(t.TempDir(), "src")
	enginetest.MakeTree(t, src, 11)

	// The clean run, in a repository with the same keys (enginetest.NewRepo
	// is deterministic), so blob IDs are comparable.
	clean, _ := enginetest.NewRepo(t, mem.New())
	run(t, clean, backup.Options{Paths: []string{src}, Host: "h"})
	cleanBlobs, cleanBytes := storedData(t, clean)

	st := fault.New(mem.New())
	r, id := enginetest.NewRepo(t, st)
	crashBeforeIndex(t, st, r, src, 1)
	r2 := enginetest.Reopen(t, st, id)
	orphans, err := r2.FindOrphans(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if len(orphans) == 0 {
		t.Fatal("the crash left no orphan pack: the test does not test anything")
	}
	indexObjects := func() int {
		n := 0
		if err := r2.List(ctx, format.IndexPrefix, func(storage.Info) error { n++; return nil }); err != nil {
			t.Fatal(err)
		}
		return n
	}
	before := indexObjects()

	var notices []error
	res, err := backup.Run(ctx, r2, backup.Options{Paths: []string{src}, Host: "h", OnNotice: func(err error) { notices = append(notices, err) }})
	if err != nil {
		t.Fatal(err)
	}
	if len(notices) > 0 {
		t.Fatalf("notices: %v", notices)
	}
	blobs, bytes := storedData(t, r2)
	for b, n := range blobs {
		if n > 1 {
			t.Errorf("data blob %s stored %d times", b.Short(), n)
		}
		if cleanBlobs[b] == 0 {
			t.Errorf("data blob %s is not in the clean run", b.Short())
		}
	}
	if len(blobs) != len(cleanBlobs) {
		t.Errorf("%d data blobs stored, the clean run stores %d", len(blobs), len(cleanBlobs))
	}
	if ratio := float64(bytes) / float64(cleanBytes); ratio > 1.01 {
		t.Errorf("data packs hold %d bytes, %.3f× the clean run's %d", bytes, ratio, cleanBytes)
	}

	if got := len(res.Adopted.Adopted); got != len(orphans) || res.Adopted.Orphans != len(orphans) {
		t.Fatalf("adopted %d of %d orphans: %+v", got, len(orphans), res.Adopted)
	}
	// The adopted packs and the run's own are named by one consolidated
	// index object; the one-pack objects of the adoption are gone.
	if got := indexObjects(); got != before+1 {
		t.Fatalf("%d index objects after the run, want %d", got, before+1)
	}

	// The adopted blobs are read from the adopted packs, and restore.
	adopted := map[format.ID]bool{}
	for _, p := range res.Adopted.Adopted {
		adopted[p.ID] = true
	}
	r3 := enginetest.Reopen(t, st, id)
	fromAdopted := 0
	r3.Index().Each(func(loc repo.Location) {
		if adopted[loc.Pack.ID] {
			fromAdopted++
		}
	})
	if fromAdopted == 0 {
		t.Fatal("no blob is read from an adopted pack")
	}
	restoreAndCompare(t, r3, res.Snapshot, src)
	cres, err := check.Run(ctx, r3, check.Options{ReadData: true})
	if err != nil || cres.UnindexedPacks != 0 || cres.Warnings != 0 {
		t.Fatalf("check after adoption: %v, %+v", err, cres)
	}
}

// An orphan pack that fails verification is not adopted, not deleted, and
// reported; the backup goes on and stores those blobs again.
func TestCorruptOrphanIsNotAdopted(t *testing.T) {
	ctx := context.Background()
	src := filepath.Join(t.TempDir(), "src")
	enginetest.MakeTree(t, src, 12)
	inner := mem.New()
	st := fault.New(inner)
	r, id := enginetest.NewRepo(t, st)
	crashBeforeIndex(t, st, r, src, 1)
	r2 := enginetest.Reopen(t, st, id)
	orphans, err := r2.FindOrphans(ctx)
	if err != nil || len(orphans) == 0 {
		t.Fatalf("no orphans after the crash: %v", err)
	}
	bad := format.PackName(orphans[0].ID)
	st.Corrupt(fault.Exact(bad))

	var notices []error
	res, err := backup.Run(ctx, r2, backup.Options{Paths: []string{src}, Host: "h", OnNotice: func(err error) { notices = append(notices, err) }})
	if err != nil {
		t.Fatal(err)
	}
	if len(res.Adopted.Rejected) != 1 || res.Adopted.Rejected[0].Pack.ID != orphans[0].ID {
		t.Fatalf("rejected %+v, want %s", res.Adopted.Rejected, bad)
	}
	if len(res.Adopted.Adopted) != len(orphans)-1 {
		t.Fatalf("adopted %d of the %d good orphans", len(res.Adopted.Adopted), len(orphans)-1)
	}
	if len(notices) != 1 || !errors.Is(notices[0], repo.ErrOrphanPack) || !strings.Contains(notices[0].Error(), orphans[0].ID.String()) {
		t.Fatalf("notices %v, want one naming %s", notices, bad)
	}
	if _, err := inner.Stat(ctx, bad); err != nil {
		t.Fatalf("the corrupt orphan was removed: %v", err)
	}
	st.Reset()
	r3 := enginetest.Reopen(t, st, id)
	for _, p := range r3.Index().Packs() {
		if p.ID == orphans[0].ID {
			t.Fatal("the corrupt orphan was indexed")
		}
	}
	restoreAndCompare(t, r3, res.Snapshot, src)
}
