package repo

import "testing"

func TestBufPool(t *testing.T) {
	tests := []struct {
		n, wantCap int
	}{
		{1, 64 << 10},
		{64 << 10, 64 << 10},
		{64<<10 + 1, 128 << 10},
		{3 << 20, 4 << 20},
		{8 << 20, 8 << 20},
		{8<<20 + 1, 8<<20 + 1}, // above the largest class: not pooled
	}
	for _, tc := range tests {
		b := getBuf(tc.n)
		if len(b) != tc.n || cap(b) != tc.wantCap {
			t.Errorf("getBuf(%d): len %d cap %d, want cap %d", tc.n, len(b), cap(b), tc.wantCap)
		}
		putBuf(b)
	}
	// A returned buffer is handed out again for any size of its class
	// (the class's free list is emptied first: earlier tests may have
	// left buffers there).
	for drained := false; !drained; {
		select {
		case <-bufClasses[bufClass(100<<10)]:
		default:
			drained = true
		}
	}
	b := getBuf(100 << 10)
	b[0] = 42
	putBuf(b)
	if c := getBuf(70 << 10); cap(c) != 128<<10 || &c[:1][0] != &b[:1][0] {
		t.Errorf("buffer of the same class not reused (cap %d)", cap(c))
	}
	if getBuf(0) != nil {
		t.Error("getBuf(0) != nil")
	}
	putBuf(nil)
	putBuf(make([]byte, 100)) // not a pooled size: dropped
}
