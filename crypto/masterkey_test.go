package crypto

import (
	"bytes"
	"encoding/hex"
	"errors"
	"io"
	"testing"
	"testing/iotest"
)

func TestNewMasterKey(t *testing.T) {
	fixed := bytes.Repeat([]byte{7}, 64)
	a, err := NewMasterKey(bytes.NewReader(fixed))
	if err != nil {
		t.Fatal(err)
	}
	b, err := NewMasterKey(bytes.NewReader(fixed))
	if err != nil {
		t.Fatal(err)
	}
	if !sameMaster(a, b) {
		t.Error("same random input gave different master keys")
	}
	if !bytes.Equal(a.secret[:], fixed[:masterKeySize]) {
		t.Error("master key does not hold the random bytes")
	}
	c, err := NewMasterKey(nil)
	if err != nil {
		t.Fatal(err)
	}
	d, err := NewMasterKey(nil)
	if err != nil {
		t.Fatal(err)
	}
	if sameMaster(c, d) {
		t.Error("two crypto/rand master keys are equal")
	}

	for _, tc := range []struct {
		name string
		r    io.Reader
	}{
		{"short", bytes.NewReader(make([]byte, 31))},
		{"failing", iotest.ErrReader(errors.New("boom"))},
	} {
		t.Run(tc.name, func(t *testing.T) {
			if _, err := NewMasterKey(tc.r); err == nil {
				t.Error("NewMasterKey succeeded")
			}
		})
	}
}

// TestDerivedKeysGolden pins the derivations: changing an info string would
// make every existing repository unreadable. The HKDF values were checked
// against an independent HKDF-SHA256 implementation (Python hmac).
func TestDerivedKeysGolden(t *testing.T) {
	m := testMaster(t, 0)
	for _, tc := range []struct {
		name string
		got  []byte
		want string
	}{
		{"derive chunker gear", m.Derive("chunker gear", 32), "82ebdc3650399dcf3e770d6e4a0073445554278e4bec7e5aadd39737ec264930"},
		{"data key id", m.DataKey().id[:], "bff7d096f35a478b"},
		{"id of abc", sum(m.IDKey(), []byte("abc")), "bfe84f557f712f0b130ceff25337fb9dc8f2dd60ecec723c49fbd2a038d394a3"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			if got := hex.EncodeToString(tc.got); got != tc.want {
				t.Errorf("got %s, want %s", got, tc.want)
			}
		})
	}
}

func sum(h *IDHasher, data []byte) []byte {
	s := h.Sum(data)
	return s[:]
}

func TestDeriveDomainSeparation(t *testing.T) {
	m := testMaster(t, 0)
	m2 := testMaster(t, 1)
	outs := map[string][]byte{
		"gear":          m.Derive("chunker gear", 32),
		"gear2":         m.Derive("chunker gear2", 32),
		"empty label":   m.Derive("", 32),
		"data key":      m.expand(infoDataKey, 32),
		"id key":        m.expand(infoIDKey, 32),
		"gear other mk": m2.Derive("chunker gear", 32),
		"master":        m.secret[:],
	}
	seen := map[string]string{}
	for name, out := range outs {
		if len(out) != 32 {
			t.Fatalf("%s: %d bytes", name, len(out))
		}
		if prev, ok := seen[string(out)]; ok {
			t.Errorf("%s and %s derive the same bytes", name, prev)
		}
		seen[string(out)] = name
	}
	if !bytes.Equal(m.Derive("chunker gear", 32), testMaster(t, 0).Derive("chunker gear", 32)) {
		t.Error("Derive is not deterministic")
	}
	long := m.Derive("chunker gear", 64)
	if !bytes.Equal(long[:32], outs["gear"]) {
		t.Error("a longer derivation does not extend the shorter one")
	}
	for _, n := range []int{-1, 0, maxDeriveLen + 1} {
		if got := m.Derive("x", n); got != nil {
			t.Errorf("Derive(%d) = %d bytes, want nil", n, len(got))
		}
	}
	if got := m.Derive("x", maxDeriveLen); len(got) != maxDeriveLen {
		t.Errorf("Derive(max) = %d bytes", len(got))
	}
}
