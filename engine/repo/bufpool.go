package repo

import (
	"math/bits"
	"runtime"
)

// Read buffers (ranges of packs, decompressed blobs) come from free lists by
// power-of-two size class. Unlike a sync.Pool, which every garbage
// collection empties, a free list keeps its buffers, so a restore reuses a
// handful of buffers instead of allocating, zeroing and faulting in fresh
// memory for most reads. Each class holds a few buffers per core, which
// bounds what it keeps.
const (
	minBufClass = 16 // 64 KiB
	maxBufClass = 23 // 8 MiB
)

var bufClasses = func() (c [maxBufClass + 1]chan []byte) {
	per := 2*runtime.GOMAXPROCS(0) + 2
	for i := minBufClass; i <= maxBufClass; i++ {
		c[i] = make(chan []byte, per)
	}
	return c
}()

// bufClass returns the size class of an n-byte buffer (n > 0).
func bufClass(n int) int {
	return max(minBufClass, bits.Len(uint(n-1)))
}

// getBuf returns an n-byte buffer, recycled when one of its class is free.
// Its contents are undefined.
func getBuf(n int) []byte {
	if n <= 0 {
		return nil
	}
	c := bufClass(n)
	if c > maxBufClass {
		return make([]byte, n)
	}
	select {
	case b := <-bufClasses[c]:
		return b[:n]
	default:
		return make([]byte, n, 1<<c)
	}
}

// putBuf returns a buffer from getBuf to its free list (or lets the garbage
// collector have it when the list is full, or when it is not a pooled size).
func putBuf(b []byte) {
	c := cap(b)
	if c == 0 || c&(c-1) != 0 {
		return
	}
	class := bits.Len(uint(c)) - 1
	if class < minBufClass || class > maxBufClass {
		return
	}
	select {
	case bufClasses[class] <- b[:0]:
	default:
	}
}
