package restore

import (
	"bytes"
	"math/rand/v2"
	"os"
	"path/filepath"
	"reflect"
	"testing"

	"golang.org/x/sys/unix"
)

func TestHoles(t *testing.T) {
	const B, M = holeBlock, holeMin
	// data builds a buffer of the given length with zeros only in the
	// given [start, end) ranges.
	data := func(n int, zeros ...[2]int) []byte {
		b := bytes.Repeat([]byte{0xa5}, n)
		for _, z := range zeros {
			clear(b[z[0]:z[1]])
		}
		return b
	}
	for _, tc := range []struct {
		name string
		off  int64
		data []byte
		want [][2]int
	}{
		{"no zeros", 0, data(4 * M), nil},
		{"short input", 0, make([]byte, M-1), nil},
		{"all zeros", 0, make([]byte, M), [][2]int{{0, M}}},
		{"all zeros, unaligned", 100, make([]byte, M+B), [][2]int{{B - 100, M + B - 100}}},
		{"run just too short", 0, data(4*M, [2]int{B, B + M - 1}), nil},
		{"run of exactly holeMin", 0, data(4*M, [2]int{B, B + M}), [][2]int{{B, B + M}}},
		{"run not aligned", 0, data(4*M, [2]int{B + 1, 2*B + M}), [][2]int{{2 * B, 2*B + M}}},
		{"two runs", 0, data(6*M, [2]int{0, M}, [2]int{3 * M, 5 * M}), [][2]int{{0, M}, {3 * M, 5 * M}}},
		{"run to the end", 0, data(3*M+B/2, [2]int{M, 3*M + B/2}), [][2]int{{M, 3 * M}}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			if got := holes(tc.off, tc.data); !reflect.DeepEqual(got, tc.want) {
				t.Fatalf("holes = %v, want %v", got, tc.want)
			}
		})
	}
}

// TestWriteWithHoles writes random pieces with zero runs at random offsets
// and checks the file reads back exactly and has holes.
func TestWriteWithHoles(t *testing.T) {
	rng := rand.New(rand.NewPCG(1, 2))
	want := make([]byte, 8<<20)
	for i := range want {
		want[i] = byte(rng.Uint32() | 1)
	}
	for range 20 {
		start := rng.IntN(len(want))
		clear(want[start:min(len(want), start+rng.IntN(3*holeMin))])
	}
	clear(want[len(want)-2*holeMin:]) // a trailing hole: the file is extended at the end
	dir := t.TempDir()
	dfd, err := unix.Open(dir, unix.O_RDONLY|unix.O_DIRECTORY, 0)
	if err != nil {
		t.Fatal(err)
	}
	defer unix.Close(dfd)
	fd, err := unix.Openat(dfd, "f", unix.O_WRONLY|unix.O_CREAT|unix.O_EXCL, 0o600)
	if err != nil {
		t.Fatal(err)
	}
	f := &fileState{fd: fd}
	rs := &restorer{}
	for off := 0; off < len(want); {
		n := min(len(want)-off, 1+rng.IntN(3<<20))
		if err := rs.write(f, int64(off), want[off:off+n]); err != nil {
			t.Fatal(err)
		}
		off += n
	}
	if !f.sparse {
		t.Fatal("no holes left")
	}
	if err := unix.Ftruncate(fd, int64(len(want))); err != nil {
		t.Fatal(err)
	}
	unix.Close(fd)
	got, err := os.ReadFile(filepath.Join(dir, "f"))
	if err != nil {
		t.Fatal(err)
	}
	if !bytes.Equal(got, want) {
		t.Fatal("file differs from what was written")
	}
	var st unix.Stat_t
	if err := unix.Stat(filepath.Join(dir, "f"), &st); err != nil {
		t.Fatal(err)
	}
	if st.Blocks*512 >= int64(len(want)) {
		t.Errorf("file uses %d bytes on disk for %d", st.Blocks*512, len(want))
	}
}
