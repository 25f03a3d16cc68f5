package tests

import (
	"context"
	"errors"
	"fmt"
	"hash/fnv"
	"io/fs"
	"math/rand/v2"
	"os"
	"path"
	"path/filepath"
	"sort"
	"strings"
	"testing"

	"lifeboat/crypto"
	"lifeboat/engine/backup"
	"lifeboat/engine/check"
	"lifeboat/engine/chunker"
	"lifeboat/engine/compress"
	"lifeboat/engine/enginetest"
	"lifeboat/engine/format"
	"lifeboat/engine/repo"
	"lifeboat/engine/restore"
	"lifeboat/storage/local"
)

// integritySizes make a tree of about 2.8 MiB (1.4 MiB of it random, so
// incompressible) that fills two or three 1 MiB data packs with the
// 16 KiB chunks of enginetest.NewRepo.
var integritySizes = []int{1, 100, 5000, 20000, 70000, 200000, 450000, 700000}

// fixture is a repository in a local directory holding one snapshot of a
// generated tree.
type fixture struct {
	src, repoDir string
	id           *crypto.Identity
	snap         format.ID
}

func newFixture(t *testing.T, seed uint64) *fixture {
	t.Helper()
	dir := t.TempDir()
	f := &fixture{src: filepath.Join(dir, "src"), repoDir: filepath.Join(dir, "repo")}
	if err := makeTree(f.src, seed, integritySizes); err != nil {
		t.Fatal(err)
	}
	st, err := local.New(f.repoDir)
	if err != nil {
		t.Fatal(err)
	}
	defer st.Close()
	r, id := enginetest.NewRepo(t, st)
	f.id = id
	res, err := backup.Run(context.Background(), r, backup.Options{Paths: []string{f.src}, Host: "test"})
	if err != nil {
		t.Fatal(err)
	}
	if res.Warnings != 0 {
		t.Fatalf("backup: %d warnings", res.Warnings)
	}
	f.snap = res.ID
	return f
}

// objects lists the repository's object names, sorted.
func (f *fixture) objects(t *testing.T) []string {
	t.Helper()
	var names []string
	err := filepath.WalkDir(f.repoDir, func(p string, d fs.DirEntry, err error) error {
		if err != nil || !d.Type().IsRegular() {
			return err
		}
		rel, err := filepath.Rel(f.repoDir, p)
		if err != nil {
			return err
		}
		names = append(names, filepath.ToSlash(rel))
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	sort.Strings(names)
	return names
}

// verdict is what the engine made of the repository.
type verdict struct {
	openErr  error    // repo.Open
	checkErr error    // check.Run with ReadData
	problems []string // check's problems
	// restored compares a full restore with the source (nil when the
	// snapshot could not be loaded for a restore).
	restored    *restoreReport
	restoreErrs []string // what restore reported, per entry
	restoreErr  error    // restore.Run's own error, or loading for it
}

func (v *verdict) detected() bool {
	return v.openErr != nil || v.checkErr != nil || len(v.problems) > 0
}

// examine opens the repository as a new process would, checks it reading
// all data, and restores the fixture's snapshot into target.
func (f *fixture) examine(t *testing.T, target string) *verdict {
	t.Helper()
	ctx := context.Background()
	v := &verdict{}
	open := func() (*repo.Repository, func(), error) {
		st, err := local.Open(f.repoDir)
		if err != nil {
			t.Fatal(err)
		}
		r, err := repo.Open(ctx, st, f.id, repo.Options{})
		if err != nil {
			st.Close()
			return nil, nil, err
		}
		return r, func() { st.Close() }, nil
	}
	r, done, err := open()
	if err != nil {
		v.openErr = err
		return v
	}
	res, err := check.Run(ctx, r, check.Options{ReadData: true, Seed: 1, OnProblem: func(p check.Problem) {
		v.problems = append(v.problems, p.String())
	}})
	done()
	v.checkErr = err
	if err == nil && (res == nil || res.Problems != int64(len(v.problems))) {
		t.Errorf("check returned no error, result %+v, and reported %d problems", res, len(v.problems))
	}

	r, done, err = open()
	if err != nil {
		t.Fatalf("repository opened once, then not: %v", err)
	}
	defer done()
	if err := r.LoadIndex(ctx); err != nil {
		v.restoreErr = fmt.Errorf("load index: %w", err)
		return v
	}
	snap, err := r.LoadSnapshot(ctx, f.snap)
	if err != nil {
		v.restoreErr = fmt.Errorf("load snapshot: %w", err)
		return v
	}
	_, v.restoreErr = restore.Run(ctx, r, snap, restore.Options{Target: target, OnError: func(p string, err error) {
		v.restoreErrs = append(v.restoreErrs, fmt.Sprintf("%s: %v", p, err))
	}})
	rep, err := restoredState(f.src, filepath.Join(target, f.src))
	if err != nil {
		t.Fatal(err)
	}
	v.restored = rep
	return v
}

// positions returns the byte offsets to damage in an object of size bytes:
// the first, the last, the middle, the first payload byte of a sealed
// object (crypto.HeaderSize) and n pseudo-random ones derived from name's
// kind and size.
func positions(name string, size int64, n int) []int64 {
	h := fnv.New64a()
	h.Write([]byte(objectKind(name)))
	rng := rand.New(rand.NewPCG(h.Sum64(), uint64(size)))
	cand := []int64{0, size - 1, size / 2, crypto.HeaderSize}
	for range n {
		cand = append(cand, rng.Int64N(size))
	}
	seen := map[int64]bool{}
	var out []int64
	for _, p := range cand {
		if p >= 0 && p < size && !seen[p] {
			seen[p] = true
			out = append(out, p)
		}
	}
	return out
}

// objectKind is the first segment of an object name (config, keys, …).
func objectKind(name string) string {
	kind, _, _ := strings.Cut(name, "/")
	return kind
}

// shortName makes a subtest name of an object name: kind and 8 hex digits.
func shortName(name string) string {
	base := path.Base(name)
	if len(base) > 8 {
		base = base[:8]
	}
	if k := objectKind(name); k != name {
		return k + "-" + base
	}
	return name
}

// TestIntegrity damages one byte of every stored object at several
// positions, one at a time, and requires that opening the repository or
// check --read-data notices, and that a restore never leaves a wrong file
// under its real name (each restored file matches the source exactly or is
// absent; nothing else is left behind).
func TestIntegrity(t *testing.T) {
	f := newFixture(t, 11)
	objects := f.objects(t)
	kinds := map[string]int{}
	for _, o := range objects {
		kinds[objectKind(o)]++
	}
	if kinds["config"] != 1 || kinds["keys"] != 1 || kinds["index"] != 1 || kinds["snapshots"] != 1 || kinds["data"] < 3 {
		t.Fatalf("unexpected repository layout %v: %v", kinds, objects)
	}

	// Undamaged, everything passes and the restore is complete.
	t.Run("undamaged", func(t *testing.T) {
		v := f.examine(t, t.TempDir())
		if v.detected() || v.restoreErr != nil || len(v.restoreErrs) > 0 {
			t.Fatalf("undamaged repository: open %v, check %v %v, restore %v %v", v.openErr, v.checkErr, v.problems, v.restoreErr, v.restoreErrs)
		}
		if len(v.restored.Missing) > 0 || len(v.restored.Problems) > 0 {
			t.Fatalf("undamaged restore: missing %v, problems %v", v.restored.Missing, v.restored.Problems)
		}
	})

	for _, obj := range objects {
		p := filepath.Join(f.repoDir, filepath.FromSlash(obj))
		fi, err := os.Stat(p)
		if err != nil {
			t.Fatal(err)
		}
		for _, pos := range positions(obj, fi.Size(), 5) {
			t.Run(fmt.Sprintf("%s@%d", shortName(obj), pos), func(t *testing.T) {
				if err := flipByte(p, pos); err != nil {
					t.Fatal(err)
				}
				defer func() {
					if err := flipByte(p, pos); err != nil {
						t.Fatal(err)
					}
				}()
				v := f.examine(t, t.TempDir())
				if !v.detected() {
					t.Errorf("byte %d of %s flipped: open and check --read-data found nothing", pos, obj)
				}
				if v.openErr == nil && v.checkErr != nil && !errors.Is(v.checkErr, check.ErrProblems) && !strings.Contains(v.checkErr.Error(), obj) {
					t.Errorf("check failed without naming %s: %v", obj, v.checkErr)
				}
				if v.openErr == nil && errors.Is(v.checkErr, check.ErrProblems) && !strings.Contains(strings.Join(v.problems, "\n"), obj) {
					t.Errorf("check's problems do not name %s: %v", obj, v.problems)
				}
				if v.restored == nil {
					return
				}
				for _, pr := range v.restored.Problems {
					t.Errorf("restore: %s", pr)
				}
				if len(v.restored.Missing) > 0 && len(v.restoreErrs) == 0 {
					t.Errorf("restore left out %v without reporting an error", v.restored.Missing)
				}
				if len(v.restoreErrs) > 0 && len(v.restored.Missing) == 0 {
					t.Errorf("restore reported %v yet every file is present", v.restoreErrs)
				}
			})
		}
	}
}

// TestIntegrityDamageStaysLocal damages one byte inside one 64 KiB
// encryption chunk of a data pack. Only files with data in that chunk can
// be lost: a restore of the whole snapshot must restore every other file
// (each blob is verified on its own, so its neighbours' damage is no reason
// to refuse it).
func TestIntegrityDamageStaysLocal(t *testing.T) {
	ctx := context.Background()
	f := newFixture(t, 12)
	st, err := local.Open(f.repoDir)
	if err != nil {
		t.Fatal(err)
	}
	defer st.Close()
	r := enginetest.Reopen(t, st, f.id)

	// Which packs hold which files' data.
	type span struct {
		file       string
		start, end int64 // plaintext range of one blob
	}
	spans := map[format.ID][]span{}
	sizes := map[format.ID]int64{}
	var walk func(id format.ID, dir string)
	walk = func(id format.ID, dir string) {
		tree, err := r.LoadTree(ctx, id)
		if err != nil {
			t.Fatal(err)
		}
		for i := range tree.Nodes {
			n := &tree.Nodes[i]
			p := path.Join(dir, n.Name)
			if n.Subtree != nil {
				walk(*n.Subtree, p)
				continue
			}
			for _, b := range n.Content {
				loc, ok := r.Index().Lookup(b)
				if !ok {
					t.Fatalf("%s: blob %v not indexed", p, b)
				}
				spans[loc.Pack.ID] = append(spans[loc.Pack.ID], span{p, int64(loc.Blob.Offset), int64(loc.Blob.Offset) + int64(loc.Blob.Length)})
				sizes[loc.Pack.ID] = loc.Pack.Size
			}
		}
	}
	snap, err := r.LoadSnapshot(ctx, f.snap)
	if err != nil {
		t.Fatal(err)
	}
	walk(snap.Tree, "/")

	// The data pack with the most files, damaged in its second encryption
	// chunk (plaintext bytes 64 KiB to 128 KiB).
	const chunk = 64 << 10
	var pack format.ID
	best := 0
	for id, ss := range spans {
		files := map[string]bool{}
		for _, s := range ss {
			files[s.file] = true
		}
		if sizes[id] > crypto.SealedSize(3*chunk) && len(files) > best {
			pack, best = id, len(files)
		}
	}
	if best < 3 {
		t.Fatalf("no data pack with 3 encryption chunks and 3 files: %v", sizes)
	}
	damaged := map[string]bool{}
	for _, s := range spans[pack] {
		if s.start < 2*chunk && s.end > chunk {
			damaged[strings.TrimPrefix(s.file, f.src+"/")] = true
		}
	}
	off := int64(crypto.HeaderSize) + (chunk+16)*1 + 1000
	if err := flipByte(filepath.Join(f.repoDir, filepath.FromSlash(format.PackName(pack))), off); err != nil {
		t.Fatal(err)
	}

	v := f.examine(t, t.TempDir())
	if !v.detected() {
		t.Fatal("damage not detected")
	}
	if v.restored == nil {
		t.Fatalf("no restore: %v", v.restoreErr)
	}
	for _, pr := range v.restored.Problems {
		t.Errorf("restore: %s", pr)
	}
	var lost []string
	for _, m := range v.restored.Missing {
		if !damaged[m] {
			lost = append(lost, m)
		}
	}
	if len(lost) > 0 {
		t.Errorf("a flipped byte in %s (plaintext 64-128 KiB, where only %d files have data) made the restore refuse %d intact files: %v",
			format.PackName(pack), len(damaged), len(lost), lost)
	}
}

// TestIntegrityWrongKey opens repositories with identities that hold no
// key: the error is repo.ErrWrongKey and not one byte of storage changes.
func TestIntegrityWrongKey(t *testing.T) {
	ctx := context.Background()
	right, rightRcpt := enginetest.Identity(t)
	other, _ := enginetest.Identity(t)
	pass := []byte("correct horse battery staple")
	passRcpt, err := crypto.PassphraseRecipient(pass, 10)
	if err != nil {
		t.Fatal(err)
	}
	src := filepath.Join(t.TempDir(), "src")
	if err := makeTree(src, 13, []int{1, 5000, 70000}); err != nil {
		t.Fatal(err)
	}
	tests := []struct {
		name  string
		rcpt  *crypto.Recipient
		good  *crypto.Identity
		wrong *crypto.Identity
	}{
		{"x25519/other-x25519", rightRcpt, right, other},
		{"x25519/passphrase", rightRcpt, right, crypto.PassphraseIdentity(pass)},
		{"passphrase/wrong-passphrase", passRcpt, crypto.PassphraseIdentity(pass), crypto.PassphraseIdentity([]byte("correct horse battery stable"))},
		{"passphrase/x25519", passRcpt, crypto.PassphraseIdentity(pass), right},
		{"x25519/two-wrong", rightRcpt, right, crypto.JoinIdentities(other, crypto.PassphraseIdentity(pass))},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			dir := filepath.Join(t.TempDir(), "repo")
			st, err := local.New(dir)
			if err != nil {
				t.Fatal(err)
			}
			defer st.Close()
			r, err := repo.Init(ctx, st, repo.InitOptions{
				Recipient: tt.rcpt, Host: "test", Chunker: chunker.Params{Min: 4 << 10, Avg: 16 << 10, Max: 64 << 10},
				Compression: compress.LevelFastest, PackSize: 1 << 20,
			})
			if err != nil {
				t.Fatal(err)
			}
			if _, err := backup.Run(ctx, r, backup.Options{Paths: []string{src}, Host: "test"}); err != nil {
				t.Fatal(err)
			}
			before, err := dirState(dir)
			if err != nil {
				t.Fatal(err)
			}
			for range 2 {
				r, err := repo.Open(ctx, st, tt.wrong, repo.Options{})
				if !errors.Is(err, repo.ErrWrongKey) {
					t.Fatalf("open with the wrong identity: %v, want ErrWrongKey", err)
				}
				if r != nil {
					t.Fatal("open failed but returned a repository")
				}
			}
			var ie *repo.IntegrityError
			if _, err := repo.Open(ctx, st, tt.wrong, repo.Options{}); errors.As(err, &ie) || errors.Is(err, repo.ErrNoRepository) {
				t.Fatalf("wrong key reported as %v", err)
			}
			after, err := dirState(dir)
			if err != nil {
				t.Fatal(err)
			}
			if before != after {
				t.Fatalf("storage changed by a failed open:\nbefore:\n%s\nafter:\n%s", before, after)
			}
			// The right identity, alone or among wrong ones, still opens it.
			for _, id := range []*crypto.Identity{tt.good, crypto.JoinIdentities(tt.wrong, tt.good)} {
				r, err := repo.Open(ctx, st, id, repo.Options{})
				if err != nil {
					t.Fatalf("open with the right identity: %v", err)
				}
				if err := r.LoadIndex(ctx); err != nil {
					t.Fatal(err)
				}
				snaps, err := r.Snapshots(ctx)
				if err != nil || len(snaps) != 1 {
					t.Fatalf("snapshots: %d, %v", len(snaps), err)
				}
			}
		})
	}
}
