package crypto

import (
	"bytes"
	"errors"
	"fmt"
	"io"

	"filippo.io/age"
)

// wrapMagic prefixes the master secret inside a wrapping, so that an
// unrelated age file for the same identity is reported as corrupt rather
// than taken for a key.
const wrapMagic = "lifeboat master key v1\n"

// maxWrappedSize bounds the wrappings UnwrapMasterKey accepts; real ones are
// a few hundred bytes (a few KiB for post-quantum recipients).
const maxWrappedSize = 1 << 20

// WrapMasterKey encrypts the master key to one recipient, as an age file.
// Each recipient gets its own wrapping (a passphrase has to be alone in an
// age file anyway).
func WrapMasterKey(m *MasterKey, r *Recipient) ([]byte, error) {
	if m == nil || r == nil {
		return nil, errors.New("wrap master key: nil key or recipient")
	}
	var buf bytes.Buffer
	w, err := age.Encrypt(&buf, r.r)
	if err != nil {
		return nil, fmt.Errorf("wrap master key to %s: %w", r.kind, err)
	}
	plain := make([]byte, 0, len(wrapMagic)+masterKeySize)
	plain = append(append(plain, wrapMagic...), m.secret[:]...)
	if _, err := w.Write(plain); err != nil {
		return nil, fmt.Errorf("wrap master key to %s: %w", r.kind, err)
	}
	if err := w.Close(); err != nil {
		return nil, fmt.Errorf("wrap master key to %s: %w", r.kind, err)
	}
	return buf.Bytes(), nil
}

// UnwrapMasterKey decrypts a wrapping made by WrapMasterKey. It returns an
// error wrapping ErrWrongKey when no identity matches (including a wrong
// passphrase) and one wrapping ErrCorrupt when wrapped is malformed or has
// been tampered with. For public-key recipients a tampered recipient stanza
// cannot be told apart from a foreign one and yields ErrWrongKey.
func UnwrapMasterKey(wrapped []byte, id *Identity) (*MasterKey, error) {
	if id == nil || len(id.ids) == 0 {
		return nil, fmt.Errorf("unwrap master key: %w: no identity given", ErrWrongKey)
	}
	if len(wrapped) > maxWrappedSize {
		return nil, fmt.Errorf("unwrap master key: %w: %d bytes is too large", ErrCorrupt, len(wrapped))
	}
	r, err := age.Decrypt(bytes.NewReader(wrapped), id.ids...)
	if err != nil {
		var nm *age.NoIdentityMatchError
		if errors.As(err, &nm) {
			return nil, fmt.Errorf("unwrap master key: %w: %v", ErrWrongKey, err)
		}
		return nil, fmt.Errorf("unwrap master key: %w: %v", ErrCorrupt, err)
	}
	plain, err := io.ReadAll(r)
	if err != nil {
		return nil, fmt.Errorf("unwrap master key: %w: %v", ErrCorrupt, err)
	}
	if len(plain) != len(wrapMagic)+masterKeySize || string(plain[:len(wrapMagic)]) != wrapMagic {
		return nil, fmt.Errorf("unwrap master key: %w: not a lifeboat master key", ErrCorrupt)
	}
	m := &MasterKey{}
	copy(m.secret[:], plain[len(wrapMagic):])
	clear(plain)
	return m, nil
}
