package check_test

import (
	"context"
	"errors"
	"maps"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"lifeboat/crypto"
	"lifeboat/engine/backup"
	"lifeboat/engine/check"
	"lifeboat/engine/enginetest"
	"lifeboat/engine/format"
	"lifeboat/engine/repo"
	"lifeboat/storage"
	"lifeboat/storage/fault"
	"lifeboat/storage/mem"
	"lifeboat/storage/regions"
)

// regionEnv is a repository in three in-memory regions a, b, c (a
// preferred) holding one backup of the sample tree.
type regionEnv struct {
	mems   map[string]storage.Storage
	faults map[string]*fault.Storage
	set    *regions.Set
	id     *crypto.Identity
	packs  []repo.PackInfo // sorted by size, largest first
}

func newRegionEnv(t *testing.T) *regionEnv {
	t.Helper()
	e := &regionEnv{mems: map[string]storage.Storage{}, faults: map[string]*fault.Storage{}}
	var rs []regions.Region
	for i, name := range []string{"a", "b", "c"} {
		m := mem.New()
		e.mems[name], e.faults[name] = m, fault.New(m)
		rs = append(rs, regions.Region{Name: name, Storage: e.faults[name], Priority: i})
	}
	set, err := regions.New(rs, regions.Options{})
	if err != nil {
		t.Fatal(err)
	}
	e.set = set
	r, id := enginetest.NewRepo(t, set)
	e.id = id
	src := filepath.Join(t.TempDir(), "src")
	enginetest.MakeTree(t, src, 5)
	if _, err := backup.Run(context.Background(), r, backup.Options{Paths: []string{src}, Host: "test"}); err != nil {
		t.Fatal(err)
	}
	e.packs = enginetest.Reopen(t, set, id).Index().Packs()
	if len(e.packs) < 3 {
		t.Fatalf("the backup wrote %d packs, want at least 3", len(e.packs))
	}
	slices.SortFunc(e.packs, func(x, y repo.PackInfo) int { return int(y.Size - x.Size) })
	return e
}

// damage flips one byte in the middle of region's copy of the pack.
func (e *regionEnv) damage(t *testing.T, region string, p repo.PackInfo) {
	t.Helper()
	ctx := context.Background()
	name := format.PackName(p.ID)
	data, err := storage.ReadAll(ctx, e.mems[region], name)
	if err != nil {
		t.Fatal(err)
	}
	data[len(data)/2] ^= 0x55
	if err := storage.PutBytes(ctx, e.mems[region], name, data, storage.PutOptions{}); err != nil {
		t.Fatal(err)
	}
}

// outcome is what one check run reported.
type outcome struct {
	res      *check.Result
	err      error
	problems []check.Problem
	// reads maps region -> pack -> the OnPackRead error (nil: verified).
	reads map[string]map[format.ID]error
}

func (e *regionEnv) run(t *testing.T, opts check.Options) *outcome {
	t.Helper()
	o := &outcome{reads: map[string]map[format.ID]error{}}
	var mu sync.Mutex
	opts.OnProblem = func(p check.Problem) {
		mu.Lock()
		defer mu.Unlock()
		o.problems = append(o.problems, p)
	}
	opts.OnPackRead = func(pack format.ID, region string, err error) {
		mu.Lock()
		defer mu.Unlock()
		if o.reads[region] == nil {
			o.reads[region] = map[format.ID]error{}
		}
		if _, dup := o.reads[region][pack]; dup {
			t.Errorf("pack %s read twice in region %q", pack.Short(), region)
		}
		o.reads[region][pack] = err
	}
	r, err := repo.Open(context.Background(), e.set, e.id, repo.Options{})
	if err != nil {
		t.Fatal(err)
	}
	o.res, o.err = check.Run(context.Background(), r, opts)
	return o
}

// TestReadDataFindsACopyBadInOneRegion: a pack flipped in region b only
// is reported under region b and its object name, with the other regions'
// copies verified, whichever region reads prefer.
func TestReadDataFindsACopyBadInOneRegion(t *testing.T) {
	e := newRegionEnv(t)
	bad := e.packs[0]
	name := format.PackName(bad.ID)
	e.damage(t, "b", bad)

	o := e.run(t, check.Options{ReadData: true, Workers: 3})
	if !errors.Is(o.err, check.ErrProblems) {
		t.Fatalf("check: %v, want ErrProblems", o.err)
	}
	if len(o.problems) == 0 {
		t.Fatal("no problem reported")
	}
	for _, p := range o.problems {
		if p.Region != "b" || p.Object != name {
			t.Errorf("problem %q: region %q object %q, want region b, object %s", p, p.Region, p.Object, name)
		}
		if !strings.HasPrefix(p.String(), "region b: "+name) {
			t.Errorf("problem reads %q, want it to start with the region and the object", p)
		}
	}
	if got := o.res.BadCopies; !maps.EqualFunc(got, map[string][]string{name: {"b"}}, slices.Equal) {
		t.Errorf("bad copies %v, want %s in b", got, name)
	}
	if len(o.res.NoGoodCopy) != 0 {
		t.Errorf("no good copy of %v, but a and c hold one", o.res.NoGoodCopy)
	}
	if want := int64(3 * len(e.packs)); o.res.PacksRead != want {
		t.Errorf("read %d pack copies, want %d", o.res.PacksRead, want)
	}
	for _, region := range []string{"a", "b", "c"} {
		if len(o.reads[region]) != len(e.packs) {
			t.Errorf("region %s: %d packs read, want %d", region, len(o.reads[region]), len(e.packs))
		}
		for _, p := range e.packs {
			err, ok := o.reads[region][p.ID]
			switch {
			case !ok:
				t.Errorf("region %s: pack %s not read", region, p.ID.Short())
			case region == "b" && p.ID == bad.ID:
				if !errors.Is(err, repo.ErrHashMismatch) {
					t.Errorf("region b: damaged pack: %v, want ErrHashMismatch", err)
				}
			case err != nil:
				t.Errorf("region %s: pack %s: %v", region, p.ID.Short(), err)
			}
		}
	}
}

// TestReadDataDamageInEveryRegion: a pack damaged in every region, at
// different bytes, is reported in each and has no good copy.
func TestReadDataDamageInEveryRegion(t *testing.T) {
	e := newRegionEnv(t)
	bad := e.packs[1]
	for _, region := range []string{"a", "b", "c"} {
		e.damage(t, region, bad)
	}
	o := e.run(t, check.Options{ReadData: true})
	if !errors.Is(o.err, check.ErrProblems) {
		t.Fatalf("check: %v, want ErrProblems", o.err)
	}
	name := format.PackName(bad.ID)
	if got := o.res.BadCopies[name]; !slices.Equal(got, []string{"a", "b", "c"}) {
		t.Errorf("bad copies of %s in %v, want a, b, c", name, got)
	}
	if !slices.Equal(o.res.NoGoodCopy, []string{name}) {
		t.Errorf("no good copy of %v, want [%s]", o.res.NoGoodCopy, name)
	}
}

// TestReadDataMissingAndLongCopies: a copy missing in one region, or
// longer than the index says in another, is that region's problem.
func TestReadDataMissingAndLongCopies(t *testing.T) {
	e := newRegionEnv(t)
	ctx := context.Background()
	gone, long := e.packs[0], e.packs[1]
	if err := e.mems["c"].Delete(ctx, format.PackName(gone.ID)); err != nil {
		t.Fatal(err)
	}
	data, err := storage.ReadAll(ctx, e.mems["a"], format.PackName(long.ID))
	if err != nil {
		t.Fatal(err)
	}
	if err := storage.PutBytes(ctx, e.mems["b"], format.PackName(long.ID), append(data, 0), storage.PutOptions{}); err != nil {
		t.Fatal(err)
	}
	o := e.run(t, check.Options{ReadData: true})
	if !errors.Is(o.err, check.ErrProblems) {
		t.Fatalf("check: %v, want ErrProblems", o.err)
	}
	want := map[string][]string{format.PackName(gone.ID): {"c"}, format.PackName(long.ID): {"b"}}
	if !maps.EqualFunc(o.res.BadCopies, want, slices.Equal) {
		t.Errorf("bad copies %v, want %v", o.res.BadCopies, want)
	}
	if err := o.reads["c"][gone.ID]; !errors.Is(err, storage.ErrNotExist) {
		t.Errorf("missing copy in c: %v, want ErrNotExist", err)
	}
	var ie *repo.IntegrityError
	if err := o.reads["b"][long.ID]; !errors.As(err, &ie) {
		t.Errorf("long copy in b: %v, want an IntegrityError", err)
	}
	for _, p := range o.problems {
		if p.Object == format.PackName(gone.ID) && !strings.Contains(p.String(), "missing in region c") {
			t.Errorf("problem %q does not say the pack is missing in region c", p)
		}
	}
}

// TestReadDataUnreadableRegion: copies a region fails to serve are
// problems of that region, counted as unreadable, not as bad copies.
func TestReadDataUnreadableRegion(t *testing.T) {
	e := newRegionEnv(t)
	e.faults["c"].FailOn(fault.OpGet, fault.Prefix(format.DataPrefix), nil, -1)
	o := e.run(t, check.Options{ReadData: true})
	if !errors.Is(o.err, check.ErrProblems) {
		t.Fatalf("check: %v, want ErrProblems", o.err)
	}
	if got := o.res.Unreadable; len(got) != 1 || got["c"] != int64(len(e.packs)) {
		t.Errorf("unreadable %v, want every pack in c", got)
	}
	if len(o.res.BadCopies) != 0 || len(o.res.NoGoodCopy) != 0 {
		t.Errorf("bad copies %v, no good copy %v: want none", o.res.BadCopies, o.res.NoGoodCopy)
	}
	for _, p := range e.packs {
		if err := o.reads["c"][p.ID]; !errors.Is(err, fault.ErrInjected) {
			t.Errorf("region c, pack %s: %v, want the injected error", p.ID.Short(), err)
		}
		if err, ok := o.reads["b"][p.ID]; !ok || err != nil {
			t.Errorf("region b, pack %s: read %v, %v", p.ID.Short(), ok, err)
		}
	}
	for _, p := range o.problems {
		if p.Region != "c" {
			t.Errorf("problem %q not in region c", p)
		}
	}
}

// TestReadDataRegions: --region limits the copies read to those regions;
// an unknown name is ErrUnknownRegion before anything is read.
func TestReadDataRegions(t *testing.T) {
	e := newRegionEnv(t)
	e.damage(t, "b", e.packs[0])

	o := e.run(t, check.Options{ReadData: true, Regions: []string{"c", "a"}})
	if o.err != nil {
		t.Fatalf("check of a and c: %v (problems %v)", o.err, o.problems)
	}
	if got := slices.Sorted(maps.Keys(o.reads)); !slices.Equal(got, []string{"a", "c"}) {
		t.Errorf("regions read %v, want [a c]", got)
	}
	if !slices.Equal(o.res.Regions, []string{"a", "c"}) {
		t.Errorf("result regions %v, want [a c] (preference order)", o.res.Regions)
	}

	o = e.run(t, check.Options{ReadData: true, Regions: []string{"b"}})
	if !errors.Is(o.err, check.ErrProblems) || len(o.problems) == 0 || o.problems[0].Region != "b" {
		t.Fatalf("check of b: %v, problems %v; want b's damaged copy", o.err, o.problems)
	}
	if got := slices.Sorted(maps.Keys(o.reads)); !slices.Equal(got, []string{"b"}) {
		t.Errorf("regions read %v, want [b]", got)
	}

	o = e.run(t, check.Options{ReadData: true, Regions: []string{"a", "zz"}})
	if !errors.Is(o.err, check.ErrUnknownRegion) {
		t.Fatalf("check of an unknown region: %v, want ErrUnknownRegion", o.err)
	}
	if len(o.reads) != 0 {
		t.Errorf("an unknown region read %v", o.reads)
	}
}

// TestReadDataSubsetAcrossRegions: a subset reads the same packs in every
// selected region, preferring those never read in one of them: a pack
// read recently in a but never in b comes before one read long ago in
// both.
func TestReadDataSubsetAcrossRegions(t *testing.T) {
	e := newRegionEnv(t)
	t0 := time.Date(2026, 11, 1, 0, 0, 0, 0, time.UTC)
	last := map[string]map[format.ID]time.Time{"a": {}, "b": {}}
	// Every pack was read in both regions, except packs[0], read (late)
	// in a only: it ranks first for a check of a and b.
	for i, p := range e.packs {
		last["a"][p.ID] = t0.Add(time.Duration(i) * time.Hour)
		last["b"][p.ID] = t0.Add(time.Duration(i) * time.Hour)
	}
	last["a"][e.packs[0].ID] = t0.Add(1000 * time.Hour)
	delete(last["b"], e.packs[0].ID)
	pct := 100 / float64(len(e.packs)) // one pack
	o := e.run(t, check.Options{SubsetPercent: pct, LastRead: last, Regions: []string{"a", "b"}, Seed: 3})
	if o.err != nil {
		t.Fatal(o.err)
	}
	for _, region := range []string{"a", "b"} {
		if got := slices.Collect(maps.Keys(o.reads[region])); !slices.Equal(got, []format.ID{e.packs[0].ID}) {
			t.Errorf("region %s read %d packs, want only the pack never read in b", region, len(got))
		}
	}
	// Checking a alone, that pack is the most recently read one.
	o = e.run(t, check.Options{SubsetPercent: pct, LastRead: last, Regions: []string{"a"}, Seed: 3})
	if o.err != nil {
		t.Fatal(o.err)
	}
	if _, ok := o.reads["a"][e.packs[0].ID]; ok || len(o.reads["a"]) != 1 {
		t.Errorf("check of a read %d packs including the most recent: %v", len(o.reads["a"]), o.reads["a"])
	}
}

// TestReadDataPlainStorage: a storage without regions is one region "".
func TestReadDataPlainStorage(t *testing.T) {
	st := mem.New()
	r, _ := enginetest.NewRepo(t, st)
	src := filepath.Join(t.TempDir(), "src")
	enginetest.MakeTree(t, src, 2)
	if _, err := backup.Run(context.Background(), r, backup.Options{Paths: []string{src}, Host: "test"}); err != nil {
		t.Fatal(err)
	}
	var regionsRead []string
	res, err := check.Run(context.Background(), r, check.Options{ReadData: true, OnPackRead: func(_ format.ID, region string, err error) {
		if err != nil {
			t.Error(err)
		}
		regionsRead = append(regionsRead, region)
	}})
	if err != nil {
		t.Fatal(err)
	}
	if res.PacksRead != res.Packs || len(regionsRead) != int(res.Packs) || slices.ContainsFunc(regionsRead, func(s string) bool { return s != "" }) {
		t.Errorf("read %d of %d packs, regions %v", res.PacksRead, res.Packs, regionsRead)
	}
	if _, err := check.Run(context.Background(), r, check.Options{ReadData: true, Regions: []string{"a"}}); !errors.Is(err, check.ErrUnknownRegion) {
		t.Errorf("region a of a plain storage: %v, want ErrUnknownRegion", err)
	}
}
