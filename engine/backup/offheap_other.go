//go:build !linux

package backup

// allocOffHeap returns an n-byte buffer; outside Linux it is an ordinary
// heap allocation.
func allocOffHeap(n int) ([]byte, func()) { return make([]byte, n), func() {} }
