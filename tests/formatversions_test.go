package tests

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"lifeboat/crypto"
	"lifeboat/engine/backup"
	"lifeboat/engine/compress"
	"lifeboat/engine/format"
	"lifeboat/engine/migrate"
	"lifeboat/engine/repo"
	"lifeboat/engine/restore"
	formatv1 "lifeboat/tests/oldformat/v1"
	formatv2 "lifeboat/tests/oldformat/v2"
	formatv3 "lifeboat/tests/oldformat/v3"
	formatv4 "lifeboat/tests/oldformat/v4"
)

// oldReader is the decoders of an earlier format version's releases
// (tests/oldformat).
type oldReader struct {
	config   func([]byte) error
	key      func([]byte) error
	snapshot func([]byte) (version int, err error)
	index    func([]byte) error
	trailer  func(trailer []byte, size int64) ([]oldBlob, error)
	tree     func([]byte) (names []string, err error)
	// tombstone is nil for the versions before tombstones (4).
	tombstone func(name string, data []byte) error
}

type oldBlob struct {
	tree, compressed bool
	off, length, raw int
}

func oldReaderOf(v int) oldReader {
	switch v {
	case 1:
		return oldReader{
			config: func(b []byte) error { _, err := formatv1.DecodeConfig(b); return err },
			key:    func(b []byte) error { _, err := formatv1.DecodeKey(b); return err },
			snapshot: func(b []byte) (int, error) {
				s, err := formatv1.DecodeSnapshot(b)
				if err != nil {
					return 0, err
				}
				return s.Version, nil
			},
			index: func(b []byte) error { _, err := formatv1.DecodeIndex(b); return err },
			trailer: func(b []byte, size int64) ([]oldBlob, error) {
				blobs, err := formatv1.DecodePackTrailer(b, size)
				var out []oldBlob
				for _, x := range blobs {
					out = append(out, oldBlob{x.Type == formatv1.BlobTree, x.Compressed(), int(x.Offset), int(x.Length), int(x.RawLen)})
				}
				return out, err
			},
			tree: func(b []byte) ([]string, error) {
				t, err := formatv1.DecodeTree(b)
				if err != nil {
					return nil, err
				}
				var names []string
				for _, n := range t.Nodes {
					names = append(names, n.Name)
				}
				return names, nil
			},
		}
	case 2:
		return oldReader{
			config: func(b []byte) error { _, err := formatv2.DecodeConfig(b); return err },
			key:    func(b []byte) error { _, err := formatv2.DecodeKey(b); return err },
			snapshot: func(b []byte) (int, error) {
				s, err := formatv2.DecodeSnapshot(b)
				if err != nil {
					return 0, err
				}
				return s.Version, nil
			},
			index: func(b []byte) error { _, err := formatv2.DecodeIndex(b); return err },
			trailer: func(b []byte, size int64) ([]oldBlob, error) {
				blobs, err := formatv2.DecodePackTrailer(b, size)
				var out []oldBlob
				for _, x := range blobs {
					out = append(out, oldBlob{x.Type == formatv2.BlobTree, x.Compressed(), int(x.Offset), int(x.Length), int(x.RawLen)})
				}
				return out, err
			},
			tree: func(b []byte) ([]string, error) {
				t, err := formatv2.DecodeTree(b)
				if err != nil {
					return nil, err
				}
				var names []string
				for _, n := range t.Nodes {
					names = append(names, n.Name)
				}
				return names, nil
			},
		}
	case 3:
		return oldReader{
			config: func(b []byte) error { _, err := formatv3.DecodeConfig(b); return err },
			key:    func(b []byte) error { _, err := formatv3.DecodeKey(b); return err },
			snapshot: func(b []byte) (int, error) {
				s, err := formatv3.DecodeSnapshot(b)
				if err != nil {
					return 0, err
				}
				return s.Version, nil
			},
			index: func(b []byte) error { _, err := formatv3.DecodeIndex(b); return err },
			trailer: func(b []byte, size int64) ([]oldBlob, error) {
				blobs, err := formatv3.DecodePackTrailer(b, size)
				var out []oldBlob
				for _, x := range blobs {
					out = append(out, oldBlob{x.Type == formatv3.BlobTree, x.Compressed(), int(x.Offset), int(x.Length), int(x.RawLen)})
				}
				return out, err
			},
			tree: func(b []byte) ([]string, error) {
				t, err := formatv3.DecodeTree(b)
				if err != nil {
					return nil, err
				}
				var names []string
				for _, n := range t.Nodes {
					names = append(names, n.Name)
				}
				return names, nil
			},
		}
	case 4:
		return oldReader{
			config: func(b []byte) error { _, err := formatv4.DecodeConfig(b); return err },
			key:    func(b []byte) error { _, err := formatv4.DecodeKey(b); return err },
			snapshot: func(b []byte) (int, error) {
				s, err := formatv4.DecodeSnapshot(b)
				if err != nil {
					return 0, err
				}
				return s.Version, nil
			},
			index: func(b []byte) error { _, err := formatv4.DecodeIndex(b); return err },
			trailer: func(b []byte, size int64) ([]oldBlob, error) {
				blobs, err := formatv4.DecodePackTrailer(b, size)
				var out []oldBlob
				for _, x := range blobs {
					out = append(out, oldBlob{x.Type == formatv4.BlobTree, x.Compressed(), int(x.Offset), int(x.Length), int(x.RawLen)})
				}
				return out, err
			},
			tree: func(b []byte) ([]string, error) {
				t, err := formatv4.DecodeTree(b)
				if err != nil {
					return nil, err
				}
				var names []string
				for _, n := range t.Nodes {
					names = append(names, n.Name)
				}
				return names, nil
			},
			tombstone: func(name string, b []byte) error { _, err := formatv4.DecodeTombstone(name, b); return err },
		}
	}
	panic("no old reader")
}

// masterKey unwraps the master key of the repository in dir/repo with
// dir/identity.txt.
func masterKey(t *testing.T, dir string) *crypto.MasterKey {
	t.Helper()
	idData, err := os.ReadFile(filepath.Join(dir, "identity.txt"))
	if err != nil {
		t.Fatal(err)
	}
	id, err := crypto.ParseIdentities(idData)
	if err != nil {
		t.Fatal(err)
	}
	keys, _ := filepath.Glob(filepath.Join(dir, "repo", "keys", "*"))
	for _, k := range keys {
		data, err := os.ReadFile(k)
		if err != nil {
			t.Fatal(err)
		}
		key, err := format.DecodeKey(data)
		if err != nil {
			t.Fatal(err)
		}
		if m, err := crypto.UnwrapMasterKey(key.Wrapped, id); err == nil {
			return m
		}
	}
	t.Fatalf("no key of %s opens with its identity", dir)
	return nil
}

// decodeWithOldReader decodes every object of the repository in dir/repo
// that the releases of format version v read (config, keys, packs and the
// trees in them, index objects, snapshots) with those releases' decoders,
// and returns every tree entry name and the snapshots' versions.
func decodeWithOldReader(t *testing.T, dir string, v int) (names map[string]bool, versions []int) {
	t.Helper()
	rd := oldReaderOf(v)
	dk := masterKey(t, dir).DataKey()
	root := filepath.Join(dir, "repo")
	names = map[string]bool{}
	open := func(p string) []byte {
		t.Helper()
		sealed, err := os.ReadFile(p)
		if err != nil {
			t.Fatal(err)
		}
		plain, err := dk.Open(sealed)
		if err != nil {
			t.Fatalf("%s: %v", p, err)
		}
		return plain
	}
	counts := map[string]int{}
	err := filepath.WalkDir(root, func(p string, d fs.DirEntry, err error) error {
		if err != nil || d.IsDir() {
			return err
		}
		rel := filepath.ToSlash(strings.TrimPrefix(p, root+string(filepath.Separator)))
		kind, _, _ := strings.Cut(rel, "/")
		counts[kind]++
		switch kind {
		case format.ConfigName:
			if err := rd.config(open(p)); err != nil {
				t.Errorf("version %d reader: config: %v", v, err)
			}
		case "keys":
			data, err := os.ReadFile(p)
			if err != nil {
				t.Fatal(err)
			}
			if err := rd.key(data); err != nil {
				t.Errorf("version %d reader: %s: %v", v, rel, err)
			}
		case "tombstones":
			if rd.tombstone == nil {
				t.Errorf("version %d repository holds %s", v, rel)
				return nil
			}
			data, err := os.ReadFile(p)
			if err != nil {
				t.Fatal(err)
			}
			if err := rd.tombstone(rel, data); err != nil {
				t.Errorf("version %d reader: %s: %v", v, rel, err)
			}
		case "chain":
			// The releases of versions 1 to 4 would commit without
			// recording: their repositories get no commit records.
			t.Errorf("version %d repository holds %s", v, rel)
		case "index":
			if err := rd.index(open(p)); err != nil {
				t.Errorf("version %d reader: %s: %v", v, rel, err)
			}
		case "snapshots":
			sv, err := rd.snapshot(open(p))
			if err != nil {
				t.Errorf("version %d reader: %s: %v", v, rel, err)
			}
			versions = append(versions, sv)
		case "data":
			plain := open(p)
			n := 8
			if len(plain) >= 8 {
				if tn, err := formatv1.PackTrailerLen(plain[len(plain)-8:]); err == nil {
					n = tn
				}
			}
			blobs, err := rd.trailer(plain[len(plain)-n:], int64(len(plain)))
			if err != nil {
				t.Errorf("version %d reader: %s: %v", v, rel, err)
				return nil
			}
			for _, b := range blobs {
				if !b.tree {
					continue
				}
				data := plain[b.off : b.off+b.length]
				if b.compressed {
					if data, err = compress.Decompress(nil, data, b.raw); err != nil {
						t.Fatal(err)
					}
				}
				tn, err := rd.tree(data)
				if err != nil {
					t.Errorf("version %d reader: tree in %s: %v", v, rel, err)
				}
				for _, name := range tn {
					names[name] = true
				}
			}
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	for _, kind := range []string{format.ConfigName, "keys", "index", "snapshots", "data"} {
		if counts[kind] == 0 {
			t.Fatalf("no %s objects in %s", kind, root)
		}
	}
	return names, versions
}

// copyFixture copies testdata/fixtures/vN to a temporary directory.
func copyFixture(t *testing.T, v string) string {
	t.Helper()
	dir := filepath.Join(t.TempDir(), v)
	if err := os.CopyFS(dir, os.DirFS(filepath.Join(fixtureDir, v))); err != nil {
		t.Fatal(err)
	}
	return dir
}

// TestOldReadersReadWhatCurrentWritersStore backs up into copies of the
// version 1 to 4 fixtures and decodes every object of the result
// with those versions' own decoders: the releases that wrote a repository
// keep reading all of it, the new snapshot included. In version 1 (JSON
// trees), a name or symlink target that is not UTF-8 cannot be stored
// unchanged: the entry is left out with a warning naming lifeboat migrate
// (snapshot partial), never stored altered; version 2 stores it exactly.
func TestOldReadersReadWhatCurrentWritersStore(t *testing.T) {
	for _, v := range []int{1, 2, 3, 4} {
		t.Run(fixtureName(v), func(t *testing.T) {
			ctx := context.Background()
			dir := copyFixture(t, fixtureName(v))
			r := openFixture(t, dir)
			if got := r.FormatVersion(); got != v {
				t.Fatalf("fixture v%d opens as version %d", v, got)
			}
			src := filepath.Join(t.TempDir(), "new-src")
			for name, data := range map[string]string{"sub/f.txt": "written by a newer lifeboat\n", "caf\xe9.txt": "latin-1 name\n"} {
				p := filepath.Join(src, name)
				if err := os.MkdirAll(filepath.Dir(p), 0o755); err != nil {
					t.Fatal(err)
				}
				if err := os.WriteFile(p, []byte(data), 0o644); err != nil {
					t.Fatal(err)
				}
			}
			if err := os.Symlink("caf\xe9.txt", filepath.Join(src, "link-to-cafe")); err != nil {
				t.Fatal(err)
			}
			var warnings []error
			res, err := backup.Run(ctx, r, backup.Options{Paths: []string{src}, Host: "newer",
				OnWarning: func(_ string, err error) { warnings = append(warnings, err) }})
			if err != nil {
				t.Fatal(err)
			}
			if res.Snapshot.Version != v {
				t.Fatalf("snapshot version %d in a version %d repository", res.Snapshot.Version, v)
			}
			wantWarnings := map[int]int{1: 2, 2: 0, 3: 0, 4: 0}[v]
			if len(warnings) != wantWarnings || res.Snapshot.Summary.Partial != (wantWarnings > 0) {
				t.Fatalf("%d warnings (%v), partial %v; want %d", len(warnings), warnings, res.Snapshot.Summary.Partial, wantWarnings)
			}
			for _, w := range warnings {
				if !errors.Is(w, format.ErrNotRepresentable) || !strings.Contains(w.Error(), "lifeboat migrate") {
					t.Errorf("warning %q does not say why and what to do", w)
				}
			}
			names, versions := decodeWithOldReader(t, dir, v)
			if want := map[int]int{1: 2, 2: 2, 3: 3, 4: 4}[v]; len(versions) != want {
				t.Fatalf("old reader decoded %d snapshots, want %d", len(versions), want)
			}
			for _, sv := range versions {
				if sv > v {
					t.Fatalf("snapshot of version %d in a version %d repository", sv, v)
				}
			}
			for name := range names {
				if strings.Contains(name, "\uFFFD") {
					t.Fatalf("a tree holds the altered name %q", name)
				}
			}
			if !names["f.txt"] || names["caf\xe9.txt"] != (v >= 2) || names["link-to-cafe"] != (v >= 2) {
				t.Fatalf("old reader's tree names: %v", names)
			}
			target := t.TempDir()
			if _, err := restore.Run(ctx, r, res.Snapshot, restore.Options{Target: target}); err != nil {
				t.Fatal(err)
			}
			restored := findDir(t, target, "new-src")
			if got, err := os.ReadFile(filepath.Join(restored, "sub", "f.txt")); err != nil || string(got) != "written by a newer lifeboat\n" {
				t.Fatalf("restored %q, %v", got, err)
			}
			if v >= 2 {
				if got, err := os.ReadFile(filepath.Join(restored, "caf\xe9.txt")); err != nil || string(got) != "latin-1 name\n" {
					t.Fatalf("restored non-UTF-8 name: %q, %v", got, err)
				}
				if tgt, err := os.Readlink(filepath.Join(restored, "link-to-cafe")); err != nil || tgt != "caf\xe9.txt" {
					t.Fatalf("restored symlink target %q, %v", tgt, err)
				}
			}
		})
	}
}

func fixtureName(v int) string { return fmt.Sprintf("v%d", v) }

// readManifest reads the manifest of the fixture in dir.
func readManifest(t *testing.T, dir string) map[string]manifestEntry {
	t.Helper()
	var want map[string]manifestEntry
	data, err := os.ReadFile(filepath.Join(dir, "manifest.json"))
	if err != nil {
		t.Fatal(err)
	}
	if err := json.Unmarshal(data, &want); err != nil {
		t.Fatal(err)
	}
	return want
}

// TestOldReadersRefuseMigratedRepository migrates copies of the version 1
// to 4 fixtures to the current version: those versions' decoders then refuse the
// config, saying its version is newer than they understand (not that the
// data is malformed), while this release still restores every snapshot.
func TestOldReadersRefuseMigratedRepository(t *testing.T) {
	for _, v := range []int{1, 2, 3, 4} {
		t.Run(fixtureName(v), func(t *testing.T) {
			ctx := context.Background()
			dir := copyFixture(t, fixtureName(v))
			r := openFixture(t, dir)
			if _, err := migrate.Run(ctx, r, migrate.Options{}); err != nil {
				t.Fatal(err)
			}
			sealed, err := os.ReadFile(filepath.Join(dir, "repo", format.ConfigName))
			if err != nil {
				t.Fatal(err)
			}
			plain, err := masterKey(t, dir).DataKey().Open(sealed)
			if err != nil {
				t.Fatal(err)
			}
			err = oldReaderOf(v).config(plain)
			if err == nil || !strings.Contains(err.Error(), fmt.Sprintf("version %d is newer than this lifeboat understands", format.Version)) {
				t.Fatalf("version %d reader on a version %d config: %v", v, format.Version, err)
			}
			r = openFixture(t, dir)
			if err := r.LoadIndex(ctx); err != nil {
				t.Fatal(err)
			}
			if got := r.FormatVersion(); got != format.Version {
				t.Fatalf("migrated fixture opens as version %d", got)
			}
			snap, err := r.FindSnapshot(ctx, "latest", repo.Filter{})
			if err != nil {
				t.Fatal(err)
			}
			target := t.TempDir()
			if rres, err := restore.Run(ctx, r, snap.Snapshot, restore.Options{Target: target}); err != nil || rres.Errors > 0 {
				t.Fatalf("restore: %v %+v", err, rres)
			}
			got := manifest(t, findDir(t, target, "fixture-src"))
			compareManifests(t, readManifest(t, dir), got)
			// New trees are LBT3 now.
			src := filepath.Join(t.TempDir(), "after")
			if err := os.MkdirAll(src, 0o755); err != nil {
				t.Fatal(err)
			}
			res, err := backup.Run(ctx, r, backup.Options{Paths: []string{src}, Host: "h"})
			if err != nil {
				t.Fatal(err)
			}
			raw, err := r.LoadBlob(ctx, res.Snapshot.Tree)
			if err != nil || !bytes.HasPrefix(raw, []byte("LBT3")) || res.Snapshot.Version != format.Version {
				t.Fatalf("after migrate: tree %.4q, snapshot version %d, %v", raw, res.Snapshot.Version, err)
			}
		})
	}
}

// TestVersion3RepositoryGetsNoTombstones: in a version 3 repository (whose
// releases know no tombstones) forget is refused and key remove deletes
// the key object as before, without writing a tombstone; after a migrate
// to version 4 both record tombstones, and forget works.
func TestVersion3RepositoryGetsNoTombstones(t *testing.T) {
	ctx := context.Background()
	dir := copyFixture(t, "v3")
	r := openFixture(t, dir)
	snaps, err := r.Snapshots(ctx)
	if err != nil || len(snaps) != 2 {
		t.Fatalf("v3 fixture snapshots: %v, %v", snaps, err)
	}
	if _, err := r.Forget(ctx, []format.ID{snaps[0].ID}); !errors.Is(err, repo.ErrNoTombstones) {
		t.Fatalf("forget in a version 3 repository: %v", err)
	}
	_, rc, _ := crypto.GenerateX25519()
	rcp, _ := crypto.ParseRecipient(rc)
	kid, err := r.AddKey(ctx, rcp, "extra", "h", "u")
	if err != nil {
		t.Fatal(err)
	}
	kr, err := r.RemoveKey(ctx, kid.String())
	if err != nil || kr.Tombstoned {
		t.Fatalf("key remove in a version 3 repository: %+v, %v", kr, err)
	}
	if _, err := os.Stat(filepath.Join(dir, "repo", "tombstones")); !errors.Is(err, fs.ErrNotExist) {
		t.Fatalf("a version 3 repository got tombstones: %v", err)
	}
	// What the v3 releases read is all still there.
	decodeWithOldReader(t, dir, 3)
	if _, err := migrate.Run(ctx, r, migrate.Options{}); err != nil {
		t.Fatal(err)
	}
	r = openFixture(t, dir)
	d, err := r.Forget(ctx, []format.ID{snaps[0].ID})
	if err != nil || len(d.Objects) != 1 {
		t.Fatalf("forget after migrate: %+v, %v", d, err)
	}
	if _, err := os.Stat(filepath.Join(dir, "repo", "tombstones", "snapshots", snaps[0].ID.String())); err != nil {
		t.Fatalf("no tombstone after migrate: %v", err)
	}
	if left, err := r.Snapshots(ctx); err != nil || len(left) != 1 || left[0].ID != snaps[1].ID {
		t.Fatalf("snapshots after forget: %v, %v", left, err)
	}
}
