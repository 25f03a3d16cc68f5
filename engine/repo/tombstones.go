package repo

import (
	"context"
	"crypto/hmac"
	"crypto/sha256"
	"errors"
	"fmt"
	"os"
	"slices"
	"strings"
	"time"

	"lifeboat/crypto"
	"lifeboat/engine/format"
	"lifeboat/storage"
)

// TombstoneTTL is how long a tombstone is kept at least (tombstone_ttl):
// a region that was not brought up to date for longer may have missed a
// deletion whose tombstone is gone, and must be re-seeded rather than
// merged (FORMAT.md "Deletions"). Nothing removes tombstones yet.
const TombstoneTTL = 90 * 24 * time.Hour

var (
	// ErrNoTombstones reports a deletion asked of a repository whose
	// format version predates tombstones.
	ErrNoTombstones = errors.New("the repository's format version has no tombstones: run lifeboat migrate")
	// ErrForgedTombstone reports a tombstone whose MAC does not verify
	// with this repository's key: it was not written by a key holder.
	ErrForgedTombstone = errors.New("tombstone does not authenticate with the repository key")
)

// tombstoneKey derives the key of tombstone MACs from a master secret.
func tombstoneKey(m *crypto.MasterKey) []byte { return m.Derive("tombstone mac", 32) }

func tombstoneMAC(key []byte, t *format.Tombstone) []byte {
	h := hmac.New(sha256.New, key)
	h.Write(format.TombstoneMACInput(t))
	return h.Sum(nil)
}

// verifyTombstone decodes data stored as name and checks its MAC.
func verifyTombstone(key []byte, name string, data []byte) (*format.Tombstone, error) {
	t, err := format.DecodeTombstone(name, data)
	if err != nil {
		return nil, err
	}
	if !hmac.Equal(t.MAC, tombstoneMAC(key, t)) {
		return nil, fmt.Errorf("%s: %w", name, ErrForgedTombstone)
	}
	return t, nil
}

// VerifyTombstone checks that data, stored as the tombstone name, is a
// well-formed tombstone written with this repository's key. A keyed sync
// deletes only objects such a tombstone buries.
func (r *Repository) VerifyTombstone(name string, data []byte) error {
	_, err := verifyTombstone(tombstoneKey(r.master), name, data)
	return err
}

// NewTombstone returns the encoded, authenticated tombstone of object.
func (r *Repository) NewTombstone(object, reason string) ([]byte, error) {
	host, _ := os.Hostname()
	t := &format.Tombstone{Version: format.TombstoneRecordVersion, Object: object, Reason: reason,
		Time: r.now().UTC(), Host: host}
	t.MAC = tombstoneMAC(tombstoneKey(r.master), t)
	return format.EncodeTombstone(t)
}

// tombstoneCopies reads every region's copy of the tombstone name (the one
// copy of a storage that is not a region set), skipping the regions that
// lack it or fail.
func tombstoneCopies(ctx context.Context, st storage.Reader, name string) [][]byte {
	var out [][]byte
	if rs := st.Capabilities().Regions; rs != nil {
		for _, rep := range rs.Replicas() {
			if data, err := storage.ReadAll(ctx, rep.Reader, name); err == nil {
				out = append(out, data)
			}
		}
		return out
	}
	if data, err := storage.ReadAll(ctx, st, name); err == nil {
		out = append(out, data)
	}
	return out
}

// buried reports whether object has a tombstone, in any region, that
// authenticates with key. A tombstone that does not (forged, damaged) is
// ignored here; check reports it.
func buried(ctx context.Context, st storage.Reader, key []byte, object string) bool {
	name := format.TombstoneName(object)
	for _, data := range tombstoneCopies(ctx, st, name) {
		if _, err := verifyTombstone(key, name, data); err == nil {
			return true
		}
	}
	return false
}

// tombstoneNames lists the objects under prefix (snapshots/, keys/, ...)
// that have a tombstone in some region, authenticated or not.
func tombstoneNames(ctx context.Context, st storage.Reader, prefix string) (map[string]bool, error) {
	names := map[string]bool{}
	err := listAll(ctx, st, format.TombstonePrefix+prefix, func(fi storage.Info) error {
		if obj, ok := format.TombstonedObject(fi.Name); ok {
			names[obj] = true
		}
		return nil
	})
	if err != nil {
		return nil, fmt.Errorf("list tombstones: %w", err)
	}
	return names, nil
}

// dropBuried removes from ids (objects named by nameOf) those with an
// authenticated tombstone.
func (r *Repository) dropBuried(ctx context.Context, prefix string, nameOf func(format.ID) string, ids []format.ID) ([]format.ID, error) {
	ts, err := tombstoneNames(ctx, r.st, prefix)
	if err != nil || len(ts) == 0 {
		return ids, err
	}
	key := tombstoneKey(r.master)
	out := ids[:0:0]
	for _, id := range ids {
		if ts[nameOf(id)] && buried(ctx, r.st, key, nameOf(id)) {
			continue
		}
		out = append(out, id)
	}
	return out, nil
}

// Tombstone describes one tombstone of the repository.
type Tombstone struct {
	// Name is the tombstone object's name; Object the object it buries.
	Name, Object string
	// Record is the decoded record (nil when none authenticates).
	Record *format.Tombstone
	// Err is why no copy authenticates (wrapping ErrForgedTombstone or
	// format.ErrFormat); nil for a genuine tombstone.
	Err error
}

// Tombstones lists every tombstone in any region, with the result of
// authenticating it.
func (r *Repository) Tombstones(ctx context.Context) ([]Tombstone, error) {
	ts, err := tombstoneNames(ctx, r.st, "")
	if err != nil {
		return nil, err
	}
	key := tombstoneKey(r.master)
	var out []Tombstone
	for obj := range ts {
		t := Tombstone{Name: format.TombstoneName(obj), Object: obj}
		copies := tombstoneCopies(ctx, r.st, t.Name)
		t.Err = fmt.Errorf("%s: %w", t.Name, storage.ErrNotExist)
		for _, data := range copies {
			rec, err := verifyTombstone(key, t.Name, data)
			if err == nil {
				t.Record, t.Err = rec, nil
				break
			}
			t.Err = err
		}
		out = append(out, t)
	}
	slices.SortFunc(out, func(a, b Tombstone) int { return strings.Compare(a.Name, b.Name) })
	return out, nil
}

// Deletion is the outcome of deleting objects with tombstones.
type Deletion struct {
	// Objects are the objects tombstoned and deleted.
	Objects []string
	// Pending describes the regions an object could not be deleted from
	// yet (a region that was down): it holds the tombstone or gets it
	// from sync, and `lifeboat sync` deletes the object there.
	Pending []string
}

// bury deletes objects the version 4 way: first an authenticated
// tombstone of each is written to every region (the write quorum at
// least; regions that miss it are behind and get it from sync); only when
// every tombstone is stored is any object deleted. A region where a
// deletion fails is reported in Pending, not as an error: its tombstone
// stops sync from copying the object back, and sync deletes it there.
// Append-only storage is refused (storage.ErrAppendOnly), nothing written.
func (r *Repository) bury(ctx context.Context, objects []string, reason string) (*Deletion, error) {
	if r.cfg.Version < format.TombstoneVersion {
		return nil, fmt.Errorf("format version %d: %w", r.cfg.Version, ErrNoTombstones)
	}
	if r.st.Capabilities().AppendOnly {
		// Deletions are a trusted host's: refused before any tombstone.
		return nil, storage.ErrAppendOnly
	}
	for _, obj := range objects {
		if !format.TombstonableObject(obj) {
			return nil, fmt.Errorf("tombstone %q: not a key, pack, index or snapshot name", obj)
		}
	}
	// Several requests at once (each local write or deletion waits for
	// fsyncs), the deletions only once every tombstone is written.
	workers := max(8, r.concurrency())
	err := eachLimit(ctx, workers, len(objects), func(ctx context.Context, i int) error {
		obj := objects[i]
		data, err := r.NewTombstone(obj, reason)
		if err != nil {
			return fmt.Errorf("tombstone %s: %w", obj, err)
		}
		if err := storage.PutBytes(ctx, r.st, format.TombstoneName(obj), data, storage.PutOptions{}); err != nil {
			return fmt.Errorf("write tombstone of %s (nothing deleted): %w", obj, err)
		}
		return nil
	})
	if err != nil {
		return nil, err
	}
	d := &Deletion{Objects: objects}
	pending := make([]string, len(objects))
	err = eachLimit(ctx, workers, len(objects), func(ctx context.Context, i int) error {
		obj := objects[i]
		err := r.st.Delete(ctx, obj)
		switch {
		case err == nil, errors.Is(err, storage.ErrNotExist):
		case ctx.Err() != nil:
			return fmt.Errorf("delete %s: %w", obj, ctx.Err())
		default:
			pending[i] = fmt.Sprintf("%s: %v", obj, err)
		}
		return nil
	})
	for _, p := range pending {
		if p != "" {
			d.Pending = append(d.Pending, p)
		}
	}
	if err != nil {
		return d, err
	}
	return d, nil
}

// Forget deletes the snapshots ids, tombstone first (see bury). It needs
// format version 4 (ErrNoTombstones). Data the snapshots alone reference
// stays until a prune.
func (r *Repository) Forget(ctx context.Context, ids []format.ID) (*Deletion, error) {
	objs := make([]string, len(ids))
	for i, id := range ids {
		objs[i] = format.SnapshotName(id)
	}
	d, err := r.bury(ctx, objs, format.ReasonForget)
	if err != nil {
		return d, fmt.Errorf("forget: %w", err)
	}
	return d, nil
}

// ResolveSnapshots resolves unique ID prefixes (at least 4 hex characters,
// "latest" not allowed) to snapshot IDs, without duplicates.
func (r *Repository) ResolveSnapshots(ctx context.Context, sels []string) ([]format.ID, error) {
	var out []format.ID
	seen := map[format.ID]bool{}
	for _, sel := range sels {
		if sel == "" || strings.EqualFold(sel, "latest") {
			return nil, fmt.Errorf("snapshot %q: give snapshot IDs", sel)
		}
		ref, err := r.FindSnapshot(ctx, sel, Filter{})
		if err != nil {
			return nil, err
		}
		if !seen[ref.ID] {
			seen[ref.ID] = true
			out = append(out, ref.ID)
		}
	}
	return out, nil
}
