package regions

import (
	"context"
	"errors"
	"strings"
	"testing"

	"lifeboat/storage"
	"lifeboat/storage/fault"
	"lifeboat/storage/mem"
)

// An append-only set sends no delete to any region: Delete is refused, and
// a conditional create that found the object or missed the quorum leaves
// its copies (the regions that missed them are behind) instead of undoing
// them, with the same error as an ordinary set.
func TestAppendOnlyIssuesNoDeletes(t *testing.T) {
	ctx := context.Background()
	ine := storage.PutOptions{IfNotExists: true}
	noDeletes := func(t *testing.T, f *fixture) {
		t.Helper()
		for name, fs := range f.faults {
			if n := fs.Calls(fault.OpDelete); n != 0 {
				t.Fatalf("region %s got %d delete calls", name, n)
			}
		}
	}
	t.Run("delete", func(t *testing.T) {
		f := newFixture(t, Options{AppendOnly: true})
		mustPut(t, f.set, "obj", []byte("x"))
		if err := f.set.Delete(ctx, "obj"); !errors.Is(err, storage.ErrAppendOnly) {
			t.Fatalf("delete: %v, want ErrAppendOnly", err)
		}
		noDeletes(t, f)
		if got := mustRead(t, f.set, "obj"); string(got) != "x" {
			t.Fatalf("read %q", got)
		}
	})
	t.Run("quorum missed", func(t *testing.T) {
		f := newFixture(t, Options{AppendOnly: true})
		f.faults["c"].FailOn(fault.OpPut, nil, nil, -1)
		err := storage.PutBytes(ctx, f.set, "snap", []byte("s"), ine)
		if !errors.Is(err, ErrQuorum) || !strings.Contains(err.Error(), "append-only") {
			t.Fatalf("put: err = %v, want ErrQuorum naming the copies left", err)
		}
		noDeletes(t, f)
		for _, name := range []string{"a", "b"} {
			if !hasObject(t, f.inner(name), "snap") {
				t.Fatalf("region %s lost its copy", name)
			}
		}
		if lag := f.set.Lagging(); len(lag) != 1 || lag[0] != "c" {
			t.Fatalf("Lagging = %v, want [c]", lag)
		}
	})
	t.Run("another region has it", func(t *testing.T) {
		f := newFixture(t, Options{AppendOnly: true})
		mustPut(t, f.inner("b"), "snap", []byte("s"))
		err := storage.PutBytes(ctx, f.set, "snap", []byte("s"), ine)
		if !errors.Is(err, storage.ErrExist) {
			t.Fatalf("put: err = %v, want ErrExist", err)
		}
		noDeletes(t, f)
		for _, name := range []string{"a", "b", "c"} {
			if got := mustRead(t, f.inner(name), "snap"); string(got) != "s" {
				t.Fatalf("region %s: %q", name, got)
			}
		}
	})
	t.Run("a region says so", func(t *testing.T) {
		ao := appendOnlyStore{mem.New()}
		set, err := New([]Region{{Name: "a", Storage: mem.New()}, {Name: "b", Storage: ao}}, Options{})
		if err != nil {
			t.Fatal(err)
		}
		if !set.Capabilities().AppendOnly {
			t.Fatal("a set with an append-only region is not append-only")
		}
		if err := set.Delete(ctx, "x"); !errors.Is(err, storage.ErrAppendOnly) {
			t.Fatalf("delete: %v, want ErrAppendOnly", err)
		}
	})
}

// appendOnlyStore reports Capabilities.AppendOnly.
type appendOnlyStore struct{ storage.Storage }

func (s appendOnlyStore) Capabilities() storage.Capabilities {
	c := s.Storage.Capabilities()
	c.AppendOnly = true
	return c
}
