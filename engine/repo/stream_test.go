package repo_test

import (
	"bytes"
	"cmp"
	"context"
	"io"
	"math/rand/v2"
	"slices"
	"sync/atomic"
	"testing"

	"lifeboat/engine/compress"
	"lifeboat/engine/enginetest"
	"lifeboat/engine/format"
	"lifeboat/engine/repo"
	"lifeboat/storage"
	"lifeboat/storage/mem"
)

// countingStorage counts the Gets of data packs.
type countingStorage struct {
	storage.Storage
	gets atomic.Int64
}

func (c *countingStorage) Get(ctx context.Context, name string, off, length int64) (io.ReadCloser, error) {
	if isData(name) {
		c.gets.Add(1)
	}
	return c.Storage.Get(ctx, name, off, length)
}

// onePack stores n incompressible blobs of size bytes in one pack of a new
// repository in st and returns the reopened repository, the blobs' data by
// ID and their locations in offset order.
func onePack(t *testing.T, st storage.Storage, n, size int) (*repo.Repository, map[format.ID][]byte, repo.PackInfo, []format.Blob) {
	t.Helper()
	ctx := context.Background()
	id, rc := enginetest.Identity(t)
	r, err := repo.Init(ctx, st, repo.InitOptions{
		Options:     repo.Options{Rand: rand.NewChaCha8([32]byte{4})},
		Recipient:   rc,
		Host:        "test",
		Chunker:     enginetest.SmallParams,
		Compression: compress.LevelFastest,
		PackSize:    int64(n*size) + 1<<20,
	})
	if err != nil {
		t.Fatal(err)
	}
	src := rand.NewChaCha8([32]byte{5})
	data := map[format.ID][]byte{}
	var ids []format.ID
	for range n {
		b := make([]byte, size)
		_, _ = src.Read(b)
		h := r.Hash(b)
		if _, err := r.SaveBlob(ctx, format.BlobData, h, b); err != nil {
			t.Fatal(err)
		}
		data[h] = b
		ids = append(ids, h)
	}
	if _, err := r.Flush(ctx); err != nil {
		t.Fatal(err)
	}
	r = enginetest.Reopen(t, st, id)
	// The writer may spread blobs over several open packs: take the
	// fullest.
	byPack := map[format.ID][]format.Blob{}
	infos := map[format.ID]repo.PackInfo{}
	for i, h := range ids {
		loc, ok := r.Index().Lookup(h)
		if !ok {
			t.Fatalf("blob %d not indexed", i)
		}
		byPack[loc.Pack.ID] = append(byPack[loc.Pack.ID], loc.Blob)
		infos[loc.Pack.ID] = loc.Pack
	}
	var pack repo.PackInfo
	var blobs []format.Blob
	for p, bs := range byPack {
		if len(bs) > len(blobs) {
			pack, blobs = infos[p], bs
		}
	}
	if len(blobs) < 40 {
		t.Fatalf("fullest pack holds %d blobs, want at least 40", len(blobs))
	}
	slices.SortFunc(blobs, func(a, b format.Blob) int { return cmp.Compare(a.Offset, b.Offset) })
	return r, data, pack, blobs
}

// readAll reads blobs of pack and checks that each comes exactly once with
// its data.
func readAll(t *testing.T, r *repo.Repository, pack repo.PackInfo, blobs []format.Blob, data map[format.ID][]byte) {
	t.Helper()
	seen := map[format.ID]int{}
	err := r.ReadPackBlobs(context.Background(), pack, blobs, func(b *format.Blob, got []byte, err error) error {
		seen[b.ID]++
		if err != nil {
			t.Errorf("blob %s: %v", b.ID.Short(), err)
		} else if !bytes.Equal(got, data[b.ID]) {
			t.Errorf("blob %s: wrong data", b.ID.Short())
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	for _, b := range blobs {
		if seen[b.ID] != 1 {
			t.Errorf("blob %s delivered %d times, want once", b.ID.Short(), seen[b.ID])
		}
	}
}

// A pack's blobs are read with one streamed request (and one for the final
// chunk, which authenticates the size), not a request per window; a second
// read of the same pack needs neither header nor final chunk again.
func TestReadPackBlobsStreamsThePack(t *testing.T) {
	st := &countingStorage{Storage: mem.New()}
	r, data, pack, blobs := onePack(t, st, 80, 100<<10) // at least 4 MB: two windows or more
	st.gets.Store(0)
	readAll(t, r, pack, blobs, data)
	if n := st.gets.Load(); n > 2 {
		t.Errorf("reading a pack of %d bytes took %d requests, want at most 2", pack.Size, n)
	}
	st.gets.Store(0)
	readAll(t, r, pack, blobs[20:40], data)
	if n := st.gets.Load(); n != 1 {
		t.Errorf("reading part of a pack again took %d requests, want 1", n)
	}
	// Blobs far apart are separate runs: a request each, the gap skipped.
	st.gets.Store(0)
	readAll(t, r, pack, []format.Blob{blobs[0], blobs[len(blobs)-1]}, data)
	if n := st.gets.Load(); n != 2 {
		t.Errorf("reading two distant blobs took %d requests, want 2", n)
	}
}

// A region whose body breaks off mid-stream has served the blobs before
// the break; the next region serves the rest, and every blob is handed
// over exactly once.
func TestReadPackBlobsContinuesInTheNextRegion(t *testing.T) {
	set, faults := threeRegions(t)
	r, data, pack, blobs := onePack(t, set, 80, 100<<10)
	faults[0].Truncate(isData, 3<<20)
	readAll(t, r, pack, blobs, data)
	stats := r.ReadStats()
	a, b := stats.Regions["a"], stats.Regions["b"]
	if a == nil || a.Bytes == 0 || b == nil || b.Bytes == 0 {
		t.Fatalf("want part of the pack from a and the rest from b: %+v %+v", a, b)
	}
	var want int64
	for _, bl := range blobs {
		want += int64(bl.Length)
	}
	if b.Bytes >= want {
		t.Errorf("region b served %d bytes of the %d: it read again what a had served", b.Bytes, want)
	}
}
