package compress

import (
	"bytes"
	"errors"
	"testing"
)

func FuzzDecompress(f *testing.F) {
	for _, l := range levels {
		c, _ := Compress(nil, textData(f, 20, 5000), l)
		f.Add(c, uint32(5000))
	}
	c, _ := Compress(nil, make([]byte, 3000), LevelFastest)
	f.Add(c, uint32(2999))
	f.Add([]byte{0x28, 0xb5, 0x2f, 0xfd, 0xe0, 0, 0, 0, 0, 0, 1, 0, 0, 1, 0, 0, 0}, uint32(1<<20))
	f.Add([]byte{}, uint32(0))
	f.Fuzz(func(t *testing.T, src []byte, limit uint32) {
		maxSize := int(limit % (4 << 20))
		dst := []byte("x")
		out, err := Decompress(dst, src, maxSize)
		if err != nil {
			if !errors.Is(err, ErrCorrupt) {
				t.Fatalf("error %v does not wrap ErrCorrupt", err)
			}
			if len(out) != 1 {
				t.Fatalf("dst changed on error")
			}
			return
		}
		if len(out)-1 > maxSize {
			t.Fatalf("output %d exceeds maxSize %d", len(out)-1, maxSize)
		}
		if out[0] != 'x' {
			t.Fatal("dst prefix lost")
		}
		// Whatever decoded must survive a round trip.
		if c, ok := Compress(nil, out[1:], LevelFastest); ok {
			back, err := Decompress(nil, c, len(out)-1)
			if err != nil || !bytes.Equal(back, out[1:]) {
				t.Fatalf("re-round-trip failed: %v", err)
			}
		}
	})
}

func FuzzRoundTrip(f *testing.F) {
	f.Add(textData(f, 21, 3000), uint8(2))
	f.Add(bytes.Repeat([]byte("ab"), 5000), uint8(1))
	f.Add(randomData(f, 21, 20000), uint8(3))
	f.Fuzz(func(t *testing.T, data []byte, lv uint8) {
		l := Level(lv%4 + 1)
		c, ok := Compress(nil, data, l)
		if !ok {
			if c != nil {
				t.Fatal("dst changed")
			}
			return
		}
		out, err := Decompress(nil, c, len(data))
		if err != nil {
			t.Fatalf("Decompress: %v", err)
		}
		if !bytes.Equal(out, data) {
			t.Fatal("mismatch")
		}
	})
}
