package chunker

import "testing"

// scanRef is the textbook one-byte-at-a-time gear scan that scan must match.
func scanRef(s []byte, hp *uint64, mask uint64, g *Gear) int {
	h := *hp
	for i, b := range s {
		h = h<<1 + g[b]
		if h&mask == 0 {
			return i
		}
	}
	*hp = h
	return -1
}

func TestScanMatchesReference(t *testing.T) {
	data := randomData(t, 44, 256<<10)
	tests := []struct {
		name  string
		shift int // mask = top 64-shift bits
	}{
		{"very easy", 61},
		{"easy", 58},
		{"medium", 54},
		{"hard", 48},
		{"never", 0},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			mask := ^uint64(0) << tc.shift
			cuts := 0
			// Walk every cut, and every length mod 8 for the tail loop.
			for off := 0; off < len(data); {
				for _, tail := range []int{0, 1, 3, 7} {
					s := data[off : len(data)-tail]
					h1, h2 := uint64(off), uint64(off)
					a, b := scan(s, &h1, mask, testGear), scanRef(s, &h2, mask, testGear)
					if a != b {
						t.Fatalf("offset %d tail %d: scan = %d, reference = %d", off, tail, a, b)
					}
					if a < 0 && h1 != h2 {
						t.Fatalf("offset %d tail %d: final hash %#x, reference %#x", off, tail, h1, h2)
					}
				}
				var h uint64
				n := scanRef(data[off:], &h, mask, testGear)
				if n < 0 {
					break
				}
				cuts++
				off += n + 1
			}
			t.Logf("%d cuts", cuts)
		})
	}
}
