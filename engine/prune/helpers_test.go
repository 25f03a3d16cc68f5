package prune

import (
	"context"
	"errors"
	"fmt"
	"io"
	"math/rand/v2"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"lifeboat/crypto"
	"lifeboat/engine/backup"
	"lifeboat/engine/enginetest"
	"lifeboat/engine/format"
	"lifeboat/engine/repo"
	"lifeboat/engine/restore"
	"lifeboat/engine/treecmp"
	"lifeboat/storage"
	"lifeboat/storage/fault"
	"lifeboat/storage/mem"
	"lifeboat/storage/regions"
)

var regionNames = []string{"a", "b", "c"}

// fixture is a repository over three in-memory regions, each behind a
// fault wrapper, with a fake storage clock.
type fixture struct {
	t      *testing.T
	set    *regions.Set
	regs   []regions.Region
	faults map[string]*fault.Storage
	mems   map[string]storage.Storage
	id     *crypto.Identity
	r      *repo.Repository
	clock  time.Time
	// sources maps a snapshot to the directory it was taken of.
	sources map[format.ID]string
	seed    uint64
}

func newFixture(t *testing.T) *fixture {
	t.Helper()
	f := newFixtureOn(t, nil, nil)
	f.r, f.id = newRepo(t, f)
	return f
}

func newRepo(t *testing.T, f *fixture) (*repo.Repository, *crypto.Identity) {
	t.Helper()
	return enginetest.NewRepo(t, f.set)
}

// newFixtureOn builds the region set over mems (new ones when nil), every
// region behind a crash wrapper (sharing one budget) and a fault wrapper.
func newFixtureOn(t *testing.T, mems map[string]storage.Storage, crash *crashBudget) *fixture {
	t.Helper()
	f := &fixture{t: t, faults: map[string]*fault.Storage{}, mems: map[string]storage.Storage{},
		clock: time.Now().Add(48 * time.Hour).UTC(), sources: map[format.ID]string{}}
	var rs []regions.Region
	for i, name := range regionNames {
		m := mems[name]
		if m == nil {
			m = mem.New()
		}
		var inner storage.Storage = m
		if crash != nil {
			inner = &crashing{Storage: m, b: crash}
		}
		fs := fault.New(inner)
		f.mems[name], f.faults[name] = m, fs
		rs = append(rs, regions.Region{Name: name, Storage: fs, Priority: i})
	}
	f.regs = rs
	f.set = f.newSet()
	return f
}

func (f *fixture) newSet() *regions.Set {
	f.t.Helper()
	set, err := regions.New(f.regs, regions.Options{WriteQuorum: 1})
	if err != nil {
		f.t.Fatal(err)
	}
	return set
}

// crashBudget lets a number of mutations through, then fails every
// mutation: the process "died" after its left-th write or delete.
type crashBudget struct {
	mu   sync.Mutex
	left int // < 0: unlimited
	hit  bool
	gate *gate // nil: none
}

func (b *crashBudget) take() bool {
	b.mu.Lock()
	defer b.mu.Unlock()
	if b.left < 0 {
		return true
	}
	if b.left == 0 {
		b.hit = true
		return false
	}
	b.left--
	return true
}

var errCrashed = errors.New("crashed")

// crashing is a storage whose mutations draw from a crash budget.
type crashing struct {
	storage.Storage
	b *crashBudget
}

// gate holds the Puts of names under prefix (every region) whose context
// carries gatedKey, from the first one on until release is closed: a
// writer suspended mid-way.
type gate struct {
	prefix  string
	once    sync.Once
	hit     chan struct{}
	release chan struct{}
}

func newGate(prefix string) *gate {
	return &gate{prefix: prefix, hit: make(chan struct{}), release: make(chan struct{})}
}

// gatedKey marks the context of the writer a gate holds.
type gatedKey struct{}

func (b *crashBudget) wait(ctx context.Context, name string) {
	if ctx.Value(gatedKey{}) == nil {
		return
	}
	b.mu.Lock()
	g := b.gate
	b.mu.Unlock()
	if g == nil || !strings.HasPrefix(name, g.prefix) {
		return
	}
	g.once.Do(func() { close(g.hit) })
	select {
	case <-g.release:
	case <-time.After(time.Minute): // bounded: a test that forgot to release
	}
}

func (c *crashing) Put(ctx context.Context, name string, r io.ReadSeeker, size int64, opt storage.PutOptions) error {
	c.b.wait(ctx, name)
	if !c.b.take() {
		return errCrashed
	}
	return c.Storage.Put(ctx, name, r, size, opt)
}

func (c *crashing) Delete(ctx context.Context, name string) error {
	if !c.b.take() {
		return errCrashed
	}
	return c.Storage.Delete(ctx, name)
}

// cloneMems copies every object of mems into new in-memory storages.
func cloneMems(t *testing.T, mems map[string]storage.Storage) map[string]storage.Storage {
	t.Helper()
	ctx := context.Background()
	out := map[string]storage.Storage{}
	for name, m := range mems {
		c := mem.New()
		err := m.List(ctx, "", func(fi storage.Info) error {
			data, err := storage.ReadAll(ctx, m, fi.Name)
			if err != nil {
				return err
			}
			return storage.PutBytes(ctx, c, fi.Name, data, storage.PutOptions{})
		})
		if err != nil {
			t.Fatal(err)
		}
		out[name] = c
	}
	return out
}

// reopen opens the repository again, as a new process.
func (f *fixture) reopen() *repo.Repository {
	f.t.Helper()
	// A new process has a new region set (no memory of missed writes).
	f.set = f.newSet()
	return enginetest.Reopen(f.t, f.set, f.id)
}

func (f *fixture) opts() Options {
	return Options{
		Grace: time.Hour, Host: "test",
		Now:         func() time.Time { return f.clock },
		StorageTime: func(context.Context) (time.Time, error) { return f.clock, nil },
		Rand:        rand.NewChaCha8([32]byte{byte(f.seed), 9}),
	}
}

// run runs prune with a fresh repository handle.
func (f *fixture) run(o Options) (*Result, error) {
	f.t.Helper()
	return Run(context.Background(), f.reopen(), o)
}

// backup takes a snapshot of a new tree (seed) and remembers its source.
func (f *fixture) backup(seed uint64) (format.ID, error) {
	f.t.Helper()
	src := filepath.Join(f.t.TempDir(), "src")
	enginetest.MakeTree(f.t, src, seed)
	res, err := backup.Run(context.Background(), f.reopen(), backup.Options{Paths: []string{src}, Host: "h"})
	if err != nil {
		return format.ID{}, err
	}
	f.sources[res.ID] = src
	return res.ID, nil
}

// mustBackupPaths backs up the trees of seeds in one snapshot.
func (f *fixture) mustBackupPaths(seeds ...uint64) format.ID {
	f.t.Helper()
	base := f.t.TempDir()
	var paths []string
	for _, s := range seeds {
		src := filepath.Join(base, fmt.Sprintf("t%d", s))
		enginetest.MakeTree(f.t, src, s)
		paths = append(paths, src)
	}
	res, err := backup.Run(context.Background(), f.reopen(), backup.Options{Paths: paths, Host: "h"})
	if err != nil {
		f.t.Fatal(err)
	}
	f.sources[res.ID] = base
	return res.ID
}

func (f *fixture) mustBackup(seed uint64) format.ID {
	f.t.Helper()
	id, err := f.backup(seed)
	if err != nil {
		f.t.Fatal(err)
	}
	return id
}

func (f *fixture) forget(ids ...format.ID) {
	f.t.Helper()
	if _, err := f.reopen().Forget(context.Background(), ids); err != nil {
		f.t.Fatal(err)
	}
	for _, id := range ids {
		delete(f.sources, id)
	}
}

// names lists the objects under prefix in region, sorted.
func (f *fixture) names(region, prefix string) []string {
	f.t.Helper()
	var out []string
	err := f.mems[region].List(context.Background(), prefix, func(fi storage.Info) error {
		out = append(out, fi.Name)
		return nil
	})
	if err != nil {
		f.t.Fatal(err)
	}
	slices.Sort(out)
	return out
}

// checkBlobs is the cheap form of check: in every region alone, no index
// object names a missing pack, and every blob of every remembered
// snapshot the region holds is indexed in a pack the region holds.
func (f *fixture) checkBlobs(what string) {
	f.t.Helper()
	ctx := context.Background()
	for _, rn := range regionNames {
		st := f.mems[rn]
		r, err := repo.Open(ctx, st, f.id, repo.Options{})
		if err != nil {
			f.t.Fatalf("%s: region %s: open: %v", what, rn, err)
		}
		if err := r.LoadIndex(ctx); err != nil {
			f.t.Fatalf("%s: region %s: load index: %v", what, rn, err)
		}
		packs := map[string]bool{}
		for _, n := range f.names(rn, format.DataPrefix) {
			packs[n] = true
		}
		for _, p := range r.Index().Packs() {
			if !packs[format.PackName(p.ID)] {
				f.t.Fatalf("%s: region %s: the index names missing pack %s (%s)", what, rn, p.ID.Short(), f.explain(r, rn, p.ID))
			}
		}
		var held []format.ID
		for sid := range f.sources {
			if _, err := st.Stat(ctx, format.SnapshotName(sid)); err == nil {
				held = append(held, sid)
			}
		}
		if _, err := usedBlobs(ctx, r, held); err != nil {
			f.t.Fatalf("%s: region %s: %v", what, rn, err)
		}
	}
}

// check verifies the invariant: every remembered snapshot restores exactly
// from every region that holds it, read from that region alone; and no
// tombstoned object has come back in a region where it was deleted.
func (f *fixture) check(what string) {
	f.t.Helper()
	ctx := context.Background()
	for _, rn := range regionNames {
		st := f.mems[rn]
		r, err := repo.Open(ctx, st, f.id, repo.Options{})
		if err != nil {
			f.t.Fatalf("%s: region %s: open: %v", what, rn, err)
		}
		if err := r.LoadIndex(ctx); err != nil {
			f.t.Fatalf("%s: region %s: load index: %v", what, rn, err)
		}
		// No index object names a pack the region lacks.
		packs := map[string]bool{}
		for _, n := range f.names(rn, format.DataPrefix) {
			packs[n] = true
		}
		for _, p := range r.Index().Packs() {
			if !packs[format.PackName(p.ID)] {
				f.t.Fatalf("%s: region %s: the index names missing pack %s", what, rn, p.ID.Short())
			}
		}
		for sid, src := range f.sources {
			if _, err := st.Stat(ctx, format.SnapshotName(sid)); err != nil {
				continue // not in this region
			}
			snap, err := r.LoadSnapshot(ctx, sid)
			if err != nil {
				f.t.Fatalf("%s: region %s: snapshot %s: %v", what, rn, sid.Short(), err)
			}
			target := f.t.TempDir()
			var errs []string
			res, err := restore.Run(ctx, r, snap, restore.Options{Target: target,
				OnError: func(p string, err error) { errs = append(errs, p+": "+err.Error()) }})
			if err != nil || len(errs) > 0 || res.Errors > 0 {
				f.t.Fatalf("%s: region %s: restore %s: %v %v", what, rn, sid.Short(), err, errs)
			}
			diffs, err := treecmp.Compare(src, filepath.Join(target, src), treecmp.Options{})
			if err != nil || len(diffs) > 0 {
				f.t.Fatalf("%s: region %s: restore %s differs: %v %v", what, rn, sid.Short(), diffs, err)
			}
		}
	}
}

// swept reports the objects (index and packs) that some region holds
// although a gc tombstone buries them.
func (f *fixture) buriedPresent(region string) []string {
	f.t.Helper()
	var out []string
	for _, tn := range f.names(region, format.TombstonePrefix) {
		obj, ok := format.TombstonedObject(tn)
		if !ok || !(strings.HasPrefix(obj, format.DataPrefix) || strings.HasPrefix(obj, format.IndexPrefix)) {
			continue
		}
		if _, err := f.mems[region].Stat(context.Background(), obj); err == nil {
			out = append(out, obj)
		}
	}
	return out
}

// explain describes why an index names a missing pack (test diagnostics).
func (f *fixture) explain(r *repo.Repository, rn string, pack format.ID) string {
	ctx := context.Background()
	var b strings.Builder
	for _, ix := range f.names(rn, format.IndexPrefix) {
		id, _ := format.ParseName(format.IndexPrefix, ix)
		packs, err := r.ReadIndexObject(ctx, id)
		if err != nil {
			continue
		}
		for _, ip := range packs {
			if ip.ID == pack {
				fmt.Fprintf(&b, "named by %s (%d packs); ", id.Short(), len(packs))
				for _, g := range f.names("a", format.GCPrefix) {
					if rec, err := r.LoadGCRecord(ctx, genOf(g)); err == nil {
						fmt.Fprintf(&b, "%s new %v sup %v; ", g, slices.Contains(rec.NewIndex, id), slices.Contains(rec.Superseded, id))
					}
				}
			}
		}
	}
	for _, reg := range regionNames {
		_, err := f.mems[reg].Stat(ctx, format.PackName(pack))
		_, terr := f.mems[reg].Stat(ctx, format.TombstoneName(format.PackName(pack)))
		fmt.Fprintf(&b, "%s: pack %v tomb %v; ", reg, err == nil, terr == nil)
	}
	for _, g := range f.names("a", format.GCPrefix) {
		rec, err := r.LoadGCRecord(ctx, genOf(g))
		if err == nil {
			fmt.Fprintf(&b, "%s %s cond=%v resc=%v new=%d sup=%d; ", g, rec.State, slices.Contains(rec.Condemned, pack), slices.Contains(rec.Rescued, pack), len(rec.NewIndex), len(rec.Superseded))
		}
	}
	return b.String()
}

func genOf(name string) uint64 {
	g, _ := format.ParseGCName(name)
	return g
}
