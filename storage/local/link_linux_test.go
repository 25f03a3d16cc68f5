package local

import (
	"bytes"
	"context"
	"errors"
	"io"
	"os"
	"path/filepath"
	"testing"

	"golang.org/x/sys/unix"

	"lifeboat/storage"
)

// unnamedFile returns an O_TMPFILE file in dir holding data. Every Linux
// file system a test directory lives on (ext4, xfs, btrfs, tmpfs) has
// O_TMPFILE, so its absence is a failure, not a reason to skip.
func unnamedFile(t *testing.T, dir string, data []byte) *os.File {
	t.Helper()
	f, err := os.OpenFile(dir, os.O_RDWR|unix.O_TMPFILE, 0o600)
	if err != nil {
		t.Fatalf("O_TMPFILE in %s: %v", dir, err)
	}
	t.Cleanup(func() { f.Close() })
	if _, err := f.Write(data); err != nil {
		t.Fatal(err)
	}
	if _, err := f.Seek(0, io.SeekStart); err != nil {
		t.Fatal(err)
	}
	return f
}

func inode(t *testing.T, path string) uint64 {
	t.Helper()
	var st unix.Stat_t
	if err := unix.Stat(path, &st); err != nil {
		t.Fatal(err)
	}
	return st.Ino
}

func TestPutLinksUnnamedFiles(t *testing.T) {
	s, dir := newLocal(t)
	ctx := context.Background()
	data := bytes.Repeat([]byte("pack "), 10000)

	// An unnamed file on the storage's file system is linked, not copied.
	f := unnamedFile(t, dir, data)
	if err := s.Put(ctx, "data/ab/one", f, int64(len(data)), storage.PutOptions{}); err != nil {
		t.Fatal(err)
	}
	var st unix.Stat_t
	if err := unix.Fstat(int(f.Fd()), &st); err != nil {
		t.Fatal(err)
	}
	if got := inode(t, filepath.Join(dir, "data/ab/one")); got != st.Ino {
		t.Errorf("object has inode %d, the unnamed file %d: copied, not linked", got, st.Ino)
	}
	if got := storageBytes(t, s, "data/ab/one"); !bytes.Equal(got, data) {
		t.Error("linked object has other content")
	}
	// With IfNotExists too, and an existing name is still refused.
	g := unnamedFile(t, dir, data)
	if err := s.Put(ctx, "data/ab/two", g, int64(len(data)), storage.PutOptions{IfNotExists: true}); err != nil {
		t.Fatal(err)
	}
	h := unnamedFile(t, dir, data)
	if err := s.Put(ctx, "data/ab/two", h, int64(len(data)), storage.PutOptions{IfNotExists: true}); !errors.Is(err, storage.ErrExist) {
		t.Errorf("second exclusive put: %v, want ErrExist", err)
	}

	// A named file is copied: the object must not share an inode with a
	// file someone may change.
	named := filepath.Join(t.TempDir(), "named")
	if err := os.WriteFile(named, data, 0o600); err != nil {
		t.Fatal(err)
	}
	nf, err := os.Open(named)
	if err != nil {
		t.Fatal(err)
	}
	defer nf.Close()
	if err := s.Put(ctx, "data/ab/three", nf, int64(len(data)), storage.PutOptions{}); err != nil {
		t.Fatal(err)
	}
	if inode(t, filepath.Join(dir, "data/ab/three")) == inode(t, named) {
		t.Error("a named file was linked into the storage")
	}

	// A size that does not match is not linked, and the copy reports the
	// short body.
	short := unnamedFile(t, dir, data[:100])
	if err := s.Put(ctx, "data/ab/four", short, int64(len(data)), storage.PutOptions{}); !errors.Is(err, io.ErrUnexpectedEOF) {
		t.Errorf("short unnamed body: %v, want io.ErrUnexpectedEOF", err)
	}
	if _, err := s.Stat(ctx, "data/ab/four"); !errors.Is(err, storage.ErrNotExist) {
		t.Errorf("short body left an object: %v", err)
	}
	// No temporary names are left behind.
	if got := listAll(t, s, ""); len(got) != 3 {
		t.Errorf("objects = %q", got)
	}
}

func storageBytes(t *testing.T, s storage.Storage, name string) []byte {
	t.Helper()
	b, err := storage.ReadAll(context.Background(), s, name)
	if err != nil {
		t.Fatal(err)
	}
	return b
}
