package crypto

import (
	"bytes"
	"crypto/ed25519"
	"encoding/pem"
	"testing"
	"testing/cryptotest"

	"filippo.io/age"
	"golang.org/x/crypto/ssh"
)

func TestPlainSize(t *testing.T) {
	for _, n := range []int64{0, 1, 100, chunkSize - 1, chunkSize, chunkSize + 1, 2 * chunkSize, 3<<20 + 5, 1 << 40} {
		if got := PlainSize(SealedSize(n)); got != n {
			t.Errorf("PlainSize(SealedSize(%d)) = %d", n, got)
		}
	}
	for _, s := range []int64{-1, 0, HeaderSize, HeaderSize + tagSize - 1, SealedSize(chunkSize) + 1, SealedSize(chunkSize) + tagSize} {
		if got := PlainSize(s); got != -1 {
			t.Errorf("PlainSize(%d) = %d, want -1", s, got)
		}
	}
}

func TestIdentityRecipients(t *testing.T) {
	cryptotest.SetGlobalRandom(t, 30)
	x, err := age.GenerateX25519Identity()
	if err != nil {
		t.Fatal(err)
	}
	hy, err := age.GenerateHybridIdentity()
	if err != nil {
		t.Fatal(err)
	}
	id := mustIdentities(t, []byte(x.String()+"\n"+hy.String()+"\n"))
	rs := id.Recipients()
	if len(rs) != 2 || rs[0].String() != x.Recipient().String() || rs[0].Kind() != KindX25519 ||
		rs[1].String() != hy.Recipient().String() || rs[1].Kind() != KindHybrid {
		t.Fatalf("Recipients = %v", rs)
	}
	m := testMaster(t, 1)
	for _, r := range rs {
		w, err := WrapMasterKey(m, r)
		if err != nil {
			t.Fatal(err)
		}
		if got, err := UnwrapMasterKey(w, id); err != nil || !sameMaster(got, m) {
			t.Errorf("%s: %v", r.Kind(), err)
		}
	}
	block, err := ssh.MarshalPrivateKey(ed25519.NewKeyFromSeed(bytes.Repeat([]byte{5}, 32)), "")
	if err != nil {
		t.Fatal(err)
	}
	if rs := mustIdentities(t, pem.EncodeToMemory(block)).Recipients(); len(rs) != 0 {
		t.Errorf("SSH identity has %d native recipients", len(rs))
	}
}
