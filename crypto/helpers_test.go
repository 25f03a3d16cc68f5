package crypto

import (
	"bytes"
	"math/rand/v2"
	"testing"
)

// testMaster returns a fixed master key whose secret is seed, seed+1, …
func testMaster(t testing.TB, seed byte) *MasterKey {
	t.Helper()
	m := &MasterKey{}
	for i := range m.secret {
		m.secret[i] = seed + byte(i)
	}
	return m
}

// testData returns n deterministic pseudo-random bytes.
func testData(seed uint64, n int) []byte {
	r := rand.New(rand.NewPCG(seed, seed^0x9e3779b97f4a7c15))
	b := make([]byte, n)
	for i := range b {
		b[i] = byte(r.Uint32())
	}
	return b
}

// sameMaster reports whether two master keys hold the same secret.
func sameMaster(a, b *MasterKey) bool {
	return a != nil && b != nil && bytes.Equal(a.secret[:], b.secret[:])
}
