package regions

import (
	"context"
	"errors"
	"slices"
	"testing"

	"lifeboat/storage"
	"lifeboat/storage/fault"
)

func TestLagging(t *testing.T) {
	f := newFixture(t, Options{WriteQuorum: 2})
	if got := f.set.Lagging(); got != nil {
		t.Fatalf("fresh set lagging %q", got)
	}
	if f.set.WriteQuorum() != 2 {
		t.Fatalf("WriteQuorum = %d", f.set.WriteQuorum())
	}
	rule := f.faults["c"].FailOn(fault.OpPut, nil, nil, -1)
	mustPut(t, f.set, "pack", []byte("p"))
	if got := f.set.Lagging(); !slices.Equal(got, []string{"c"}) {
		t.Fatalf("lagging = %q, want c", got)
	}
	// Rewriting the object catches c up.
	rule.Remove()
	mustPut(t, f.set, "pack", []byte("p"))
	if got := f.set.Lagging(); got != nil {
		t.Fatalf("lagging after catch-up = %q", got)
	}
	// So does a repair.
	f.faults["b"].FailOn(fault.OpPut, nil, nil, 1)
	mustPut(t, f.set, "other", []byte("o"))
	if got := f.set.Lagging(); !slices.Equal(got, []string{"b"}) {
		t.Fatalf("lagging = %q, want b", got)
	}
	if err := f.set.Repair(context.Background(), "b", "other", []byte("o")); err != nil {
		t.Fatal(err)
	}
	if got := f.set.Lagging(); got != nil {
		t.Fatalf("lagging after repair = %q", got)
	}
}

func TestPutOnly(t *testing.T) {
	ctx := context.Background()
	putOnly := func(s *Set, names []string, name string, opt storage.PutOptions) error {
		return s.PutOnly(ctx, names, name, byteReader([]byte("snap")), 4, opt)
	}
	t.Run("subset", func(t *testing.T) {
		f := newFixture(t, Options{WriteQuorum: 2})
		if err := putOnly(f.set, []string{"b", "a", "a"}, "snap", storage.PutOptions{IfNotExists: true}); err != nil {
			t.Fatal(err)
		}
		if !hasObject(t, f.inner("a"), "snap") || !hasObject(t, f.inner("b"), "snap") || hasObject(t, f.inner("c"), "snap") {
			t.Fatal("object not exactly in a and b")
		}
		if got := f.set.Behind()["c"].Names; !slices.Equal(got, []string{"snap"}) {
			t.Fatalf("c behind on %q", got)
		}
		if got := f.set.Lagging(); !slices.Equal(got, []string{"c"}) {
			t.Fatalf("lagging = %q", got)
		}
		// A second conditional create fails with ErrExist.
		if err := putOnly(f.set, []string{"a", "b"}, "snap", storage.PutOptions{IfNotExists: true}); !errors.Is(err, storage.ErrExist) {
			t.Fatalf("second create: err = %v", err)
		}
	})
	t.Run("too few named", func(t *testing.T) {
		f := newFixture(t, Options{WriteQuorum: 2})
		err := putOnly(f.set, []string{"a"}, "snap", storage.PutOptions{IfNotExists: true})
		if !errors.Is(err, ErrQuorum) {
			t.Fatalf("err = %v, want ErrQuorum", err)
		}
		for _, name := range []string{"a", "b", "c"} {
			if hasObject(t, f.inner(name), "snap") {
				t.Fatalf("region %s holds the object", name)
			}
			if f.faults[name].Calls(fault.OpPut) != 0 {
				t.Fatalf("region %s was written", name)
			}
		}
		if got := f.set.Lagging(); got != nil {
			t.Fatalf("failed PutOnly marked %q lagging", got)
		}
	})
	t.Run("quorum over the subset", func(t *testing.T) {
		f := newFixture(t, Options{WriteQuorum: 2})
		f.faults["b"].FailOn(fault.OpPut, nil, storage.ErrNoSpace, -1)
		err := putOnly(f.set, []string{"a", "b"}, "snap", storage.PutOptions{IfNotExists: true})
		if !errors.Is(err, ErrQuorum) || !errors.Is(err, storage.ErrNoSpace) {
			t.Fatalf("err = %v, want ErrQuorum and the region's error", err)
		}
		for _, name := range []string{"a", "b", "c"} {
			if hasObject(t, f.inner(name), "snap") {
				t.Fatalf("region %s holds the rolled back object", name)
			}
		}
		// Without IfNotExists the copy in a stays, b is recorded as behind.
		f.faults["b"].Reset()
		f.faults["b"].FailOn(fault.OpPut, nil, nil, -1)
		if err := putOnly(f.set, []string{"a", "b", "c"}, "plain", storage.PutOptions{}); err != nil {
			t.Fatal(err)
		}
		if got := f.set.Lagging(); !slices.Equal(got, []string{"b"}) {
			t.Fatalf("lagging = %q", got)
		}
	})
	t.Run("unknown region", func(t *testing.T) {
		f := newFixture(t, Options{WriteQuorum: 1})
		if err := putOnly(f.set, []string{"a", "zz"}, "snap", storage.PutOptions{}); !errors.Is(err, ErrUnknownRegion) {
			t.Fatalf("err = %v", err)
		}
		if hasObject(t, f.inner("a"), "snap") {
			t.Fatal("written despite an unknown region")
		}
	})
}
