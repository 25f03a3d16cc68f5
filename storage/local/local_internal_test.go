package local

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"syscall"
	"testing"

	"lifeboat/storage"
	"lifeboat/storage/storagetest"
)

func newLocal(t *testing.T) (storage.Storage, string) {
	t.Helper()
	dir := t.TempDir()
	s, err := New(dir)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { s.Close() })
	return s, dir
}

func listAll(t *testing.T, s storage.Storage, prefix string) []string {
	t.Helper()
	var names []string
	if err := s.List(context.Background(), prefix, func(i storage.Info) error {
		names = append(names, i.Name)
		return nil
	}); err != nil {
		t.Fatalf("list %q: %v", prefix, err)
	}
	slices.Sort(names)
	return names
}

// files returns every regular file under dir, relative and slash-separated.
func files(t *testing.T, dir string) []string {
	t.Helper()
	var out []string
	err := filepath.WalkDir(dir, func(p string, d fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		if d.Type().IsRegular() {
			rel, _ := filepath.Rel(dir, p)
			out = append(out, filepath.ToSlash(rel))
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	slices.Sort(out)
	return out
}

func TestTranslate(t *testing.T) {
	for _, tc := range []struct {
		errno    syscall.Errno
		sentinel error
	}{
		{syscall.ENOENT, storage.ErrNotExist},
		{syscall.ENOTDIR, storage.ErrNotExist},
		{syscall.EEXIST, storage.ErrExist},
		{syscall.ENOSPC, storage.ErrNoSpace},
		{syscall.EDQUOT, storage.ErrNoSpace},
		{syscall.EACCES, storage.ErrPermission},
		{syscall.EPERM, storage.ErrPermission},
		{syscall.EROFS, storage.ErrPermission},
		{syscall.ENAMETOOLONG, storage.ErrInvalidName},
		{syscall.EIO, nil},
	} {
		t.Run(tc.errno.Error(), func(t *testing.T) {
			orig := &fs.PathError{Op: "open", Path: "a/b", Err: tc.errno}
			err := fmt.Errorf("local get a/b: %w", translate(orig))
			if tc.sentinel != nil && !errors.Is(err, tc.sentinel) {
				t.Errorf("errors.Is(%v, %v) = false", err, tc.sentinel)
			}
			if !errors.Is(err, tc.errno) {
				t.Errorf("os error not reachable from %v", err)
			}
			var pe *fs.PathError
			if !errors.As(err, &pe) || pe.Path != "a/b" {
				t.Errorf("*fs.PathError not reachable from %v", err)
			}
			if storage.IsTransient(err) {
				t.Errorf("%v is transient", err)
			}
		})
	}
}

func TestNoSpace(t *testing.T) {
	s, dir := newLocal(t)
	ctx := context.Background()
	storagetest.PutString(t, s, "data/old", "old content")

	orig := writeChunk
	t.Cleanup(func() { writeChunk = orig })
	writeChunk = func(f *os.File, p []byte) (int, error) {
		return 0, &fs.PathError{Op: "write", Path: f.Name(), Err: syscall.ENOSPC}
	}
	for _, name := range []string{"data/new", "data/old", "fresh/dir/new"} {
		for _, opt := range []storage.PutOptions{{}, {IfNotExists: true}} {
			if opt.IfNotExists && name == "data/old" {
				continue
			}
			err := storage.PutBytes(ctx, s, name, []byte("payload"), opt)
			if !errors.Is(err, storage.ErrNoSpace) || !errors.Is(err, syscall.ENOSPC) {
				t.Fatalf("put %s %+v on a full disk: err = %v, want ErrNoSpace and ENOSPC", name, opt, err)
			}
			if !strings.Contains(err.Error(), "local put "+name) {
				t.Errorf("error %q lacks context", err)
			}
		}
	}
	writeChunk = orig
	got, err := storage.ReadAll(ctx, s, "data/old")
	if err != nil || string(got) != "old content" {
		t.Fatalf("old object after failed overwrite: %q, %v", got, err)
	}
	if got := files(t, dir); !slices.Equal(got, []string{"data/old"}) {
		t.Fatalf("files after failed puts = %q (temporary files left?)", got)
	}
}

func TestCrashedPutInvisible(t *testing.T) {
	s, dir := newLocal(t)
	ctx := context.Background()
	// Leftovers of puts that crashed between creating and renaming the
	// temporary file, at the top and in a subdirectory.
	if err := os.MkdirAll(filepath.Join(dir, "data"), 0o700); err != nil {
		t.Fatal(err)
	}
	for _, p := range []string{tempPrefix + "0123456789abcdef", "data/" + tempPrefix + "fedcba9876543210"} {
		if err := os.WriteFile(filepath.Join(dir, p), []byte("half a pa"), 0o600); err != nil {
			t.Fatal(err)
		}
	}
	if got := listAll(t, s, ""); len(got) != 0 {
		t.Fatalf("list shows temporary files: %q", got)
	}
	if _, err := s.Stat(ctx, "data/"+tempPrefix+"fedcba9876543210"); !errors.Is(err, storage.ErrInvalidName) {
		t.Fatalf("stat of a temporary file: err = %v, want ErrInvalidName", err)
	}
	storagetest.PutString(t, s, "data/x", "whole")
	if err := storage.PutBytes(ctx, s, "data/y", []byte("new"), storage.PutOptions{IfNotExists: true}); err != nil {
		t.Fatalf("conditional put next to a leftover: %v", err)
	}
	if got := listAll(t, s, ""); !slices.Equal(got, []string{"data/x", "data/y"}) {
		t.Fatalf("list = %q", got)
	}
	got, err := storage.ReadAll(ctx, s, "data/x")
	if err != nil || string(got) != "whole" {
		t.Fatalf("get = %q, %v", got, err)
	}
}

// TestFailedPutLeavesNothing covers a short body and a context cancelled
// while the body is copied.
func TestFailedPutLeavesNothing(t *testing.T) {
	s, dir := newLocal(t)
	err := s.Put(context.Background(), "a/short", bytes.NewReader([]byte("12345")), 10, storage.PutOptions{})
	if !errors.Is(err, io.ErrUnexpectedEOF) {
		t.Fatalf("short body: err = %v, want io.ErrUnexpectedEOF", err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	body := &cancelReader{r: bytes.NewReader(make([]byte, 4*copyBuf)), cancel: cancel}
	err = s.Put(ctx, "a/cancelled", body, 4*copyBuf, storage.PutOptions{})
	if !errors.Is(err, context.Canceled) {
		t.Fatalf("cancelled mid-copy: err = %v, want context.Canceled", err)
	}
	if got := files(t, dir); len(got) != 0 {
		t.Fatalf("files after failed puts = %q", got)
	}
}

// cancelReader cancels its context after the first read.
type cancelReader struct {
	r      io.Reader
	cancel func()
}

func (c *cancelReader) Read(p []byte) (int, error) {
	defer c.cancel()
	return c.r.Read(p)
}

func (c *cancelReader) Seek(int64, int) (int64, error) { return 0, errors.New("not seekable") }

func TestSymlinkEscape(t *testing.T) {
	s, dir := newLocal(t)
	ctx := context.Background()
	outside := t.TempDir()
	if err := os.WriteFile(filepath.Join(outside, "secret"), []byte("secret"), 0o600); err != nil {
		t.Fatal(err)
	}
	if err := os.Symlink(outside, filepath.Join(dir, "out")); err != nil {
		t.Fatal(err)
	}
	if err := os.Symlink(filepath.Join(outside, "secret"), filepath.Join(dir, "leak")); err != nil {
		t.Fatal(err)
	}
	if err := os.Symlink("../"+filepath.Base(outside)+"/secret", filepath.Join(dir, "rel")); err != nil {
		t.Fatal(err)
	}
	for _, name := range []string{"out/secret", "leak", "rel"} {
		if b, err := storage.ReadAll(ctx, s, name); err == nil {
			t.Errorf("get %s escaped the root: %q", name, b)
		}
		if _, err := s.Stat(ctx, name); err == nil {
			t.Errorf("stat %s escaped the root", name)
		}
	}
	if err := storage.PutBytes(ctx, s, "out/new", []byte("x"), storage.PutOptions{}); err == nil {
		t.Error("put out/new escaped the root")
	}
	if err := s.Delete(ctx, "out/secret"); err == nil {
		t.Error("delete out/secret escaped the root")
	}
	if got := files(t, outside); !slices.Equal(got, []string{"secret"}) {
		t.Fatalf("outside directory changed: %q", got)
	}
	storagetest.PutString(t, s, "real", "r")
	if got := listAll(t, s, ""); !slices.Equal(got, []string{"real"}) {
		t.Fatalf("list = %q, want only the real object", got)
	}
	// Listing through the escaping link fails or finds nothing.
	var leaked []string
	_ = s.List(ctx, "out/", func(i storage.Info) error { leaked = append(leaked, i.Name); return nil })
	if len(leaked) != 0 {
		t.Fatalf("list out/ escaped the root: %q", leaked)
	}
}

func TestNameDirConflict(t *testing.T) {
	s, _ := newLocal(t)
	ctx := context.Background()
	storagetest.PutString(t, s, "a", "file a")
	err := storage.PutBytes(ctx, s, "a/b", []byte("x"), storage.PutOptions{})
	if err == nil || errors.Is(err, storage.ErrNotExist) || errors.Is(err, storage.ErrExist) {
		t.Fatalf("put a/b under object a: err = %v, want a plain error", err)
	}
	if _, err := s.Stat(ctx, "a/b"); !errors.Is(err, storage.ErrNotExist) {
		t.Fatalf("stat a/b: err = %v, want ErrNotExist", err)
	}

	storagetest.PutString(t, s, "d/e", "file d/e")
	err = storage.PutBytes(ctx, s, "d", []byte("x"), storage.PutOptions{})
	if err == nil || errors.Is(err, storage.ErrExist) {
		t.Fatalf("put d over directory d: err = %v, want a plain error", err)
	}
	if err := storage.PutBytes(ctx, s, "d", []byte("x"), storage.PutOptions{IfNotExists: true}); !errors.Is(err, storage.ErrExist) {
		t.Fatalf("conditional put d over directory d: err = %v, want ErrExist", err)
	}
	if err := s.Delete(ctx, "d"); !errors.Is(err, storage.ErrNotExist) {
		t.Fatalf("delete of directory d: err = %v, want ErrNotExist", err)
	}
	if got := listAll(t, s, ""); !slices.Equal(got, []string{"a", "d/e"}) {
		t.Fatalf("list = %q", got)
	}
	// An empty directory left by a delete is not an object.
	if err := s.Delete(ctx, "d/e"); err != nil {
		t.Fatal(err)
	}
	if err := s.Delete(ctx, "d"); !errors.Is(err, storage.ErrNotExist) {
		t.Fatalf("delete of empty directory d: err = %v, want ErrNotExist", err)
	}
	storagetest.PutString(t, s, "d/f", "again")
}

func TestNameTooLong(t *testing.T) {
	s, _ := newLocal(t)
	ctx := context.Background()
	name := strings.Repeat("n", 300) // valid, but longer than NAME_MAX
	if err := storage.PutBytes(ctx, s, name, []byte("x"), storage.PutOptions{}); !errors.Is(err, storage.ErrInvalidName) {
		t.Fatalf("put: err = %v, want ErrInvalidName", err)
	}
	if _, err := s.Stat(ctx, name); !errors.Is(err, storage.ErrInvalidName) {
		t.Fatalf("stat: err = %v, want ErrInvalidName", err)
	}
}

func TestOpen(t *testing.T) {
	dir := t.TempDir()
	if _, err := Open(filepath.Join(dir, "missing")); !errors.Is(err, storage.ErrNotExist) {
		t.Fatalf("open missing: err = %v, want ErrNotExist", err)
	}
	if err := os.WriteFile(filepath.Join(dir, "file"), nil, 0o600); err != nil {
		t.Fatal(err)
	}
	if _, err := Open(filepath.Join(dir, "file")); err == nil {
		t.Fatal("open on a file succeeded")
	}
	nested := filepath.Join(dir, "x", "y", "repo")
	s, err := New(nested)
	if err != nil {
		t.Fatalf("new: %v", err)
	}
	storagetest.PutString(t, s, "k", "v")
	if err := s.Close(); err != nil {
		t.Fatal(err)
	}
	if err := s.Close(); err != nil {
		t.Fatalf("second close: %v", err)
	}
	s, err = Open(nested)
	if err != nil {
		t.Fatalf("reopen: %v", err)
	}
	defer s.Close()
	got, err := storage.ReadAll(context.Background(), s, "k")
	if err != nil || string(got) != "v" {
		t.Fatalf("after reopen: %q, %v", got, err)
	}
	if c := s.Capabilities(); !c.ConditionalCreate || !c.Local || c.Concurrency < 1 || c.ReadOnly {
		t.Fatalf("capabilities = %+v", c)
	}
}

// recordFS records the directories a walk reads.
type recordFS struct {
	fs.FS
	mu   sync.Mutex
	dirs []string
}

func (r *recordFS) ReadDir(name string) ([]fs.DirEntry, error) {
	r.mu.Lock()
	r.dirs = append(r.dirs, name)
	r.mu.Unlock()
	return fs.ReadDir(r.FS, name)
}

func (r *recordFS) Stat(name string) (fs.FileInfo, error) { return fs.Stat(r.FS, name) }

func TestListWalksOnlyPrefixSubtree(t *testing.T) {
	s, _ := newLocal(t)
	for _, name := range []string{"data/ab/1", "data/ab/2", "data/abc/3", "data/b/4", "data/a", "index/5", "top"} {
		storagetest.PutString(t, s, name, name)
	}
	orig := rootFS
	t.Cleanup(func() { rootFS = orig })
	for _, tc := range []struct {
		prefix string
		names  []string
		dirs   []string
	}{
		{"data/ab", []string{"data/ab/1", "data/ab/2", "data/abc/3"}, []string{"data", "data/ab", "data/abc"}},
		{"data/ab/", []string{"data/ab/1", "data/ab/2"}, []string{"data/ab"}},
		{"data/ab/1", []string{"data/ab/1"}, []string{"data/ab"}},
		{"data/", []string{"data/a", "data/ab/1", "data/ab/2", "data/abc/3", "data/b/4"}, []string{"data", "data/ab", "data/abc", "data/b"}},
		{"index/", []string{"index/5"}, []string{"index"}},
		{"missing/", nil, nil},
		{"top/", nil, nil},
		{"t", []string{"top"}, []string{"."}},
	} {
		t.Run(tc.prefix, func(t *testing.T) {
			rec := &recordFS{}
			rootFS = func(r *os.Root) fs.FS { rec.FS = r.FS(); return rec }
			if got := listAll(t, s, tc.prefix); !slices.Equal(got, tc.names) {
				t.Fatalf("list = %q, want %q", got, tc.names)
			}
			slices.Sort(rec.dirs)
			if !slices.Equal(rec.dirs, tc.dirs) {
				t.Fatalf("read directories %q, want %q", rec.dirs, tc.dirs)
			}
		})
	}
}

// TestIfNotExistsWithoutHardLinks simulates a filesystem without hard links
// (exFAT), where the exclusive create falls back to renameat2.
func TestIfNotExistsWithoutHardLinks(t *testing.T) {
	s, dir := newLocal(t)
	ctx := context.Background()
	orig := linkFile
	t.Cleanup(func() { linkFile = orig })
	linkFile = func(_ *os.Root, oldname, newname string) error {
		return &os.LinkError{Op: "link", Old: oldname, New: newname, Err: syscall.EPERM}
	}
	if err := storage.PutBytes(ctx, s, "lock/a", []byte("first"), storage.PutOptions{IfNotExists: true}); err != nil {
		t.Fatalf("first conditional put: %v", err)
	}
	err := storage.PutBytes(ctx, s, "lock/a", []byte("second"), storage.PutOptions{IfNotExists: true})
	if !errors.Is(err, storage.ErrExist) {
		t.Fatalf("second conditional put: err = %v, want ErrExist", err)
	}
	got, err := storage.ReadAll(ctx, s, "lock/a")
	if err != nil || string(got) != "first" {
		t.Fatalf("get = %q, %v", got, err)
	}
	if got := files(t, dir); !slices.Equal(got, []string{"lock/a"}) {
		t.Fatalf("files = %q", got)
	}
}
