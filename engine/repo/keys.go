package repo

import (
	"context"
	"crypto/sha256"
	"errors"
	"fmt"
	"strings"
	"time"

	"lifeboat/crypto"
	"lifeboat/engine/format"
	"lifeboat/storage"
)

// KeyInfo describes a key object.
type KeyInfo struct {
	ID      format.ID
	Name    string
	Key     *format.Key
	Current bool // the key this session opened the repository with
}

// listKeys reads and verifies every key object. A copy that fails its
// hash or does not decode is tried in the next region (a region set's
// storage-level failover does not cover bad content); a key bad in every
// region is left out and reported in damaged, so that one damaged key
// object does not lock out the holders of the others. Only a failure to
// list, or to read a key at all, is an error.
func listKeys(ctx context.Context, st storage.Reader) (keys []KeyInfo, damaged []error, err error) {
	ids, err := listIDs(ctx, st, format.KeysPrefix)
	if err != nil {
		return nil, nil, err
	}
	readers := []storage.Reader{st}
	if rs := regionsOf(st); rs != nil {
		readers = readers[:0]
		for _, rep := range rs.Replicas() {
			readers = append(readers, rep.Reader)
		}
	}
	for _, id := range ids {
		name := format.KeyName(id)
		k, bad, err := readKey(ctx, readers, id, name)
		switch {
		case err != nil:
			return nil, nil, err
		case k == nil:
			damaged = append(damaged, bad)
		default:
			keys = append(keys, KeyInfo{ID: id, Name: name, Key: k})
		}
	}
	return keys, damaged, nil
}

// readKey returns the first copy of key object name, in readers' order,
// that matches its hash and decodes; with none, bad says why (an
// IntegrityError). err is set only when no reader could read the object
// at all.
func readKey(ctx context.Context, readers []storage.Reader, id format.ID, name string) (k *format.Key, bad, err error) {
	var readErrs []error
	for _, rd := range readers {
		data, rerr := storage.ReadAll(ctx, rd, name)
		if rerr != nil {
			if ctx.Err() != nil {
				return nil, nil, fmt.Errorf("read key: %w", rerr)
			}
			readErrs = append(readErrs, rerr)
			continue
		}
		if format.ID(sha256.Sum256(data)) != id {
			bad = &IntegrityError{Object: name, Err: ErrHashMismatch}
			continue
		}
		key, derr := format.DecodeKey(data)
		if derr != nil {
			bad = &IntegrityError{Object: name, Err: derr}
			continue
		}
		return key, nil, nil
	}
	if bad == nil {
		return nil, nil, fmt.Errorf("read key: %w", errors.Join(readErrs...))
	}
	return nil, bad, nil
}

// Keys lists the repository's key objects, leaving out removed ones
// (tombstoned, possibly still present in a region that was down).
func (r *Repository) Keys(ctx context.Context) ([]KeyInfo, error) {
	all, _, err := listKeys(ctx, r.st)
	if err != nil {
		return nil, err
	}
	ts, err := tombstoneNames(ctx, r.st, format.KeysPrefix)
	if err != nil {
		return nil, err
	}
	key := tombstoneKey(r.master)
	var keys []KeyInfo
	for _, k := range all {
		if ts[k.Name] && buried(ctx, r.st, key, k.Name) {
			continue
		}
		k.Current = k.Name == r.keyName
		keys = append(keys, k)
	}
	return keys, nil
}

func (r *Repository) addKey(ctx context.Context, rcpt *crypto.Recipient, label, host, user string) (string, error) {
	wrapped, err := crypto.WrapMasterKey(r.master, rcpt)
	if err != nil {
		return "", fmt.Errorf("wrap key: %w", err)
	}
	data, err := format.EncodeKey(&format.Key{
		Version: 1, Created: r.now().UTC(), Kind: rcpt.Kind(), Recipient: rcpt.String(),
		Label: label, Host: host, Username: user, Wrapped: wrapped,
	})
	if err != nil {
		return "", fmt.Errorf("encode key: %w", err)
	}
	name := format.KeyName(format.ID(sha256.Sum256(data)))
	if err := storage.PutBytes(ctx, r.st, name, data, storage.PutOptions{}); err != nil {
		return "", fmt.Errorf("write key: %w", err)
	}
	return name, nil
}

// keyCleanupTimeout bounds removing the key of an init that did not get
// its config written; it runs even when the caller's context has ended.
const keyCleanupTimeout = 30 * time.Second

// removeKey deletes the key object name written by an init whose config
// write failed.
func removeKey(ctx context.Context, st storage.Storage, name string) error {
	ctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), keyCleanupTimeout)
	defer cancel()
	if err := st.Delete(ctx, name); err != nil && !errors.Is(err, storage.ErrNotExist) {
		return fmt.Errorf("remove key %s: %w", name, err)
	}
	return nil
}

// AddKey wraps the master secret to rcpt and stores it as a new key object.
// No data is rewritten. An error wrapping ErrNotChained means the key is
// stored but its commit record could not be appended.
func (r *Repository) AddKey(ctx context.Context, rcpt *crypto.Recipient, label, host, user string) (format.ID, error) {
	name, err := r.addKey(ctx, rcpt, label, host, user)
	if err != nil {
		return format.ID{}, err
	}
	id, err := format.ParseName(format.KeysPrefix, name)
	if err != nil {
		return id, err
	}
	return id, r.appendChain(ctx, format.ChainRecord{Op: format.ChainKey, Keys: []format.ID{id}})
}

// KeyRemoval is the outcome of RemoveKey.
type KeyRemoval struct {
	ID format.ID
	// Tombstoned is true when the removal was recorded with a tombstone
	// (format version 4 on): no region that was down can bring the key
	// back, and a copy still there no longer opens the repository.
	Tombstoned bool
	// Pending names the regions the key object is still to be deleted
	// from (`lifeboat sync` does it); see Deletion.
	Pending []string
}

// RemoveKey removes the key object whose ID starts with prefix. It refuses
// to remove the last key, and an ambiguous prefix. In a repository of
// format version 4 or later it writes the key's tombstone to every region
// first (see Forget); in an older one it only deletes the object, and a
// region that was down keeps the key, which sync then copies back. It
// refuses append-only storage (storage.ErrAppendOnly) before writing
// anything.
func (r *Repository) RemoveKey(ctx context.Context, prefix string) (KeyRemoval, error) {
	keys, err := r.Keys(ctx)
	if err != nil {
		return KeyRemoval{}, err
	}
	var match []KeyInfo
	for _, k := range keys {
		if prefix != "" && strings.HasPrefix(k.ID.String(), prefix) {
			match = append(match, k)
		}
	}
	switch {
	case len(match) == 0:
		return KeyRemoval{}, fmt.Errorf("no key matches %q", prefix)
	case len(match) > 1:
		return KeyRemoval{}, fmt.Errorf("%d keys match %q; give more characters", len(match), prefix)
	case len(keys) <= 1:
		return KeyRemoval{}, ErrLastKey
	}
	if r.st.Capabilities().AppendOnly {
		return KeyRemoval{}, fmt.Errorf("remove key %s: %w", match[0].ID.Short(), storage.ErrAppendOnly)
	}
	kr := KeyRemoval{ID: match[0].ID}
	if r.cfg.Version >= format.TombstoneVersion {
		d, err := r.bury(ctx, []string{match[0].Name}, format.ReasonKeyRemove)
		if err != nil {
			return KeyRemoval{}, fmt.Errorf("remove key: %w", err)
		}
		kr.Tombstoned, kr.Pending = true, d.Pending
		return kr, nil
	}
	if err := r.st.Delete(ctx, match[0].Name); err != nil && !errors.Is(err, storage.ErrNotExist) {
		return KeyRemoval{}, fmt.Errorf("remove key: %w", err)
	}
	return kr, nil
}
