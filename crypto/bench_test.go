package crypto

import (
	"bytes"
	"crypto/hmac"
	"crypto/sha256"
	"fmt"
	"hash"
	"io"
	"sync"
	"testing"

	"github.com/zeebo/blake3"
)

// hmacIDHasher is the HMAC-SHA-256 candidate for IDHasher, kept here so that
// BenchmarkIDHash can re-run the comparison; pooled like IDHasher.
type hmacIDHasher struct {
	key  []byte
	pool sync.Pool
}

func newHMACIDHasher(key []byte) *hmacIDHasher {
	h := &hmacIDHasher{key: key}
	h.pool.New = func() any { return hmac.New(sha256.New, h.key) }
	return h
}

func (h *hmacIDHasher) Sum(data []byte) [32]byte {
	x := h.pool.Get().(hash.Hash)
	x.Write(data)
	var out [32]byte
	x.Sum(out[:0])
	x.Reset()
	h.pool.Put(x)
	return out
}

// blake3IDHasher is the keyed BLAKE3 candidate, the construction IDHasher
// ships, built directly on the library.
type blake3IDHasher struct {
	proto *blake3.Hasher
	pool  sync.Pool
}

func newBLAKE3IDHasher(key []byte) *blake3IDHasher {
	proto, err := blake3.NewKeyed(key)
	if err != nil {
		panic(err)
	}
	h := &blake3IDHasher{proto: proto}
	h.pool.New = func() any { return h.proto.Clone() }
	return h
}

func (h *blake3IDHasher) Sum(data []byte) [32]byte {
	x := h.pool.Get().(*blake3.Hasher)
	x.Write(data)
	var out [32]byte
	x.Sum(out[:0])
	x.Reset()
	h.pool.Put(x)
	return out
}

// BenchmarkIDHash compares the two ID hash candidates (and the shipped
// IDHasher). Run: go test -run '^$' -bench IDHash -count 5 ./crypto/
func BenchmarkIDHash(b *testing.B) {
	key := bytes.Repeat([]byte{9}, 32)
	candidates := []struct {
		name string
		sum  func([]byte) [32]byte
	}{
		{"hmac-sha256", newHMACIDHasher(key).Sum},
		{"blake3", newBLAKE3IDHasher(key).Sum},
		{"IDHasher", newIDHasher(key).Sum},
	}
	for _, size := range []int{4 << 10, 8 << 10, 64 << 10, 1 << 20} {
		data := testData(uint64(size), size)
		for _, c := range candidates {
			b.Run(fmt.Sprintf("%s/%dKiB", c.name, size>>10), func(b *testing.B) {
				b.SetBytes(int64(size))
				b.ReportAllocs()
				for b.Loop() {
					c.sum(data)
				}
			})
		}
	}
}

func BenchmarkSeal(b *testing.B) {
	k := testMaster(b, 0).DataKey()
	plain := testData(1, 16<<20)
	b.SetBytes(int64(len(plain)))
	b.ReportAllocs()
	for b.Loop() {
		if _, err := k.Seal(plain); err != nil {
			b.Fatal(err)
		}
	}
}

// BenchmarkAppendSeal reuses its output buffer, as a pack writer would: the
// cost of sealing without allocating and faulting in 16 MiB per op.
func BenchmarkAppendSeal(b *testing.B) {
	k := testMaster(b, 0).DataKey()
	plain := testData(1, 16<<20)
	buf := make([]byte, 0, SealedSize(int64(len(plain))))
	b.SetBytes(int64(len(plain)))
	b.ReportAllocs()
	for b.Loop() {
		var err error
		if buf, err = k.AppendSeal(buf[:0], plain); err != nil {
			b.Fatal(err)
		}
	}
}

func BenchmarkSealWriter(b *testing.B) {
	k := testMaster(b, 0).DataKey()
	plain := testData(1, 16<<20)
	b.SetBytes(int64(len(plain)))
	b.ReportAllocs()
	for b.Loop() {
		w, err := k.SealWriter(io.Discard)
		if err != nil {
			b.Fatal(err)
		}
		if _, err := w.Write(plain); err != nil {
			b.Fatal(err)
		}
		if err := w.Close(); err != nil {
			b.Fatal(err)
		}
	}
}

func BenchmarkOpen(b *testing.B) {
	k := testMaster(b, 0).DataKey()
	sealed, err := k.Seal(testData(1, 16<<20))
	if err != nil {
		b.Fatal(err)
	}
	b.SetBytes(16 << 20)
	b.ReportAllocs()
	for b.Loop() {
		if _, err := k.Open(sealed); err != nil {
			b.Fatal(err)
		}
	}
}

// BenchmarkOpenReaderAt opens a 16 MiB object and reads 1 MiB from its
// middle; bytes/s count the 1 MiB.
func BenchmarkOpenReaderAt(b *testing.B) {
	k := testMaster(b, 0).DataKey()
	sealed, err := k.Seal(testData(1, 16<<20))
	if err != nil {
		b.Fatal(err)
	}
	p := make([]byte, 1<<20)
	src := bytes.NewReader(sealed)
	b.SetBytes(int64(len(p)))
	b.ReportAllocs()
	for b.Loop() {
		r, _, err := k.OpenReaderAt(src, int64(len(sealed)))
		if err != nil {
			b.Fatal(err)
		}
		if _, err := r.ReadAt(p, 7<<20+12345); err != nil {
			b.Fatal(err)
		}
	}
}
