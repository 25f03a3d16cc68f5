package restore_test

import (
	"context"
	"errors"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"

	"lifeboat/engine/backup"
	"lifeboat/engine/enginetest"
	"lifeboat/engine/format"
	"lifeboat/engine/repo"
	"lifeboat/engine/restore"
	"lifeboat/engine/treecmp"
	"lifeboat/storage"
	"lifeboat/storage/fault"
	"lifeboat/storage/mem"
)

// backupTree backs up a fresh generated tree and returns the repository,
// the source directory and the snapshot.
func backupTree(t *testing.T, st storage.Storage) (*repo.Repository, string, *format.Snapshot) {
	t.Helper()
	r, _ := enginetest.NewRepo(t, st)
	src := filepath.Join(t.TempDir(), "src")
	enginetest.MakeTree(t, src, 1)
	res, err := backup.Run(context.Background(), r, backup.Options{Paths: []string{src}, Host: "test"})
	if err != nil {
		t.Fatal(err)
	}
	if res.Warnings != 0 {
		t.Fatalf("backup warnings: %d", res.Warnings)
	}
	return r, src, res.Snapshot
}

type errorLog struct {
	mu   sync.Mutex
	errs map[string]error
}

func (l *errorLog) add(p string, err error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	if l.errs == nil {
		l.errs = map[string]error{}
	}
	l.errs[p] = err
}

func restoreTo(t *testing.T, r *repo.Repository, snap *format.Snapshot, opts restore.Options) (*restore.Result, *errorLog) {
	t.Helper()
	log := &errorLog{}
	opts.OnError = log.add
	res, err := restore.Run(context.Background(), r, snap, opts)
	if err != nil {
		t.Fatal(err)
	}
	return res, log
}

func TestRoundTrip(t *testing.T) {
	r, src, snap := backupTree(t, mem.New())
	target := t.TempDir()
	res, log := restoreTo(t, r, snap, restore.Options{Target: target, BatchFiles: 7})
	if len(log.errs) > 0 {
		t.Fatalf("restore errors: %v", log.errs)
	}
	diffs, err := treecmp.Compare(src, filepath.Join(target, src), treecmp.Options{})
	if err != nil {
		t.Fatal(err)
	}
	for _, d := range diffs {
		t.Errorf("difference: %s", d)
	}
	if res.Links != 1 {
		t.Errorf("hard links restored: %d, want 1", res.Links)
	}
	a, _ := os.Stat(filepath.Join(src, "big", "large.bin"))
	b, _ := os.Stat(filepath.Join(target, src, "special", "hardlink"))
	if !os.SameFile(a, b) && !os.SameFile(b, mustStat(t, filepath.Join(target, src, "big", "large.bin"))) {
		t.Error("hard link not restored as a link")
	}
	// The sparse file takes less space than its size.
	if used := allocated(t, filepath.Join(target, src, "special", "sparse")); used >= 512<<10 {
		t.Errorf("sparse file uses %d bytes on disk", used)
	}
	// No temporary files left behind.
	filepath.Walk(target, func(p string, fi os.FileInfo, err error) error {
		if strings.HasPrefix(filepath.Base(p), restore.TempPrefix) {
			t.Errorf("temporary file left: %s", p)
		}
		return nil
	})
}

func mustStat(t *testing.T, p string) os.FileInfo {
	t.Helper()
	fi, err := os.Stat(p)
	if err != nil {
		t.Fatal(err)
	}
	return fi
}

func TestIncludeExclude(t *testing.T) {
	r, src, snap := backupTree(t, mem.New())
	inc, _ := backup.NewMatcher([]string{filepath.Join(src, "d1")})
	exc, _ := backup.NewMatcher([]string{"f05"})
	target := t.TempDir()
	restoreTo(t, r, snap, restore.Options{Target: target, Include: inc, Exclude: exc})
	if _, err := os.Stat(filepath.Join(target, src, "d1", "e2", "f17")); err != nil {
		t.Errorf("included file missing: %v", err)
	}
	if _, err := os.Stat(filepath.Join(target, src, "d1", "e2", "f05")); !errors.Is(err, os.ErrNotExist) {
		t.Errorf("excluded file restored: %v", err)
	}
	if _, err := os.Stat(filepath.Join(target, src, "d0")); !errors.Is(err, os.ErrNotExist) {
		t.Errorf("not-included directory restored: %v", err)
	}
}

func TestOverwriteModes(t *testing.T) {
	r, src, snap := backupTree(t, mem.New())
	target := t.TempDir()
	restoreTo(t, r, snap, restore.Options{Target: target})
	changed := filepath.Join(target, src, "d0", "e0", "f00")
	if err := os.WriteFile(changed, []byte("local edit"), 0o644); err != nil {
		t.Fatal(err)
	}
	for _, tc := range []struct {
		mode        restore.Overwrite
		wantSkipped bool
		wantEdit    bool
	}{
		{restore.OverwriteNever, true, true},
		{restore.OverwriteIfChanged, false, false},
		{restore.OverwriteAlways, false, false},
	} {
		if err := os.WriteFile(changed, []byte("local edit"), 0o644); err != nil {
			t.Fatal(err)
		}
		res, log := restoreTo(t, r, snap, restore.Options{Target: target, Overwrite: tc.mode})
		if len(log.errs) > 0 {
			t.Fatalf("mode %v: errors %v", tc.mode, log.errs)
		}
		data, _ := os.ReadFile(changed)
		if (string(data) == "local edit") != tc.wantEdit {
			t.Errorf("mode %v: local edit kept = %v", tc.mode, !tc.wantEdit)
		}
		if tc.mode == restore.OverwriteIfChanged && res.Skipped == 0 {
			t.Errorf("if-changed skipped nothing; unchanged files should be skipped")
		}
		if tc.mode == restore.OverwriteIfChanged && res.Files == 0 {
			t.Errorf("if-changed restored nothing; the edited file should be restored")
		}
	}
}

func TestCorruptBlobRefusesFileAndNamesIt(t *testing.T) {
	st := fault.New(mem.New())
	r, src, snap := backupTree(t, st)
	// Corrupt every read of data packs: each file that needs data must be
	// refused, and never appear under its real name.
	st.Corrupt(func(name string) bool { return strings.HasPrefix(name, format.DataPrefix) && !treePack(r, name) })
	target := t.TempDir()
	res, log := restoreTo(t, r, snap, restore.Options{Target: target})
	if res.Errors == 0 || len(log.errs) == 0 {
		t.Fatal("corruption not reported")
	}
	// Which files fail depends on where each corrupted byte lands (damage
	// stays within its encryption chunk). Every refused file is named with
	// an IntegrityError and absent; every other file is exactly right.
	integrity := 0
	for p, err := range log.errs {
		var ie *repo.IntegrityError
		if errors.As(err, &ie) {
			integrity++
		}
		if _, err := os.Lstat(filepath.Join(target, p)); !errors.Is(err, os.ErrNotExist) && !strings.HasSuffix(p, "hardlink") {
			t.Errorf("refused file %s exists under its real name: %v", p, err)
		}
	}
	if integrity == 0 {
		t.Errorf("no IntegrityError among %v", log.errs)
	}
	filepath.Walk(filepath.Join(target, src), func(q string, fi os.FileInfo, err error) error {
		if err != nil || !fi.Mode().IsRegular() {
			return nil
		}
		rel, _ := filepath.Rel(filepath.Join(target, src), q)
		want, _ := os.ReadFile(filepath.Join(src, rel))
		got, _ := os.ReadFile(q)
		if string(want) != string(got) {
			t.Errorf("%s restored with wrong content", rel)
		}
		return nil
	})
	// The empty file needs no data and is restored.
	if _, err := os.Stat(filepath.Join(target, src, "special", "empty")); err != nil {
		t.Errorf("empty file: %v", err)
	}
}

func treePack(r *repo.Repository, name string) bool {
	id, err := format.ParseName(format.DataPrefix, name)
	if err != nil {
		return false
	}
	tree := false
	r.Index().Each(func(loc repo.Location) {
		if loc.Pack.ID == id && loc.Blob.Type == format.BlobTree {
			tree = true
		}
	})
	return tree
}

// A target that already holds a symlink where the snapshot has a directory
// must not be written through: the symlink is a conflict, kept, and
// replaced by a real directory only with Delete.
func TestNoWriteThroughSymlink(t *testing.T) {
	r, src, snap := backupTree(t, mem.New())
	target := t.TempDir()
	outside := t.TempDir()
	parent := filepath.Join(target, src)
	if err := os.MkdirAll(parent, 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.Symlink(outside, filepath.Join(parent, "d0")); err != nil {
		t.Fatal(err)
	}
	res, log := restoreTo(t, r, snap, restore.Options{Target: target})
	if entries, _ := os.ReadDir(outside); len(entries) != 0 {
		t.Fatalf("restore wrote through a symlink into %s: %v", outside, entries)
	}
	if err := log.errs[filepath.Join(src, "d0")]; !errors.Is(err, restore.ErrConflict) || res.Conflicts != 1 {
		t.Fatalf("conflicts %d, error for d0: %v; want one ErrConflict", res.Conflicts, err)
	}
	if fi, err := os.Lstat(filepath.Join(parent, "d0")); err != nil || fi.Mode()&os.ModeSymlink == 0 {
		t.Fatalf("the symlink in the way should be kept: %v %v", fi, err)
	}
	res, log = restoreTo(t, r, snap, restore.Options{Target: target, Delete: true})
	if len(log.errs) > 0 || res.Deleted != 1 {
		t.Fatalf("with Delete: errors %v, %d deleted, want none and 1", log.errs, res.Deleted)
	}
	if entries, _ := os.ReadDir(outside); len(entries) != 0 {
		t.Fatalf("restore wrote through a symlink into %s: %v", outside, entries)
	}
	if fi, err := os.Lstat(filepath.Join(parent, "d0")); err != nil || !fi.IsDir() {
		t.Fatalf("d0 should have been replaced by a real directory: %v %v", fi, err)
	}
}

func TestInterruptedRestoreResumes(t *testing.T) {
	r, src, snap := backupTree(t, mem.New())
	target := t.TempDir()
	restoreTo(t, r, snap, restore.Options{Target: target})
	// Simulate an interruption: one file missing, one truncated, a stale
	// temporary file.
	os.Remove(filepath.Join(target, src, "d2", "e1", "f10"))
	os.Truncate(filepath.Join(target, src, "d3", "e0", "f03"), 10)
	res, log := restoreTo(t, r, snap, restore.Options{Target: target, Overwrite: restore.OverwriteIfChanged})
	if len(log.errs) > 0 {
		t.Fatal(log.errs)
	}
	if res.Files != 2 {
		t.Errorf("restored %d files, want the 2 damaged ones", res.Files)
	}
	diffs, _ := treecmp.Compare(src, filepath.Join(target, src), treecmp.Options{})
	for _, d := range diffs {
		t.Errorf("difference after resume: %s", d)
	}
}
