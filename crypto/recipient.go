package crypto

import (
	"bytes"
	"crypto/ed25519"
	"crypto/rsa"
	"crypto/x509"
	"errors"
	"fmt"
	"strings"

	"filippo.io/age"
	"filippo.io/age/agessh"
	"golang.org/x/crypto/ssh"
)

// Recipient kinds, as returned by [Recipient.Kind].
const (
	KindX25519     = "x25519"
	KindHybrid     = "mlkem768x25519" // age1pq1… post-quantum hybrid
	KindSSHEd25519 = "ssh-ed25519"
	KindSSHRSA     = "ssh-rsa"
	KindPassphrase = "passphrase"
)

// defaultScryptLogN is age's default passphrase work factor (about 1 s).
const defaultScryptLogN = 18

// maxScryptLogN is the largest work factor PassphraseIdentity accepts
// (age's default maximum; 2^22 scrypt uses 4 GiB and ~15 s).
const maxScryptLogN = 22

// Recipient is somebody the master key can be wrapped to: an age X25519 or
// hybrid public key, an SSH ed25519 or RSA public key, or a passphrase.
type Recipient struct {
	r    age.Recipient
	kind string
	str  string
}

// Kind returns the recipient kind: "x25519", "mlkem768x25519",
// "ssh-ed25519", "ssh-rsa" or "passphrase".
func (r *Recipient) Kind() string { return r.kind }

// String returns the public form: "age1…", "ssh-ed25519 AAAA… comment" (the
// comment only when there was one) or "passphrase".
func (r *Recipient) String() string { return r.str }

// ParseRecipient parses an age public key (age1…, age1pq1…) or one SSH
// public key line of type ssh-ed25519 or ssh-rsa (as in authorized_keys or a
// .pub file). Surrounding white space is ignored.
func ParseRecipient(s string) (*Recipient, error) {
	s = strings.TrimSpace(s)
	switch {
	case s == "":
		return nil, errors.New("parse recipient: empty")
	case strings.HasPrefix(s, "age1pq1"):
		r, err := age.ParseHybridRecipient(s)
		if err != nil {
			return nil, fmt.Errorf("parse recipient: %w", err)
		}
		return &Recipient{r: r, kind: KindHybrid, str: r.String()}, nil
	case strings.HasPrefix(s, "age1"):
		r, err := age.ParseX25519Recipient(s)
		if err != nil {
			return nil, fmt.Errorf("parse recipient: %w", err)
		}
		return &Recipient{r: r, kind: KindX25519, str: r.String()}, nil
	case strings.HasPrefix(strings.ToUpper(s), "AGE-SECRET-KEY-") || strings.HasPrefix(s, "-----BEGIN"):
		// Never echo secret key material.
		return nil, errors.New("parse recipient: this is a secret key; give its public key")
	case strings.HasPrefix(s, "age"):
		return nil, errors.New("parse recipient: unsupported age recipient (plugins are not supported)")
	}
	return parseSSHRecipient(s)
}

func parseSSHRecipient(s string) (*Recipient, error) {
	pk, comment, _, rest, err := ssh.ParseAuthorizedKey([]byte(s))
	if err != nil {
		return nil, fmt.Errorf("parse recipient: not an age or SSH public key: %w", err)
	}
	if len(bytes.TrimSpace(rest)) != 0 {
		return nil, errors.New("parse recipient: more than one SSH public key")
	}
	var r age.Recipient
	kind := pk.Type()
	switch kind {
	case ssh.KeyAlgoED25519:
		r, err = agessh.NewEd25519Recipient(pk)
	case ssh.KeyAlgoRSA:
		r, err = agessh.NewRSARecipient(pk)
	default:
		return nil, fmt.Errorf("parse recipient: unsupported SSH key type %q (want ssh-ed25519 or ssh-rsa)", kind)
	}
	if err != nil {
		return nil, fmt.Errorf("parse recipient: %s: %w", kind, err)
	}
	str := strings.TrimSpace(string(ssh.MarshalAuthorizedKey(pk)))
	if comment != "" {
		str += " " + comment
	}
	return &Recipient{r: r, kind: kind, str: str}, nil
}

// PassphraseRecipient wraps to a passphrase with scrypt work factor 2^logN;
// logN 0 means age's default, 18. logN must not exceed 22, the most that
// PassphraseIdentity accepts.
func PassphraseRecipient(pass []byte, logN int) (*Recipient, error) {
	if logN == 0 {
		logN = defaultScryptLogN
	}
	if logN < 1 || logN > maxScryptLogN {
		return nil, fmt.Errorf("passphrase recipient: work factor %d not in [1, %d]", logN, maxScryptLogN)
	}
	r, err := age.NewScryptRecipient(string(pass))
	if err != nil {
		return nil, fmt.Errorf("passphrase recipient: %w", err)
	}
	r.SetWorkFactor(logN)
	return &Recipient{r: r, kind: KindPassphrase, str: KindPassphrase}, nil
}

// Identity holds one or more secrets that can unwrap a master key.
type Identity struct {
	ids []age.Identity
}

// ParseIdentities parses either an age identity file (AGE-SECRET-KEY-1… and
// AGE-SECRET-KEY-PQ-1… lines; empty lines and "#" comments ignored) or an
// SSH private key (ed25519 or RSA, OpenSSH or PEM format). An encrypted SSH
// key yields an error wrapping ErrPassphraseNeeded; use
// ParseIdentitiesWithPassphrase for those. Errors never quote key material.
func ParseIdentities(data []byte) (*Identity, error) {
	return ParseIdentitiesWithPassphrase(data, nil)
}

// ParseIdentitiesWithPassphrase is ParseIdentities that calls pass, only when
// data is an encrypted SSH private key, to decrypt it. A wrong passphrase
// yields an error wrapping ErrWrongKey; an error of pass is returned wrapped.
func ParseIdentitiesWithPassphrase(data []byte, pass func() ([]byte, error)) (*Identity, error) {
	if bytes.HasPrefix(bytes.TrimSpace(data), []byte("-----BEGIN")) {
		return parseSSHIdentity(data, pass)
	}
	ids, err := age.ParseIdentities(bytes.NewReader(data))
	if err != nil {
		return nil, fmt.Errorf("parse identities: %w", err)
	}
	return &Identity{ids: ids}, nil
}

func parseSSHIdentity(data []byte, pass func() ([]byte, error)) (*Identity, error) {
	key, err := ssh.ParseRawPrivateKey(data)
	var missing *ssh.PassphraseMissingError
	if errors.As(err, &missing) {
		if pass == nil {
			return nil, fmt.Errorf("parse ssh private key: %w: the key is encrypted", ErrPassphraseNeeded)
		}
		p, perr := pass()
		if perr != nil {
			return nil, fmt.Errorf("parse ssh private key: get passphrase: %w", perr)
		}
		key, err = ssh.ParseRawPrivateKeyWithPassphrase(data, p)
		if errors.Is(err, x509.IncorrectPasswordError) {
			return nil, fmt.Errorf("parse ssh private key: %w: incorrect passphrase", ErrWrongKey)
		}
	}
	if err != nil {
		return nil, fmt.Errorf("parse ssh private key: %w", err)
	}
	var id age.Identity
	switch k := key.(type) {
	case ed25519.PrivateKey:
		id, err = agessh.NewEd25519Identity(k)
	case *ed25519.PrivateKey:
		id, err = agessh.NewEd25519Identity(*k)
	case *rsa.PrivateKey:
		id, err = agessh.NewRSAIdentity(k)
	default:
		return nil, fmt.Errorf("parse ssh private key: unsupported key type %T (want ed25519 or rsa)", key)
	}
	if err != nil {
		return nil, fmt.Errorf("parse ssh private key: %w", err)
	}
	return &Identity{ids: []age.Identity{id}}, nil
}

// PassphraseIdentity unwraps master keys wrapped to pass by
// PassphraseRecipient, accepting scrypt work factors up to 2^22. An empty
// passphrase matches nothing.
func PassphraseIdentity(pass []byte) *Identity {
	id, err := age.NewScryptIdentity(string(pass))
	if err != nil {
		return &Identity{ids: []age.Identity{noIdentity{err}}}
	}
	id.SetMaxWorkFactor(maxScryptLogN)
	return &Identity{ids: []age.Identity{id}}
}

// noIdentity never matches.
type noIdentity struct{ why error }

func (n noIdentity) Unwrap([]*age.Stanza) ([]byte, error) {
	return nil, fmt.Errorf("%w: %v", age.ErrIncorrectIdentity, n.why)
}

// JoinIdentities returns an Identity trying all identities of ids in order
// (age tries native keys and passphrases before SSH keys). Nil entries are
// skipped.
func JoinIdentities(ids ...*Identity) *Identity {
	j := &Identity{}
	for _, id := range ids {
		if id != nil {
			j.ids = append(j.ids, id.ids...)
		}
	}
	return j
}

// GenerateX25519 returns a new age X25519 identity ("AGE-SECRET-KEY-1…") and
// its recipient ("age1…").
func GenerateX25519() (identity, recipient string, err error) {
	id, err := age.GenerateX25519Identity()
	if err != nil {
		return "", "", fmt.Errorf("generate x25519 identity: %w", err)
	}
	return id.String(), id.Recipient().String(), nil
}
