package crypto

import (
	"bytes"
	"encoding/hex"
	"fmt"
	"sync"
	"testing"
)

// TestIDHasherKnownAnswer checks the keyed BLAKE3 construction against the
// official BLAKE3 test vector (key "whats the Elvish word for friend",
// empty input).
func TestIDHasherKnownAnswer(t *testing.T) {
	h := newIDHasher([]byte("whats the Elvish word for friend"))
	got := h.Sum(nil)
	const want = "92b2b75604ed3c761f9d6f62392c8a9227ad0ea3f09573e783f1498a4ed60d26"
	if hex.EncodeToString(got[:]) != want {
		t.Errorf("keyed BLAKE3 of empty input = %x, want %s", got, want)
	}
}

func TestIDHasherSumMatchesNew(t *testing.T) {
	h := testMaster(t, 3).IDKey()
	for _, n := range []int{0, 1, 1023, 1024, 1025, 4096, 8 << 10, 64<<10 + 3, 1 << 20} {
		t.Run(fmt.Sprint(n), func(t *testing.T) {
			data := testData(uint64(n), n)
			want := h.Sum(data)
			if again := h.Sum(data); again != want {
				t.Fatal("Sum is not deterministic")
			}
			s := h.New()
			// Write in uneven pieces.
			for rest := data; len(rest) > 0; {
				k := min(len(rest), 777)
				if _, err := s.Write(rest[:k]); err != nil {
					t.Fatal(err)
				}
				rest = rest[k:]
			}
			if got := s.Sum(nil); !bytes.Equal(got, want[:]) {
				t.Errorf("streaming %x, Sum %x", got, want)
			}
			s.Reset()
			s.Write(data)
			if got := s.Sum(nil); !bytes.Equal(got, want[:]) {
				t.Error("streaming after Reset differs")
			}
			if s.Size() != 32 {
				t.Errorf("Size = %d", s.Size())
			}
		})
	}
}

func TestIDHasherKeyed(t *testing.T) {
	data := []byte("the same content")
	a := testMaster(t, 1).IDKey().Sum(data)
	b := testMaster(t, 2).IDKey().Sum(data)
	if a == b {
		t.Error("different master keys give the same ID")
	}
	if a == testMaster(t, 1).IDKey().Sum([]byte("the same content!")) {
		t.Error("different content gives the same ID")
	}
}

func TestIDHasherConcurrent(t *testing.T) {
	h := testMaster(t, 4).IDKey()
	inputs := make([][]byte, 16)
	want := make([][32]byte, len(inputs))
	for i := range inputs {
		inputs[i] = testData(uint64(i), 1000*i+1)
		want[i] = h.Sum(inputs[i])
	}
	var wg sync.WaitGroup
	errs := make(chan string, 8*len(inputs))
	for g := range 8 {
		wg.Go(func() {
			for i := range inputs {
				j := (i + g) % len(inputs)
				if h.Sum(inputs[j]) != want[j] {
					errs <- fmt.Sprintf("goroutine %d input %d: wrong sum", g, j)
				}
			}
		})
	}
	wg.Wait()
	close(errs)
	for e := range errs {
		t.Error(e)
	}
}

func TestIDHasherSumAllocs(t *testing.T) {
	h := testMaster(t, 5).IDKey()
	data := testData(1, 64<<10)
	h.Sum(data)
	if n := testing.AllocsPerRun(50, func() { h.Sum(data) }); n > 0.5 {
		t.Errorf("Sum allocates %.1f times per call", n)
	}
}
