package restore_test

import (
	"bytes"
	"context"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"math/rand/v2"
	"os"
	"path/filepath"
	"reflect"
	"slices"
	"strings"
	"sync"
	"testing"

	"lifeboat/engine/backup"
	"lifeboat/engine/enginetest"
	"lifeboat/engine/format"
	"lifeboat/engine/repo"
	"lifeboat/engine/restore"
	"lifeboat/engine/treecmp"
	"lifeboat/storage/mem"
)

// tempModes are the two kinds of temporary files: unnamed (Linux) and
// named (systems without unnamed files).
var tempModes = []struct {
	name string
	set  func() (undo func())
}{
	{"unnamed", func() func() { return func() {} }},
	{"named", restore.SetNamedOnly},
}

// oldTempName is the temporary name restore used to give the file name
// whose node is n: derived from the name and the hash.
func oldTempName(name string, n *format.Node) string {
	if len(name) > 200 {
		name = name[:200]
	}
	return fmt.Sprintf(".%s.lifeboat-%x.tmp", name, n.Hash[:6])
}

func backupDir(t *testing.T, r *repo.Repository, src string) *format.Snapshot {
	t.Helper()
	res, err := backup.Run(context.Background(), r, backup.Options{Paths: []string{src}, Host: "test"})
	if err != nil {
		t.Fatal(err)
	}
	if res.Warnings != 0 {
		t.Fatalf("backup warnings: %d", res.Warnings)
	}
	return res.Snapshot
}

// findNode returns the node at absolute path p in snap.
func findNode(t *testing.T, r *repo.Repository, snap *format.Snapshot, p string) *format.Node {
	t.Helper()
	id := snap.Tree
	parts := strings.Split(strings.Trim(filepath.ToSlash(p), "/"), "/")
	for i, name := range parts {
		tree, err := r.LoadTree(context.Background(), id)
		if err != nil {
			t.Fatal(err)
		}
		var n *format.Node
		for j := range tree.Nodes {
			if tree.Nodes[j].Name == name {
				n = &tree.Nodes[j]
			}
		}
		if n == nil {
			t.Fatalf("%s not in the snapshot", p)
		}
		if i == len(parts)-1 {
			return n
		}
		id = *n.Subtree
	}
	return nil
}

func randomData(seed uint64, n int) []byte {
	rng := rand.New(rand.NewPCG(seed, 1))
	b := make([]byte, n)
	for i := range b {
		b[i] = byte(rng.Uint32())
	}
	return b
}

func writeFile(t *testing.T, p string, data []byte, mode os.FileMode) {
	t.Helper()
	if err := os.MkdirAll(filepath.Dir(p), 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(p, data, mode); err != nil {
		t.Fatal(err)
	}
	if err := os.Chmod(p, mode); err != nil {
		t.Fatal(err)
	}
}

// sameTree fails the test with every difference between src and its
// restored copy below target.
func sameTree(t *testing.T, src, target string) {
	t.Helper()
	diffs, err := treecmp.Compare(src, filepath.Join(target, src), treecmp.Options{})
	if err != nil {
		t.Fatal(err)
	}
	for _, d := range diffs {
		t.Errorf("difference: %s", d)
	}
}

// A snapshot entry whose name is the one restore used to derive for a
// sibling's temporary file (a file or a directory) is restored like any
// other entry, and the sibling gets its own bytes.
func TestEntryNamedLikeSiblingsTempName(t *testing.T) {
	for _, mode := range tempModes {
		for _, decoy := range []string{"file", "dir"} {
			t.Run(mode.name+"/"+decoy, func(t *testing.T) {
				defer mode.set()()
				r, _ := enginetest.NewRepo(t, mem.New())
				src := filepath.Join(t.TempDir(), "src")
				writeFile(t, filepath.Join(src, "f"), randomData(1, 300<<10), 0o644)
				n := findNode(t, r, backupDir(t, r, src), filepath.Join(src, "f"))
				name := filepath.Join(src, oldTempName("f", n))
				if decoy == "file" {
					writeFile(t, name, []byte("decoy: not f's bytes\n"), 0o600)
				} else {
					writeFile(t, filepath.Join(name, "mine"), []byte("user data\n"), 0o600)
				}
				enginetest.SetTimes(t, src)
				snap := backupDir(t, r, src)
				target := t.TempDir()
				_, log := restoreTo(t, r, snap, restore.Options{Target: target, Workers: 1})
				if len(log.errs) > 0 {
					t.Fatalf("restore errors: %v", log.errs)
				}
				sameTree(t, src, target)
			})
		}
	}
}

// Files without write permission are written through the descriptor of
// their temporary file and get their mode.
func TestReadOnlyFiles(t *testing.T) {
	for _, mode := range tempModes {
		t.Run(mode.name, func(t *testing.T) {
			defer mode.set()()
			r, _ := enginetest.NewRepo(t, mem.New())
			src := filepath.Join(t.TempDir(), "src")
			writeFile(t, filepath.Join(src, "ro"), randomData(4, 100<<10), 0o400)
			writeFile(t, filepath.Join(src, "none"), randomData(5, 10<<10), 0)
			writeFile(t, filepath.Join(src, "empty"), nil, 0o444)
			enginetest.SetTimes(t, src)
			snap := backupDir(t, r, src)
			target := t.TempDir()
			_, log := restoreTo(t, r, snap, restore.Options{Target: target})
			if len(log.errs) > 0 {
				t.Fatalf("restore errors: %v", log.errs)
			}
			sameTree(t, src, target)
		})
	}
}

// Two names longer than 200 bytes that share their first 200 bytes, with
// the same content (so the same hash), are both restored, each with its own
// mode.
func TestLongNamesSharingPrefix(t *testing.T) {
	for _, mode := range tempModes {
		t.Run(mode.name, func(t *testing.T) {
			defer mode.set()()
			r, _ := enginetest.NewRepo(t, mem.New())
			src := filepath.Join(t.TempDir(), "src")
			data := randomData(2, 300<<10) // several chunks
			prefix := strings.Repeat("n", 200)
			a, b := prefix+strings.Repeat("a", 50), prefix+strings.Repeat("b", 50)
			writeFile(t, filepath.Join(src, a), data, 0o600)
			writeFile(t, filepath.Join(src, b), data, 0o644)
			enginetest.SetTimes(t, src)
			snap := backupDir(t, r, src)
			target := t.TempDir()
			res, log := restoreTo(t, r, snap, restore.Options{Target: target, Workers: 1})
			if len(log.errs) > 0 {
				t.Fatalf("restore errors: %v", log.errs)
			}
			if res.Files != 2 {
				t.Errorf("restored %d files, want 2", res.Files)
			}
			sameTree(t, src, target)
			fa, fb := mustStat(t, filepath.Join(target, src, a)), mustStat(t, filepath.Join(target, src, b))
			if os.SameFile(fa, fb) {
				t.Error("both names are the same file")
			}
		})
	}
}

// A snapshot of a directory holding what a killed restore leaves (partial
// files under the temporary names it derived, and under today's random
// temporary names) restores exactly, leftovers included.
func TestSnapshotWithKilledRestoreLeftovers(t *testing.T) {
	for _, mode := range tempModes {
		t.Run(mode.name, func(t *testing.T) {
			defer mode.set()()
			r, _ := enginetest.NewRepo(t, mem.New())
			src := filepath.Join(t.TempDir(), "src")
			enginetest.MakeTree(t, src, 3)
			first := backupDir(t, r, src)
			for _, rel := range []string{"d0/e0/f00", "d1/e2/f05", "d3/e0/f03", "big/large.bin", "special/with space & ünïcode"} {
				p := filepath.Join(src, rel)
				data, err := os.ReadFile(p)
				if err != nil {
					t.Fatal(err)
				}
				n := findNode(t, r, first, p)
				writeFile(t, filepath.Join(filepath.Dir(p), oldTempName(filepath.Base(p), n)), data[:len(data)/2], 0o644)
			}
			writeFile(t, filepath.Join(src, "d2", restore.TempPrefix+"0123456789abcdef01234567"), []byte("partial"), 0o600)
			enginetest.SetTimes(t, src)
			snap := backupDir(t, r, src)
			for _, workers := range []int{1, 0} {
				target := t.TempDir()
				_, log := restoreTo(t, r, snap, restore.Options{Target: target, Workers: workers, BatchFiles: 5})
				if len(log.errs) > 0 {
					t.Fatalf("workers %d: restore errors: %v", workers, log.errs)
				}
				sameTree(t, src, target)
			}
		})
	}
}

// Leftovers of a killed restore in the target are not the next restore's
// to delete; only Delete removes them (they are not in the snapshot).
func TestTargetLeftoversKeptUnlessDelete(t *testing.T) {
	r, src, snap := backupTree(t, mem.New())
	target := t.TempDir()
	restoreTo(t, r, snap, restore.Options{Target: target})
	leftovers := []string{
		filepath.Join(target, src, "d0", "e0", restore.TempPrefix+"00112233445566778899aabb"),
		filepath.Join(target, src, "d0", "e0", ".f00.lifeboat-0123456789ab.tmp"),
	}
	for _, p := range leftovers {
		writeFile(t, p, []byte("partial"), 0o600)
	}
	os.Remove(filepath.Join(target, src, "d0", "e0", "f00"))
	res, log := restoreTo(t, r, snap, restore.Options{Target: target, Overwrite: restore.OverwriteIfChanged})
	if len(log.errs) > 0 || res.Files != 1 {
		t.Fatalf("errors %v, %d files restored; want none and 1", log.errs, res.Files)
	}
	for _, p := range leftovers {
		if data, err := os.ReadFile(p); err != nil || string(data) != "partial" {
			t.Errorf("%s: %q %v; an entry restore did not create must stay", p, data, err)
		}
	}
	var mu sync.Mutex
	var deleted []string
	res, log = restoreTo(t, r, snap, restore.Options{Target: target, Overwrite: restore.OverwriteIfChanged, Delete: true,
		OnDelete: func(p string, dir bool) {
			mu.Lock()
			defer mu.Unlock()
			deleted = append(deleted, p)
		}})
	if len(log.errs) > 0 {
		t.Fatal(log.errs)
	}
	var want []string
	for _, p := range leftovers {
		want = append(want, strings.TrimPrefix(p, target))
	}
	slices.Sort(want)
	slices.Sort(deleted)
	if !reflect.DeepEqual(deleted, want) || res.Deleted != int64(len(want)) {
		t.Errorf("deleted %v (%d), want %v", deleted, res.Deleted, want)
	}
	sameTree(t, src, target)
}

// tempNames returns the first n temporary names drawn from a ChaCha8
// source with seed, as restore draws them.
func tempNames(seed [32]byte, n int) []string {
	rng := rand.NewChaCha8(seed)
	var out []string
	for range n {
		var b [12]byte
		if _, err := io.ReadFull(rng, b[:]); err != nil {
			panic(err)
		}
		out = append(out, restore.TempPrefix+hex.EncodeToString(b[:]))
	}
	return out
}

// Entries that already have the names restore draws for its temporary
// files are never touched: restore draws other names.
func TestTakenTempNamesLeftAlone(t *testing.T) {
	for _, mode := range tempModes {
		t.Run(mode.name, func(t *testing.T) {
			defer mode.set()()
			r, _ := enginetest.NewRepo(t, mem.New())
			src := filepath.Join(t.TempDir(), "src")
			writeFile(t, filepath.Join(src, "a"), randomData(3, 100<<10), 0o644)
			enginetest.SetTimes(t, src)
			snap := backupDir(t, r, src)
			target := t.TempDir()
			restoreTo(t, r, snap, restore.Options{Target: target})
			dir := filepath.Join(target, src)
			writeFile(t, filepath.Join(dir, "a"), []byte("local edit"), 0o644) // replaced by the restore
			seed := [32]byte{9}
			taken := tempNames(seed, 6)
			for i, name := range taken {
				if i == 2 {
					writeFile(t, filepath.Join(dir, name, "mine"), []byte("user data"), 0o600)
					continue
				}
				writeFile(t, filepath.Join(dir, name), []byte("user data"), 0o600)
			}
			_, log := restoreTo(t, r, snap, restore.Options{Target: target, Rand: rand.NewChaCha8(seed)})
			if len(log.errs) > 0 {
				t.Fatalf("restore errors: %v", log.errs)
			}
			for i, name := range taken {
				p := filepath.Join(dir, name)
				if i == 2 {
					p = filepath.Join(p, "mine")
				}
				if data, err := os.ReadFile(p); err != nil || string(data) != "user data" {
					t.Errorf("%s: %q %v", p, data, err)
				}
			}
			entries, err := os.ReadDir(dir)
			if err != nil {
				t.Fatal(err)
			}
			if len(entries) != 1+len(taken) {
				t.Errorf("%d entries in %s, want a and the %d taken names (no temporary file left)", len(entries), dir, len(taken))
			}
			want, _ := os.ReadFile(filepath.Join(src, "a"))
			if got, _ := os.ReadFile(filepath.Join(dir, "a")); !bytes.Equal(got, want) {
				t.Error("a not restored")
			}
		})
	}
}

// inTheWay are entries of another type put where the snapshot has one.
var inTheWay = []struct {
	name, rel string
	put       func(t *testing.T, p string)
	dir       bool // the entry in the way is a directory
}{
	{"non-empty directory where a file is", "d0/e0/f00", putDir, true},
	{"file where a directory is", "d1/e2", putFile, false},
	{"symlink where a file is", "d2/e1/f10", putSymlink, false},
	{"directory where a symlink is", "special/link-rel", putDir, true},
	{"directory where a hard link is", "special/hardlink", putDir, true},
	{"file where a FIFO is", "special/fifo", putFile, false},
}

func putDir(t *testing.T, p string) {
	writeFile(t, filepath.Join(p, "user.txt"), []byte("user data"), 0o600)
}

func putFile(t *testing.T, p string) { writeFile(t, p, []byte("user data"), 0o600) }

func putSymlink(t *testing.T, p string) {
	if err := os.Symlink("user.txt", p); err != nil {
		t.Fatal(err)
	}
}

// checkInTheWay fails unless p still is what put made.
func checkInTheWay(t *testing.T, p string, dir bool) {
	t.Helper()
	fi, err := os.Lstat(p)
	if err != nil {
		t.Fatal(err)
	}
	switch {
	case dir != fi.IsDir():
		t.Errorf("%s is now %v", p, fi.Mode())
	case dir:
		if data, err := os.ReadFile(filepath.Join(p, "user.txt")); err != nil || string(data) != "user data" {
			t.Errorf("the user's file in %s: %q %v", p, data, err)
		}
	case fi.Mode()&os.ModeSymlink != 0:
		if l, err := os.Readlink(p); err != nil || l != "user.txt" {
			t.Errorf("symlink %s: %q %v", p, l, err)
		}
	case !fi.Mode().IsRegular():
		t.Errorf("%s is now %v", p, fi.Mode())
	default:
		if data, err := os.ReadFile(p); err != nil || string(data) != "user data" {
			t.Errorf("the user's file %s: %q %v", p, data, err)
		}
	}
}

// An entry of another type in the way of a snapshot entry is a conflict
// whatever the overwrite mode: reported, counted as skipped, left as it
// is. With Delete it is removed (and reported) and the target becomes
// identical to the snapshot.
func TestEntryOfAnotherTypeInTheWay(t *testing.T) {
	r, src, snap := backupTree(t, mem.New())
	for _, tc := range inTheWay {
		t.Run(tc.name, func(t *testing.T) {
			target := t.TempDir()
			restoreTo(t, r, snap, restore.Options{Target: target})
			p := filepath.Join(target, src, filepath.FromSlash(tc.rel))
			if err := os.RemoveAll(p); err != nil {
				t.Fatal(err)
			}
			tc.put(t, p)
			sp := filepath.Join(src, filepath.FromSlash(tc.rel))
			for _, ow := range []restore.Overwrite{restore.OverwriteAlways, restore.OverwriteIfChanged, restore.OverwriteNever} {
				res, log := restoreTo(t, r, snap, restore.Options{Target: target, Overwrite: ow})
				if err := log.errs[sp]; !errors.Is(err, restore.ErrConflict) || len(log.errs) != 1 {
					t.Fatalf("overwrite %d: errors %v; want one ErrConflict for %s", ow, log.errs, sp)
				}
				if res.Conflicts != 1 || res.Skipped < 1 || res.Errors != 0 {
					t.Errorf("overwrite %d: %d conflicts, %d skipped, %d errors; want 1, at least 1, 0", ow, res.Conflicts, res.Skipped, res.Errors)
				}
				checkInTheWay(t, p, tc.dir)
			}
			var deleted []string
			var dirs []bool
			var mu sync.Mutex
			res, log := restoreTo(t, r, snap, restore.Options{Target: target, Delete: true, OnDelete: func(p string, dir bool) {
				mu.Lock()
				defer mu.Unlock()
				deleted, dirs = append(deleted, p), append(dirs, dir)
			}})
			if len(log.errs) > 0 || res.Conflicts != 0 {
				t.Fatalf("with Delete: errors %v, %d conflicts", log.errs, res.Conflicts)
			}
			if !reflect.DeepEqual(deleted, []string{sp}) || !reflect.DeepEqual(dirs, []bool{tc.dir}) || res.Deleted != 1 {
				t.Errorf("deleted %v (directories %v, %d); want %s", deleted, dirs, res.Deleted, sp)
			}
			sameTree(t, src, target)
			if tc.rel == "special/hardlink" && !os.SameFile(mustStat(t, p), mustStat(t, filepath.Join(target, src, "big", "large.bin"))) {
				t.Error("hard link not restored as a link")
			}
		})
	}
}

// Delete removes the entries of restored directories that the snapshot
// does not have, only within Include, never what Exclude matches.
func TestDeleteExtraEntries(t *testing.T) {
	r, src, snap := backupTree(t, mem.New())
	target := t.TempDir()
	restoreTo(t, r, snap, restore.Options{Target: target})
	extra := map[string]bool{ // snapshot path: is a directory
		"/top-extra":                          false,
		filepath.Join(src, "extra.txt"):       false,
		filepath.Join(src, "d0", "x.txt"):     false,
		filepath.Join(src, "d0", "xdir"):      true,
		filepath.Join(src, "d0", "e1", "y"):   false,
		filepath.Join(src, "d1", "e0", "z"):   false,
		filepath.Join(src, "d0", "keep.log"):  false,
		filepath.Join(src, "d1", "keep2.log"): false,
	}
	for p, dir := range extra {
		if dir {
			putDir(t, filepath.Join(target, p))
		} else {
			putFile(t, filepath.Join(target, p))
		}
	}
	exc, _ := backup.NewMatcher([]string{"*.log"})
	inc, _ := backup.NewMatcher([]string{filepath.Join(src, "d0")})
	for _, tc := range []struct {
		name    string
		include restore.Selector
		want    []string
	}{
		{"within include", inc, []string{filepath.Join(src, "d0", "x.txt"), filepath.Join(src, "d0", "xdir"), filepath.Join(src, "d0", "e1", "y")}},
		{"everything", nil, []string{"/top-extra", filepath.Join(src, "extra.txt"), filepath.Join(src, "d1", "e0", "z")}},
	} {
		var mu sync.Mutex
		var deleted []string
		opts := restore.Options{Target: target, Overwrite: restore.OverwriteIfChanged, Delete: true, Exclude: exc,
			OnDelete: func(p string, dir bool) {
				mu.Lock()
				defer mu.Unlock()
				if dir != extra[p] {
					t.Errorf("%s: deleted as directory %v", p, dir)
				}
				deleted = append(deleted, p)
			}}
		if tc.include != nil {
			opts.Include = tc.include
		}
		res, log := restoreTo(t, r, snap, opts)
		if len(log.errs) > 0 {
			t.Fatalf("%s: %v", tc.name, log.errs)
		}
		slices.Sort(deleted)
		slices.Sort(tc.want)
		if !reflect.DeepEqual(deleted, tc.want) || res.Deleted != int64(len(tc.want)) {
			t.Errorf("%s: deleted %v (%d), want %v", tc.name, deleted, res.Deleted, tc.want)
		}
		for p := range extra {
			_, err := os.Lstat(filepath.Join(target, p))
			if gone := errors.Is(err, os.ErrNotExist); gone != slices.Contains(tc.want, p) {
				t.Errorf("%s: %s gone: %v", tc.name, p, gone)
			}
		}
		for _, p := range deleted {
			delete(extra, p)
		}
	}
	for _, p := range []string{filepath.Join(src, "d0", "keep.log"), filepath.Join(src, "d1", "keep2.log")} {
		if _, err := os.Lstat(filepath.Join(target, p)); err != nil {
			t.Errorf("excluded %s: %v", p, err)
		}
	}
}
