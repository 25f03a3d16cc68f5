package crypto

import (
	"bytes"
	"errors"
	"fmt"
	"io"
	"sync"
	"testing"
	"testing/cryptotest"
)

func TestHeaderSize(t *testing.T) {
	cryptotest.SetGlobalRandom(t, 1)
	if HeaderSize != 190 {
		t.Errorf("HeaderSize = %d, want 190", HeaderSize)
	}
	k := testMaster(t, 0).DataKey()
	for _, n := range []int{0, 5, 70000} {
		sealed, err := k.Seal(make([]byte, n))
		if err != nil {
			t.Fatal(err)
		}
		// The header ends with the MAC line, "--- " + 43 base64 chars + "\n";
		// the 16-byte nonce follows.
		i := bytes.Index(sealed, []byte("\n--- "))
		if i < 0 {
			t.Fatal("no MAC line")
		}
		j := bytes.IndexByte(sealed[i+1:], '\n')
		if got := i + 1 + j + 1 + nonceSize; got != HeaderSize {
			t.Errorf("seal of %d bytes: header+nonce is %d bytes, HeaderSize %d", n, got, HeaderSize)
		}
		if !bytes.HasPrefix(sealed, []byte("age-encryption.org/v1\n-> lifeboat-dk ")) {
			t.Errorf("unexpected header start %q", sealed[:40])
		}
	}
}

func TestSealedSize(t *testing.T) {
	cryptotest.SetGlobalRandom(t, 2)
	k := testMaster(t, 0).DataKey()
	for _, tc := range []struct {
		n    int
		want int64
	}{
		{0, 190 + 16},
		{1, 190 + 1 + 16},
		{65535, 190 + 65535 + 16},
		{65536, 190 + 65536 + 16},
		{65537, 190 + 65537 + 32},
		{3<<20 + 5, 190 + 3<<20 + 5 + 49*16},
	} {
		t.Run(fmt.Sprint(tc.n), func(t *testing.T) {
			if got := SealedSize(int64(tc.n)); got != tc.want {
				t.Fatalf("SealedSize = %d, want %d", got, tc.want)
			}
			plain := testData(uint64(tc.n), tc.n)
			sealed, err := k.Seal(plain)
			if err != nil {
				t.Fatal(err)
			}
			if int64(len(sealed)) != tc.want {
				t.Errorf("Seal gave %d bytes, SealedSize says %d", len(sealed), tc.want)
			}
			var buf bytes.Buffer
			w, err := k.SealWriter(&buf)
			if err != nil {
				t.Fatal(err)
			}
			writeInPieces(t, w, plain, 10000)
			if err := w.Close(); err != nil {
				t.Fatal(err)
			}
			if int64(buf.Len()) != tc.want {
				t.Errorf("SealWriter gave %d bytes, SealedSize says %d", buf.Len(), tc.want)
			}
			for name, s := range map[string][]byte{"Seal": sealed, "SealWriter": buf.Bytes()} {
				got, err := k.Open(s)
				if err != nil {
					t.Fatalf("%s: Open: %v", name, err)
				}
				if !bytes.Equal(got, plain) {
					t.Errorf("%s: round trip changed the data", name)
				}
			}
		})
	}
	if got := SealedSize(-5); got != SealedSize(0) {
		t.Errorf("SealedSize(-5) = %d", got)
	}
}

func writeInPieces(t *testing.T, w io.Writer, data []byte, piece int) {
	t.Helper()
	for len(data) > 0 {
		n := min(piece, len(data))
		if m, err := w.Write(data[:n]); err != nil || m != n {
			t.Fatalf("Write = %d, %v", m, err)
		}
		data = data[n:]
	}
}

// countingWriter records the size of every Write.
type countingWriter struct {
	bytes.Buffer
	writes []int
}

func (c *countingWriter) Write(p []byte) (int, error) {
	c.writes = append(c.writes, len(p))
	return c.Buffer.Write(p)
}

func TestSealWriterWrites(t *testing.T) {
	cryptotest.SetGlobalRandom(t, 3)
	k := testMaster(t, 0).DataKey()
	var cw countingWriter
	w, err := k.SealWriter(&cw)
	if err != nil {
		t.Fatal(err)
	}
	writeInPieces(t, w, testData(1, 2*chunkSize+10), 1000)
	if err := w.Close(); err != nil {
		t.Fatal(err)
	}
	want := []int{HeaderSize, encChunkSize, encChunkSize, 10 + tagSize}
	if fmt.Sprint(cw.writes) != fmt.Sprint(want) {
		t.Errorf("writes %v, want %v", cw.writes, want)
	}
	if _, err := w.Write([]byte("x")); err == nil {
		t.Error("Write after Close succeeded")
	}
}

type failWriter struct{ err error }

func (f failWriter) Write([]byte) (int, error) { return 0, f.err }

func TestSealWriterDstError(t *testing.T) {
	boom := errors.New("boom")
	w, err := testMaster(t, 0).DataKey().SealWriter(failWriter{boom})
	if err == nil {
		// The header is buffered until the nonce; whichever step fails must
		// carry the destination's error.
		_, err = w.Write(make([]byte, 3*chunkSize))
		if err == nil {
			err = w.Close()
		}
	}
	if !errors.Is(err, boom) {
		t.Errorf("error %v does not wrap the writer's error", err)
	}
}

func TestOpenWrongKey(t *testing.T) {
	cryptotest.SetGlobalRandom(t, 4)
	sealed, err := testMaster(t, 0).DataKey().Seal([]byte("secret"))
	if err != nil {
		t.Fatal(err)
	}
	_, err = testMaster(t, 1).DataKey().Open(sealed)
	if !errors.Is(err, ErrWrongKey) || errors.Is(err, ErrCorrupt) {
		t.Errorf("Open with another key: %v, want ErrWrongKey only", err)
	}
	_, _, err = testMaster(t, 1).DataKey().OpenReaderAt(bytes.NewReader(sealed), int64(len(sealed)))
	if !errors.Is(err, ErrWrongKey) {
		t.Errorf("OpenReaderAt with another key: %v, want ErrWrongKey", err)
	}
}

func TestOpenNotASeal(t *testing.T) {
	cryptotest.SetGlobalRandom(t, 5)
	_, rec, err := GenerateX25519()
	if err != nil {
		t.Fatal(err)
	}
	r, err := ParseRecipient(rec)
	if err != nil {
		t.Fatal(err)
	}
	wrapped, err := WrapMasterKey(testMaster(t, 0), r)
	if err != nil {
		t.Fatal(err)
	}
	k := testMaster(t, 0).DataKey()
	for name, data := range map[string][]byte{
		"empty":        nil,
		"garbage":      bytes.Repeat([]byte("x"), 400),
		"x25519 file":  wrapped,
		"header only":  []byte("age-encryption.org/v1\n"),
		"zeros 206":    make([]byte, 206),
		"short header": []byte("age-encryption.org/v1\n-> lifeboat-dk\n"),
	} {
		t.Run(name, func(t *testing.T) {
			_, err := k.Open(data)
			if !errors.Is(err, ErrCorrupt) || errors.Is(err, ErrWrongKey) {
				t.Errorf("Open: %v, want ErrCorrupt only", err)
			}
		})
	}
}

// TestOpenEveryByteFlip flips every bit pattern 0x01, 0x80, 0xff of every
// byte of a 300-byte seal: each must be detected as corruption (not as a
// wrong key).
func TestOpenEveryByteFlip(t *testing.T) {
	cryptotest.SetGlobalRandom(t, 6)
	k := testMaster(t, 0).DataKey()
	plain := testData(6, 300-HeaderSize-tagSize)
	sealed, err := k.Seal(plain)
	if err != nil {
		t.Fatal(err)
	}
	if len(sealed) != 300 {
		t.Fatalf("seal is %d bytes", len(sealed))
	}
	if _, err := k.Open(sealed); err != nil {
		t.Fatal(err)
	}
	mut := make([]byte, len(sealed))
	for i := range sealed {
		for _, x := range []byte{0x01, 0x80, 0xff} {
			copy(mut, sealed)
			mut[i] ^= x
			_, err := k.Open(mut)
			if !errors.Is(err, ErrCorrupt) || errors.Is(err, ErrWrongKey) {
				t.Errorf("byte %d ^ %#x: %v, want ErrCorrupt only", i, x, err)
			}
		}
	}
}

func TestOpenTruncatedOrExtended(t *testing.T) {
	cryptotest.SetGlobalRandom(t, 7)
	k := testMaster(t, 0).DataKey()
	small, err := k.Seal(testData(7, 100))
	if err != nil {
		t.Fatal(err)
	}
	for n := range len(small) {
		if _, err := k.Open(small[:n]); !errors.Is(err, ErrCorrupt) {
			t.Errorf("truncated to %d: %v, want ErrCorrupt", n, err)
		}
	}
	big, err := k.Seal(testData(8, 3*chunkSize+100))
	if err != nil {
		t.Fatal(err)
	}
	swapped := bytes.Clone(big)
	c0 := swapped[HeaderSize : HeaderSize+encChunkSize]
	c1 := bytes.Clone(swapped[HeaderSize+encChunkSize : HeaderSize+2*encChunkSize])
	copy(swapped[HeaderSize+encChunkSize:], c0)
	copy(c0, c1)
	for name, data := range map[string][]byte{
		"drop final chunk":   big[:HeaderSize+3*encChunkSize],
		"drop two chunks":    big[:HeaderSize+2*encChunkSize],
		"cut inside chunk":   big[:HeaderSize+2*encChunkSize+5],
		"appended byte":      append(bytes.Clone(big), 0),
		"appended chunk":     append(bytes.Clone(big), big[HeaderSize:HeaderSize+encChunkSize]...),
		"swapped chunks":     swapped,
		"small appended":     append(bytes.Clone(small), 'x'),
		"small doubled tail": append(bytes.Clone(small), small[HeaderSize:]...),
	} {
		t.Run(name, func(t *testing.T) {
			if _, err := k.Open(data); !errors.Is(err, ErrCorrupt) {
				t.Errorf("Open: %v, want ErrCorrupt", err)
			}
		})
	}
}

func TestOpenReaderAt(t *testing.T) {
	cryptotest.SetGlobalRandom(t, 8)
	k := testMaster(t, 0).DataKey()
	plain := testData(9, 3<<20+5)
	sealed, err := k.Seal(plain)
	if err != nil {
		t.Fatal(err)
	}
	r, size, err := k.OpenReaderAt(bytes.NewReader(sealed), int64(len(sealed)))
	if err != nil {
		t.Fatal(err)
	}
	if size != int64(len(plain)) {
		t.Fatalf("size %d, want %d", size, len(plain))
	}
	for _, tc := range []struct{ off, n int64 }{
		{0, 1}, {0, 100}, {65535, 2}, {65536, 65536}, {100, 3 * 65536},
		{size - 5, 5}, {size - 70000, 70000}, {1 << 20, 1 << 20}, {0, size},
	} {
		t.Run(fmt.Sprintf("%d+%d", tc.off, tc.n), func(t *testing.T) {
			p := make([]byte, tc.n)
			n, err := r.ReadAt(p, tc.off)
			if n != len(p) || (err != nil && err != io.EOF) {
				t.Fatalf("ReadAt = %d, %v", n, err)
			}
			if tc.off+tc.n < size && err != nil {
				t.Errorf("ReadAt inside the object returned %v", err)
			}
			if !bytes.Equal(p, plain[tc.off:tc.off+tc.n]) {
				t.Error("wrong plaintext")
			}
		})
	}
	t.Run("past end", func(t *testing.T) {
		p := make([]byte, 10)
		n, err := r.ReadAt(p, size-4)
		if n != 4 || err != io.EOF || !bytes.Equal(p[:4], plain[size-4:]) {
			t.Errorf("ReadAt over the end = %d, %v", n, err)
		}
		if n, err := r.ReadAt(p, size); n != 0 || err != io.EOF {
			t.Errorf("ReadAt at end = %d, %v", n, err)
		}
		if n, err := r.ReadAt(p, size+100); n != 0 || err != io.EOF {
			t.Errorf("ReadAt past end = %d, %v", n, err)
		}
		if _, err := r.ReadAt(p, -1); err == nil || err == io.EOF {
			t.Errorf("ReadAt(-1) = %v", err)
		}
	})
	t.Run("concurrent", func(t *testing.T) {
		var wg sync.WaitGroup
		var mu sync.Mutex
		bad := 0
		for g := range 4 {
			wg.Go(func() {
				p := make([]byte, 5000)
				for i := range 20 {
					off := int64((g*7919 + i*65521) % int(size-5000))
					if n, err := r.ReadAt(p, off); n != len(p) || (err != nil && err != io.EOF) || !bytes.Equal(p, plain[off:off+5000]) {
						mu.Lock()
						bad++
						mu.Unlock()
					}
				}
			})
		}
		wg.Wait()
		if bad != 0 {
			t.Errorf("%d concurrent reads failed", bad)
		}
	})
}

func TestOpenReaderAtCorruptChunk(t *testing.T) {
	cryptotest.SetGlobalRandom(t, 9)
	k := testMaster(t, 0).DataKey()
	plain := testData(10, 3*chunkSize)
	sealed, err := k.Seal(plain)
	if err != nil {
		t.Fatal(err)
	}
	sealed[HeaderSize+encChunkSize+10] ^= 1 // inside chunk 1
	r, _, err := k.OpenReaderAt(bytes.NewReader(sealed), int64(len(sealed)))
	if err != nil {
		t.Fatalf("OpenReaderAt checks only header and final chunk, got %v", err)
	}
	p := make([]byte, 100)
	if _, err := r.ReadAt(p, 0); err != nil {
		t.Errorf("reading intact chunk 0: %v", err)
	}
	if _, err := r.ReadAt(p, chunkSize+5); !errors.Is(err, ErrCorrupt) {
		t.Errorf("reading tampered chunk 1: %v, want ErrCorrupt", err)
	}
}

// rangeReaderAt serves only the allowed ranges of data and fails with
// errOutside for any byte outside them.
type rangeReaderAt struct {
	data    []byte
	allowed [][2]int64 // [off, end)
}

var errOutside = errors.New("read outside the allowed ranges")

func (r *rangeReaderAt) ReadAt(p []byte, off int64) (int, error) {
	end := off + int64(len(p))
	for _, a := range r.allowed {
		if off >= a[0] && end <= a[1] {
			n := copy(p, r.data[off:min(end, int64(len(r.data)))])
			if n < len(p) {
				return n, io.EOF
			}
			return n, nil
		}
	}
	return 0, fmt.Errorf("[%d, %d): %w", off, end, errOutside)
}

func TestSealedRangeGolden(t *testing.T) {
	const e = encChunkSize
	big := int64(10 * chunkSize)
	for _, tc := range []struct {
		off, n, size int64
		wantOff      int64
		wantLen      int64
	}{
		{0, 0, 0, HeaderSize, tagSize},
		{0, 10, 0, HeaderSize, tagSize},
		{0, 1, 100, HeaderSize, 100 + tagSize},
		{0, 1, big, HeaderSize, e},
		{65535, 2, big, HeaderSize, 2 * e},
		{65536, 65536, big, HeaderSize + e, e},
		{65536, 65537, big, HeaderSize + e, 2 * e},
		{big - 1, 1, big, HeaderSize + 9*e, e},
		{big, 0, big, HeaderSize + 9*e, e},     // at the end: final chunk
		{big + 7, 5, big, HeaderSize + 9*e, e}, // past the end: clipped
		{-3, 2, 100, HeaderSize, 100 + tagSize},
		{5 * chunkSize, 1 << 40, big + 3, HeaderSize + 5*e, 5*e + 3 + tagSize},
	} {
		t.Run(fmt.Sprintf("%d+%d/%d", tc.off, tc.n, tc.size), func(t *testing.T) {
			off, n := SealedRange(tc.off, tc.n, tc.size)
			if off != tc.wantOff || n != tc.wantLen {
				t.Errorf("SealedRange = (%d, %d), want (%d, %d)", off, n, tc.wantOff, tc.wantLen)
			}
			if off+n > SealedSize(tc.size) {
				t.Errorf("range ends at %d, past the seal's %d bytes", off+n, SealedSize(tc.size))
			}
		})
	}
	if off, n := FinalChunkRange(big + 3); off != HeaderSize+10*e || n != 3+tagSize {
		t.Errorf("FinalChunkRange = (%d, %d)", off, n)
	}
}

// TestSealedRangeSuffices opens through a ReaderAt that serves only the
// header, the final chunk (which age.DecryptReaderAt reads and authenticates
// before returning) and SealedRange of the wanted plaintext; anything else
// fails.
func TestSealedRangeSuffices(t *testing.T) {
	cryptotest.SetGlobalRandom(t, 10)
	k := testMaster(t, 0).DataKey()
	plain := testData(11, 5*chunkSize+1234)
	sealed, err := k.Seal(plain)
	if err != nil {
		t.Fatal(err)
	}
	size := int64(len(plain))
	fOff, fLen := FinalChunkRange(size)
	for _, tc := range []struct{ off, n int64 }{
		{0, 1}, {0, chunkSize}, {1, chunkSize}, {chunkSize - 1, 2}, {2 * chunkSize, 3 * chunkSize},
		{3*chunkSize + 17, 1000}, {size - 1, 1}, {size - 1300, 1300}, {0, size},
	} {
		t.Run(fmt.Sprintf("%d+%d", tc.off, tc.n), func(t *testing.T) {
			rOff, rLen := SealedRange(tc.off, tc.n, size)
			src := &rangeReaderAt{data: sealed, allowed: [][2]int64{
				{0, HeaderSize}, {fOff, fOff + fLen}, {rOff, rOff + rLen},
			}}
			r, gotSize, err := k.OpenReaderAt(src, int64(len(sealed)))
			if err != nil {
				t.Fatalf("OpenReaderAt: %v", err)
			}
			if gotSize != size {
				t.Fatalf("size %d", gotSize)
			}
			p := make([]byte, tc.n)
			n, err := r.ReadAt(p, tc.off)
			if n != len(p) || (err != nil && err != io.EOF) {
				t.Fatalf("ReadAt = %d, %v", n, err)
			}
			if !bytes.Equal(p, plain[tc.off:tc.off+tc.n]) {
				t.Error("wrong plaintext")
			}
		})
	}
	t.Run("outside the range fails with the source error", func(t *testing.T) {
		rOff, rLen := SealedRange(0, 10, size)
		src := &rangeReaderAt{data: sealed, allowed: [][2]int64{
			{0, HeaderSize}, {fOff, fOff + fLen}, {rOff, rOff + rLen},
		}}
		r, _, err := k.OpenReaderAt(src, int64(len(sealed)))
		if err != nil {
			t.Fatal(err)
		}
		_, err = r.ReadAt(make([]byte, 10), 2*chunkSize)
		if !errors.Is(err, errOutside) || errors.Is(err, ErrCorrupt) {
			t.Errorf("ReadAt outside: %v, want the source error, not ErrCorrupt", err)
		}
	})
	t.Run("no final chunk fails", func(t *testing.T) {
		src := &rangeReaderAt{data: sealed, allowed: [][2]int64{{0, HeaderSize}}}
		_, _, err := k.OpenReaderAt(src, int64(len(sealed)))
		if !errors.Is(err, errOutside) {
			t.Errorf("OpenReaderAt without final chunk: %v, want the source error", err)
		}
	})
	t.Run("no header fails", func(t *testing.T) {
		src := &rangeReaderAt{data: sealed, allowed: [][2]int64{{fOff, fOff + fLen}}}
		_, _, err := k.OpenReaderAt(src, int64(len(sealed)))
		if !errors.Is(err, errOutside) {
			t.Errorf("OpenReaderAt without header: %v, want the source error", err)
		}
	})
}

func TestConcurrentSeal(t *testing.T) {
	k := testMaster(t, 0).DataKey()
	var wg sync.WaitGroup
	errs := make(chan error, 8)
	for g := range 8 {
		wg.Go(func() {
			plain := testData(uint64(g), 1000*g)
			s, err := k.Seal(plain)
			if err == nil {
				var got []byte
				got, err = k.Open(s)
				if err == nil && !bytes.Equal(got, plain) {
					err = errors.New("round trip changed data")
				}
			}
			errs <- err
		})
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		if err != nil {
			t.Error(err)
		}
	}
}

func TestSealsDiffer(t *testing.T) {
	k := testMaster(t, 0).DataKey()
	a, err := k.Seal([]byte("same"))
	if err != nil {
		t.Fatal(err)
	}
	b, err := k.Seal([]byte("same"))
	if err != nil {
		t.Fatal(err)
	}
	if bytes.Equal(a, b) {
		t.Error("two seals of the same plaintext are identical")
	}
}

func TestAppendSeal(t *testing.T) {
	cryptotest.SetGlobalRandom(t, 11)
	k := testMaster(t, 0).DataKey()
	prefix := []byte("pack header")
	a, b := testData(1, 1000), testData(2, 70000)
	buf, err := k.AppendSeal(bytes.Clone(prefix), a)
	if err != nil {
		t.Fatal(err)
	}
	buf, err = k.AppendSeal(buf, b)
	if err != nil {
		t.Fatal(err)
	}
	la, lb := SealedSize(int64(len(a))), SealedSize(int64(len(b)))
	if int64(len(buf)) != int64(len(prefix))+la+lb || !bytes.HasPrefix(buf, prefix) {
		t.Fatalf("appended %d bytes", len(buf))
	}
	for i, tc := range []struct {
		off, n int64
		want   []byte
	}{{int64(len(prefix)), la, a}, {int64(len(prefix)) + la, lb, b}} {
		got, err := k.Open(buf[tc.off : tc.off+tc.n])
		if err != nil || !bytes.Equal(got, tc.want) {
			t.Errorf("object %d: %v", i, err)
		}
		r, _, err := k.OpenReaderAt(io.NewSectionReader(bytes.NewReader(buf), tc.off, tc.n), tc.n)
		if err != nil {
			t.Fatal(err)
		}
		p := make([]byte, 10)
		if _, err := r.ReadAt(p, 500); err != nil || !bytes.Equal(p, tc.want[500:510]) {
			t.Errorf("object %d ReadAt: %v", i, err)
		}
	}
}
