package repo_test

import (
	"context"
	"math/rand/v2"
	"testing"

	"lifeboat/engine/enginetest"
	"lifeboat/engine/format"
	"lifeboat/storage/mem"
)

// BenchmarkCompressSeal measures the per-blob write path: keyed hash,
// zstd compression, and sealing into a pack (SaveBlob + Flush) on text-like
// and random 1 MiB blobs.
func BenchmarkCompressSeal(b *testing.B) {
	rng := rand.New(rand.NewPCG(1, 2))
	random := make([]byte, 1<<20)
	for i := range random {
		random[i] = byte(rng.Uint32())
	}
	text := make([]byte, 0, 1<<20)
	for len(text) < 1<<20 {
		text = append(text, "2026-11-26T03:00:00Z INFO request served path=/api/v1/items status=200 bytes=5123\n"...)
	}
	text = text[:1<<20]
	for _, tc := range []struct {
		name string
		data []byte
	}{{"text", text}, {"random", random}} {
		b.Run(tc.name, func(b *testing.B) {
			r, _ := enginetest.NewRepo(b, mem.New())
			ctx := context.Background()
			b.SetBytes(int64(len(tc.data)))
			buf := append([]byte(nil), tc.data...)
			for i := 0; i < b.N; i++ {
				buf[i%len(buf)] ^= byte(i) // a new blob each time
				if _, err := r.SaveBlob(ctx, format.BlobData, r.Hash(buf), buf); err != nil {
					b.Fatal(err)
				}
			}
			if _, err := r.Flush(ctx); err != nil {
				b.Fatal(err)
			}
		})
	}
}

// BenchmarkHash measures the keyed blob ID on 1 MiB.
func BenchmarkHash(b *testing.B) {
	r, _ := enginetest.NewRepo(b, mem.New())
	data := make([]byte, 1<<20)
	b.SetBytes(int64(len(data)))
	for i := 0; i < b.N; i++ {
		r.Hash(data)
	}
}
