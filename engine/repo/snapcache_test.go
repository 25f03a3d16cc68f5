package repo

import (
	"context"
	"errors"
	"os"
	"path/filepath"
	"testing"
	"time"

	"lifeboat/crypto"
	"lifeboat/engine/format"
	"lifeboat/storage/fault"
	"lifeboat/storage/mem"
)

// historyFixture is a repository with snapshots of two hosts, one a
// minute apart, saved through a session with a cache directory.
type historyFixture struct {
	st    *fault.Storage
	id    *crypto.Identity
	cache string
	ids   []format.ID // in time order
	hosts []string
}

func newHistoryFixture(t *testing.T, n int) *historyFixture {
	t.Helper()
	f := &historyFixture{st: fault.New(mem.New()), cache: t.TempDir()}
	_, f.id = initVersion(t, f.st, format.Version)
	r := f.open(t)
	t0 := time.Date(2026, 1, 2, 3, 4, 5, 6, time.UTC)
	for i := range n {
		host := []string{"a", "b"}[i%2]
		s := &format.Snapshot{Time: t0.Add(time.Duration(i) * time.Minute), Host: host, Paths: []string{"/x"},
			Tags: []string{host + "-tag"}, Tree: format.ID{byte(i + 1)}}
		id, err := r.SaveSnapshot(context.Background(), s)
		if err != nil {
			t.Fatal(err)
		}
		f.ids = append(f.ids, id)
		f.hosts = append(f.hosts, host)
	}
	return f
}

// open opens a new session, as a new process would.
func (f *historyFixture) open(t *testing.T) *Repository {
	t.Helper()
	r, err := Open(context.Background(), f.st, f.id, Options{CacheDir: f.cache})
	if err != nil {
		t.Fatal(err)
	}
	return r
}

// newestOf returns the newest snapshot of host ("" any).
func (f *historyFixture) newestOf(host string) format.ID {
	for i := len(f.ids) - 1; i >= 0; i-- {
		if host == "" || f.hosts[i] == host {
			return f.ids[i]
		}
	}
	return format.ID{}
}

func (f *historyFixture) headersFile(t *testing.T, r *Repository) string {
	t.Helper()
	return filepath.Join(f.cache, r.cfg.ID, snapshotHeadersFile)
}

// TestLatestReadsOnlyWhatItReturns: with the headers cached, finding the
// latest snapshot (of any host, of one host, with a tag) reads one
// snapshot object, the one returned, however many snapshots there are.
func TestLatestReadsOnlyWhatItReturns(t *testing.T) {
	f := newHistoryFixture(t, 12)
	for _, tc := range []struct {
		name   string
		filter Filter
		want   format.ID
	}{
		{"any", Filter{}, f.newestOf("")},
		{"host", Filter{Host: "a"}, f.newestOf("a")},
		{"tag", Filter{Tags: []string{"b-tag"}}, f.newestOf("b")},
		{"paths", Filter{Host: "a", Paths: []string{"/x"}}, f.newestOf("a")},
	} {
		t.Run(tc.name, func(t *testing.T) {
			r := f.open(t)
			gets := f.st.Delay(fault.OpGet, fault.Prefix(format.SnapshotPrefix), 0)
			defer gets.Remove()
			ref, err := r.FindSnapshot(context.Background(), "latest", tc.filter)
			if err != nil {
				t.Fatal(err)
			}
			if ref.ID != tc.want {
				t.Fatalf("latest = %s, want %s", ref.ID.Short(), tc.want.Short())
			}
			if !tc.filter.Match(ref.Snapshot) {
				t.Fatalf("latest %+v does not pass the filter", ref.Snapshot)
			}
			if n := gets.Hits(); n != 1 {
				t.Fatalf("read %d snapshot objects, want 1 (the one returned)", n)
			}
		})
	}
}

// TestLatestMissesAreReadAndRemembered: a session whose cache lacks some
// headers (written by another host) reads those once; the next session
// reads only the one it returns.
func TestLatestMissesAreReadAndRemembered(t *testing.T) {
	f := newHistoryFixture(t, 6)
	// Another host, without this cache, adds two snapshots.
	other, err := Open(context.Background(), f.st, f.id, Options{CacheDir: t.TempDir()})
	if err != nil {
		t.Fatal(err)
	}
	for i := range 2 {
		id, err := other.SaveSnapshot(context.Background(), &format.Snapshot{Time: time.Date(2027, 1, 1, 0, i, 0, 0, time.UTC),
			Host: "c", Paths: []string{"/y"}, Tree: format.ID{9}})
		if err != nil {
			t.Fatal(err)
		}
		f.ids, f.hosts = append(f.ids, id), append(f.hosts, "c")
	}
	for _, want := range []int{3, 1} { // the two misses and the result; then the result
		r := f.open(t)
		gets := f.st.Delay(fault.OpGet, fault.Prefix(format.SnapshotPrefix), 0)
		ref, err := r.FindSnapshot(context.Background(), "latest", Filter{Host: "a"})
		gets.Remove()
		if err != nil {
			t.Fatal(err)
		}
		if ref.ID != f.newestOf("a") {
			t.Fatalf("latest = %s, want %s", ref.ID.Short(), f.newestOf("a").Short())
		}
		if n := gets.Hits(); n != want {
			t.Fatalf("read %d snapshot objects, want %d", n, want)
		}
	}
}

// TestLatestNeverBuried: a tombstoned snapshot whose object a region still
// holds is never the latest, though its header is cached; a forgotten one
// leaves the cache file at its next write.
func TestLatestNeverBuried(t *testing.T) {
	ctx := context.Background()
	f := newHistoryFixture(t, 4)
	r := f.open(t)
	newest := f.newestOf("")
	// The tombstone alone, as in a region that missed the deletion.
	if err := r.PutTombstones(ctx, []string{format.SnapshotName(newest)}, format.ReasonForget); err != nil {
		t.Fatal(err)
	}
	ref, err := f.open(t).FindSnapshot(ctx, "latest", Filter{})
	if err != nil {
		t.Fatal(err)
	}
	if want := f.ids[len(f.ids)-2]; ref.ID != want {
		t.Fatalf("latest = %s, want %s (the newest is tombstoned)", ref.ID.Short(), want.Short())
	}
	// Forget the second newest too; its header goes from the cache file.
	if _, err := r.Forget(ctx, []format.ID{ref.ID}); err != nil {
		t.Fatal(err)
	}
	r2 := f.open(t)
	ref, err = r2.FindSnapshot(ctx, "latest", Filter{})
	if err != nil {
		t.Fatal(err)
	}
	if want := f.ids[len(f.ids)-3]; ref.ID != want {
		t.Fatalf("latest = %s, want %s", ref.ID.Short(), want.Short())
	}
	c := newHeaderCache(f.cache, r2.cfg.ID)
	c.load(r2)
	if len(c.m) != len(f.ids)-2 {
		t.Fatalf("cache file holds %d headers, want %d (the listed, not buried, snapshots)", len(c.m), len(f.ids)-2)
	}
}

// TestHeaderCacheUntrusted: a cache file that is damaged, truncated,
// sealed by another repository, or (written with the key) wrong about a
// snapshot never changes the answer.
func TestHeaderCacheUntrusted(t *testing.T) {
	ctx := context.Background()
	f := newHistoryFixture(t, 5)
	r := f.open(t)
	file := f.headersFile(t, r)
	good, err := os.ReadFile(file)
	if err != nil {
		t.Fatal(err)
	}
	otherRepo, _ := initVersion(t, mem.New(), format.Version)
	foreign, err := otherRepo.dk.Seal(encodeHeaders(nil, nil))
	if err != nil {
		t.Fatal(err)
	}
	// With the key: the oldest snapshot claims to be the newest of host b.
	lie := map[format.ID]snapshotHeader{}
	c := newHeaderCache(f.cache, r.cfg.ID)
	c.load(r)
	for id, h := range c.m {
		lie[id] = h
	}
	lie[f.ids[0]] = snapshotHeader{time: time.Date(2030, 1, 1, 0, 0, 0, 0, time.UTC), host: "b", paths: []string{"/x"}}
	liar, err := r.dk.Seal(encodeHeaders(f.ids, lie))
	if err != nil {
		t.Fatal(err)
	}
	flipped := append([]byte(nil), good...)
	flipped[len(flipped)/2] ^= 1
	for _, tc := range []struct {
		name string
		data []byte
	}{
		{"flipped", flipped},
		{"truncated", good[:len(good)/2]},
		{"empty", nil},
		{"foreign", foreign},
		{"wrong header", liar},
	} {
		t.Run(tc.name, func(t *testing.T) {
			if err := os.WriteFile(file, tc.data, 0o600); err != nil {
				t.Fatal(err)
			}
			for _, host := range []string{"a", "b"} {
				ref, err := f.open(t).FindSnapshot(ctx, "latest", Filter{Host: host})
				if err != nil {
					t.Fatal(err)
				}
				if want := f.newestOf(host); ref.ID != want {
					t.Fatalf("latest of %s = %s, want %s", host, ref.ID.Short(), want.Short())
				}
			}
		})
	}
}

// TestLatestWithoutCacheDir: without a cache directory the headers live
// in the session, and the answer is the same.
func TestLatestWithoutCacheDir(t *testing.T) {
	f := newHistoryFixture(t, 5)
	r, err := Open(context.Background(), f.st, f.id, Options{})
	if err != nil {
		t.Fatal(err)
	}
	for range 2 {
		ref, err := r.FindSnapshot(context.Background(), "latest", Filter{Host: "b"})
		if err != nil {
			t.Fatal(err)
		}
		if ref.ID != f.newestOf("b") {
			t.Fatalf("latest = %s, want %s", ref.ID.Short(), f.newestOf("b").Short())
		}
	}
	if _, err := r.FindSnapshot(context.Background(), "latest", Filter{Host: "z"}); !errors.Is(err, ErrSnapshotNotFound) {
		t.Fatalf("latest of an unknown host: %v, want ErrSnapshotNotFound", err)
	}
}

func TestHeadersRoundTrip(t *testing.T) {
	m := map[format.ID]snapshotHeader{
		{1}: {time: time.Date(1969, 12, 31, 23, 59, 59, 999999999, time.UTC), host: "", paths: []string{"/"}},
		{2}: {time: time.Date(2026, 1, 2, 3, 4, 5, 6, time.UTC), host: "h", paths: []string{"/a", "/ü b"}, tags: []string{"t1", ""}},
	}
	got, err := decodeHeaders(encodeHeaders([]format.ID{{1}, {2}}, m))
	if err != nil {
		t.Fatal(err)
	}
	if len(got) != len(m) {
		t.Fatalf("%d headers, want %d", len(got), len(m))
	}
	for id, h := range m {
		g := got[id]
		if !g.time.Equal(h.time) || g.host != h.host || len(g.paths) != len(h.paths) || len(g.tags) != len(h.tags) {
			t.Fatalf("header %s: %+v, want %+v", id.Short(), g, h)
		}
		for i := range h.paths {
			if g.paths[i] != h.paths[i] {
				t.Fatalf("header %s: %+v, want %+v", id.Short(), g, h)
			}
		}
		for i := range h.tags {
			if g.tags[i] != h.tags[i] {
				t.Fatalf("header %s: %+v, want %+v", id.Short(), g, h)
			}
		}
	}
	enc := encodeHeaders([]format.ID{{1}, {2}}, m)
	for n := range len(enc) {
		if _, err := decodeHeaders(enc[:n]); err == nil {
			t.Fatalf("truncated to %d bytes: decoded", n)
		}
	}
}
