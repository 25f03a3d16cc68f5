package readonly_test

import (
	"bytes"
	"context"
	"errors"
	"slices"
	"testing"

	"lifeboat/storage"
	"lifeboat/storage/fault"
	"lifeboat/storage/mem"
	"lifeboat/storage/readonly"
	"lifeboat/storage/storagetest"
)

var ctx = context.Background()

func setup(t *testing.T) (storage.Storage, *fault.Storage) {
	t.Helper()
	f := fault.New(mem.New())
	storagetest.PutString(t, f, "data/a", "alpha")
	storagetest.PutString(t, f, "data/b", "beta")
	storagetest.PutString(t, f, "index/1", "one")
	return readonly.New(f), f
}

func TestMutationsFail(t *testing.T) {
	s, f := setup(t)
	cancelled, cancel := context.WithCancel(ctx)
	cancel()
	for _, tc := range []struct {
		name string
		call func() error
	}{
		{"put new", func() error { return storage.PutBytes(ctx, s, "data/c", []byte("x"), storage.PutOptions{}) }},
		{"put over", func() error { return storage.PutBytes(ctx, s, "data/a", []byte("x"), storage.PutOptions{}) }},
		{"put if not exists", func() error {
			return storage.PutBytes(ctx, s, "data/d", []byte("x"), storage.PutOptions{IfNotExists: true})
		}},
		{"put invalid name", func() error { return storage.PutBytes(ctx, s, "../x", []byte("x"), storage.PutOptions{}) }},
		{"put cancelled", func() error { return storage.PutBytes(cancelled, s, "data/e", []byte("x"), storage.PutOptions{}) }},
		{"delete", func() error { return s.Delete(ctx, "data/a") }},
		{"delete missing", func() error { return s.Delete(ctx, "data/zzz") }},
	} {
		t.Run(tc.name, func(t *testing.T) {
			if err := tc.call(); !errors.Is(err, storage.ErrReadOnly) {
				t.Fatalf("err = %v, want ErrReadOnly", err)
			}
		})
	}
	if f.Calls(fault.OpPut) != 3 || f.Calls(fault.OpDelete) != 0 {
		t.Fatalf("mutations reached the inner storage: %d puts (3 from setup), %d deletes", f.Calls(fault.OpPut), f.Calls(fault.OpDelete))
	}
	var names []string
	if err := f.List(ctx, "", func(i storage.Info) error { names = append(names, i.Name); return nil }); err != nil {
		t.Fatal(err)
	}
	slices.Sort(names)
	if want := []string{"data/a", "data/b", "index/1"}; !slices.Equal(names, want) {
		t.Fatalf("inner objects = %q, want %q", names, want)
	}
}

func TestReadsPassThrough(t *testing.T) {
	s, _ := setup(t)
	got, err := storage.ReadAll(ctx, s, "data/a")
	if err != nil || string(got) != "alpha" {
		t.Fatalf("get = %q, %v", got, err)
	}
	buf := make([]byte, 2)
	if err := storage.ReadRange(ctx, s, "data/b", 1, buf); err != nil || !bytes.Equal(buf, []byte("et")) {
		t.Fatalf("ranged get = %q, %v", buf, err)
	}
	if _, err := s.Get(ctx, "missing", 0, -1); !errors.Is(err, storage.ErrNotExist) {
		t.Fatalf("get missing: err = %v, want ErrNotExist", err)
	}
	info, err := s.Stat(ctx, "index/1")
	if err != nil || info.Size != 3 || info.Name != "index/1" {
		t.Fatalf("stat = %+v, %v", info, err)
	}
	var names []string
	if err := s.List(ctx, "data/", func(i storage.Info) error { names = append(names, i.Name); return nil }); err != nil {
		t.Fatal(err)
	}
	slices.Sort(names)
	if want := []string{"data/a", "data/b"}; !slices.Equal(names, want) {
		t.Fatalf("list = %q, want %q", names, want)
	}
}

func TestCapabilitiesAndUnwrap(t *testing.T) {
	inner := mem.New()
	s := readonly.New(inner)
	want := inner.Capabilities()
	want.ReadOnly = true
	if got := s.Capabilities(); got != want {
		t.Fatalf("capabilities = %+v, want %+v", got, want)
	}
	if u, ok := s.(storage.Unwrapper); !ok || u.Unwrap() != inner {
		t.Fatal("readonly storage does not unwrap to its inner storage")
	}
}

// TestVersionsView: the versions of a versioned storage can be listed and
// read through the read-only wrapper, not removed.
func TestVersionsView(t *testing.T) {
	ctx := context.Background()
	inner := mem.NewVersioned(mem.VersionedOptions{})
	storagetest.PutString(t, inner, "a", "one")
	ro := readonly.New(inner)
	v := ro.Capabilities().Versions
	if v == nil {
		t.Fatal("Capabilities().Versions is nil through the wrapper")
	}
	vs := storagetest.ListAllVersions(t, v, "")
	if len(vs) != 1 {
		t.Fatalf("versions = %+v", vs)
	}
	body, err := v.GetVersion(ctx, "a", vs[0].VersionID, 0, -1)
	if err != nil {
		t.Fatal(err)
	}
	body.Close()
	if err := v.DeleteVersion(ctx, "a", vs[0].VersionID); !errors.Is(err, storage.ErrReadOnly) {
		t.Fatalf("DeleteVersion through the wrapper: %v, want ErrReadOnly", err)
	}
	if left := storagetest.ListAllVersions(t, inner.Capabilities().Versions, ""); len(left) != 1 {
		t.Fatalf("the version was removed: %+v", left)
	}
}
