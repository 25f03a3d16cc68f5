package crypto

import (
	"crypto/hkdf"
	"crypto/rand"
	"crypto/sha256"
	"fmt"
	"io"
)

// masterKeySize is the length of the repository secret.
const masterKeySize = 32

// HKDF info strings. Every derived secret uses its own string, so no two
// derived keys can collide; labels passed to Derive are prefixed so that they
// can never produce one of the fixed strings.
const (
	infoDataKey    = "lifeboat/v1 data key"
	infoDataKeyID  = "lifeboat/v1 data key id"
	infoIDKey      = "lifeboat/v1 id key"
	infoDerivedPfx = "lifeboat/v1 derived: "
)

// maxDeriveLen is the longest output HKDF-SHA256 can produce (255 blocks).
const maxDeriveLen = 255 * sha256.Size

// MasterKey is a repository's 32-byte random secret. Every other key is
// derived from it with HKDF-SHA256 under distinct info strings. The secret
// itself never leaves the package except encrypted by WrapMasterKey.
type MasterKey struct {
	secret [masterKeySize]byte
}

// NewMasterKey draws a fresh master key from rand (crypto/rand when nil).
func NewMasterKey(rand io.Reader) (*MasterKey, error) {
	if rand == nil {
		rand = cryptoRandReader
	}
	m := &MasterKey{}
	if _, err := io.ReadFull(rand, m.secret[:]); err != nil {
		return nil, fmt.Errorf("read random master key: %w", err)
	}
	return m, nil
}

// cryptoRandReader is crypto/rand.Reader, named so that the parameter of
// NewMasterKey can keep its natural name.
var cryptoRandReader = rand.Reader

// expand derives n bytes from the master secret under info. n must be in
// [1, maxDeriveLen]; callers guarantee it.
func (m *MasterKey) expand(info string, n int) []byte {
	out, err := hkdf.Key(sha256.New, m.secret[:], nil, info, n)
	if err != nil {
		// Unreachable: n is checked by every caller and sha256 never fails.
		return nil
	}
	return out
}

// DataKey returns the key that seals stored objects.
func (m *MasterKey) DataKey() *DataKey {
	k, err := newDataKey(m.expand(infoDataKey, dataKeySize), m.expand(infoDataKeyID, dataKeyIDSize))
	if err != nil {
		// Unreachable: the sizes are fixed.
		return nil
	}
	return k
}

// IDKey returns the keyed hash that computes chunk and blob IDs.
func (m *MasterKey) IDKey() *IDHasher {
	return newIDHasher(m.expand(infoIDKey, idKeySize))
}

// Derive returns n bytes of secret material for label (for example
// "chunker gear"), deterministic for a given master key and label and
// independent of every other label and of the data and ID keys. It returns
// nil when n is not in [1, 8160].
func (m *MasterKey) Derive(label string, n int) []byte {
	if n < 1 || n > maxDeriveLen {
		return nil
	}
	return m.expand(infoDerivedPfx+label, n)
}
