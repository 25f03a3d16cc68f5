package backup

import "golang.org/x/sys/unix"

// allocOffHeap returns an n-byte buffer mapped outside the garbage-collected
// heap and the function that unmaps it. Chunker windows are large and live
// for the whole backup; on the heap they would raise the collector's heap
// goal (and so the peak memory) by half their size. It falls back to the
// heap when the mapping fails.
func allocOffHeap(n int) ([]byte, func()) {
	b, err := unix.Mmap(-1, 0, n, unix.PROT_READ|unix.PROT_WRITE, unix.MAP_PRIVATE|unix.MAP_ANONYMOUS)
	if err != nil {
		return make([]byte, n), func() {}
	}
	return b, func() { _ = unix.Munmap(b) }
}
