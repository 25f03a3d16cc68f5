package tests

import (
	"bytes"
	"crypto/hkdf"
	"crypto/hmac"
	"crypto/sha256"
	"encoding/base64"
	"errors"
	"fmt"
	"strconv"
	"strings"

	"golang.org/x/crypto/chacha20poly1305"
	"golang.org/x/crypto/scrypt"
)

// This file is a second, independent reader of the two kinds of age file a
// repository holds (FORMAT.md §2 and §3), written from the text of
// FORMAT.md and the age specification (age-encryption.org/v1) with no use
// of filippo.io/age or of lifeboat/crypto. The vectors test runs it next to
// the real code on every object of the vector repository, so the document
// and the code cannot drift apart unnoticed.

// ageStanza is one recipient stanza of an age header.
type ageStanza struct {
	Type string
	Args []string
	Body []byte
}

// ageFile is a parsed age file.
type ageFile struct {
	Stanzas     []ageStanza
	HeaderLen   int    // bytes up to and including the MAC line's newline
	MACd        []byte // the header bytes the MAC covers (through "---")
	MAC         []byte
	StreamNonce []byte // the 16 bytes after the header
	Payload     []byte // the STREAM ciphertext
}

var ageB64 = base64.RawStdEncoding.Strict()

// parseAge splits an age v1 file into its header and payload.
func parseAge(data []byte) (*ageFile, error) {
	const intro = "age-encryption.org/v1\n"
	if !bytes.HasPrefix(data, []byte(intro)) {
		return nil, errors.New("no age v1 intro line")
	}
	f := &ageFile{}
	pos := len(intro)
	line := func() (string, error) {
		i := bytes.IndexByte(data[pos:], '\n')
		if i < 0 {
			return "", errors.New("header line without newline")
		}
		s := string(data[pos : pos+i])
		pos += i + 1
		return s, nil
	}
	for {
		start := pos
		l, err := line()
		if err != nil {
			return nil, err
		}
		if strings.HasPrefix(l, "--- ") {
			f.MACd = data[:start+3]
			if f.MAC, err = ageB64.DecodeString(l[4:]); err != nil || len(f.MAC) != 32 {
				return nil, errors.New("bad header MAC line")
			}
			break
		}
		fields := strings.Split(l, " ")
		if len(fields) < 2 || fields[0] != "->" {
			return nil, fmt.Errorf("bad stanza line %q", l)
		}
		s := ageStanza{Type: fields[1], Args: fields[2:]}
		// The body: full 64-character lines, ended by a shorter one
		// (possibly empty).
		for {
			b, err := line()
			if err != nil {
				return nil, err
			}
			chunk, err := ageB64.DecodeString(b)
			if err != nil || len(b) > 64 {
				return nil, fmt.Errorf("bad stanza body line %q", b)
			}
			s.Body = append(s.Body, chunk...)
			if len(b) < 64 {
				break
			}
		}
		f.Stanzas = append(f.Stanzas, s)
	}
	f.HeaderLen = pos
	if len(data) < pos+16 {
		return nil, errors.New("no payload nonce")
	}
	f.StreamNonce = data[pos : pos+16]
	f.Payload = data[pos+16:]
	return f, nil
}

// unwrapDataKeyStanza returns the file key of a sealed object: the single
// "lifeboat-dk" stanza opened with XChaCha20-Poly1305 under the data key,
// additional data "lifeboat-dk" (FORMAT.md §3).
func unwrapDataKeyStanza(f *ageFile, dataKey, dataKeyID []byte) ([]byte, error) {
	if len(f.Stanzas) != 1 {
		return nil, fmt.Errorf("%d stanzas, want 1", len(f.Stanzas))
	}
	s := f.Stanzas[0]
	if s.Type != "lifeboat-dk" || len(s.Args) != 2 {
		return nil, fmt.Errorf("stanza %q with %d arguments", s.Type, len(s.Args))
	}
	id, err := ageB64.DecodeString(s.Args[0])
	if err != nil || !bytes.Equal(id, dataKeyID) {
		return nil, fmt.Errorf("key id %q is not the data key's", s.Args[0])
	}
	nonce, err := ageB64.DecodeString(s.Args[1])
	if err != nil || len(nonce) != 24 {
		return nil, errors.New("bad stanza nonce")
	}
	aead, err := chacha20poly1305.NewX(dataKey)
	if err != nil {
		return nil, err
	}
	return aead.Open(nil, nonce, s.Body, []byte("lifeboat-dk"))
}

// unwrapScryptStanza returns the file key of a passphrase key's wrapping
// (age's scrypt recipient type).
func unwrapScryptStanza(f *ageFile, passphrase []byte) (fileKey []byte, logN int, err error) {
	if len(f.Stanzas) != 1 || f.Stanzas[0].Type != "scrypt" || len(f.Stanzas[0].Args) != 2 {
		return nil, 0, errors.New("not a single scrypt stanza")
	}
	s := f.Stanzas[0]
	salt, err := ageB64.DecodeString(s.Args[0])
	if err != nil || len(salt) != 16 {
		return nil, 0, errors.New("bad scrypt salt")
	}
	logN, err = strconv.Atoi(s.Args[1])
	if err != nil || logN < 1 || logN > 22 {
		return nil, 0, fmt.Errorf("scrypt work factor %q", s.Args[1])
	}
	key, err := scrypt.Key(passphrase, append([]byte("age-encryption.org/v1/scrypt"), salt...), 1<<logN, 8, 1, 32)
	if err != nil {
		return nil, 0, err
	}
	aead, err := chacha20poly1305.New(key)
	if err != nil {
		return nil, 0, err
	}
	fileKey, err = aead.Open(nil, make([]byte, 12), s.Body, nil)
	return fileKey, logN, err
}

// openAgePayload checks the header MAC under fileKey and decrypts the
// STREAM payload: ChaCha20-Poly1305 under HKDF-SHA-256(fileKey, salt =
// the 16-byte nonce, info "payload"), 64 KiB chunks, chunk nonce = 11-byte
// big-endian counter ‖ 0x01 for the final chunk, else 0x00.
func openAgePayload(f *ageFile, fileKey []byte) ([]byte, error) {
	hmacKey, err := hkdf.Key(sha256.New, fileKey, nil, "header", 32)
	if err != nil {
		return nil, err
	}
	mac := hmac.New(sha256.New, hmacKey)
	mac.Write(f.MACd)
	if !hmac.Equal(mac.Sum(nil), f.MAC) {
		return nil, errors.New("header MAC does not verify")
	}
	key, err := hkdf.Key(sha256.New, fileKey, f.StreamNonce, "payload", 32)
	if err != nil {
		return nil, err
	}
	aead, err := chacha20poly1305.New(key)
	if err != nil {
		return nil, err
	}
	const chunk = 64<<10 + 16
	var out []byte
	rest := f.Payload
	for counter := uint64(0); ; counter++ {
		n := min(len(rest), chunk)
		last := n == len(rest)
		nonce := make([]byte, 12)
		for i := 0; i < 8; i++ {
			nonce[10-i] = byte(counter >> (8 * i))
		}
		if last {
			nonce[11] = 1
		}
		p, err := aead.Open(nil, nonce, rest[:n], nil)
		if err != nil {
			return nil, fmt.Errorf("chunk %d: %w", counter, err)
		}
		if last && len(p) == 0 && counter > 0 {
			return nil, errors.New("empty final chunk after a full one")
		}
		out = append(out, p...)
		rest = rest[n:]
		if last {
			return out, nil
		}
	}
}
