package prune

import (
	"context"
	"os"
	"path/filepath"
	"testing"
	"time"

	"lifeboat/engine/backup"
	"lifeboat/engine/enginetest"
	"lifeboat/engine/format"
	"lifeboat/engine/repo"
	"lifeboat/storage"
	"lifeboat/storage/mem"
)

// remote is an in-memory storage that does not call itself local, so
// that repositories on it use the local cache.
type remote struct{ storage.Storage }

func (r remote) Capabilities() storage.Capabilities {
	c := r.Storage.Capabilities()
	c.Local = false
	return c
}

// TestSweepEvictsCache: on a single (non-region) storage, the sweep
// removes the superseded index objects from the local cache too.
func TestSweepEvictsCache(t *testing.T) {
	ctx := context.Background()
	st := remote{mem.New()}
	_, id := enginetest.NewRepo(t, st)
	cacheDir := t.TempDir()
	open := func() *repo.Repository {
		t.Helper()
		r, err := repo.Open(ctx, st, id, repo.Options{CacheDir: cacheDir})
		if err != nil {
			t.Fatal(err)
		}
		if err := r.LoadIndex(ctx); err != nil {
			t.Fatal(err)
		}
		return r
	}
	var snaps []format.ID
	for seed := uint64(1); seed <= 2; seed++ {
		src := filepath.Join(t.TempDir(), "src")
		enginetest.MakeTree(t, src, seed)
		res, err := backup.Run(ctx, open(), backup.Options{Paths: []string{src}, Host: "h"})
		if err != nil {
			t.Fatal(err)
		}
		snaps = append(snaps, res.ID)
	}
	if _, err := open().Forget(ctx, snaps[:1]); err != nil {
		t.Fatal(err)
	}
	clock := time.Now().Add(48 * time.Hour)
	o := Options{Grace: time.Hour, Now: func() time.Time { return clock },
		StorageTime: func(context.Context) (time.Time, error) { return clock, nil }}
	res, err := Run(ctx, open(), o)
	if err != nil || res.Action != ActionMark || len(res.Record.Superseded) == 0 {
		t.Fatalf("mark: %v %+v", err, res)
	}
	r := open()
	cfgID := r.Config().ID
	cached := func(id format.ID) bool {
		_, err := os.Stat(filepath.Join(cacheDir, cfgID, filepath.FromSlash(format.IndexName(id))))
		return err == nil
	}
	sup := res.Record.Superseded
	for _, ix := range sup {
		if !cached(ix) {
			t.Fatalf("test setup: index %s not cached", ix.Short())
		}
	}
	clock = clock.Add(2 * time.Hour)
	if res, err = Run(ctx, r, o); err != nil || res.Action != ActionSweep || len(res.Pending) != 0 {
		t.Fatalf("sweep: %v %+v", err, res)
	}
	for _, ix := range sup {
		if cached(ix) {
			t.Errorf("swept index %s still cached", ix.Short())
		}
	}
}
