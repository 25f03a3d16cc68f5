package crypto

import (
	"bytes"
	"crypto/ed25519"
	"encoding/pem"
	"errors"
	"io"
	"testing"

	"filippo.io/age"
	"golang.org/x/crypto/ssh"
)

// exactlyOne reports whether err wraps exactly one of ErrCorrupt and
// ErrWrongKey.
func exactlyOne(err error) bool {
	return errors.Is(err, ErrCorrupt) != errors.Is(err, ErrWrongKey)
}

func FuzzOpen(f *testing.F) {
	k := testMaster(f, 0).DataKey()
	other := testMaster(f, 1).DataKey()
	for _, n := range []int{0, 1, 100, 300} {
		s, err := k.Seal(testData(uint64(n), n))
		if err != nil {
			f.Fatal(err)
		}
		f.Add(s)
		s, err = other.Seal(testData(uint64(n), n))
		if err != nil {
			f.Fatal(err)
		}
		f.Add(s)
	}
	f.Add([]byte("age-encryption.org/v1\n-> lifeboat-dk AAAAAAAAAAA AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA\n\n--- AAAA\n"))
	f.Fuzz(func(t *testing.T, sealed []byte) {
		plain, err := k.Open(sealed)
		if err != nil {
			if !exactlyOne(err) {
				t.Fatalf("error %v wraps neither or both of ErrCorrupt and ErrWrongKey", err)
			}
			return
		}
		if int64(len(sealed)) != SealedSize(int64(len(plain))) {
			t.Fatalf("opened %d sealed bytes into %d plaintext bytes", len(sealed), len(plain))
		}
		r, size, err := k.OpenReaderAt(bytes.NewReader(sealed), int64(len(sealed)))
		if err != nil || size != int64(len(plain)) {
			t.Fatalf("OpenReaderAt disagrees with Open: %v", err)
		}
		got, err := io.ReadAll(io.NewSectionReader(r, 0, size))
		if err != nil || !bytes.Equal(got, plain) {
			t.Fatalf("OpenReaderAt reads differ: %v", err)
		}
	})
}

func FuzzUnwrapMasterKey(f *testing.F) {
	m := testMaster(f, 5)
	x, err := age.GenerateX25519Identity()
	if err != nil {
		f.Fatal(err)
	}
	edKey := ed25519.NewKeyFromSeed(bytes.Repeat([]byte{3}, ed25519.SeedSize))
	block, err := ssh.MarshalPrivateKey(edKey, "")
	if err != nil {
		f.Fatal(err)
	}
	signer, err := ssh.NewSignerFromKey(edKey)
	if err != nil {
		f.Fatal(err)
	}
	xid, err := ParseIdentities([]byte(x.String()))
	if err != nil {
		f.Fatal(err)
	}
	edID, err := ParseIdentities(pem.EncodeToMemory(block))
	if err != nil {
		f.Fatal(err)
	}
	// Passphrase identities are left out on purpose: a mutated work factor
	// would make scrypt take seconds and gigabytes.
	id := JoinIdentities(xid, edID)
	for _, rs := range []string{x.Recipient().String(), string(ssh.MarshalAuthorizedKey(signer.PublicKey()))} {
		r, err := ParseRecipient(rs)
		if err != nil {
			f.Fatal(err)
		}
		w, err := WrapMasterKey(m, r)
		if err != nil {
			f.Fatal(err)
		}
		f.Add(w)
	}
	sealed, err := m.DataKey().Seal(nil)
	if err != nil {
		f.Fatal(err)
	}
	f.Add(sealed)
	f.Fuzz(func(t *testing.T, wrapped []byte) {
		got, err := UnwrapMasterKey(wrapped, id)
		if err != nil {
			if !exactlyOne(err) {
				t.Fatalf("error %v wraps neither or both of ErrCorrupt and ErrWrongKey", err)
			}
			return
		}
		if !sameMaster(got, m) {
			t.Fatal("unwrapped a master key nobody wrapped")
		}
	})
}

func FuzzParseIdentities(f *testing.F) {
	x, err := age.GenerateX25519Identity()
	if err != nil {
		f.Fatal(err)
	}
	f.Add([]byte("# created: today\n" + x.String() + "\n"))
	f.Add([]byte("AGE-SECRET-KEY-1QQQQ"))
	edKey := ed25519.NewKeyFromSeed(bytes.Repeat([]byte{4}, ed25519.SeedSize))
	block, err := ssh.MarshalPrivateKey(edKey, "c")
	if err != nil {
		f.Fatal(err)
	}
	f.Add(pem.EncodeToMemory(block))
	f.Add([]byte("-----BEGIN RSA PRIVATE KEY-----\nMIIB\n-----END RSA PRIVATE KEY-----\n"))
	f.Fuzz(func(t *testing.T, data []byte) {
		id, err := ParseIdentities(data)
		if err == nil && (id == nil || len(id.ids) == 0) {
			t.Fatal("no error and no identity")
		}
	})
}

func FuzzParseRecipient(f *testing.F) {
	x, err := age.GenerateX25519Identity()
	if err != nil {
		f.Fatal(err)
	}
	f.Add(x.Recipient().String())
	signer, err := ssh.NewSignerFromKey(ed25519.NewKeyFromSeed(make([]byte, 32)))
	if err != nil {
		f.Fatal(err)
	}
	f.Add(string(ssh.MarshalAuthorizedKey(signer.PublicKey())) + " comment")
	f.Add("ssh-rsa AAAA")
	f.Fuzz(func(t *testing.T, s string) {
		r, err := ParseRecipient(s)
		if err != nil {
			return
		}
		again, err := ParseRecipient(r.String())
		if err != nil || again.String() != r.String() || again.Kind() != r.Kind() {
			t.Fatalf("%q: String %q does not parse back: %v", s, r.String(), err)
		}
	})
}
