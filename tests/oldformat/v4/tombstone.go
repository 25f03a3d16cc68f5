package formatv4

import (
	"encoding/json"
	"strings"
	"time"
)

// TombstonePrefix is where tombstones live: TombstonePrefix + the name of
// the deleted object (tombstones/snapshots/<hex>, tombstones/keys/<hex>,
// tombstones/index/<hex>, tombstones/data/<xx>/<hex>).
const TombstonePrefix = "tombstones/"

// TombstoneVersion is the first repository format version whose writers
// record deletions with tombstones. Writers never store a tombstone in a
// repository of an older version.
const TombstoneVersion = 4

// Reasons recorded in a tombstone.
const (
	ReasonForget    = "forget"     // a snapshot forgotten
	ReasonKeyRemove = "key-remove" // a key removed
	ReasonGC        = "gc"         // an index object or pack swept (prune)
)

// MaxTombstoneSize bounds a tombstone object.
const MaxTombstoneSize = 4 << 10

// TombstoneRecordVersion is the version of the tombstone record.
const TombstoneRecordVersion = 1

// Tombstone is a tombstone object: plaintext JSON that records the
// deletion of one content-addressed object, named by the object it
// buries (TombstoneName). MAC authenticates it with a key derived from the
// repository's master secret (see TombstoneMACInput): only a holder of a
// key can write one that readers and a keyed sync honour.
type Tombstone struct {
	Version int    `json:"version"`
	Object  string `json:"object"`
	Reason  string `json:"reason"`
	// Time is when the deletion was recorded, by the writer's clock; it
	// is informational (the storage's ModTime of the tombstone is
	// authoritative for its age).
	Time time.Time `json:"time"`
	Host string    `json:"host,omitempty"`
	// MAC is HMAC-SHA256 over TombstoneMACInput, keyed by the master
	// secret's "tombstone mac" derivation.
	MAC []byte `json:"mac"`
}

// TombstoneName is the name of the tombstone of object.
func TombstoneName(object string) string { return TombstonePrefix + object }

// TombstonedObject returns the object a tombstone name buries, and whether
// name is a well-formed tombstone name (of a key, pack, index or snapshot
// object).
func TombstonedObject(name string) (string, bool) {
	obj, ok := strings.CutPrefix(name, TombstonePrefix)
	if !ok {
		return "", false
	}
	return obj, TombstonableObject(obj)
}

// TombstonableObject reports whether object may have a tombstone: a
// well-formed key, pack, index or snapshot name.
func TombstonableObject(object string) bool {
	for _, p := range []string{KeysPrefix, DataPrefix, IndexPrefix, SnapshotPrefix} {
		if strings.HasPrefix(object, p) {
			_, err := ParseName(p, object)
			return err == nil
		}
	}
	return false
}

// TombstoneMACInput is the byte string a tombstone's MAC covers: every
// field but the MAC, unambiguously framed.
func TombstoneMACInput(t *Tombstone) []byte {
	b := []byte("lifeboat tombstone v1\x00")
	b = append(b, t.Object...)
	b = append(b, 0)
	b = append(b, t.Reason...)
	b = append(b, 0)
	b = append(b, t.Time.UTC().Format(time.RFC3339Nano)...)
	b = append(b, 0)
	b = append(b, t.Host...)
	return b
}

func (t *Tombstone) validate() error {
	const what = "tombstone"
	switch {
	case t.Version != TombstoneRecordVersion:
		return formatErr(what, "version %d", t.Version)
	case !TombstonableObject(t.Object):
		return formatErr(what, "object %q", t.Object)
	case t.Reason != ReasonForget && t.Reason != ReasonKeyRemove && t.Reason != ReasonGC:
		return formatErr(what, "reason %q", t.Reason)
	case len(t.MAC) != 32:
		return formatErr(what, "mac of %d bytes", len(t.MAC))
	case len(t.Host) > 255:
		return formatErr(what, "host of %d bytes", len(t.Host))
	}
	return nil
}

// EncodeTombstone encodes a tombstone as JSON.
func EncodeTombstone(t *Tombstone) ([]byte, error) {
	if err := t.validate(); err != nil {
		return nil, err
	}
	return json.Marshal(t)
}

// DecodeTombstone decodes and validates a tombstone stored as name: the
// record must name the object name buries.
func DecodeTombstone(name string, data []byte) (*Tombstone, error) {
	var t Tombstone
	if err := decodeJSON("tombstone", data, MaxTombstoneSize, &t); err != nil {
		return nil, err
	}
	if err := t.validate(); err != nil {
		return nil, err
	}
	if obj, ok := TombstonedObject(name); !ok || obj != t.Object {
		return nil, formatErr("tombstone", "%q records object %q", name, t.Object)
	}
	return &t, nil
}
