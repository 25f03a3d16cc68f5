package repo_test

import (
	"bytes"
	"context"
	"errors"
	"math/rand/v2"
	"testing"

	"lifeboat/engine/compress"
	"lifeboat/engine/enginetest"
	"lifeboat/engine/format"
	"lifeboat/engine/repo"
	"lifeboat/storage/fault"
	"lifeboat/storage/mem"
)

// TestCopyBlobs: prune's repack copy of a pack larger than one read
// (several ranged reads) stores every blob again, in new packs, with its
// stored bytes as they were (compressed or not: same flags and length),
// and the copies read back verified; a blob that fails verification fails
// the copy.
func TestCopyBlobs(t *testing.T) {
	ctx := context.Background()
	m := mem.New()
	st := fault.New(m)
	id, rc := enginetest.Identity(t)
	r, err := repo.Init(ctx, st, repo.InitOptions{Recipient: rc, Host: "test", Compression: compress.LevelFastest, PackSize: 8 << 20})
	if err != nil {
		t.Fatal(err)
	}
	rng := rand.New(rand.NewPCG(3, 4))
	want := map[format.ID][]byte{}
	for i := range 48 {
		data := make([]byte, 256<<10)
		if i%4 != 0 {
			for j := range data { // incompressible: stored as is
				data[j] = byte(rng.Uint32())
			}
		} else {
			copy(data, bytes.Repeat([]byte{byte(i)}, len(data))) // compressed
		}
		bid := r.Hash(data)
		want[bid] = data
		if _, err := r.SaveBlob(ctx, format.BlobData, bid, data); err != nil {
			t.Fatal(err)
		}
	}
	if _, err := r.Flush(ctx); err != nil {
		t.Fatal(err)
	}
	// The pack with the most stored bytes, and its blobs.
	byPack := map[format.ID][]format.Blob{}
	var old repo.PackInfo
	var most int64
	r.Index().Each(func(loc repo.Location) {
		byPack[loc.Pack.ID] = append(byPack[loc.Pack.ID], loc.Blob)
		if loc.Pack.Size > most {
			old, most = loc.Pack, loc.Pack.Size
		}
	})
	blobs := byPack[old.ID]
	if old.Size < 4<<20 {
		t.Fatalf("test setup: a pack of %d bytes, want more than two reads", old.Size)
	}
	before := map[format.ID]bool{}
	for _, p := range r.Index().Packs() {
		before[p.ID] = true
	}
	if err := r.CopyBlobs(ctx, old, blobs); err != nil {
		t.Fatal(err)
	}
	if _, err := r.Flush(ctx); err != nil {
		t.Fatal(err)
	}
	orig := map[format.ID]format.Blob{}
	for _, b := range blobs {
		orig[b.ID] = b
	}
	copied := map[format.ID]bool{}
	var newPacks []repo.PackInfo
	for _, p := range r.Index().Packs() {
		if before[p.ID] {
			continue
		}
		newPacks = append(newPacks, p)
		got, err := r.ReadPackTrailer(ctx, p)
		if err != nil {
			t.Fatal(err)
		}
		err = r.ReadPackBlobs(ctx, p, got, func(b *format.Blob, data []byte, err error) error {
			o, ok := orig[b.ID]
			switch {
			case err != nil:
				t.Errorf("copy of blob %s: %v", b.ID.Short(), err)
			case !ok:
				t.Errorf("blob %s copied, not asked for", b.ID.Short())
			case b.Flags != o.Flags || b.Length != o.Length || b.RawLen != o.RawLen:
				t.Errorf("blob %s copied as flags %d length %d, was flags %d length %d", b.ID.Short(), b.Flags, b.Length, o.Flags, o.Length)
			case !bytes.Equal(data, want[b.ID]):
				t.Errorf("blob %s: copy differs", b.ID.Short())
			}
			copied[b.ID] = true
			return nil
		})
		if err != nil {
			t.Fatal(err)
		}
	}
	if len(copied) != len(blobs) {
		t.Fatalf("%d of %d blobs copied", len(copied), len(blobs))
	}

	// A damaged source fails the copy.
	src := newPacks[0]
	srcBlobs, err := r.ReadPackTrailer(ctx, src)
	if err != nil {
		t.Fatal(err)
	}
	st.Corrupt(fault.Exact(format.PackName(src.ID)))
	r2 := enginetest.Reopen(t, st, id)
	err = r2.CopyBlobs(ctx, src, srcBlobs)
	var ie *repo.IntegrityError
	if !errors.As(err, &ie) {
		t.Fatalf("copy of a damaged pack: %v, want an integrity error", err)
	}
}
