package storagetest

import (
	"bytes"
	"context"
	"errors"
	"slices"
	"testing"

	"lifeboat/storage"
	"lifeboat/storage/mem"
)

// SetRegions are the names of the regions RunRegions builds its region
// sets from, in configuration order.
var SetRegions = []string{"a", "b", "c"}

// MaxBadReports is how many ReportBad calls for one region RunRegions
// makes, at most, before expecting the region to have moved from the
// front of the read preference order.
const MaxBadReports = 10

// RunRegions checks that a wrapper keeps the region set of the storage it
// wraps: that wrap(set).Capabilities().Regions is there and reaches the
// set's own regions, so that callers still fail over, repair, commit and
// lock per region through the wrapper.
//
// newSet builds a region set (a storage whose Capabilities().Regions is
// set) whose regions are named names, in that configuration order, each
// with the matching storage of regions, read in that order while healthy,
// with a write quorum of at most 2 and a breaker that opens after at most
// MaxBadReports bad-content reports. wrap wraps the set; with readOnly the
// wrapper must give a read-only view: Repair, PutOnly and the writes of a
// Region's storage fail with storage.ErrReadOnly and reach no region.
// Everything else (Names, Replicas, Region's reads, ReportBad, Lagging,
// WriteQuorum, ListUnion) must reach the set in every case. Each subtest
// builds a fresh set over empty memory regions and closes the wrapper at
// its end.
func RunRegions(t *testing.T, newSet func(t *testing.T, names []string, regions []storage.Storage) storage.Storage, wrap func(t *testing.T, set storage.Storage) storage.Storage, readOnly bool) {
	t.Helper()
	for _, tc := range []struct {
		name string
		fn   func(t *testing.T, f *regionsFixture)
	}{
		{"Present", testRegionsPresent},
		{"Replicas", testRegionsReplicas},
		{"Region", testRegionsRegion},
		{"ListUnion", testRegionsListUnion},
		{"Repair", testRegionsRepair},
		{"PutOnly", testRegionsPutOnly},
		{"ReportBad", testRegionsReportBad},
	} {
		t.Run(tc.name, func(t *testing.T) {
			f := &regionsFixture{readOnly: readOnly}
			for range SetRegions {
				f.mems = append(f.mems, mem.New())
			}
			f.set = newSet(t, slices.Clone(SetRegions), slices.Clone(f.mems))
			f.wrapped = wrap(t, f.set)
			t.Cleanup(func() {
				if err := f.wrapped.Close(); err != nil {
					t.Errorf("close: %v", err)
				}
			})
			f.inner = f.set.Capabilities().Regions
			if f.inner == nil {
				t.Fatal("newSet built a storage without Capabilities().Regions")
			}
			f.rs = f.wrapped.Capabilities().Regions
			if f.rs == nil {
				t.Fatal("the wrapper's Capabilities().Regions is nil: callers lose failover, repair, the commit rule and the lock's majority")
			}
			tc.fn(t, f)
		})
	}
}

type regionsFixture struct {
	readOnly bool
	mems     []storage.Storage // each region's own objects, by SetRegions index
	set      storage.Storage
	wrapped  storage.Storage
	inner    storage.RegionSet // the set's own
	rs       storage.RegionSet // through the wrapper
}

// has reports whether region i holds name.
func (f *regionsFixture) has(t *testing.T, i int, name string) bool {
	t.Helper()
	_, err := f.mems[i].Stat(context.Background(), name)
	if err != nil && !errors.Is(err, storage.ErrNotExist) {
		t.Fatalf("stat %s in region %s: %v", name, SetRegions[i], err)
	}
	return err == nil
}

// where lists the regions holding name.
func (f *regionsFixture) where(t *testing.T, name string) []string {
	t.Helper()
	var out []string
	for i, n := range SetRegions {
		if f.has(t, i, name) {
			out = append(out, n)
		}
	}
	return out
}

func testRegionsPresent(t *testing.T, f *regionsFixture) {
	if got := f.rs.Names(); !slices.Equal(got, SetRegions) {
		t.Fatalf("names = %q, want %q", got, SetRegions)
	}
	if got, want := f.rs.WriteQuorum(), f.inner.WriteQuorum(); got != want {
		t.Fatalf("write quorum = %d, want the set's %d", got, want)
	}
	if got := f.rs.Lagging(); len(got) != 0 {
		t.Fatalf("a fresh set lags: %q", got)
	}
	if got := f.wrapped.Capabilities().ReadOnly; f.readOnly && !got {
		t.Fatal("a read-only wrapper's capabilities are not ReadOnly")
	}
}

func testRegionsReplicas(t *testing.T, f *regionsFixture) {
	ctx := context.Background()
	PutString(t, f.mems[1], "obj/only-b", "bee")
	reps := f.rs.Replicas()
	var names []string
	for _, rep := range reps {
		names = append(names, rep.Region)
		body, err := storage.ReadAll(ctx, rep.Reader, "obj/only-b")
		switch {
		case rep.Region == "b":
			if err != nil || string(body) != "bee" {
				t.Fatalf("replica b: %q, %v", body, err)
			}
		case !errors.Is(err, storage.ErrNotExist):
			t.Fatalf("replica %s read another region's object: %q, %v", rep.Region, body, err)
		}
	}
	slices.Sort(names)
	if !slices.Equal(names, SetRegions) {
		t.Fatalf("replicas name %q, want one per region %q", names, SetRegions)
	}
}

func testRegionsRegion(t *testing.T, f *regionsFixture) {
	ctx := context.Background()
	if _, ok := f.rs.Region("no-such-region"); ok {
		t.Fatal("Region of an unknown name succeeded")
	}
	for i, n := range SetRegions {
		PutString(t, f.mems[i], "obj/own", n)
		st, ok := f.rs.Region(n)
		if !ok {
			t.Fatalf("no region %s", n)
		}
		body, err := storage.ReadAll(ctx, st, "obj/own")
		if err != nil || string(body) != n {
			t.Fatalf("region %s reads %q, %v", n, body, err)
		}
		err = storage.PutBytes(ctx, st, "obj/new", []byte(n), storage.PutOptions{IfNotExists: true})
		if f.readOnly {
			if !errors.Is(err, storage.ErrReadOnly) {
				t.Fatalf("put through region %s of a read-only view: %v, want ErrReadOnly", n, err)
			}
			continue
		}
		if err != nil {
			t.Fatalf("put through region %s: %v", n, err)
		}
	}
	want := slices.Clone(SetRegions)
	if f.readOnly {
		want = nil
	}
	if got := f.where(t, "obj/new"); !slices.Equal(got, want) {
		t.Fatalf("obj/new written through Region is in %q, want %q", got, want)
	}
}

func testRegionsListUnion(t *testing.T, f *regionsFixture) {
	PutString(t, f.mems[0], "u/x", "x")
	PutString(t, f.mems[2], "u/y", "y")
	PutString(t, f.mems[1], "u/z", "z")
	PutString(t, f.mems[2], "u/z", "z")
	var got []string
	if err := f.rs.ListUnion(context.Background(), "u/", func(info storage.Info) error {
		got = append(got, info.Name)
		return nil
	}); err != nil {
		t.Fatal(err)
	}
	slices.Sort(got)
	if want := []string{"u/x", "u/y", "u/z"}; !slices.Equal(got, want) {
		t.Fatalf("ListUnion = %q, want %q", got, want)
	}
}

func testRegionsRepair(t *testing.T, f *regionsFixture) {
	ctx := context.Background()
	PutString(t, f.mems[0], "obj/r", "good")
	PutString(t, f.mems[1], "obj/r", "bad!")
	err := f.rs.Repair(ctx, "b", "obj/r", []byte("good"))
	want := "good"
	if f.readOnly {
		if !errors.Is(err, storage.ErrReadOnly) {
			t.Fatalf("repair through a read-only view: %v, want ErrReadOnly", err)
		}
		want = "bad!"
	} else if err != nil {
		t.Fatalf("repair: %v", err)
	}
	if body, err := storage.ReadAll(ctx, f.mems[1], "obj/r"); err != nil || string(body) != want {
		t.Fatalf("region b holds %q, %v; want %q", body, err, want)
	}
	if f.has(t, 2, "obj/r") {
		t.Fatal("repair of region b wrote region c")
	}
}

func testRegionsPutOnly(t *testing.T, f *regionsFixture) {
	ctx := context.Background()
	data := []byte("commit")
	err := f.rs.PutOnly(ctx, []string{"a", "b"}, "obj/p", bytes.NewReader(data), int64(len(data)), storage.PutOptions{IfNotExists: true})
	want, lagging := []string{"a", "b"}, []string{"c"}
	if f.readOnly {
		if !errors.Is(err, storage.ErrReadOnly) {
			t.Fatalf("PutOnly through a read-only view: %v, want ErrReadOnly", err)
		}
		want, lagging = nil, nil
	} else if err != nil {
		t.Fatalf("PutOnly: %v", err)
	}
	if got := f.where(t, "obj/p"); !slices.Equal(got, want) {
		t.Fatalf("obj/p is in %q, want %q", got, want)
	}
	if got := f.rs.Lagging(); !slices.Equal(got, lagging) {
		t.Fatalf("lagging through the wrapper = %q, want %q", got, lagging)
	}
	if got := f.inner.Lagging(); !slices.Equal(got, lagging) {
		t.Fatalf("the set's lagging = %q, want %q", got, lagging)
	}
}

func testRegionsReportBad(t *testing.T, f *regionsFixture) {
	first := f.rs.Replicas()[0].Region
	for range MaxBadReports {
		f.rs.ReportBad(first, "obj/bad", errors.New("hash mismatch"))
		if f.inner.Replicas()[0].Region != first {
			return
		}
	}
	t.Fatalf("%d bad-content reports through the wrapper did not move region %s from the front of the set's read order", MaxBadReports, first)
}
