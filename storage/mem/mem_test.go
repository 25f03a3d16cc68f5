package mem_test

import (
	"context"
	"errors"
	"io"
	"testing"

	"lifeboat/storage"
	"lifeboat/storage/mem"
	"lifeboat/storage/storagetest"
)

func TestConformance(t *testing.T) {
	storagetest.Run(t, func(t *testing.T) storage.Storage { return mem.New() })
}

// TestCopies checks that neither the caller's buffer nor a read body aliases
// the stored bytes.
func TestCopies(t *testing.T) {
	ctx := context.Background()
	s := mem.New()
	buf := []byte("hello")
	if err := storage.PutBytes(ctx, s, "a", buf, storage.PutOptions{}); err != nil {
		t.Fatal(err)
	}
	buf[0] = 'j'
	got, err := storage.ReadAll(ctx, s, "a")
	if err != nil {
		t.Fatal(err)
	}
	if string(got) != "hello" {
		t.Fatalf("stored object changed with the caller's buffer: %q", got)
	}
	got[0] = 'y'
	again, err := storage.ReadAll(ctx, s, "a")
	if err != nil || string(again) != "hello" {
		t.Fatalf("stored object changed through a read: %q, %v", again, err)
	}
}

// TestShortBody checks that a body shorter than the announced size fails
// the put and stores nothing.
func TestShortBody(t *testing.T) {
	ctx := context.Background()
	s := mem.New()
	err := s.Put(ctx, "a", io.NewSectionReader(nil, 0, 0), 3, storage.PutOptions{})
	if err == nil {
		t.Fatal("put with a short body succeeded")
	}
	if _, err := s.Stat(ctx, "a"); err == nil {
		t.Fatal("short put stored an object")
	}
}

// TestCloseKeepsObjects checks the documented reuse after Close.
func TestCloseKeepsObjects(t *testing.T) {
	ctx := context.Background()
	s := mem.New()
	storagetest.PutString(t, s, "k", "v")
	if err := s.Close(); err != nil {
		t.Fatal(err)
	}
	got, err := storage.ReadAll(ctx, s, "k")
	if err != nil || string(got) != "v" {
		t.Fatalf("after close: %q, %v", got, err)
	}
}

func TestVersionsConformance(t *testing.T) {
	storagetest.Run(t, func(t *testing.T) storage.Storage { return mem.NewVersioned(mem.VersionedOptions{}) })
	storagetest.RunVersions(t, func(t *testing.T) storage.Storage { return mem.NewVersioned(mem.VersionedOptions{}) })
}

// TestVersionsRetained: a version the Retained hook locks cannot be
// deleted (a RetainedError), a delete marker always can.
func TestVersionsRetained(t *testing.T) {
	ctx := context.Background()
	s := mem.NewVersioned(mem.VersionedOptions{Retained: func(vi storage.VersionInfo) bool { return vi.Name == "locked" }})
	storagetest.PutString(t, s, "locked", "x")
	if err := s.Delete(ctx, "locked"); err != nil {
		t.Fatal(err)
	}
	vs := storagetest.ListAllVersions(t, s.Capabilities().Versions, "locked")
	if err := s.Capabilities().Versions.DeleteVersion(ctx, "locked", vs[1].VersionID); !errors.Is(err, storage.ErrRetained) {
		t.Fatalf("delete a retained version: %v, want ErrRetained", err)
	}
	if err := s.Capabilities().Versions.DeleteVersion(ctx, "locked", vs[0].VersionID); err != nil {
		t.Fatalf("delete the marker: %v", err)
	}
}
