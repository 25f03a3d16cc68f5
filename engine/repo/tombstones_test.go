package repo

import (
	"context"
	"encoding/json"
	"errors"
	"testing"
	"time"

	"lifeboat/crypto"
	"lifeboat/engine/format"
	"lifeboat/storage"
	"lifeboat/storage/mem"
)

// snapshotIn commits a minimal snapshot (its tree need not exist).
func snapshotIn(t *testing.T, r *Repository, host string) format.ID {
	t.Helper()
	id, err := r.SaveSnapshot(context.Background(), &format.Snapshot{Time: time.Date(2026, 1, 2, 3, 4, 5, 0, time.UTC),
		Host: host, Paths: []string{"/x"}, Tree: format.ID{1}})
	if err != nil {
		t.Fatal(err)
	}
	return id
}

func TestForgetNeedsVersion4(t *testing.T) {
	ctx := context.Background()
	st := mem.New()
	r, _ := initVersion(t, st, 3)
	id := snapshotIn(t, r, "h")
	if _, err := r.Forget(ctx, []format.ID{id}); !errors.Is(err, ErrNoTombstones) {
		t.Fatalf("Forget in a version 3 repository = %v, want ErrNoTombstones", err)
	}
	if _, err := st.Stat(ctx, format.SnapshotName(id)); err != nil {
		t.Fatalf("the refused forget deleted the snapshot: %v", err)
	}
	if _, err := st.Stat(ctx, format.TombstoneName(format.SnapshotName(id))); !errors.Is(err, storage.ErrNotExist) {
		t.Fatalf("a tombstone in a version 3 repository: %v", err)
	}
}

func TestForgetTombstonesThenDeletes(t *testing.T) {
	ctx := context.Background()
	st := mem.New()
	r, _ := initVersion(t, st, 0)
	keep, gone := snapshotIn(t, r, "keep"), snapshotIn(t, r, "gone")
	d, err := r.Forget(ctx, []format.ID{gone})
	if err != nil || len(d.Pending) > 0 {
		t.Fatalf("Forget = %+v, %v", d, err)
	}
	if _, err := st.Stat(ctx, format.SnapshotName(gone)); !errors.Is(err, storage.ErrNotExist) {
		t.Fatalf("forgotten snapshot still stored: %v", err)
	}
	data, err := storage.ReadAll(ctx, st, format.TombstoneName(format.SnapshotName(gone)))
	if err != nil {
		t.Fatal(err)
	}
	if err := r.VerifyTombstone(format.TombstoneName(format.SnapshotName(gone)), data); err != nil {
		t.Fatalf("own tombstone: %v", err)
	}
	// The object reappears (a region that was down): still not listed.
	if err := st.Put(ctx, format.SnapshotName(gone), nil, 0, storage.PutOptions{}); err != nil {
		t.Fatal(err)
	}
	snaps, err := r.Snapshots(ctx)
	if err != nil || len(snaps) != 1 || snaps[0].ID != keep {
		t.Fatalf("Snapshots = %v, %v; want only %s", snaps, err, keep.Short())
	}
	if _, err := r.FindSnapshot(ctx, gone.String()[:8], Filter{}); !errors.Is(err, ErrSnapshotNotFound) {
		t.Fatalf("FindSnapshot of a forgotten snapshot = %v", err)
	}
}

func TestVerifyTombstoneRejectsForgeries(t *testing.T) {
	r, _ := initVersion(t, mem.New(), 0)
	other, _ := initVersion(t, mem.New(), 0)
	obj := format.SnapshotName(format.ID{7})
	name := format.TombstoneName(obj)
	genuine, err := r.NewTombstone(obj, format.ReasonForget)
	if err != nil {
		t.Fatal(err)
	}
	var rec format.Tombstone
	if err := json.Unmarshal(genuine, &rec); err != nil {
		t.Fatal(err)
	}
	rec.Host = "attacker"
	altered, _ := json.Marshal(&rec)
	fromOther, _ := other.NewTombstone(obj, format.ReasonForget)
	otherObj, _ := r.NewTombstone(format.SnapshotName(format.ID{8}), format.ReasonForget)
	for _, tc := range []struct {
		what string
		data []byte
		want error
	}{
		{"altered record", altered, ErrForgedTombstone},
		{"another repository's key", fromOther, ErrForgedTombstone},
		{"stored under another object's name", otherObj, format.ErrFormat},
		{"not JSON", []byte("x"), format.ErrFormat},
	} {
		if err := r.VerifyTombstone(name, tc.data); !errors.Is(err, tc.want) {
			t.Errorf("%s: %v, want %v", tc.what, err, tc.want)
		}
	}
	if err := r.VerifyTombstone(name, genuine); err != nil {
		t.Fatalf("genuine: %v", err)
	}
}

// TestRemovedKeyDoesNotOpen: a removed key whose object is still stored
// (a region that was down) opens nothing, and a forged tombstone does not
// lock a key out.
func TestRemovedKeyDoesNotOpen(t *testing.T) {
	ctx := context.Background()
	st := mem.New()
	r, owner := initVersion(t, st, 0)
	pass := []byte("the passphrase being revoked")
	prc, err := crypto.PassphraseRecipient(pass, 10)
	if err != nil {
		t.Fatal(err)
	}
	kid, err := r.AddKey(ctx, prc, "old", "h", "u")
	if err != nil {
		t.Fatal(err)
	}
	// A forged tombstone (valid shape, wrong MAC) does not revoke it.
	forged, _ := json.Marshal(&format.Tombstone{Version: 1, Object: format.KeyName(kid), Reason: format.ReasonKeyRemove,
		Time: time.Now().UTC(), MAC: make([]byte, 32)})
	tname := format.TombstoneName(format.KeyName(kid))
	if err := storage.PutBytes(ctx, st, tname, forged, storage.PutOptions{}); err != nil {
		t.Fatal(err)
	}
	if _, err := Open(ctx, st, crypto.PassphraseIdentity(pass), Options{}); err != nil {
		t.Fatalf("a forged tombstone locked the key out: %v", err)
	}
	saved, err := storage.ReadAll(ctx, st, format.KeyName(kid))
	if err != nil {
		t.Fatal(err)
	}
	kr, err := r.RemoveKey(ctx, kid.String()[:10])
	if err != nil || !kr.Tombstoned || kr.ID != kid {
		t.Fatalf("RemoveKey = %+v, %v", kr, err)
	}
	if _, err := st.Stat(ctx, format.KeyName(kid)); !errors.Is(err, storage.ErrNotExist) {
		t.Fatalf("removed key object still stored: %v", err)
	}
	// The key object comes back, as from a region that was down.
	if err := storage.PutBytes(ctx, st, format.KeyName(kid), saved, storage.PutOptions{}); err != nil {
		t.Fatal(err)
	}
	if _, err := Open(ctx, st, crypto.PassphraseIdentity(pass), Options{}); !errors.Is(err, ErrWrongKey) {
		t.Fatalf("the removed key opens the repository: %v", err)
	}
	if _, err := Open(ctx, st, owner, Options{}); err != nil {
		t.Fatalf("the remaining key: %v", err)
	}
	ks, err := r.Keys(ctx)
	if err != nil || len(ks) != 1 {
		t.Fatalf("Keys lists %d keys (%v), want the 1 not removed", len(ks), err)
	}
}
