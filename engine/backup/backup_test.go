package backup_test

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"lifeboat/engine/backup"
	"lifeboat/engine/enginetest"
	"lifeboat/engine/format"
	"lifeboat/engine/repo"
	"lifeboat/storage"
	"lifeboat/storage/fault"
	"lifeboat/storage/mem"
)

func run(t *testing.T, r *repo.Repository, opts backup.Options) *backup.Result {
	t.Helper()
	res, err := backup.Run(context.Background(), r, opts)
	if err != nil {
		t.Fatal(err)
	}
	return res
}

func TestUnchangedFilesAreNotReadAgain(t *testing.T) {
	r, _ := enginetest.NewRepo(t, mem.New())
	src := filepath.Join(t.TempDir(), "src")
	enginetest.MakeTree(t, src, 1)
	first := run(t, r, backup.Options{Paths: []string{src}, Host: "h"})
	if first.Snapshot.Summary.FilesNew == 0 || first.Snapshot.Summary.BytesRead == 0 {
		t.Fatalf("first backup read nothing: %+v", first.Snapshot.Summary)
	}
	parent := &repo.SnapshotRef{ID: first.ID, Snapshot: first.Snapshot}
	second := run(t, r, backup.Options{Paths: []string{src}, Host: "h", Parent: parent})
	s := second.Snapshot.Summary
	if s.BytesRead != 0 || s.FilesNew != 0 || s.FilesChanged != 0 {
		t.Fatalf("no-change backup read or added data: %+v", s)
	}
	// The directories above src (the temporary directory's parents) may
	// change while other tests run; src's own tree must not.
	if a, b := subtreeOf(t, r, first.Snapshot.Tree, src), subtreeOf(t, r, second.Snapshot.Tree, src); a != b {
		t.Fatal("no-change backup produced a different tree for the source")
	}
	// Change one file: only it is read.
	p := filepath.Join(src, "d0", "e0", "f00")
	if err := os.WriteFile(p, []byte("changed"), 0o644); err != nil {
		t.Fatal(err)
	}
	third := run(t, r, backup.Options{Paths: []string{src}, Host: "h", Parent: &repo.SnapshotRef{ID: second.ID, Snapshot: second.Snapshot}})
	if s := third.Snapshot.Summary; s.FilesChanged != 1 || s.BytesRead != int64(len("changed")) {
		t.Fatalf("after one change: %+v", s)
	}
}

func TestExcludes(t *testing.T) {
	r, _ := enginetest.NewRepo(t, mem.New())
	src := filepath.Join(t.TempDir(), "src")
	enginetest.MakeTree(t, src, 2)
	m, err := backup.NewMatcher([]string{"f0*", filepath.Join(src, "d1"), "big/**"})
	if err != nil {
		t.Fatal(err)
	}
	res := run(t, r, backup.Options{Paths: []string{src}, Host: "h", Exclude: m})
	names := listAll(t, r, res.Snapshot.Tree, "/")
	for _, n := range names {
		if strings.Contains(n, "/f0") || strings.Contains(n, "/d1/") || strings.HasSuffix(n, "/d1") || strings.Contains(n, "/big/") {
			t.Errorf("excluded path in snapshot: %s", n)
		}
	}
	if len(names) == 0 {
		t.Fatal("nothing backed up")
	}
}

func listAll(t *testing.T, r *repo.Repository, id format.ID, dir string) []string {
	t.Helper()
	tr, err := r.LoadTree(context.Background(), id)
	if err != nil {
		t.Fatal(err)
	}
	var out []string
	for _, n := range tr.Nodes {
		p := filepath.Join(dir, n.Name)
		out = append(out, p)
		if n.Type == format.TypeDir {
			out = append(out, listAll(t, r, *n.Subtree, p)...)
		}
	}
	return out
}

func TestMatcher(t *testing.T) {
	for _, tc := range []struct {
		pattern, path string
		want          bool
	}{
		{"*.tmp", "/a/b/c.tmp", true},
		{"*.tmp", "/a/b.tmp/c", true},
		{"*.tmp", "/a/b/c.tmpx", false},
		{"node_modules", "/x/node_modules/y", true},
		{"/home/*/cache", "/home/u/cache/z", true},
		{"/home/*/cache", "/x/home/u/cache", false},
		{"build/**/obj", "/src/build/a/b/obj", true},
		{"build/**/obj", "/src/build/obj", true},
		{"f?", "/d/f1", true},
		{"f?", "/d/f12", false},
		{"[ab]x", "/d/ax", true},
		{"[!ab]x", "/d/ax", false},
	} {
		m, err := backup.NewMatcher([]string{tc.pattern})
		if err != nil {
			t.Fatal(err)
		}
		if got := m.Excluded(tc.path); got != tc.want {
			t.Errorf("%q on %q = %v, want %v", tc.pattern, tc.path, got, tc.want)
		}
	}
}

// An interrupted backup (the storage fails mid-run) leaves packs that are
// indexed, and the next run uploads less than everything again.
func TestInterruptedBackupReusesPacks(t *testing.T) {
	inner := mem.New()
	st := fault.New(inner)
	r, id := enginetest.NewRepo(t, st)
	src := filepath.Join(t.TempDir(), "src")
	enginetest.MakeTree(t, src, 3)
	// Let two packs through, then fail every further pack upload.
	var puts atomic.Int64
	st.FailOn(fault.OpPut, func(name string) bool {
		return strings.HasPrefix(name, format.DataPrefix) && puts.Add(1) > 2
	}, errors.New("disk on fire"), -1)
	_, err := backup.Run(context.Background(), r, backup.Options{Paths: []string{src}, Host: "h"})
	if err == nil {
		t.Fatal("backup succeeded despite failing storage")
	}
	st.Reset()
	var snaps int
	inner.List(context.Background(), format.SnapshotPrefix, func(storage.Info) error { snaps++; return nil })
	if snaps != 0 {
		t.Fatal("a failed backup committed a snapshot")
	}
	// A new process: the packs uploaded before the failure are indexed.
	r2 := enginetest.Reopen(t, st, id)
	if r2.Index().Len() == 0 {
		t.Fatal("interrupted backup left no indexed blobs")
	}
	res := run(t, r2, backup.Options{Paths: []string{src}, Host: "h"})
	total := int64(0)
	filepath.Walk(src, func(_ string, fi os.FileInfo, _ error) error {
		if fi.Mode().IsRegular() {
			total += fi.Size()
		}
		return nil
	})
	if res.Stats.BytesAdded >= total {
		t.Fatalf("second run added %d bytes of %d: nothing reused", res.Stats.BytesAdded, total)
	}
}

func TestUnreadableFileMakesPartialSnapshot(t *testing.T) {
	r, _ := enginetest.NewRepo(t, mem.New())
	src := filepath.Join(t.TempDir(), "src")
	enginetest.MakeTree(t, src, 4)
	bad := filepath.Join(src, "d0", "e0", "f00")
	restore := backup.SetOpenHookForTest(func(name string) error {
		if name == bad {
			return os.ErrPermission
		}
		return nil
	})
	defer restore()
	var warned []string
	res := run(t, r, backup.Options{Paths: []string{src}, Host: "h", OnWarning: func(p string, err error) { warned = append(warned, p) }})
	if !res.Snapshot.Summary.Partial || res.Warnings != 1 || len(warned) != 1 || warned[0] != bad {
		t.Fatalf("partial=%v warnings=%d warned=%v", res.Snapshot.Summary.Partial, res.Warnings, warned)
	}
	for _, n := range listAll(t, r, res.Snapshot.Tree, "/") {
		if n == bad {
			t.Fatal("unreadable file is in the snapshot")
		}
	}
}

func refOf(res *backup.Result) *repo.SnapshotRef {
	return &repo.SnapshotRef{ID: res.ID, Snapshot: res.Snapshot}
}

func treeSize(tb testing.TB, root string) int64 {
	tb.Helper()
	var total int64
	err := filepath.Walk(root, func(_ string, fi os.FileInfo, err error) error {
		if err == nil && fi.Mode().IsRegular() {
			total += fi.Size()
		}
		return err
	})
	if err != nil {
		tb.Fatal(err)
	}
	return total
}

// subtreeOf returns the tree ID of the directory at the absolute path p.
func subtreeOf(t *testing.T, r *repo.Repository, root format.ID, p string) format.ID {
	t.Helper()
	id := root
	for _, name := range strings.Split(strings.Trim(p, "/"), "/") {
		tr, err := r.LoadTree(context.Background(), id)
		if err != nil {
			t.Fatal(err)
		}
		found := false
		for _, n := range tr.Nodes {
			if n.Name == name && n.Subtree != nil {
				id, found = *n.Subtree, true
			}
		}
		if !found {
			t.Fatalf("%s not in snapshot", p)
		}
	}
	return id
}

// TestFilesChangingWhileRead changes a file between the walk's lstat and its
// open: the backup reports ErrChanged, keeps what it read with a zero ctime
// (so that the next backup reads it again), and the next backup stores the
// file as it now is.
func TestFilesChangingWhileRead(t *testing.T) {
	old := time.Date(2020, 1, 2, 3, 4, 5, 0, time.UTC)
	for _, tc := range []struct {
		name   string
		before int
		change func(p string) error
	}{
		{"small grows", 1000, func(p string) error { return appendTo(p, 500) }},
		{"small grows past the minimum chunk", 1000, func(p string) error { return appendTo(p, 3*enginetest.SmallParams.Min) }},
		{"small shrinks", 3000, func(p string) error { return os.Truncate(p, 100) }},
		{"small empties", 3000, func(p string) error { return os.Truncate(p, 0) }},
		{"empty grows", 0, func(p string) error { return appendTo(p, 10) }},
		{"small touched", 3000, func(p string) error { return os.Chtimes(p, old.Add(time.Hour), old.Add(time.Hour)) }},
		{"large grows", 100 << 10, func(p string) error { return appendTo(p, 50<<10) }},
		{"large shrinks", 100 << 10, func(p string) error { return os.Truncate(p, 10<<10) }},
	} {
		t.Run(tc.name, func(t *testing.T) {
			r, _ := enginetest.NewRepo(t, mem.New())
			src := t.TempDir()
			p := filepath.Join(src, "f")
			data := make([]byte, tc.before)
			for i := range data {
				data[i] = byte(i * 7)
			}
			if err := os.WriteFile(p, data, 0o644); err != nil {
				t.Fatal(err)
			}
			if err := os.Chtimes(p, old, old); err != nil {
				t.Fatal(err)
			}
			once := false
			defer backup.SetOpenHookForTest(func(name string) error {
				if name == p && !once {
					once = true
					return tc.change(p)
				}
				return nil
			})()
			var errs []error
			res := run(t, r, backup.Options{Paths: []string{src}, Host: "h",
				OnWarning: func(_ string, err error) { errs = append(errs, err) }})
			if !once {
				t.Fatal("the file was never opened")
			}
			if len(errs) != 1 || !errors.Is(errs[0], backup.ErrChanged) {
				t.Fatalf("warnings %v, want one ErrChanged", errs)
			}
			if n := findNode(t, r, res.Snapshot.Tree, p); !n.CTime.IsZero() {
				t.Fatalf("changed file stored with ctime %v; the next backup would trust it", n.CTime)
			}
			errs = nil
			res = run(t, r, backup.Options{Paths: []string{src}, Host: "h", Parent: refOf(res),
				OnWarning: func(_ string, err error) { errs = append(errs, err) }})
			if len(errs) != 0 {
				t.Fatalf("second backup warned: %v", errs)
			}
			fi, err := os.Stat(p)
			if err != nil {
				t.Fatal(err)
			}
			if n := findNode(t, r, res.Snapshot.Tree, p); n.Size != uint64(fi.Size()) || !n.MTime.Equal(fi.ModTime()) {
				t.Fatalf("second backup stored size %d mtime %v, the file has %d %v", n.Size, n.MTime, fi.Size(), fi.ModTime())
			}
		})
	}
}

func appendTo(p string, n int) error {
	f, err := os.OpenFile(p, os.O_WRONLY|os.O_APPEND, 0)
	if err != nil {
		return err
	}
	_, err = f.Write(bytes.Repeat([]byte{'x'}, n))
	return errors.Join(err, f.Close())
}

// findNode returns the node at absolute path p in the snapshot tree root.
func findNode(t *testing.T, r *repo.Repository, root format.ID, p string) *format.Node {
	t.Helper()
	id := root
	parts := strings.Split(strings.Trim(p, "/"), "/")
	for i, name := range parts {
		tr, err := r.LoadTree(context.Background(), id)
		if err != nil {
			t.Fatal(err)
		}
		var found *format.Node
		for j := range tr.Nodes {
			if tr.Nodes[j].Name == name {
				found = &tr.Nodes[j]
			}
		}
		if found == nil {
			t.Fatalf("%s: no %q", p, name)
		}
		if i == len(parts)-1 {
			return found
		}
		id = *found.Subtree
	}
	return nil
}

// TestPseudoFileIsRead backs up a /proc file: its size reads 0, but its
// content must be stored all the same (and the size mismatch reported).
func TestPseudoFileIsRead(t *testing.T) {
	p := fmt.Sprintf("/proc/%d/mountinfo", os.Getpid())
	want, err := os.ReadFile(p)
	if err != nil || len(want) == 0 {
		t.Fatalf("%s: %v, %d bytes", p, err, len(want))
	}
	if fi, err := os.Lstat(p); err != nil || fi.Size() != 0 {
		t.Fatalf("%s: size %v, %v; the test wants a file whose size reads 0", p, fi, err)
	}
	r, _ := enginetest.NewRepo(t, mem.New())
	var errs []error
	res := run(t, r, backup.Options{Paths: []string{p}, Host: "h",
		OnWarning: func(_ string, err error) { errs = append(errs, err) }})
	if len(errs) != 1 || !errors.Is(errs[0], backup.ErrChanged) {
		t.Fatalf("warnings %v, want one ErrChanged", errs)
	}
	if n := findNode(t, r, res.Snapshot.Tree, p); n.Size < uint64(len(want))/2 || len(n.Content) == 0 {
		t.Fatalf("stored %d bytes in %d chunks, the file has about %d", n.Size, len(n.Content), len(want))
	}
}
