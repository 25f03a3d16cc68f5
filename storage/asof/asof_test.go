package asof_test

import (
	"context"
	"errors"
	"testing"
	"time"

	"lifeboat/storage"
	"lifeboat/storage/asof"
	"lifeboat/storage/mem"
	"lifeboat/storage/storagetest"
)

// history is a versioned storage with writes at known times: t(0) puts
// a=a0 and b=b0, t(1) a=a1, t(2) deletes b, t(3) puts c=c3 and a=a3.
func history(t *testing.T) (storage.Storage, func(int) time.Time) {
	t.Helper()
	base := time.Date(2026, 1, 2, 3, 0, 0, 0, time.UTC)
	at := func(i int) time.Time { return base.Add(time.Duration(i) * time.Hour) }
	now := at(0)
	st := mem.NewVersioned(mem.VersionedOptions{Now: func() time.Time { return now }})
	ctx := context.Background()
	storagetest.PutString(t, st, "a", "a0")
	storagetest.PutString(t, st, "b", "b0")
	now = at(1)
	storagetest.PutString(t, st, "a", "a1")
	now = at(2)
	if err := st.Delete(ctx, "b"); err != nil {
		t.Fatal(err)
	}
	now = at(3)
	storagetest.PutString(t, st, "c", "c3")
	storagetest.PutString(t, st, "a", "a3")
	return st, at
}

func listed(t *testing.T, s storage.Reader) map[string]string {
	t.Helper()
	ctx := context.Background()
	out := map[string]string{}
	if err := s.List(ctx, "", func(i storage.Info) error {
		data, err := storage.ReadAll(ctx, s, i.Name)
		if err != nil {
			return err
		}
		if int64(len(data)) != i.Size {
			t.Errorf("%s: listed size %d, read %d bytes", i.Name, i.Size, len(data))
		}
		out[i.Name] = string(data)
		return nil
	}); err != nil {
		t.Fatal(err)
	}
	return out
}

func TestAsOf(t *testing.T) {
	st, at := history(t)
	for _, tc := range []struct {
		at   time.Time
		want map[string]string
	}{
		{at(0).Add(-time.Second), map[string]string{}},
		{at(0), map[string]string{"a": "a0", "b": "b0"}},
		{at(1).Add(-time.Nanosecond), map[string]string{"a": "a0", "b": "b0"}},
		{at(1), map[string]string{"a": "a1", "b": "b0"}},
		{at(2).Add(30 * time.Minute), map[string]string{"a": "a1"}},
		{at(3), map[string]string{"a": "a3", "c": "c3"}},
	} {
		v, err := asof.New(st, tc.at, asof.Options{})
		if err != nil {
			t.Fatal(err)
		}
		got := listed(t, v)
		if len(got) != len(tc.want) {
			t.Errorf("as of %v: %v, want %v", tc.at, got, tc.want)
			continue
		}
		for k, w := range tc.want {
			if got[k] != w {
				t.Errorf("as of %v: %v, want %v", tc.at, got, tc.want)
			}
		}
		// Stat and Get on a fresh view (nothing remembered from List).
		fresh, _ := asof.New(st, tc.at, asof.Options{})
		for _, name := range []string{"a", "b", "c"} {
			info, err := fresh.Stat(context.Background(), name)
			w, ok := tc.want[name]
			switch {
			case !ok && !errors.Is(err, storage.ErrNotExist):
				t.Errorf("as of %v: stat %s: %v, want ErrNotExist", tc.at, name, err)
			case ok && (err != nil || info.Size != int64(len(w))):
				t.Errorf("as of %v: stat %s: %+v, %v", tc.at, name, info, err)
			}
		}
	}
}

func TestAsOfRangeAndReadOnly(t *testing.T) {
	st, at := history(t)
	ctx := context.Background()
	v, err := asof.New(st, at(1), asof.Options{})
	if err != nil {
		t.Fatal(err)
	}
	buf := make([]byte, 1)
	if err := storage.ReadRange(ctx, v, "a", 1, buf); err != nil || string(buf) != "1" {
		t.Fatalf("a at 1: %q, %v", buf, err)
	}
	if err := storage.PutBytes(ctx, v, "a", []byte("x"), storage.PutOptions{}); !errors.Is(err, storage.ErrReadOnly) {
		t.Fatalf("put: %v, want ErrReadOnly", err)
	}
	if err := v.Delete(ctx, "a"); !errors.Is(err, storage.ErrReadOnly) {
		t.Fatalf("delete: %v, want ErrReadOnly", err)
	}
	c := v.Capabilities()
	if !c.ReadOnly || c.Versions != nil || c.ConditionalCreate {
		t.Fatalf("capabilities %+v: want read-only, no versions, no conditional create", c)
	}
	if got, _ := storage.ReadAll(ctx, st, "a"); string(got) != "a3" {
		t.Fatalf("the current version changed: %q", got)
	}
}

// TestAsOfKeep: versions Keep drops are as good as removed: the view
// falls back to the older one, and a name whose every version is dropped
// is missing.
func TestAsOfKeep(t *testing.T) {
	st, at := history(t)
	v, err := asof.New(st, at(2), asof.Options{Keep: func(_ context.Context, vi storage.VersionInfo) (bool, error) {
		return !(vi.Name == "a" && vi.ModTime.Equal(at(1))) && !vi.DeleteMarker, nil
	}})
	if err != nil {
		t.Fatal(err)
	}
	got := listed(t, v)
	if len(got) != 2 || got["a"] != "a0" || got["b"] != "b0" {
		t.Fatalf("as of t2 without a1 and markers: %v, want a=a0 b=b0", got)
	}
}

func TestAsOfNeedsVersions(t *testing.T) {
	if _, err := asof.New(mem.New(), time.Now(), asof.Options{}); !errors.Is(err, storage.ErrNoVersioning) {
		t.Fatalf("New over a storage without versions: %v, want ErrNoVersioning", err)
	}
}
