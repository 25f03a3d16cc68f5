package compress

import (
	"bytes"
	"errors"
	"fmt"
	"math/rand/v2"
	"runtime"
	"sync"
	"testing"

	"github.com/klauspost/compress/zstd"
)

var levels = []Level{LevelFastest, LevelDefault, LevelBetter, LevelBest}

// randomData returns n deterministic pseudo-random bytes.
func randomData(tb testing.TB, seed uint64, n int) []byte {
	tb.Helper()
	var key [32]byte
	key[0] = byte(seed)
	b := make([]byte, n)
	if _, err := rand.NewChaCha8(key).Read(b); err != nil {
		tb.Fatalf("random: %v", err)
	}
	return b
}

// textData returns about n bytes of deterministic log-like lines.
func textData(tb testing.TB, seed uint64, n int) []byte {
	tb.Helper()
	r := rand.New(rand.NewPCG(seed, 1))
	levels := []string{"INFO", "WARN", "DEBUG", "ERROR"}
	words := []string{"backup", "chunk", "upload", "region", "snapshot", "index", "pack", "retry", "done", "started", "bytes", "file", "dir", "skipped", "changed"}
	var b bytes.Buffer
	for b.Len() < n {
		fmt.Fprintf(&b, "2026-01-%02d 12:%02d:%02d.%03d %-5s [worker-%d] %s %s %s id=%08x size=%d\n",
			1+r.IntN(28), r.IntN(60), r.IntN(60), r.IntN(1000), levels[r.IntN(len(levels))], r.IntN(4),
			words[r.IntN(len(words))], words[r.IntN(len(words))], words[r.IntN(len(words))], r.Uint32(), r.IntN(1<<24))
	}
	return b.Bytes()[:n]
}

func TestLevelFor(t *testing.T) {
	tests := []struct {
		l    Level
		n    int
		want Level
	}{
		{LevelAuto, 1, LevelDefault},
		{LevelAuto, AutoSmall - 1, LevelDefault},
		{LevelAuto, AutoSmall, LevelFastest},
		{LevelAuto, 8 << 20, LevelFastest},
		{LevelBetter, 1, LevelBetter},
		{LevelFastest, 8 << 20, LevelFastest},
	}
	for _, tc := range tests {
		if got := tc.l.For(tc.n); got != tc.want {
			t.Errorf("%v.For(%d) = %v, want %v", tc.l, tc.n, got, tc.want)
		}
	}
	// Auto's output is that of the level it picks.
	for _, n := range []int{64 << 10, AutoSmall} {
		src := textData(t, 7, n)
		auto, ok1 := Compress(nil, src, LevelAuto)
		fixed, ok2 := Compress(nil, src, LevelAuto.For(n))
		if !ok1 || !ok2 || !bytes.Equal(auto, fixed) {
			t.Errorf("%d bytes: auto output differs from %v's", n, LevelAuto.For(n))
		}
	}
}

func TestLevels(t *testing.T) {
	tests := []struct {
		name string
		l    Level
		id   uint8
	}{
		{"fastest", LevelFastest, 1},
		{"default", LevelDefault, 2},
		{"better", LevelBetter, 3},
		{"best", LevelBest, 4},
		{"auto", LevelAuto, 5},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			if uint8(tc.l) != tc.id {
				t.Fatalf("%s has ID %d, want %d (IDs are stored in repositories)", tc.name, tc.l, tc.id)
			}
			if got := tc.l.String(); got != tc.name {
				t.Fatalf("String = %q", got)
			}
			l, err := ParseLevel(tc.name)
			if err != nil || l != tc.l {
				t.Fatalf("ParseLevel = %v, %v", l, err)
			}
			if !tc.l.Valid() {
				t.Fatal("not Valid")
			}
		})
	}
	for _, s := range []string{"", "Fastest", "max", "1", "level(0)"} {
		if _, err := ParseLevel(s); !errors.Is(err, ErrUnknownLevel) {
			t.Errorf("ParseLevel(%q) = %v, want ErrUnknownLevel", s, err)
		}
	}
	for _, l := range []Level{0, 6, 255} {
		if l.Valid() {
			t.Errorf("Level %d is Valid", l)
		}
		if got, want := l.String(), fmt.Sprintf("level(%d)", uint8(l)); got != want {
			t.Errorf("String = %q, want %q", got, want)
		}
	}
}

func TestRoundTrip(t *testing.T) {
	pattern := randomData(t, 1, 300)
	inputs := []struct {
		name string
		data []byte
	}{
		{"text 512KiB", textData(t, 1, 512<<10)},
		{"text 2.3MiB beyond window", textData(t, 2, 2<<20+300<<10+17)},
		{"text 300B", textData(t, 3, 300)},
		{"repetitive 100B", bytes.Repeat([]byte("abcd"), 25)},
		{"zeros 1MiB", make([]byte, 1<<20)},
		{"zeros 2KiB", make([]byte, 2<<10)},
		{"repeated random pattern", bytes.Repeat(pattern, 4000)},
	}
	for _, l := range levels {
		for _, in := range inputs {
			t.Run(l.String()+"/"+in.name, func(t *testing.T) {
				prefix := []byte("prefix")
				c, ok := Compress(bytes.Clone(prefix), in.data, l)
				if !ok {
					t.Fatal("judged incompressible")
				}
				if !bytes.HasPrefix(c, prefix) {
					t.Fatal("dst prefix not kept")
				}
				if len(c)-len(prefix) > len(in.data)*97/100 {
					t.Fatalf("compressed %d to %d", len(in.data), len(c)-len(prefix))
				}
				d, err := Decompress([]byte("head"), c[len(prefix):], len(in.data))
				if err != nil {
					t.Fatalf("Decompress: %v", err)
				}
				if !bytes.Equal(d[:4], []byte("head")) || !bytes.Equal(d[4:], in.data) {
					t.Fatal("round trip mismatch")
				}
			})
		}
	}
}

func TestTextCompresses(t *testing.T) {
	text := textData(t, 5, 1<<20)
	for _, l := range levels {
		t.Run(l.String(), func(t *testing.T) {
			c, ok := Compress(nil, text, l)
			if !ok {
				t.Fatal("text judged incompressible")
			}
			t.Logf("ratio %.3f", float64(len(c))/float64(len(text)))
			if len(c) > len(text)/2 {
				t.Fatalf("text compressed only to %d of %d bytes", len(c), len(text))
			}
		})
	}
}

func TestIncompressible(t *testing.T) {
	rnd := randomData(t, 6, 1<<20)
	inputs := []struct {
		name    string
		data    []byte
		sampled bool // rejected by the sample check, before full compression
	}{
		{"random 1MiB", rnd, true},
		{"random 64KiB", rnd[:64<<10], true},
		{"random 5KiB (too small to sample)", rnd[:5<<10], false},
		{"random 10B", rnd[:10], false},
		// Random data with a short text run: the full compression saves
		// far less than 3%.
		{"random with 1% text", append(bytes.Clone(rnd[:1<<20-10<<10]), textData(t, 6, 10<<10)...), true},
		{"empty", nil, false},
	}
	for _, l := range levels {
		for _, in := range inputs {
			t.Run(l.String()+"/"+in.name, func(t *testing.T) {
				dst := []byte("keep")
				out, ok := Compress(dst, in.data, l)
				if ok {
					t.Fatalf("compressed %d bytes to %d", len(in.data), len(out)-len(dst))
				}
				if len(out) != len(dst) || !bytes.Equal(out, []byte("keep")) {
					t.Fatalf("dst changed to %q", out)
				}
				if len(in.data) > 0 && worthCompressing(in.data) == in.sampled {
					t.Fatalf("worthCompressing = %v, want %v", !in.sampled, !in.sampled)
				}
			})
		}
	}
}

func TestInvalidLevel(t *testing.T) {
	text := textData(t, 7, 64<<10)
	for _, l := range []Level{0, 6, 200} {
		if out, ok := Compress(nil, text, l); ok || out != nil {
			t.Fatalf("Compress with level %d = %d bytes, %v", l, len(out), ok)
		}
	}
}

func TestWorthCompressing(t *testing.T) {
	rnd := randomData(t, 8, 1<<20)
	tests := []struct {
		name string
		data []byte
		want bool
	}{
		{"random", rnd, false},
		{"text", textData(t, 8, 1<<20), true},
		{"zeros", make([]byte, 1<<20), true},
		// High byte entropy but every sample block repeats itself: the
		// trial compression must catch it.
		{"repeated 256B random", bytes.Repeat(rnd[:256], 4096), true},
		// Bytes restricted to 64 values (like base64): low entropy.
		{"base64-like", func() []byte {
			b := bytes.Clone(rnd)
			for i := range b {
				b[i] &= 63
			}
			return b
		}(), true},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			if got := worthCompressing(tc.data); got != tc.want {
				t.Fatalf("worthCompressing = %v, want %v (entropy of sample %.2f)", got, tc.want, collisionEntropy(tc.data[:sampleSize]))
			}
		})
	}
	if a := testing.AllocsPerRun(20, func() { worthCompressing(rnd) }); a != 0 && !raceEnabled {
		t.Fatalf("worthCompressing allocates %v times", a)
	}
}

func TestCollisionEntropy(t *testing.T) {
	all := make([]byte, 256*16)
	for i := range all {
		all[i] = byte(i)
	}
	tests := []struct {
		name string
		data []byte
		want float64
	}{
		{"empty", nil, 0},
		{"constant", make([]byte, 100), 0},
		{"two values", []byte{1, 2, 1, 2}, 1},
		{"uniform", all, 8},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			if got := collisionEntropy(tc.data); got < tc.want-1e-9 || got > tc.want+1e-9 {
				t.Fatalf("entropy = %v, want %v", got, tc.want)
			}
		})
	}
}

func TestDecompressMaxSize(t *testing.T) {
	text := textData(t, 9, 100<<10)
	c, ok := Compress(nil, text, LevelDefault)
	if !ok {
		t.Fatal("not compressed")
	}
	tests := []struct {
		name    string
		maxSize int
		wantErr bool
	}{
		{"exact", len(text), false},
		{"larger", 1 << 40, false},
		{"one short", len(text) - 1, true},
		{"zero", 0, true},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			out, err := Decompress(nil, c, tc.maxSize)
			if tc.wantErr {
				if !errors.Is(err, ErrCorrupt) {
					t.Fatalf("Decompress = %v, want ErrCorrupt", err)
				}
				if out != nil {
					t.Fatal("dst changed on error")
				}
				return
			}
			if err != nil {
				t.Fatalf("Decompress: %v", err)
			}
			if !bytes.Equal(out, text) {
				t.Fatal("mismatch")
			}
			if cap(out) != len(text)+DecompressSlack {
				t.Fatalf("output capacity %d, want exactly %d", cap(out), len(text)+DecompressSlack)
			}
		})
	}
	if _, err := Decompress(nil, c, -1); err == nil {
		t.Fatal("negative maxSize accepted")
	}
}

// streamFrame returns a zstd frame without a content size, as a streaming
// encoder writes it.
func streamFrame(t *testing.T, data []byte) []byte {
	t.Helper()
	var b bytes.Buffer
	w, err := zstd.NewWriter(&b, zstd.WithEncoderConcurrency(1))
	if err != nil {
		t.Fatal(err)
	}
	if _, err := w.Write(data); err != nil {
		t.Fatal(err)
	}
	if err := w.Close(); err != nil {
		t.Fatal(err)
	}
	var h zstd.Header
	if err := h.Decode(b.Bytes()); err != nil || h.HasFCS {
		t.Fatalf("want a frame without content size (err %v)", err)
	}
	return b.Bytes()
}

func TestDecompressWithoutContentSize(t *testing.T) {
	text := textData(t, 10, 300<<10)
	frame := streamFrame(t, text)
	tests := []struct {
		name    string
		maxSize int
		wantErr bool
	}{
		{"fits", len(text), false},
		{"fits with room", len(text) + 1000, false},
		{"too small", len(text) - 1, true},
		{"tiny", 1000, true},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			out, err := Decompress(nil, frame, tc.maxSize)
			if tc.wantErr {
				if !errors.Is(err, ErrCorrupt) {
					t.Fatalf("Decompress = %v, want ErrCorrupt", err)
				}
				return
			}
			if err != nil {
				t.Fatalf("Decompress: %v", err)
			}
			if !bytes.Equal(out, text) {
				t.Fatal("mismatch")
			}
			if cap(out) > tc.maxSize+DecompressSlack {
				t.Fatalf("output capacity %d exceeds maxSize %d and the slack", cap(out), tc.maxSize)
			}
		})
	}
}

func TestDecompressHostileSize(t *testing.T) {
	// A frame header claiming 1 TiB of content must be rejected from the
	// header alone, without allocating.
	hdr := []byte{0x28, 0xb5, 0x2f, 0xfd, 0xe0, 0, 0, 0, 0, 0, 1, 0, 0, 1, 0, 0, 0}
	var h zstd.Header
	if err := h.Decode(hdr); err != nil || !h.HasFCS || h.FrameContentSize != 1<<40 {
		t.Fatalf("test header: %v %+v", err, h)
	}
	var before, after runtime.MemStats
	runtime.ReadMemStats(&before)
	for range 10 {
		if _, err := Decompress(nil, hdr, 8<<20); !errors.Is(err, ErrCorrupt) {
			t.Fatalf("Decompress = %v, want ErrCorrupt", err)
		}
	}
	runtime.ReadMemStats(&after)
	if n := after.TotalAlloc - before.TotalAlloc; n > 64<<10 {
		t.Fatalf("%d bytes allocated for 10 rejected headers", n)
	}
	// Many concatenated frames, each within the limit, must not exceed it
	// in total.
	one, _ := Compress(nil, textData(t, 11, 64<<10), LevelFastest)
	many := bytes.Repeat(one, 4)
	if _, err := Decompress(nil, many, 100<<10); !errors.Is(err, ErrCorrupt) {
		t.Fatalf("concatenated frames: %v, want ErrCorrupt", err)
	}
}

func TestDecompressCorrupt(t *testing.T) {
	text := textData(t, 12, 200<<10)
	c, ok := Compress(nil, text, LevelDefault)
	if !ok {
		t.Fatal("not compressed")
	}
	flip := func(i int) []byte {
		b := bytes.Clone(c)
		b[i] ^= 0x10
		return b
	}
	tests := []struct {
		name string
		data []byte
	}{
		{"empty", nil},
		{"garbage", randomData(t, 12, 1000)},
		{"magic only", c[:4]},
		{"truncated header", c[:6]},
		{"truncated body", c[:len(c)/2]},
		{"truncated end", c[:len(c)-4]},
		{"flipped magic", flip(0)},
		{"skippable frame", []byte{0x50, 0x2a, 0x4d, 0x18, 4, 0, 0, 0, 1, 2, 3, 4}},
		{"trailing garbage", append(bytes.Clone(c), 1, 2, 3)},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			out, err := Decompress(nil, tc.data, 1<<20)
			if !errors.Is(err, ErrCorrupt) {
				t.Fatalf("Decompress = %d bytes, %v; want ErrCorrupt", len(out), err)
			}
		})
	}
	// Frames carry no checksum (every blob's keyed ID verifies its bytes):
	// a flipped byte in the body fails to decode or decodes differently.
	orig, err := Decompress(nil, c, 1<<20)
	if err != nil {
		t.Fatal(err)
	}
	if out, err := Decompress(nil, flip(len(c)/2), 1<<20); err == nil && bytes.Equal(out, orig) {
		t.Fatal("a flipped body byte decoded to the original")
	}
}

func TestConcurrent(t *testing.T) {
	inputs := [][]byte{textData(t, 13, 256<<10), randomData(t, 13, 256<<10), make([]byte, 100<<10)}
	var wg sync.WaitGroup
	errs := make(chan error, 8)
	for w := range 8 {
		wg.Go(func() {
			for i := range 6 {
				in := inputs[(w+i)%len(inputs)]
				l := levels[(w+i)%3] // skip LevelBest: slow and memory hungry under -race
				c, ok := Compress(nil, in, l)
				if !ok {
					continue
				}
				out, err := Decompress(nil, c, len(in))
				if err != nil {
					errs <- err
					return
				}
				if !bytes.Equal(out, in) {
					errs <- errors.New("round trip mismatch")
					return
				}
			}
		})
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		t.Fatal(err)
	}
}

func TestDeterministic(t *testing.T) {
	text := textData(t, 14, 300<<10)
	for _, l := range levels {
		a, _ := Compress(nil, text, l)
		b, _ := Compress(nil, text, l)
		if !bytes.Equal(a, b) {
			t.Fatalf("%s: output differs between calls", l)
		}
	}
}
