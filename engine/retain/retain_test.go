package retain_test

import (
	"context"
	"errors"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"lifeboat/engine/backup"
	"lifeboat/engine/enginetest"
	"lifeboat/engine/format"
	"lifeboat/engine/retain"
	"lifeboat/storage"
	"lifeboat/storage/regions"
	"lifeboat/storage/s3"
	"lifeboat/tests/s3server"
)

func lockedStore(t *testing.T, srv *s3server.Server, period time.Duration) storage.Storage {
	t.Helper()
	st, err := s3.New(context.Background(), s3.Config{
		Endpoint: srv.Endpoint, Bucket: srv.Bucket, Prefix: "repo", Insecure: true,
		AccessKey: srv.AccessKey, SecretKey: srv.SecretKey,
		ObjectLock: &storage.ObjectLock{Mode: storage.LockCompliance, Period: period},
	})
	if err != nil {
		t.Fatalf("s3.New: %v\n%s", err, srv.LogTail())
	}
	t.Cleanup(func() { st.Close() })
	return st
}

func set(t *testing.T, st storage.Storage) *regions.Set {
	t.Helper()
	s, err := regions.New([]regions.Region{{Name: "a", Storage: st}}, regions.Options{WriteQuorum: 1})
	if err != nil {
		t.Fatal(err)
	}
	return s
}

func listNames(t *testing.T, st storage.Storage, prefixes ...string) map[string]bool {
	t.Helper()
	out := map[string]bool{}
	for _, p := range prefixes {
		if err := st.List(context.Background(), p, func(fi storage.Info) error {
			out[fi.Name] = true
			return nil
		}); err != nil {
			t.Fatal(err)
		}
	}
	return out
}

// TestExtendOnlyKeptObjects: on versitygw with object lock, objects are
// written locked for a short period; lock extend extends what the present
// snapshots need and nothing else. The packs and index objects of a
// snapshot forgotten and of one deleted by hand become purgeable once their
// period ends; every
// object the remaining snapshot needs stays retained.
func TestExtendOnlyKeptObjects(t *testing.T) {
	ctx := context.Background()
	srv := s3server.Start(t, s3server.WithObjectLock())
	const writePeriod = 2 * time.Second
	w := lockedStore(t, srv, writePeriod)
	r, id := enginetest.NewRepo(t, set(t, w))
	var snaps []format.ID
	for i, seed := range []uint64{11, 12, 13} {
		src := filepath.Join(t.TempDir(), "src")
		enginetest.MakeTree(t, src, seed)
		res, err := backup.Run(ctx, r, backup.Options{Paths: []string{src}, Host: "h"})
		if err != nil {
			t.Fatalf("backup %d: %v", i, err)
		}
		snaps = append(snaps, res.ID)
	}
	// The second snapshot is forgotten (a tombstone), the third deleted by
	// hand: their own packs are garbage.
	if _, err := r.Forget(ctx, []format.ID{snaps[1]}); err != nil {
		t.Fatalf("forget: %v", err)
	}
	if err := w.Delete(ctx, format.SnapshotName(snaps[2])); err != nil {
		t.Fatal(err)
	}

	// Extension through a store configured with a longer period (as after
	// raising object_lock.period): the kept objects outlive the garbage.
	ext := set(t, lockedStore(t, srv, time.Hour))
	r2 := enginetest.Reopen(t, ext, id)
	regs := retain.Regions(ext)
	if len(regs) != 1 || regs[0].Name != "a" {
		t.Fatalf("Regions = %+v", regs)
	}
	// Before any extension, nothing is known protected.
	listing := func() []storage.Info {
		var out []storage.Info
		if err := ext.List(ctx, format.SnapshotPrefix, func(fi storage.Info) error { out = append(out, fi); return nil }); err != nil {
			t.Fatal(err)
		}
		return out
	}
	st0, err := retain.LoadState(ctx, regs[0].Storage, "a")
	if err != nil || st0 != nil {
		t.Fatalf("state before extension: %v, %v", st0, err)
	}
	if p := retain.Unprotected(st0, listing(), time.Now()); p.OldestUnprotected != format.SnapshotName(snaps[0]) {
		t.Fatalf("before extension: %+v, want snapshot %s unprotected", p, snaps[0].Short())
	}

	rep, err := retain.Extend(ctx, r2, regs, retain.Options{Host: "test"})
	if err != nil {
		t.Fatalf("Extend: %v (%+v)", err, rep)
	}
	if rep.Snapshots != 1 || len(rep.Regions) != 1 || rep.Regions[0].Objects != rep.Objects || rep.Regions[0].Missing != 0 {
		t.Fatalf("report %+v", rep)
	}
	reach, err := retain.Reachable(ctx, r2, nil)
	if err != nil {
		t.Fatal(err)
	}
	kept := map[string]bool{}
	for _, o := range reach.Objects {
		kept[o.Name] = true
	}
	for _, must := range []string{format.ConfigName, format.SnapshotName(snaps[0])} {
		if !kept[must] {
			t.Fatalf("%s is not among the kept objects", must)
		}
	}
	var garbage, keptContent []string
	for name := range listNames(t, w, format.DataPrefix, format.IndexPrefix) {
		if kept[name] {
			keptContent = append(keptContent, name)
		} else {
			garbage = append(garbage, name)
		}
	}
	var garbagePacks int
	for _, g := range garbage {
		if strings.HasPrefix(g, format.DataPrefix) {
			garbagePacks++
		}
	}
	if garbagePacks == 0 || len(keptContent) == 0 {
		t.Fatalf("garbage %v, kept %v: the test needs both", garbage, keptContent)
	}

	st1, err := retain.LoadState(ctx, regs[0].Storage, "a")
	if err != nil || st1 == nil || len(st1.Snapshots) != 1 || st1.Snapshots[0] != snaps[0] {
		t.Fatalf("state after extension: %+v, %v", st1, err)
	}
	if p := retain.Unprotected(st1, listing(), time.Now()); p.Unprotected != 0 {
		t.Fatalf("after extension: %+v, want every snapshot protected", p)
	}
	if p := retain.Unprotected(st1, listing(), st1.Until.Add(time.Second)); p.OldestUnprotected != format.SnapshotName(snaps[0]) {
		t.Fatalf("after the extension's period: %+v, want snapshot %s unprotected", p, snaps[0].Short())
	}
	if f, err := retain.Verify(ctx, r2, regs, retain.Options{}); err != nil || len(f) != 0 {
		t.Fatalf("Verify now: %v, %v", f, err)
	}
	f, err := retain.Verify(ctx, r2, regs, retain.Options{Now: func() time.Time { return time.Now().Add(2 * time.Hour) }})
	if err != nil || len(f) == 0 {
		t.Fatalf("Verify two hours on: %v, %v; want findings", f, err)
	}
	for _, x := range f {
		if !kept[x.Object] || !errors.Is(x.Err(), retain.ErrUnprotected) {
			t.Fatalf("finding %+v (%v)", x, x.Err())
		}
	}

	rt, _ := storage.FindRetainer(regs[0].Storage)
	// Wait out the write period (bounded: a few seconds).
	time.Sleep(writePeriod + 2*time.Second)
	for _, g := range garbage {
		if err := rt.Purge(ctx, g); err != nil {
			t.Errorf("purge garbage %s: %v", g, err)
		}
	}
	for _, k := range append(keptContent, format.ConfigName, format.SnapshotName(snaps[0])) {
		if err := rt.Purge(ctx, k); !errors.Is(err, storage.ErrRetained) {
			t.Errorf("purge kept %s: %v, want ErrRetained", k, err)
		}
	}
}
