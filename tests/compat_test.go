package tests

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"io/fs"
	"math/rand/v2"
	"os"
	"path/filepath"
	"reflect"
	"sort"
	"strings"
	"testing"
	"time"

	"lifeboat/crypto"
	"lifeboat/engine/backup"
	"lifeboat/engine/check"
	"lifeboat/engine/chunker"
	"lifeboat/engine/format"
	"lifeboat/engine/repo"
	"lifeboat/engine/restore"
	"lifeboat/storage"
	"lifeboat/storage/local"
)

// Fixture repositories written by earlier format versions live in
// testdata/fixtures/vN: repo/ (a local region), identity.txt, and
// manifest.json (the expected restored tree). Every version must keep
// restoring exactly. Regenerate the current version's fixture with
// LIFEBOAT_WRITE_FIXTURES=1 (only when the format version changes).
const fixtureDir = "testdata/fixtures"

type manifestEntry struct {
	Mode   string `json:"mode"`
	SHA256 string `json:"sha256,omitempty"`
	Target string `json:"target,omitempty"`
	MTime  string `json:"mtime,omitempty"`
}

func manifest(t *testing.T, root string) map[string]manifestEntry {
	t.Helper()
	m := map[string]manifestEntry{}
	err := filepath.WalkDir(root, func(p string, d fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		rel, _ := filepath.Rel(root, p)
		fi, err := os.Lstat(p)
		if err != nil {
			return err
		}
		e := manifestEntry{Mode: fi.Mode().String()}
		switch {
		case fi.Mode()&fs.ModeSymlink != 0:
			e.Target, _ = os.Readlink(p)
		case fi.Mode().IsRegular():
			data, err := os.ReadFile(p)
			if err != nil {
				return err
			}
			sum := sha256.Sum256(data)
			e.SHA256 = hex.EncodeToString(sum[:])
			e.MTime = fi.ModTime().UTC().Format(time.RFC3339Nano)
		}
		if rel != "." {
			m[filepath.ToSlash(rel)] = e
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	return m
}

func TestFixtureRepositoriesRestore(t *testing.T) {
	if os.Getenv("LIFEBOAT_WRITE_FIXTURES") != "" {
		writeFixture(t, filepath.Join(fixtureDir, fmt.Sprintf("v%d", format.Version)))
	}
	versions, err := os.ReadDir(fixtureDir)
	if err != nil || len(versions) == 0 {
		t.Fatalf("no fixture repositories in %s: %v", fixtureDir, err)
	}
	for _, v := range versions {
		t.Run(v.Name(), func(t *testing.T) {
			dir := filepath.Join(fixtureDir, v.Name())
			ctx := context.Background()
			r := openFixture(t, dir)
			if res, err := check.Run(ctx, r, check.Options{ReadData: true}); err != nil {
				t.Fatalf("check: %v (%+v)", err, res)
			}
			snap, err := r.FindSnapshot(ctx, "latest", repo.Filter{})
			if err != nil {
				t.Fatal(err)
			}
			raw, err := r.LoadBlob(ctx, snap.Snapshot.Tree)
			if err != nil {
				t.Fatal(err)
			}
			wantMagic := map[int]string{1: "{", 2: "LBT2", 3: "LBT3", 4: "LBT3", 5: "LBT3"}[r.FormatVersion()]
			if wantMagic == "" || !strings.HasPrefix(string(raw), wantMagic) {
				t.Fatalf("version %d repository's root tree starts %.8q", r.FormatVersion(), raw)
			}
			if r.FormatVersion() >= 3 {
				checkFixtureXattrs(t, r, snap.Snapshot.Tree)
			}
			if r.FormatVersion() >= 4 {
				checkFixtureTombstone(t, r, dir)
			}
			checkFixtureChains(t, r, dir)
			target := t.TempDir()
			res, err := restore.Run(ctx, r, snap.Snapshot, restore.Options{Target: target,
				OnError: func(p string, err error) { t.Errorf("restore %s: %v", p, err) }})
			if err != nil || res.Errors > 0 {
				t.Fatalf("restore: %v %+v", err, res)
			}
			var want map[string]manifestEntry
			data, err := os.ReadFile(filepath.Join(dir, "manifest.json"))
			if err != nil {
				t.Fatal(err)
			}
			if err := json.Unmarshal(data, &want); err != nil {
				t.Fatal(err)
			}
			got := manifest(t, findDir(t, target, "fixture-src"))
			compareManifests(t, want, got)
		})
	}
}

// openFixture opens the fixture repository in dir (repo/ and identity.txt).
func openFixture(t *testing.T, dir string) *repo.Repository {
	t.Helper()
	idData, err := os.ReadFile(filepath.Join(dir, "identity.txt"))
	if err != nil {
		t.Fatal(err)
	}
	id, err := crypto.ParseIdentities(idData)
	if err != nil {
		t.Fatal(err)
	}
	st, err := local.Open(filepath.Join(dir, "repo"))
	if err != nil {
		t.Fatal(err)
	}
	r, err := repo.Open(context.Background(), st, id, repo.Options{})
	if err != nil {
		t.Fatal(err)
	}
	return r
}

func compareManifests(t *testing.T, want, got map[string]manifestEntry) {
	t.Helper()
	var keys []string
	for k := range want {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	for _, k := range keys {
		if got[k] != want[k] {
			t.Errorf("%s: got %+v, want %+v", k, got[k], want[k])
		}
	}
	for k := range got {
		if _, ok := want[k]; !ok {
			t.Errorf("%s: restored but not in the fixture", k)
		}
	}
}

// writeFixture creates a small repository of the current format version.
func writeFixture(t *testing.T, dir string) {
	t.Helper()
	if err := os.RemoveAll(dir); err != nil {
		t.Fatal(err)
	}
	src := filepath.Join(t.TempDir(), "fixture-src")
	rng := rand.New(rand.NewPCG(7, 7))
	files := map[string][]byte{"empty": nil, "small.txt": []byte("lifeboat fixture\n")}
	text := make([]byte, 0, 200<<10)
	for len(text) < 200<<10 {
		text = fmt.Appendf(text, "line %d of the fixture text\n", len(text))
	}
	files["dir/text.log"] = text
	random := make([]byte, 150<<10)
	for i := range random {
		random[i] = byte(rng.Uint32())
	}
	files["dir/sub/random.bin"] = random
	files["dir/sub/copy.bin"] = random
	mtime := time.Date(2026, 11, 26, 12, 0, 0, 123456789, time.UTC)
	for name, data := range files {
		p := filepath.Join(src, name)
		if err := os.MkdirAll(filepath.Dir(p), 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(p, data, 0o640); err != nil {
			t.Fatal(err)
		}
		if err := os.Chtimes(p, mtime, mtime); err != nil {
			t.Fatal(err)
		}
	}
	if err := os.Symlink("dir/text.log", filepath.Join(src, "link")); err != nil {
		t.Fatal(err)
	}
	idStr, rcStr, err := crypto.GenerateX25519()
	if err != nil {
		t.Fatal(err)
	}
	rc, _ := crypto.ParseRecipient(rcStr)
	st, err := local.New(filepath.Join(dir, "repo"))
	if err != nil {
		t.Fatal(err)
	}
	ctx := context.Background()
	r, err := repo.Init(ctx, st, repo.InitOptions{Options: repo.Options{Host: "fixture"}, Recipient: rc, Host: "fixture",
		Chunker: chunker.Params{Min: 16 << 10, Avg: 64 << 10, Max: 256 << 10}, PackSize: 1 << 20})
	if err != nil {
		t.Fatal(err)
	}
	res, err := backup.Run(ctx, r, backup.Options{Paths: []string{src}, Host: "fixture"})
	if err != nil {
		t.Fatal(err)
	}
	if format.Version >= 3 {
		// Extended attributes and inode flags on small.txt, set in the
		// tree (the fixture's source is made without privileges).
		root, changed := addFixtureXattrs(t, r, res.Snapshot.Tree)
		if !changed {
			t.Fatal("no small.txt in the fixture's tree")
		}
		if _, err := r.Flush(ctx); err != nil {
			t.Fatal(err)
		}
		snap := *res.Snapshot
		snap.Tree, snap.Parent, snap.Time = root, &res.ID, snap.Time.Add(time.Second)
		if _, _, err := r.CommitSnapshot(ctx, &snap); err != nil {
			t.Fatal(err)
		}
	}
	if format.Version >= 4 {
		// A newer snapshot, forgotten: its tombstone is stored, and so is
		// the snapshot object, as a region that was down during the
		// forget still holds it. Readers must ignore it (else "latest"
		// would be this one).
		gone := filepath.Join(t.TempDir(), "forgotten-src")
		if err := os.MkdirAll(gone, 0o755); err != nil {
			t.Fatal(err)
		}
		fres, err := backup.Run(ctx, r, backup.Options{Paths: []string{gone}, Host: "fixture"})
		if err != nil {
			t.Fatal(err)
		}
		name := format.SnapshotName(fres.ID)
		tomb, err := r.NewTombstone(name, format.ReasonForget)
		if err != nil {
			t.Fatal(err)
		}
		if err := storage.PutBytes(ctx, st, format.TombstoneName(name), tomb, storage.PutOptions{}); err != nil {
			t.Fatal(err)
		}
	}
	if err := os.WriteFile(filepath.Join(dir, "identity.txt"), []byte("# test-only identity of the fixture repository\n"+idStr+"\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	data, _ := json.MarshalIndent(manifest(t, src), "", "  ")
	if err := os.WriteFile(filepath.Join(dir, "manifest.json"), data, 0o644); err != nil {
		t.Fatal(err)
	}
}

// fixtureXattrs and fixtureFlags are small.txt's in the version 3 fixture.
var (
	fixtureXattrs = []format.Xattr{{Name: "user.lifeboat.fixture", Value: []byte("v3")}, {Name: "user.mime_type", Value: []byte("text/plain")}}
	fixtureFlags  = uint32(0x40) // FS_NODUMP_FL
)

// addFixtureXattrs rewrites the tree id with fixtureXattrs and fixtureFlags
// on every node named small.txt, returning the new tree's ID.
func addFixtureXattrs(t *testing.T, r *repo.Repository, id format.ID) (format.ID, bool) {
	t.Helper()
	ctx := context.Background()
	tr, err := r.LoadTree(ctx, id)
	if err != nil {
		t.Fatal(err)
	}
	changed := false
	for i := range tr.Nodes {
		n := &tr.Nodes[i]
		switch {
		case n.Name == "small.txt":
			n.Xattrs, n.Flags, changed = fixtureXattrs, fixtureFlags, true
		case n.Type == format.TypeDir:
			if sub, ok := addFixtureXattrs(t, r, *n.Subtree); ok {
				n.Subtree, changed = &sub, true
			}
		}
	}
	if !changed {
		return id, false
	}
	nid, err := r.SaveTree(ctx, tr)
	if err != nil {
		t.Fatal(err)
	}
	return nid, true
}

// checkFixtureXattrs finds small.txt below the tree id and checks its
// extended attributes and inode flags.
func checkFixtureXattrs(t *testing.T, r *repo.Repository, id format.ID) {
	t.Helper()
	var find func(id format.ID) *format.Node
	find = func(id format.ID) *format.Node {
		tr, err := r.LoadTree(context.Background(), id)
		if err != nil {
			t.Fatal(err)
		}
		for i := range tr.Nodes {
			n := &tr.Nodes[i]
			if n.Name == "small.txt" {
				return n
			}
			if n.Type == format.TypeDir {
				if found := find(*n.Subtree); found != nil {
					return found
				}
			}
		}
		return nil
	}
	n := find(id)
	if n == nil {
		t.Fatal("no small.txt in the fixture's tree")
	}
	if n.Flags != fixtureFlags || !reflect.DeepEqual(n.Xattrs, fixtureXattrs) {
		t.Fatalf("small.txt: flags %#x, xattrs %+v; want %#x, %+v", n.Flags, n.Xattrs, fixtureFlags, fixtureXattrs)
	}
}

// findDir returns the directory named name below root (the snapshot keeps
// the absolute path the fixture was made at).
func findDir(t *testing.T, root, name string) string {
	t.Helper()
	found := ""
	filepath.WalkDir(root, func(p string, d fs.DirEntry, err error) error {
		if err == nil && d.IsDir() && d.Name() == name && found == "" {
			found = p
			return filepath.SkipAll
		}
		return nil
	})
	if found == "" {
		t.Fatalf("no %s below %s", name, root)
	}
	return found
}

// TestBackupIntoV1RepositoryKeepsJSONTrees backs up into a copy of the
// version 1 fixture: the new trees must stay JSON, so that the releases that
// wrote the repository can still read all of it, and everything restores.
func TestBackupIntoV1RepositoryKeepsJSONTrees(t *testing.T) {
	dir := filepath.Join(t.TempDir(), "v1")
	if err := os.CopyFS(dir, os.DirFS(filepath.Join(fixtureDir, "v1"))); err != nil {
		t.Fatal(err)
	}
	ctx := context.Background()
	r := openFixture(t, dir)
	if v := r.Config().Version; v != 1 {
		t.Fatalf("fixture v1 has version %d", v)
	}
	src := filepath.Join(t.TempDir(), "new-src")
	if err := os.MkdirAll(filepath.Join(src, "sub"), 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(src, "sub", "f.txt"), []byte("written by a newer lifeboat\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	res, err := backup.Run(ctx, r, backup.Options{Paths: []string{src}, Host: "newer"})
	if err != nil {
		t.Fatal(err)
	}
	raw, err := r.LoadBlob(ctx, res.Snapshot.Tree)
	if err != nil {
		t.Fatal(err)
	}
	if len(raw) == 0 || raw[0] != '{' {
		t.Fatalf("root tree of a backup into a v1 repository starts %.8q, want JSON", raw)
	}
	if res, err := check.Run(ctx, r, check.Options{ReadData: true}); err != nil {
		t.Fatalf("check: %v (%+v)", err, res)
	}
	target := t.TempDir()
	if _, err := restore.Run(ctx, r, res.Snapshot, restore.Options{Target: target}); err != nil {
		t.Fatal(err)
	}
	got, err := os.ReadFile(filepath.Join(findDir(t, target, "new-src"), "sub", "f.txt"))
	if err != nil || string(got) != "written by a newer lifeboat\n" {
		t.Fatalf("restored %q, %v", got, err)
	}
}

// checkFixtureTombstone checks the version 4 fixture's forgotten
// snapshot: its object is still stored, its tombstone authenticates, and
// no listing shows it.
func checkFixtureTombstone(t *testing.T, r *repo.Repository, dir string) {
	t.Helper()
	ctx := context.Background()
	ts, err := r.Tombstones(ctx)
	if err != nil || len(ts) != 1 || ts[0].Err != nil || ts[0].Record.Reason != format.ReasonForget {
		t.Fatalf("tombstones %+v, %v; want one genuine forget", ts, err)
	}
	if _, err := os.Stat(filepath.Join(dir, "repo", filepath.FromSlash(ts[0].Object))); err != nil {
		t.Fatalf("the forgotten snapshot object is not in the fixture: %v", err)
	}
	snaps, err := r.Snapshots(ctx)
	if err != nil {
		t.Fatal(err)
	}
	for _, s := range snaps {
		if format.SnapshotName(s.ID) == ts[0].Object {
			t.Fatalf("the forgotten snapshot %s is listed", s.ID.Short())
		}
	}
	if len(snaps) != 2 {
		t.Fatalf("%d snapshots listed, want 2", len(snaps))
	}
}

// checkFixtureChains checks the fixture's commit chains: a repository of
// version 5 or later holds the records of its commits, which verify
// (nothing reported); one of an earlier version holds none, and its
// history verification reports nothing.
func checkFixtureChains(t *testing.T, r *repo.Repository, dir string) {
	t.Helper()
	_, err := os.Stat(filepath.Join(dir, "repo", strings.TrimSuffix(format.ChainPrefix, "/")))
	if has := err == nil; has != (r.FormatVersion() >= format.ChainVersion) {
		t.Fatalf("version %d fixture: commit chains stored: %v", r.FormatVersion(), has)
	}
	rep, err := r.VerifyHistory(context.Background(), true)
	if err != nil || len(rep.Findings) != 0 || len(rep.Unverified) != 0 {
		t.Fatalf("history of the version %d fixture: %+v, %v", r.FormatVersion(), rep, err)
	}
	if r.FormatVersion() < format.ChainVersion {
		if rep.Writers != 0 {
			t.Fatalf("version %d fixture: %d writers", r.FormatVersion(), rep.Writers)
		}
		return
	}
	// init, then the commits of the three snapshots (the backup, the one
	// with extended attributes, the forgotten one).
	if rep.Writers != 1 || rep.Records < 4 || rep.Committed < 3 {
		t.Fatalf("version %d fixture's chains: %+v", r.FormatVersion(), rep)
	}
}
