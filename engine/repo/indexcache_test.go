package repo

import (
	"context"
	"fmt"
	"os"
	"path/filepath"
	"testing"

	"lifeboat/crypto"
	"lifeboat/engine/format"
	"lifeboat/storage/fault"
	"lifeboat/storage/mem"
)

// indexFixture is a repository in which n backup-like sessions each
// stored one blob, so it has n small index objects.
type indexFixture struct {
	st    *fault.Storage
	id    *crypto.Identity
	cache string
	blobs []format.ID
}

func newIndexFixture(t *testing.T, n int) *indexFixture {
	t.Helper()
	ctx := context.Background()
	f := &indexFixture{st: fault.New(mem.New()), cache: t.TempDir()}
	_, f.id = initVersion(t, f.st, format.Version)
	for i := range n {
		r := f.open(t, false)
		data := fmt.Appendf(nil, "blob %d", i)
		id := r.Hash(data)
		if _, err := r.SaveBlob(ctx, format.BlobData, id, data); err != nil {
			t.Fatal(err)
		}
		if _, err := r.Flush(ctx); err != nil {
			t.Fatal(err)
		}
		f.blobs = append(f.blobs, id)
	}
	return f
}

func (f *indexFixture) open(t *testing.T, cacheIndex bool) *Repository {
	t.Helper()
	r, err := Open(context.Background(), f.st, f.id, Options{CacheDir: f.cache, CacheIndex: cacheIndex})
	if err != nil {
		t.Fatal(err)
	}
	return r
}

// session opens the repository, loads the index (counting the index
// objects read) and flushes, as a backup that stores nothing would.
func (f *indexFixture) session(t *testing.T, cacheIndex bool) (*Repository, int) {
	t.Helper()
	ctx := context.Background()
	r := f.open(t, cacheIndex)
	gets := f.st.Delay(fault.OpGet, fault.Prefix(format.IndexPrefix), 0)
	defer gets.Remove()
	if err := r.LoadIndex(ctx); err != nil {
		t.Fatal(err)
	}
	n := gets.Hits()
	if _, err := r.Flush(ctx); err != nil {
		t.Fatal(err)
	}
	return r, n
}

func (f *indexFixture) indexIDs(t *testing.T) []format.ID {
	t.Helper()
	ids, err := listIDs(context.Background(), f.st, format.IndexPrefix)
	if err != nil {
		t.Fatal(err)
	}
	return ids
}

// TestLoadIndexFromCache: once a session has read the small index
// objects, the next ones load the index without reading any of them, and
// it is the same index.
func TestLoadIndexFromCache(t *testing.T) {
	f := newIndexFixture(t, 12)
	for i, want := range []int{12, 0, 0} {
		r, n := f.session(t, true)
		if n != want {
			t.Fatalf("session %d read %d index objects, want %d", i, n, want)
		}
		if r.Index().Len() != len(f.blobs) {
			t.Fatalf("session %d: index of %d blobs, want %d", i, r.Index().Len(), len(f.blobs))
		}
		for _, b := range f.blobs {
			if _, err := r.LoadBlob(context.Background(), b); err != nil {
				t.Fatalf("session %d: blob %s: %v", i, b.Short(), err)
			}
		}
	}
	// A new index object (another backup) is the only one read.
	r := f.open(t, false)
	data := []byte("one more")
	if _, err := r.SaveBlob(context.Background(), format.BlobData, r.Hash(data), data); err != nil {
		t.Fatal(err)
	}
	if _, err := r.Flush(context.Background()); err != nil {
		t.Fatal(err)
	}
	if _, n := f.session(t, true); n != 1 {
		t.Fatalf("read %d index objects, want 1 (the new one)", n)
	}
}

// TestIndexCacheNeverDecidesExistence: a cached index object that a prune
// tombstoned (still stored in a region) or deleted is not loaded, and the
// cache file drops it.
func TestIndexCacheNeverDecidesExistence(t *testing.T) {
	ctx := context.Background()
	f := newIndexFixture(t, 4)
	f.session(t, true)
	r := f.open(t, false)
	ids := f.indexIDs(t)
	buriedID, deletedID := ids[0], ids[1]
	if err := r.PutTombstones(ctx, []string{format.IndexName(buriedID)}, format.ReasonForget); err != nil {
		t.Fatal(err)
	}
	if err := f.st.Delete(ctx, format.IndexName(deletedID)); err != nil {
		t.Fatal(err)
	}
	gone := map[format.ID]bool{}
	if _, err := f.open(t, false).ReadIndexObject(ctx, deletedID); err == nil {
		t.Fatalf("index object %s still readable after its deletion", deletedID.Short())
	}
	// Which blobs did the two objects name? Those of the cached copies.
	c := newIndexCache(f.cache, r.cfg.ID, true)
	c.mu.Lock()
	c.load(r)
	for _, id := range []format.ID{buriedID, deletedID} {
		plain, ok := c.m[id]
		if !ok {
			t.Fatalf("index object %s not cached", id.Short())
		}
		packs, err := format.DecodeIndex(plain)
		if err != nil {
			t.Fatal(err)
		}
		for _, p := range packs {
			for _, b := range p.Blobs {
				gone[b.ID] = true
			}
		}
	}
	c.mu.Unlock()
	r2, n := f.session(t, true)
	if n != 0 {
		t.Fatalf("read %d index objects, want 0", n)
	}
	for b := range gone {
		if r2.Index().Has(b) {
			t.Fatalf("blob %s of a buried or deleted index object is in the index", b.Short())
		}
	}
	if r2.Index().Len() != len(f.blobs)-len(gone) {
		t.Fatalf("index of %d blobs, want %d", r2.Index().Len(), len(f.blobs)-len(gone))
	}
	// The persisted cache lost both (the next write drops them).
	r2.indexes.dirty = true
	r2.persistIndexCache()
	c = newIndexCache(f.cache, r.cfg.ID, true)
	c.mu.Lock()
	defer c.mu.Unlock()
	c.load(r)
	for _, id := range []format.ID{buriedID, deletedID} {
		if _, ok := c.m[id]; ok {
			t.Fatalf("cache still holds %s", id.Short())
		}
	}
}

// TestIndexCacheUntrusted: a damaged or foreign cache file is ignored, and
// without CacheIndex (check) every index object is read and no file is
// written.
func TestIndexCacheUntrusted(t *testing.T) {
	f := newIndexFixture(t, 5)
	r, _ := f.session(t, true)
	file := filepath.Join(f.cache, r.cfg.ID, indexCacheFile)
	good, err := os.ReadFile(file)
	if err != nil {
		t.Fatal(err)
	}
	other, _ := initVersion(t, mem.New(), format.Version)
	foreign, err := other.dk.Seal([]byte(indexCacheMagic + "\x00"))
	if err != nil {
		t.Fatal(err)
	}
	flipped := append([]byte(nil), good...)
	flipped[len(flipped)/2] ^= 1
	for _, tc := range []struct {
		name string
		data []byte
	}{{"flipped", flipped}, {"truncated", good[:len(good)-1]}, {"foreign", foreign}} {
		t.Run(tc.name, func(t *testing.T) {
			if err := os.WriteFile(file, tc.data, 0o600); err != nil {
				t.Fatal(err)
			}
			r, n := f.session(t, true)
			if n != 5 || r.Index().Len() != 5 {
				t.Fatalf("read %d index objects, index of %d blobs; want 5 and 5", n, r.Index().Len())
			}
		})
	}
	if err := os.Remove(file); err != nil {
		t.Fatal(err)
	}
	for range 2 {
		if _, n := f.session(t, false); n != 5 {
			t.Fatalf("without CacheIndex read %d index objects, want 5", n)
		}
	}
	if _, err := os.Stat(file); !os.IsNotExist(err) {
		t.Fatalf("without CacheIndex the cache file exists (%v)", err)
	}
}
