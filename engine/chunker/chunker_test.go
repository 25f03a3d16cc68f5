package chunker

import (
	"bytes"
	"crypto/sha256"
	"errors"
	"io"
	"math/rand/v2"
	"sync"
	"testing"
	"testing/iotest"
)

var (
	testSeed  = []byte("lifeboat test seed")
	smallP    = Params{Min: 64, Avg: 256, Max: 1024}
	mediumP   = Params{Min: 2 << 10, Avg: 8 << 10, Max: 64 << 10}
	testGear  = NewGear(testSeed)
	otherGear = NewGear([]byte("another seed"))
)

// randomData returns n deterministic pseudo-random bytes.
func randomData(tb testing.TB, seed uint64, n int) []byte {
	tb.Helper()
	var key [32]byte
	key[0] = byte(seed)
	key[1] = byte(seed >> 8)
	r := rand.NewChaCha8(key)
	b := make([]byte, n)
	if _, err := r.Read(b); err != nil {
		tb.Fatalf("random: %v", err)
	}
	return b
}

var (
	sharedOnce sync.Once
	sharedData []byte
)

// sharedRandom returns 64 MiB of deterministic random data shared by tests;
// callers must not modify it.
func sharedRandom(tb testing.TB) []byte {
	tb.Helper()
	sharedOnce.Do(func() { sharedData = randomData(tb, 100, 64<<20) })
	return sharedData
}

// chunkAll chunks r and returns copies of all chunks.
func chunkAll(tb testing.TB, c *Chunker) [][]byte {
	tb.Helper()
	var out [][]byte
	for range 1 << 24 {
		b, err := c.Next()
		if errors.Is(err, io.EOF) {
			return out
		}
		if err != nil {
			tb.Fatalf("Next: %v", err)
		}
		out = append(out, bytes.Clone(b))
	}
	tb.Fatal("too many chunks")
	return nil
}

func lengths(chunks [][]byte) []int {
	l := make([]int, len(chunks))
	for i, c := range chunks {
		l[i] = len(c)
	}
	return l
}

func TestValidate(t *testing.T) {
	tests := []struct {
		name string
		p    Params
		ok   bool
	}{
		{"default", DefaultParams, true},
		{"small", smallP, true},
		{"min zero", Params{0, 256, 1024}, false},
		{"avg not pow2", Params{64, 300, 1024}, false},
		{"avg too small", Params{8, 32, 1024}, false},
		{"min equals avg", Params{256, 256, 1024}, false},
		{"max equals avg", Params{64, 256, 256}, false},
		{"max too large", Params{64, 256, MaxMax + 1}, false},
		{"negative", Params{-1, -2, -3}, false},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			err := tc.p.Validate()
			if tc.ok && err != nil {
				t.Fatalf("Validate: %v", err)
			}
			if !tc.ok && !errors.Is(err, ErrInvalidParams) {
				t.Fatalf("Validate = %v, want ErrInvalidParams", err)
			}
		})
	}
}

func TestInvalidConfigReportedByNext(t *testing.T) {
	tests := []struct {
		name string
		p    Params
		g    *Gear
		want error
	}{
		{"bad params", Params{10, 20, 30}, testGear, ErrInvalidParams},
		{"nil gear", smallP, nil, ErrNilGear},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			c := New(bytes.NewReader([]byte("data")), tc.p, tc.g)
			if _, err := c.Next(); !errors.Is(err, tc.want) {
				t.Fatalf("Next = %v, want %v", err, tc.want)
			}
			if got := Cut(make([]byte, 100), tc.p, tc.g); got != 100 {
				t.Fatalf("Cut = %d, want 100", got)
			}
		})
	}
}

func TestNewGear(t *testing.T) {
	a, b := NewGear(testSeed), NewGear(testSeed)
	if *a != *b {
		t.Fatal("same seed gave different tables")
	}
	if *a == *otherGear {
		t.Fatal("different seeds gave equal tables")
	}
	seen := map[uint64]bool{}
	for _, v := range a {
		seen[v] = true
	}
	if len(seen) != 256 {
		t.Fatalf("gear has %d distinct values, want 256", len(seen))
	}
}

func TestGearPinned(t *testing.T) {
	// Changing the derivation changes every chunk boundary of every
	// repository; this digest must never change.
	g := NewGear([]byte("pin"))
	var buf bytes.Buffer
	for _, v := range g {
		for i := range 8 {
			buf.WriteByte(byte(v >> (8 * i)))
		}
	}
	sum := sha256.Sum256(buf.Bytes())
	const want = "17a3bb3ad35e8305"
	if got := hexString(sum[:8]); got != want {
		t.Fatalf("gear digest = %s, want %s", got, want)
	}
}

func hexString(b []byte) string {
	const digits = "0123456789abcdef"
	out := make([]byte, 0, 2*len(b))
	for _, c := range b {
		out = append(out, digits[c>>4], digits[c&15])
	}
	return string(out)
}

func TestSmallInputs(t *testing.T) {
	tests := []struct {
		name string
		n    int
		want []int
	}{
		{"empty", 0, nil},
		{"one byte", 1, []int{1}},
		{"below min", smallP.Min - 1, []int{smallP.Min - 1}},
		{"exactly min", smallP.Min, []int{smallP.Min}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			data := randomData(t, 1, tc.n)
			got := lengths(chunkAll(t, New(bytes.NewReader(data), smallP, testGear)))
			if len(got) != len(tc.want) {
				t.Fatalf("chunks %v, want %v", got, tc.want)
			}
			for i := range got {
				if got[i] != tc.want[i] {
					t.Fatalf("chunks %v, want %v", got, tc.want)
				}
			}
		})
	}
}

func TestChunkSizesAndReassembly(t *testing.T) {
	tests := []struct {
		name string
		p    Params
		n    int
	}{
		{"small params", smallP, 1 << 20},
		{"medium params", mediumP, 4 << 20},
		{"default params", DefaultParams, 20 << 20},
		{"min 1", Params{Min: 1, Avg: 64, Max: 128}, 64 << 10},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			data := randomData(t, 2, tc.n)
			chunks := chunkAll(t, New(bytes.NewReader(data), tc.p, testGear))
			if got := bytes.Join(chunks, nil); !bytes.Equal(got, data) {
				t.Fatal("chunks do not reassemble the input")
			}
			for i, c := range chunks {
				last := i == len(chunks)-1
				if len(c) > tc.p.Max || len(c) == 0 || (!last && len(c) < tc.p.Min) {
					t.Fatalf("chunk %d/%d has length %d outside [%d,%d]", i, len(chunks), len(c), tc.p.Min, tc.p.Max)
				}
			}
		})
	}
}

func TestAllZeroesHitsMax(t *testing.T) {
	// A constant stream never satisfies the cut condition unless the gear
	// value of the byte does; either way every chunk must respect Max.
	data := make([]byte, 10*smallP.Max+7)
	chunks := chunkAll(t, New(bytes.NewReader(data), smallP, testGear))
	for i, c := range chunks {
		if len(c) > smallP.Max || (i < len(chunks)-1 && len(c) < smallP.Min) {
			t.Fatalf("chunk %d has length %d", i, len(c))
		}
	}
	if got := bytes.Join(chunks, nil); !bytes.Equal(got, data) {
		t.Fatal("chunks do not reassemble the input")
	}
}

func TestAverageSize(t *testing.T) {
	tests := []struct {
		name string
		p    Params
		n    int
	}{
		{"default params 64MiB", DefaultParams, 64 << 20},
		{"medium params", mediumP, 16 << 20},
		{"small params", smallP, 4 << 20},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			chunks := chunkHashes(t, sharedRandom(t)[:tc.n], tc.p, testGear)
			avg := float64(tc.n) / float64(len(chunks))
			ratio := avg / float64(tc.p.Avg)
			t.Logf("%d chunks, mean %.0f bytes = %.3f x Avg", len(chunks), avg, ratio)
			if ratio < 0.75 || ratio > 1.25 {
				t.Fatalf("mean chunk size %.0f is not within 25%% of Avg %d", avg, tc.p.Avg)
			}
		})
	}
}

func TestDeterministic(t *testing.T) {
	data := randomData(t, 4, 8<<20)
	a := lengths(chunkAll(t, New(bytes.NewReader(data), mediumP, testGear)))
	b := lengths(chunkAll(t, New(bytes.NewReader(data), mediumP, NewGear(testSeed))))
	if len(a) != len(b) {
		t.Fatalf("%d vs %d chunks", len(a), len(b))
	}
	for i := range a {
		if a[i] != b[i] {
			t.Fatalf("chunk %d: %d vs %d bytes", i, a[i], b[i])
		}
	}
}

func TestCutMatchesNext(t *testing.T) {
	data := randomData(t, 5, 1<<20)
	chunks := chunkAll(t, New(bytes.NewReader(data), mediumP, testGear))
	off := 0
	for i, c := range chunks {
		if got := Cut(data[off:], mediumP, testGear); got != len(c) {
			t.Fatalf("chunk %d: Cut = %d, Next gave %d", i, got, len(c))
		}
		off += len(c)
	}
}

// chunkHashes chunks data and returns the SHA-256 of every chunk, without
// copying the chunks.
func chunkHashes(tb testing.TB, data []byte, p Params, g *Gear) [][32]byte {
	tb.Helper()
	c := New(bytes.NewReader(data), p, g)
	var out [][32]byte
	for range 1 << 24 {
		b, err := c.Next()
		if errors.Is(err, io.EOF) {
			return out
		}
		if err != nil {
			tb.Fatalf("Next: %v", err)
		}
		out = append(out, sha256.Sum256(b))
	}
	tb.Fatal("too many chunks")
	return nil
}

func hashSet(hashes [][32]byte) map[[32]byte]bool {
	m := make(map[[32]byte]bool, len(hashes))
	for _, h := range hashes {
		m[h] = true
	}
	return m
}

func TestResynchronizeAfterEdit(t *testing.T) {
	const size = 32 << 20
	data := sharedRandom(t)[:size]
	insert := randomData(t, 7, 333)
	edits := []struct {
		name   string
		edited func() []byte
	}{
		{"insert 333 bytes", func() []byte {
			return append(append(bytes.Clone(data[:size/2]), insert...), data[size/2:]...)
		}},
		{"delete 333 bytes", func() []byte { return append(bytes.Clone(data[:size/2]), data[size/2+333:]...) }},
		{"overwrite 333 bytes", func() []byte {
			return append(append(bytes.Clone(data[:size/2]), insert...), data[size/2+333:]...)
		}},
	}
	for _, pc := range []struct {
		name string
		p    Params
	}{{"medium", mediumP}, {"default", DefaultParams}} {
		origSet := hashSet(chunkHashes(t, data, pc.p, testGear))
		for _, e := range edits {
			t.Run(pc.name+"/"+e.name, func(t *testing.T) {
				edited := e.edited()
				c := New(bytes.NewReader(edited), pc.p, testGear)
				var total, totalShared, after, afterShared int
				off := 0
				for range 1 << 20 {
					b, err := c.Next()
					if errors.Is(err, io.EOF) {
						break
					}
					if err != nil {
						t.Fatal(err)
					}
					shared := origSet[sha256.Sum256(b)]
					total++
					if shared {
						totalShared++
					}
					if off > size/2 { // chunk starts after the edit point
						after++
						if shared {
							afterShared++
						}
					}
					off += len(b)
				}
				t.Logf("%d/%d chunks after the edit shared, %d/%d overall", afterShared, after, totalShared, total)
				if after < 5 {
					t.Fatalf("only %d chunks after the edit", after)
				}
				if frac := float64(afterShared) / float64(after); frac < 0.8 {
					t.Fatalf("%d of %d chunks after the edit are shared (< 80%%)", afterShared, after)
				}
				if totalShared < total-3 {
					t.Fatalf("only %d of %d chunks shared", totalShared, total)
				}
			})
		}
	}
}

func TestDifferentSeedsDifferentBoundaries(t *testing.T) {
	data := sharedRandom(t)[:4<<20]
	a := hashSet(chunkHashes(t, data, mediumP, testGear))
	b := chunkHashes(t, data, mediumP, otherGear)
	shared := 0
	for _, h := range b {
		if a[h] {
			shared++
		}
	}
	if shared > len(b)/10 {
		t.Fatalf("%d of %d chunks identical under a different seed", shared, len(b))
	}
}

func TestShortReads(t *testing.T) {
	data := randomData(t, 9, 256<<10)
	want := lengths(chunkAll(t, New(bytes.NewReader(data), smallP, testGear)))
	tests := []struct {
		name string
		r    func([]byte) io.Reader
	}{
		{"one byte", func(b []byte) io.Reader { return iotest.OneByteReader(bytes.NewReader(b)) }},
		{"half", func(b []byte) io.Reader { return iotest.HalfReader(bytes.NewReader(b)) }},
		{"data with EOF", func(b []byte) io.Reader { return iotest.DataErrReader(bytes.NewReader(b)) }},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			chunks := chunkAll(t, New(tc.r(data), smallP, testGear))
			got := lengths(chunks)
			if len(got) != len(want) {
				t.Fatalf("%d chunks, want %d", len(got), len(want))
			}
			for i := range got {
				if got[i] != want[i] {
					t.Fatalf("chunk %d: %d bytes, want %d", i, got[i], want[i])
				}
			}
			if !bytes.Equal(bytes.Join(chunks, nil), data) {
				t.Fatal("chunks do not reassemble the input")
			}
		})
	}
}

type zeroReader struct{}

func (zeroReader) Read([]byte) (int, error) { return 0, nil }

type badCountReader struct{}

func (badCountReader) Read(p []byte) (int, error) { return len(p) + 1, nil }

func TestReaderErrors(t *testing.T) {
	errBoom := errors.New("boom")
	data := randomData(t, 10, 16<<10)
	tests := []struct {
		name string
		r    io.Reader
		want error
	}{
		{"error at start", iotest.ErrReader(errBoom), errBoom},
		{"error after data", io.MultiReader(bytes.NewReader(data), iotest.ErrReader(errBoom)), errBoom},
		{"timeout", iotest.TimeoutReader(bytes.NewReader(data)), iotest.ErrTimeout},
		{"no progress", zeroReader{}, io.ErrNoProgress},
		{"nil reader", nil, nil},
		{"bad count", badCountReader{}, nil},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			c := New(tc.r, smallP, testGear)
			var err error
			for range 1 << 16 {
				if _, err = c.Next(); err != nil {
					break
				}
			}
			if err == nil || errors.Is(err, io.EOF) {
				t.Fatalf("Next = %v, want an error", err)
			}
			if tc.want != nil && !errors.Is(err, tc.want) {
				t.Fatalf("Next = %v, want %v", err, tc.want)
			}
			if _, again := c.Next(); !errors.Is(again, err) {
				t.Fatalf("error not sticky: %v", again)
			}
		})
	}
}

func TestResetReuse(t *testing.T) {
	files := [][]byte{
		randomData(t, 11, 300<<10),
		nil,
		randomData(t, 12, 10),
		randomData(t, 13, 1<<20),
	}
	c := New(nil, mediumP, testGear)
	var buf []byte
	for i, f := range files {
		c.Reset(bytes.NewReader(f))
		got := chunkAll(t, c)
		want := chunkAll(t, New(bytes.NewReader(f), mediumP, testGear))
		if len(got) != len(want) {
			t.Fatalf("file %d: %d chunks, want %d", i, len(got), len(want))
		}
		for j := range got {
			if !bytes.Equal(got[j], want[j]) {
				t.Fatalf("file %d chunk %d differs", i, j)
			}
		}
		if buf == nil {
			buf = c.buf
		} else if &c.buf[0] != &buf[0] {
			t.Fatalf("file %d: buffer reallocated", i)
		}
	}
	// Reset in the middle of a stream discards the rest.
	c.Reset(bytes.NewReader(files[3]))
	if _, err := c.Next(); err != nil {
		t.Fatal(err)
	}
	c.Reset(bytes.NewReader(files[0]))
	if got := bytes.Join(chunkAll(t, c), nil); !bytes.Equal(got, files[0]) {
		t.Fatal("reset mid-stream: wrong data")
	}
	// Reset clears a sticky error.
	c.Reset(iotest.ErrReader(errors.New("x")))
	if _, err := c.Next(); err == nil {
		t.Fatal("want error")
	}
	c.Reset(bytes.NewReader(files[2]))
	if got := bytes.Join(chunkAll(t, c), nil); !bytes.Equal(got, files[2]) {
		t.Fatal("reset after error: wrong data")
	}
}

func TestResetNoAllocs(t *testing.T) {
	data := randomData(t, 14, 512<<10)
	c := New(nil, mediumP, testGear)
	r := bytes.NewReader(data)
	run := func() {
		r.Reset(data)
		c.Reset(r)
		for {
			if _, err := c.Next(); err != nil {
				return
			}
		}
	}
	run()
	if allocs := testing.AllocsPerRun(5, run); allocs != 0 {
		t.Fatalf("%v allocations per file, want 0", allocs)
	}
}
