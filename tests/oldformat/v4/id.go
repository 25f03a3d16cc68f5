package formatv4

import (
	"encoding/hex"
	"fmt"
	"strings"
)

// ID identifies a blob (a keyed hash of its plaintext) or a stored object (the
// SHA-256 of its stored bytes).
type ID [32]byte

// String returns the 64-character lowercase hex form.
func (id ID) String() string { return hex.EncodeToString(id[:]) }

// Short returns the first 8 hex characters, for display.
func (id ID) Short() string { return id.String()[:8] }

// IsZero reports whether id is all zeros.
func (id ID) IsZero() bool { return id == ID{} }

// ParseID parses a 64-character hex ID.
func ParseID(s string) (ID, error) {
	var id ID
	if len(s) != 64 {
		return id, fmt.Errorf("parse id %q: want 64 hex characters", s)
	}
	if _, err := hex.Decode(id[:], []byte(s)); err != nil {
		return id, fmt.Errorf("parse id %q: %w", s, err)
	}
	if strings.ToLower(s) != s {
		return id, fmt.Errorf("parse id %q: not lowercase", s)
	}
	return id, nil
}

// MarshalText implements encoding.TextMarshaler (hex).
func (id ID) MarshalText() ([]byte, error) {
	b := make([]byte, 64)
	hex.Encode(b, id[:])
	return b, nil
}

// UnmarshalText implements encoding.TextUnmarshaler (hex).
func (id *ID) UnmarshalText(b []byte) error {
	v, err := ParseID(string(b))
	if err != nil {
		return err
	}
	*id = v
	return nil
}

// Object name prefixes. Every stored object lives under one of them, except
// the config object.
const (
	ConfigName     = "config"
	KeysPrefix     = "keys/"
	DataPrefix     = "data/"
	IndexPrefix    = "index/"
	SnapshotPrefix = "snapshots/"
)

// PackName is the object name of the pack with the given ID:
// data/<first two hex digits>/<hex id>.
func PackName(id ID) string {
	s := id.String()
	return DataPrefix + s[:2] + "/" + s
}

// IndexName is the object name of an index object.
func IndexName(id ID) string { return IndexPrefix + id.String() }

// SnapshotName is the object name of a snapshot.
func SnapshotName(id ID) string { return SnapshotPrefix + id.String() }

// KeyName is the object name of a key object.
func KeyName(id ID) string { return KeysPrefix + id.String() }

// ParseName splits an object name under prefix into its ID. It accepts the
// two-level data/xx/<id> form for packs and checks that the directory part
// matches the ID.
func ParseName(prefix, name string) (ID, error) {
	rest, ok := strings.CutPrefix(name, prefix)
	if !ok {
		return ID{}, fmt.Errorf("object %q is not under %q", name, prefix)
	}
	if prefix == DataPrefix {
		dir, file, ok := strings.Cut(rest, "/")
		if !ok || len(dir) != 2 || !strings.HasPrefix(file, dir) {
			return ID{}, fmt.Errorf("pack name %q is malformed", name)
		}
		rest = file
	}
	return ParseID(rest)
}
