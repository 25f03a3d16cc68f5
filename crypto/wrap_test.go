package crypto

import (
	"bytes"
	"crypto/ecdsa"
	"crypto/ed25519"
	"crypto/elliptic"
	"crypto/rsa"
	"encoding/pem"
	"errors"
	"strings"
	"testing"
	"testing/cryptotest"

	"filippo.io/age"
	"golang.org/x/crypto/ssh"
)

// keyPair is a recipient string and the identity that opens its wrappings.
type keyPair struct {
	name      string
	kind      string
	recipient func(t *testing.T) *Recipient
	identity  func(t *testing.T) *Identity
}

func mustRecipient(t *testing.T, s string) *Recipient {
	t.Helper()
	r, err := ParseRecipient(s)
	if err != nil {
		t.Fatalf("ParseRecipient(%q): %v", s, err)
	}
	return r
}

func mustIdentities(t *testing.T, data []byte) *Identity {
	t.Helper()
	id, err := ParseIdentities(data)
	if err != nil {
		t.Fatalf("ParseIdentities: %v", err)
	}
	return id
}

// sshKeys returns an OpenSSH private key file (encrypted with pass when
// non-nil) and the authorized_keys line of its public key.
func sshKeys(t *testing.T, key any, pass []byte) (priv []byte, pub string) {
	t.Helper()
	var block *pem.Block
	var err error
	if pass != nil {
		block, err = ssh.MarshalPrivateKeyWithPassphrase(key, "test key", pass)
	} else {
		block, err = ssh.MarshalPrivateKey(key, "test key")
	}
	if err != nil {
		t.Fatal(err)
	}
	signer, err := ssh.NewSignerFromKey(key)
	if err != nil {
		t.Fatal(err)
	}
	pub = strings.TrimSpace(string(ssh.MarshalAuthorizedKey(signer.PublicKey()))) + " me@host"
	return pem.EncodeToMemory(block), pub
}

// testKeyPairs returns one key pair of every kind. Keys come from fixed
// seeds (RSA from the deterministic global random of the calling test).
func testKeyPairs(t *testing.T) []keyPair {
	t.Helper()
	x, err := age.GenerateX25519Identity()
	if err != nil {
		t.Fatal(err)
	}
	hy, err := age.GenerateHybridIdentity()
	if err != nil {
		t.Fatal(err)
	}
	edKey := ed25519.NewKeyFromSeed(bytes.Repeat([]byte{1}, ed25519.SeedSize))
	edPriv, edPub := sshKeys(t, edKey, nil)
	edEncPriv, _ := sshKeys(t, edKey, []byte("hunter2"))
	rsaKey, err := rsa.GenerateKey(nil, 2048)
	if err != nil {
		t.Fatal(err)
	}
	rsaPriv, rsaPub := sshKeys(t, rsaKey, nil)
	return []keyPair{
		{"x25519", KindX25519,
			func(t *testing.T) *Recipient { return mustRecipient(t, x.Recipient().String()) },
			func(t *testing.T) *Identity { return mustIdentities(t, []byte("# my key\n\n"+x.String()+"\n")) }},
		{"hybrid", KindHybrid,
			func(t *testing.T) *Recipient { return mustRecipient(t, hy.Recipient().String()) },
			func(t *testing.T) *Identity { return mustIdentities(t, []byte(hy.String())) }},
		{"ssh-ed25519", KindSSHEd25519,
			func(t *testing.T) *Recipient { return mustRecipient(t, edPub) },
			func(t *testing.T) *Identity { return mustIdentities(t, edPriv) }},
		{"ssh-ed25519 encrypted", KindSSHEd25519,
			func(t *testing.T) *Recipient { return mustRecipient(t, edPub) },
			func(t *testing.T) *Identity {
				id, err := ParseIdentitiesWithPassphrase(edEncPriv, func() ([]byte, error) { return []byte("hunter2"), nil })
				if err != nil {
					t.Fatal(err)
				}
				return id
			}},
		{"ssh-rsa", KindSSHRSA,
			func(t *testing.T) *Recipient { return mustRecipient(t, rsaPub) },
			func(t *testing.T) *Identity { return mustIdentities(t, rsaPriv) }},
		{"passphrase", KindPassphrase,
			func(t *testing.T) *Recipient {
				r, err := PassphraseRecipient([]byte("correct horse"), 10)
				if err != nil {
					t.Fatal(err)
				}
				return r
			},
			func(t *testing.T) *Identity { return PassphraseIdentity([]byte("correct horse")) }},
	}
}

func TestWrapUnwrapEveryKind(t *testing.T) {
	cryptotest.SetGlobalRandom(t, 20)
	pairs := testKeyPairs(t)
	m := testMaster(t, 9)
	other := testMaster(t, 10)
	for i, kp := range pairs {
		t.Run(kp.name, func(t *testing.T) {
			r := kp.recipient(t)
			id := kp.identity(t)
			if r.Kind() != kp.kind {
				t.Errorf("Kind = %q, want %q", r.Kind(), kp.kind)
			}
			if kp.kind != KindPassphrase {
				again := mustRecipient(t, r.String())
				if again.String() != r.String() || again.Kind() != r.Kind() {
					t.Errorf("String does not round trip: %q -> %q", r.String(), again.String())
				}
			} else if r.String() != "passphrase" {
				t.Errorf("String = %q", r.String())
			}
			wrapped, err := WrapMasterKey(m, r)
			if err != nil {
				t.Fatal(err)
			}
			got, err := UnwrapMasterKey(wrapped, id)
			if err != nil {
				t.Fatalf("UnwrapMasterKey: %v", err)
			}
			if !sameMaster(got, m) {
				t.Fatal("unwrapped a different master key")
			}
			// The unwrapped key derives the same keys.
			if got.IDKey().Sum([]byte("x")) != m.IDKey().Sum([]byte("x")) {
				t.Error("derived ID keys differ")
			}
			wrapped2, err := WrapMasterKey(other, r)
			if err != nil {
				t.Fatal(err)
			}
			if got, err := UnwrapMasterKey(wrapped2, id); err != nil || !sameMaster(got, other) {
				t.Errorf("second wrapping: %v", err)
			}

			// Every other kind's identity is the wrong key.
			wrong := pairs[(i+2)%len(pairs)]
			if wrong.kind == kp.kind {
				wrong = pairs[(i+3)%len(pairs)]
			}
			_, err = UnwrapMasterKey(wrapped, wrong.identity(t))
			if !errors.Is(err, ErrWrongKey) || errors.Is(err, ErrCorrupt) {
				t.Errorf("unwrap with %s identity: %v, want ErrWrongKey only", wrong.name, err)
			}
			// Joined with the right one, it works again.
			if got, err := UnwrapMasterKey(wrapped, JoinIdentities(wrong.identity(t), nil, id)); err != nil || !sameMaster(got, m) {
				t.Errorf("unwrap with joined identities: %v", err)
			}

			for n := range len(wrapped) {
				if _, err := UnwrapMasterKey(wrapped[:n], id); err == nil {
					t.Fatalf("truncated to %d bytes: no error", n)
				}
			}
			tail := bytes.Clone(wrapped)
			tail[len(tail)-1] ^= 1
			if _, err := UnwrapMasterKey(tail, id); !errors.Is(err, ErrCorrupt) {
				t.Errorf("flipped payload: %v, want ErrCorrupt", err)
			}
			if _, err := UnwrapMasterKey(wrapped[:len(wrapped)-1], id); !errors.Is(err, ErrCorrupt) {
				t.Errorf("cut payload: %v, want ErrCorrupt", err)
			}
		})
	}
}

func TestUnwrapWrongPassphrase(t *testing.T) {
	cryptotest.SetGlobalRandom(t, 21)
	r, err := PassphraseRecipient([]byte("right"), 10)
	if err != nil {
		t.Fatal(err)
	}
	wrapped, err := WrapMasterKey(testMaster(t, 0), r)
	if err != nil {
		t.Fatal(err)
	}
	for _, tc := range []struct {
		name string
		id   *Identity
	}{
		{"wrong passphrase", PassphraseIdentity([]byte("wrong"))},
		{"empty passphrase", PassphraseIdentity(nil)},
		{"nil identity", nil},
		{"empty join", JoinIdentities()},
	} {
		t.Run(tc.name, func(t *testing.T) {
			_, err := UnwrapMasterKey(wrapped, tc.id)
			if !errors.Is(err, ErrWrongKey) || errors.Is(err, ErrCorrupt) {
				t.Errorf("got %v, want ErrWrongKey only", err)
			}
		})
	}
}

func TestUnwrapNotAMasterKey(t *testing.T) {
	cryptotest.SetGlobalRandom(t, 22)
	x, err := age.GenerateX25519Identity()
	if err != nil {
		t.Fatal(err)
	}
	id := mustIdentities(t, []byte(x.String()))
	for name, plain := range map[string][]byte{
		"empty":      nil,
		"no magic":   make([]byte, 32+len(wrapMagic)),
		"short key":  []byte(wrapMagic + "0123456789"),
		"long key":   []byte(wrapMagic + strings.Repeat("k", 33)),
		"just magic": []byte(wrapMagic),
	} {
		t.Run(name, func(t *testing.T) {
			var buf bytes.Buffer
			w, err := age.Encrypt(&buf, x.Recipient())
			if err != nil {
				t.Fatal(err)
			}
			w.Write(plain)
			w.Close()
			if _, err := UnwrapMasterKey(buf.Bytes(), id); !errors.Is(err, ErrCorrupt) {
				t.Errorf("got %v, want ErrCorrupt", err)
			}
		})
	}
	for name, data := range map[string][]byte{
		"empty":   nil,
		"garbage": []byte("hello world"),
		"huge":    make([]byte, maxWrappedSize+1),
	} {
		t.Run(name, func(t *testing.T) {
			if _, err := UnwrapMasterKey(data, id); !errors.Is(err, ErrCorrupt) {
				t.Errorf("got %v, want ErrCorrupt", err)
			}
		})
	}
	// A data-key seal is not a wrapping either.
	sealed, err := testMaster(t, 0).DataKey().Seal([]byte("x"))
	if err != nil {
		t.Fatal(err)
	}
	if _, err := UnwrapMasterKey(sealed, id); !errors.Is(err, ErrWrongKey) {
		t.Errorf("data-key seal: %v, want ErrWrongKey", err)
	}
	if _, err := WrapMasterKey(nil, nil); err == nil {
		t.Error("WrapMasterKey(nil, nil) succeeded")
	}
}

func TestEncryptedSSHIdentity(t *testing.T) {
	edKey := ed25519.NewKeyFromSeed(bytes.Repeat([]byte{2}, ed25519.SeedSize))
	priv, _ := sshKeys(t, edKey, []byte("pw"))
	boom := errors.New("no terminal")
	calls := 0
	for _, tc := range []struct {
		name    string
		pass    func() ([]byte, error)
		wantErr error
	}{
		{"no callback", nil, ErrPassphraseNeeded},
		{"wrong passphrase", func() ([]byte, error) { calls++; return []byte("nope"), nil }, ErrWrongKey},
		{"callback error", func() ([]byte, error) { calls++; return nil, boom }, boom},
		{"right passphrase", func() ([]byte, error) { calls++; return []byte("pw"), nil }, nil},
	} {
		t.Run(tc.name, func(t *testing.T) {
			id, err := ParseIdentitiesWithPassphrase(priv, tc.pass)
			if tc.wantErr == nil {
				if err != nil || id == nil {
					t.Fatalf("got %v", err)
				}
				return
			}
			if !errors.Is(err, tc.wantErr) {
				t.Errorf("got %v, want %v", err, tc.wantErr)
			}
		})
	}
	if calls != 3 {
		t.Errorf("passphrase callback called %d times, want 3", calls)
	}
	// Unencrypted keys never ask.
	plain, _ := sshKeys(t, edKey, nil)
	if _, err := ParseIdentitiesWithPassphrase(plain, func() ([]byte, error) {
		t.Error("callback called for an unencrypted key")
		return nil, nil
	}); err != nil {
		t.Fatal(err)
	}
	if _, err := ParseIdentities(priv); !errors.Is(err, ErrPassphraseNeeded) {
		t.Errorf("ParseIdentities of encrypted key: %v", err)
	}
}

func TestParseRecipientErrors(t *testing.T) {
	cryptotest.SetGlobalRandom(t, 23)
	x, err := age.GenerateX25519Identity()
	if err != nil {
		t.Fatal(err)
	}
	ec, err := ecdsa.GenerateKey(elliptic.P256(), nil)
	if err != nil {
		t.Fatal(err)
	}
	ecSigner, err := ssh.NewSignerFromKey(ec)
	if err != nil {
		t.Fatal(err)
	}
	small, err := rsa.GenerateKey(nil, 1024)
	if err != nil {
		t.Fatal(err)
	}
	smallSigner, err := ssh.NewSignerFromKey(small)
	if err != nil {
		t.Fatal(err)
	}
	edPriv, edPub := sshKeys(t, ed25519.NewKeyFromSeed(make([]byte, 32)), nil)
	for _, tc := range []struct {
		name, in string
		secret   string // must not appear in the error
	}{
		{"empty", "  ", ""},
		{"garbage", "hello", ""},
		{"bad age", "age1qqqqqqqq", ""},
		{"age plugin", "age1yubikey1qqqq", ""},
		{"secret key", x.String(), x.String()},
		{"lower-case secret key", strings.ToLower(x.String()), strings.ToLower(x.String())},
		{"ssh private key", string(edPriv), string(edPriv[40:80])},
		{"ecdsa", string(ssh.MarshalAuthorizedKey(ecSigner.PublicKey())), ""},
		{"rsa 1024", string(ssh.MarshalAuthorizedKey(smallSigner.PublicKey())), ""},
		{"two keys", edPub + "\n" + edPub, ""},
		{"bad ssh base64", "ssh-ed25519 AAAA!!!", ""},
	} {
		t.Run(tc.name, func(t *testing.T) {
			r, err := ParseRecipient(tc.in)
			if err == nil {
				t.Fatalf("parsed as %s %q", r.Kind(), r.String())
			}
			if tc.secret != "" && strings.Contains(err.Error(), tc.secret) {
				t.Errorf("error quotes the secret: %v", err)
			}
		})
	}
	if _, err := ParseRecipient("  " + edPub + "\n"); err != nil {
		t.Errorf("surrounding space: %v", err)
	}
	if r := mustRecipient(t, strings.TrimSuffix(edPub, " me@host")); strings.HasSuffix(r.String(), " ") {
		t.Errorf("String without comment = %q", r.String())
	}
}

func TestParseIdentitiesErrors(t *testing.T) {
	cryptotest.SetGlobalRandom(t, 24)
	ec, err := ecdsa.GenerateKey(elliptic.P256(), nil)
	if err != nil {
		t.Fatal(err)
	}
	ecBlock, err := ssh.MarshalPrivateKey(ec, "")
	if err != nil {
		t.Fatal(err)
	}
	x, err := age.GenerateX25519Identity()
	if err != nil {
		t.Fatal(err)
	}
	for _, tc := range []struct {
		name, in, secret string
	}{
		{"empty", "", ""},
		{"only comments", "# nothing\n\n", ""},
		{"garbage", "hello\n", ""},
		{"recipient", x.Recipient().String(), ""},
		{"bad secret key", x.String()[:len(x.String())-3] + "QQQ", x.String()[16:40]},
		{"ecdsa ssh key", string(pem.EncodeToMemory(ecBlock)), ""},
		{"broken pem", "-----BEGIN OPENSSH PRIVATE KEY-----\nAAAA\n-----END OPENSSH PRIVATE KEY-----\n", ""},
	} {
		t.Run(tc.name, func(t *testing.T) {
			_, err := ParseIdentities([]byte(tc.in))
			if err == nil {
				t.Fatal("no error")
			}
			if tc.secret != "" && strings.Contains(err.Error(), tc.secret) {
				t.Errorf("error quotes the secret: %v", err)
			}
		})
	}
}

func TestPassphraseRecipientWorkFactor(t *testing.T) {
	for _, logN := range []int{-1, 23, 31} {
		if _, err := PassphraseRecipient([]byte("p"), logN); err == nil {
			t.Errorf("logN %d accepted", logN)
		}
	}
	if _, err := PassphraseRecipient(nil, 10); err == nil {
		t.Error("empty passphrase accepted")
	}
	for _, logN := range []int{0, 1, 22} {
		if _, err := PassphraseRecipient([]byte("p"), logN); err != nil {
			t.Errorf("logN %d: %v", logN, err)
		}
	}
}

func TestGenerateX25519(t *testing.T) {
	id, rec, err := GenerateX25519()
	if err != nil {
		t.Fatal(err)
	}
	if !strings.HasPrefix(id, "AGE-SECRET-KEY-1") || !strings.HasPrefix(rec, "age1") {
		t.Fatalf("got %q, %q", id[:16], rec)
	}
	id2, _, err := GenerateX25519()
	if err != nil {
		t.Fatal(err)
	}
	if id2 == id {
		t.Error("two generated identities are equal")
	}
	m := testMaster(t, 3)
	wrapped, err := WrapMasterKey(m, mustRecipient(t, rec))
	if err != nil {
		t.Fatal(err)
	}
	if got, err := UnwrapMasterKey(wrapped, mustIdentities(t, []byte(id))); err != nil || !sameMaster(got, m) {
		t.Errorf("round trip: %v", err)
	}
}
