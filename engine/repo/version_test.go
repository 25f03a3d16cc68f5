package repo

import (
	"context"
	"encoding/json"
	"errors"
	"strings"
	"testing"

	"lifeboat/crypto"
	"lifeboat/engine/format"
	"lifeboat/storage"
	"lifeboat/storage/mem"
	"lifeboat/storage/regions"
)

func testIdentity(t *testing.T) (*crypto.Identity, *crypto.Recipient) {
	t.Helper()
	ids, rcs, err := crypto.GenerateX25519()
	if err != nil {
		t.Fatal(err)
	}
	id, err := crypto.ParseIdentities([]byte(ids))
	if err != nil {
		t.Fatal(err)
	}
	rc, err := crypto.ParseRecipient(rcs)
	if err != nil {
		t.Fatal(err)
	}
	return id, rc
}

func initVersion(t *testing.T, st storage.Storage, v int) (*Repository, *crypto.Identity) {
	t.Helper()
	id, rc := testIdentity(t)
	r, err := Init(context.Background(), st, InitOptions{Recipient: rc, FormatVersion: v, PackSize: 1 << 20})
	if err != nil {
		t.Fatal(err)
	}
	return r, id
}

// sealedConfig seals r's config with version v, bypassing the encoder's
// validation (as a newer release would write it).
func sealedConfig(t *testing.T, r *Repository, v int) []byte {
	t.Helper()
	c := *r.cfg
	c.Version = v
	plain, err := json.Marshal(&c)
	if err != nil {
		t.Fatal(err)
	}
	sealed, err := r.dk.Seal(plain)
	if err != nil {
		t.Fatal(err)
	}
	return sealed
}

func TestOpenRefusesNewerConfig(t *testing.T) {
	ctx := context.Background()
	st := mem.New()
	r, id := initVersion(t, st, 0)
	if err := storage.PutBytes(ctx, st, format.ConfigName, sealedConfig(t, r, format.Version+1), storage.PutOptions{}); err != nil {
		t.Fatal(err)
	}
	_, err := Open(ctx, st, id, Options{})
	var ie *IntegrityError
	if !errors.Is(err, format.ErrNewerVersion) || errors.Is(err, format.ErrFormat) || errors.As(err, &ie) {
		t.Fatalf("Open = %v, want ErrNewerVersion and no integrity error", err)
	}
	if msg := err.Error(); !strings.Contains(msg, "format version 6 is newer than this lifeboat understands") || !strings.Contains(msg, "upgrade lifeboat") {
		t.Fatalf("message %q", msg)
	}
}

func TestOpenTakesLowestRegionVersion(t *testing.T) {
	ctx := context.Background()
	a, b := mem.New(), mem.New()
	set, err := regions.New([]regions.Region{{Name: "a", Storage: a}, {Name: "b", Storage: b, Priority: 1}}, regions.Options{})
	if err != nil {
		t.Fatal(err)
	}
	r, id := initVersion(t, set, 2)
	// Region a (read first) got version 3, b not yet: an unfinished migrate.
	if err := r.PutConfig(ctx, "a", sealedConfig(t, r, 3)); err != nil {
		t.Fatal(err)
	}
	r2, err := Open(ctx, set, id, Options{})
	if err != nil {
		t.Fatal(err)
	}
	if v := r2.FormatVersion(); v != 2 {
		t.Fatalf("half-migrated repository writes version %d, want 2", v)
	}
	// A region a newer release migrated makes the repository unusable here.
	if err := storage.PutBytes(ctx, b, format.ConfigName, sealedConfig(t, r, format.Version+1), storage.PutOptions{}); err != nil {
		t.Fatal(err)
	}
	if _, err := Open(ctx, set, id, Options{}); !errors.Is(err, format.ErrNewerVersion) || !strings.Contains(err.Error(), "region b") {
		t.Fatalf("Open with region b at version %d: %v", format.Version+1, err)
	}
	// PutConfig refuses what is not this repository's config.
	other, _ := initVersion(t, mem.New(), 0)
	if err := r.PutConfig(ctx, "a", sealedConfig(t, other, 3)); !errors.Is(err, ErrForeignConfig) {
		t.Fatalf("PutConfig of another repository's config: %v", err)
	}
}

func TestWritersKeepToTheRepositoryVersion(t *testing.T) {
	ctx := context.Background()
	h := format.ID{1}
	xnode := format.Node{Name: "x", Type: format.TypeFile, Hash: &h, Xattrs: []format.Xattr{{Name: "user.a", Value: []byte("1")}}}
	for _, v := range []int{1, 2, 3} {
		r, _ := initVersion(t, mem.New(), v)
		s := &format.Snapshot{Version: format.Version, Host: "h", Paths: []string{"/x"}, Tree: h}
		sid, err := r.SaveSnapshot(ctx, s)
		if err != nil {
			t.Fatal(err)
		}
		got, err := r.LoadSnapshot(ctx, sid)
		if err != nil || got.Version != v {
			t.Fatalf("version %d repository: snapshot version %v, %v", v, got, err)
		}
		_, err = r.SaveTree(ctx, &format.Tree{Nodes: []format.Node{xnode}})
		if (v < 3) != errors.Is(err, format.ErrNotRepresentable) {
			t.Fatalf("version %d repository: tree with xattrs: %v", v, err)
		}
	}
}

func TestLoadSnapshotOfNewerVersion(t *testing.T) {
	ctx := context.Background()
	r, _ := initVersion(t, mem.New(), 0)
	plain := []byte(`{"version":6,"time":"2026-01-01T00:00:00Z","host":"h","paths":["/x"],"tree":"` + strings.Repeat("01", 32) + `"}`)
	sid, err := r.writeSealed(ctx, format.SnapshotName, plain, storage.PutOptions{})
	if err != nil {
		t.Fatal(err)
	}
	_, err = r.LoadSnapshot(ctx, sid)
	var ie *IntegrityError
	if !errors.Is(err, format.ErrNewerVersion) || errors.As(err, &ie) {
		t.Fatalf("LoadSnapshot = %v, want ErrNewerVersion, not an integrity error", err)
	}
}
