package formatv4

import (
	"encoding/json"
	"time"
)

// Key is a key object: the repository master secret wrapped (as an age file)
// to one recipient, with plaintext metadata for listing. The object is named
// by the SHA-256 of its bytes, so the metadata cannot be altered unnoticed.
type Key struct {
	Version   int       `json:"version"`
	Created   time.Time `json:"created"`
	Kind      string    `json:"kind"`      // x25519, ssh-ed25519, ssh-rsa, passphrase
	Recipient string    `json:"recipient"` // public form; "passphrase" for scrypt
	Label     string    `json:"label,omitempty"`
	Host      string    `json:"host,omitempty"`
	Username  string    `json:"username,omitempty"`
	Wrapped   []byte    `json:"wrapped"` // age file holding the master secret
}

// MaxKeySize bounds a key object.
const MaxKeySize = 64 << 10

// EncodeKey encodes a key object.
func EncodeKey(k *Key) ([]byte, error) { return json.Marshal(k) }

// DecodeKey decodes a key object.
func DecodeKey(data []byte) (*Key, error) {
	var k Key
	if err := decodeJSON("key", data, MaxKeySize, &k); err != nil {
		return nil, err
	}
	switch {
	case k.Version != 1:
		return nil, formatErr("key", "version %d", k.Version)
	case k.Kind == "" || k.Recipient == "":
		return nil, formatErr("key", "missing kind or recipient")
	case len(k.Wrapped) == 0:
		return nil, formatErr("key", "missing wrapped secret")
	}
	return &k, nil
}
