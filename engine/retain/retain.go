package retain

import (
	"context"
	"errors"
	"fmt"
	"sort"
	"sync"
	"time"

	"golang.org/x/sync/errgroup"

	"lifeboat/engine/format"
	"lifeboat/engine/repo"
	"lifeboat/storage"
)

// ErrUnprotected reports an object a kept snapshot needs whose retention
// has ended (or that has none) in a region with object lock.
var ErrUnprotected = errors.New("not protected by object lock")

// ErrNoObjectLock reports an Extend over a storage none of whose regions
// has object lock.
var ErrNoObjectLock = errors.New("no region has object lock")

// Region is one region of a repository's storage.
type Region struct {
	Name    string
	Storage storage.Storage
}

// Regions returns the regions of st: those of its region set
// (storage.Capabilities().Regions), or st itself as one region named "".
func Regions(st storage.Storage) []Region {
	set := st.Capabilities().Regions
	if set == nil {
		return []Region{{Storage: st}}
	}
	var out []Region
	for _, name := range set.Names() {
		if rs, ok := set.Region(name); ok {
			out = append(out, Region{Name: name, Storage: rs})
		}
	}
	return out
}

// Locked reports the object lock of a region (nil: none) and its Retainer.
func Locked(rg Region) (*storage.ObjectLock, storage.Retainer) {
	ol := rg.Storage.Capabilities().ObjectLock
	if ol == nil {
		return nil, nil
	}
	rt, ok := storage.FindRetainer(rg.Storage)
	if !ok {
		return nil, nil
	}
	return ol, rt
}

// Object is an object the kept snapshots need.
type Object struct {
	Name string
	// Snapshot is the oldest kept snapshot needing it (zero for the
	// config and keys, which every snapshot needs).
	Snapshot format.ID
}

// Reach is what the kept snapshots need.
type Reach struct {
	// Snapshots are the kept snapshots, oldest first.
	Snapshots []repo.SnapshotRef
	// Objects are the objects they need, sorted by name.
	Objects []Object
}

// Options adjust Extend and Verify.
type Options struct {
	// Keep selects the kept snapshots (nil: every snapshot present).
	// The hook for the retention policy: forgotten snapshots are not kept.
	Keep func(repo.SnapshotRef) bool
	// Now is the clock retain-until dates are computed from (nil: the
	// repository's clock).
	Now func() time.Time
	// Concurrency bounds requests in flight per region (0: 8).
	Concurrency int
	// Host names the machine, recorded in the state (Extend).
	Host string
	// MaxPacks bounds how many packs Verify reads the retention of per
	// region (0: DefaultMaxPacks; all when fewer are needed).
	MaxPacks int
	// Seed chooses which packs Verify samples.
	Seed uint64
}

// DefaultMaxPacks is Options.MaxPacks when zero.
const DefaultMaxPacks = 256

func (o *Options) defaults(r *repo.Repository) {
	if o.Now == nil {
		o.Now = r.Now
	}
	if o.Concurrency <= 0 {
		o.Concurrency = 8
	}
	if o.MaxPacks <= 0 {
		o.MaxPacks = DefaultMaxPacks
	}
}

// Reachable lists the kept snapshots of r (never tombstoned ones) and
// every object they need: the config, the keys in use (not tombstoned),
// the snapshot objects, the packs holding their trees
// and file blobs, and the index objects naming those packs. A snapshot or
// tree that cannot be read fails it: extending only part of what a
// snapshot needs would claim a protection it does not have.
func Reachable(ctx context.Context, r *repo.Repository, keep func(repo.SnapshotRef) bool) (*Reach, error) {
	if err := r.LoadIndex(ctx); err != nil {
		return nil, fmt.Errorf("load index: %w", err)
	}
	all, err := r.Snapshots(ctx)
	if err != nil {
		return nil, fmt.Errorf("list snapshots: %w", err)
	}
	res := &Reach{}
	for _, s := range all {
		if keep == nil || keep(s) {
			res.Snapshots = append(res.Snapshots, s)
		}
	}
	needs := map[string]format.ID{format.ConfigName: {}}
	// The keys in use: a removed (tombstoned) key is not extended, so its
	// lock lapses like garbage.
	keys, err := r.Keys(ctx)
	if err != nil {
		return nil, fmt.Errorf("list keys: %w", err)
	}
	for _, k := range keys {
		needs[k.Name] = format.ID{}
	}
	idx := r.Index()
	packs := map[format.ID]format.ID{} // pack -> oldest snapshot
	blob := func(b, snap format.ID) error {
		loc, ok := idx.Lookup(b)
		if !ok {
			return fmt.Errorf("snapshot %s: blob %s: %w", snap.Short(), b.Short(), repo.ErrBlobNotFound)
		}
		if _, ok := packs[loc.Pack.ID]; !ok {
			packs[loc.Pack.ID] = snap
		}
		return nil
	}
	seen := map[format.ID]bool{}
	for _, s := range res.Snapshots {
		needs[format.SnapshotName(s.ID)] = s.ID
		stack := []format.ID{s.Tree}
		for len(stack) > 0 {
			if err := ctx.Err(); err != nil {
				return nil, err
			}
			id := stack[len(stack)-1]
			stack = stack[:len(stack)-1]
			if seen[id] {
				continue
			}
			seen[id] = true
			if err := blob(id, s.ID); err != nil {
				return nil, err
			}
			t, err := r.LoadTree(ctx, id)
			if err != nil {
				return nil, fmt.Errorf("snapshot %s: tree %s: %w", s.ID.Short(), id.Short(), err)
			}
			for i := range t.Nodes {
				n := &t.Nodes[i]
				switch {
				case n.Type == format.TypeDir && n.Subtree != nil:
					stack = append(stack, *n.Subtree)
				case n.Type == format.TypeFile:
					for _, b := range n.Content {
						if err := blob(b, s.ID); err != nil {
							return nil, err
						}
					}
				}
			}
		}
	}
	for p, snap := range packs {
		needs[format.PackName(p)] = snap
	}
	// The index objects naming a needed pack.
	files := idx.Files()
	var mu sync.Mutex
	g, gctx := errgroup.WithContext(ctx)
	g.SetLimit(8)
	for _, f := range files {
		g.Go(func() error {
			ips, err := r.ReadIndexObject(gctx, f)
			if err != nil {
				return fmt.Errorf("index %s: %w", f.Short(), err)
			}
			var oldest format.ID
			found := false
			for i := range ips {
				if snap, ok := packs[ips[i].ID]; ok && (!found || older(res.Snapshots, snap, oldest)) {
					oldest, found = snap, true
				}
			}
			if found {
				mu.Lock()
				needs[format.IndexName(f)] = oldest
				mu.Unlock()
			}
			return nil
		})
	}
	if err := g.Wait(); err != nil {
		return nil, err
	}
	for name, snap := range needs {
		res.Objects = append(res.Objects, Object{Name: name, Snapshot: snap})
	}
	sort.Slice(res.Objects, func(i, j int) bool { return res.Objects[i].Name < res.Objects[j].Name })
	return res, nil
}

// older reports whether snapshot a comes before b in snaps (oldest first).
func older(snaps []repo.SnapshotRef, a, b format.ID) bool {
	for _, s := range snaps {
		switch s.ID {
		case a:
			return a != b
		case b:
			return false
		}
	}
	return false
}

// RegionReport is one region's extension.
type RegionReport struct {
	Region string `json:"region"`
	Mode   string `json:"mode"`
	// Period is the region's lock period.
	Period time.Duration `json:"period_ns"`
	// Until is the retain-until date the kept objects now reach.
	Until time.Time `json:"until"`
	// Objects counts the kept objects extended (or already retained
	// long enough).
	Objects int `json:"objects"`
	// Missing counts kept objects the region lacks (sync copies them,
	// locked at write).
	Missing int `json:"missing"`
	// Error is why the region's extension is incomplete ("" when it is
	// complete and its state was recorded).
	Error string `json:"error,omitempty"`
}

// Report is the outcome of Extend.
type Report struct {
	Snapshots int            `json:"snapshots"`
	Objects   int            `json:"objects"`
	Regions   []RegionReport `json:"regions"`
}

// ErrIncomplete is returned by Extend when some region could not be
// extended completely.
var ErrIncomplete = errors.New("lock extension incomplete")

// Extend extends, in every region of regs with object lock, the retention
// of every object the kept snapshots of r need to now plus the region's
// period, and records the region's State. Regions without object lock are
// skipped. A region whose extension fails is reported (RegionReport.Error)
// and the others still proceed; the error then wraps ErrIncomplete.
func Extend(ctx context.Context, r *repo.Repository, regs []Region, opts Options) (*Report, error) {
	opts.defaults(r)
	locked := lockedRegions(regs)
	if len(locked) == 0 {
		return nil, ErrNoObjectLock
	}
	reach, err := Reachable(ctx, r, opts.Keep)
	if err != nil {
		return nil, err
	}
	rep := &Report{Snapshots: len(reach.Snapshots), Objects: len(reach.Objects)}
	var failed []string
	for _, rg := range locked {
		rr := extendRegion(ctx, rg, reach, opts)
		if rr.Error != "" {
			failed = append(failed, rg.Name)
		}
		rep.Regions = append(rep.Regions, rr)
	}
	if err := ctx.Err(); err != nil {
		return rep, err
	}
	if len(failed) > 0 {
		return rep, fmt.Errorf("%w in region(s) %v", ErrIncomplete, failed)
	}
	return rep, nil
}

func extendRegion(ctx context.Context, rg Region, reach *Reach, opts Options) RegionReport {
	ol, rt := Locked(rg)
	start := opts.Now()
	until := start.Add(ol.Period)
	rr := RegionReport{Region: rg.Name, Mode: ol.Mode, Period: ol.Period, Until: until}
	var mu sync.Mutex
	g, gctx := errgroup.WithContext(ctx)
	g.SetLimit(opts.Concurrency)
	for _, o := range reach.Objects {
		g.Go(func() error {
			err := withRetry(gctx, func() error { return rt.ExtendRetention(gctx, o.Name, until) })
			mu.Lock()
			defer mu.Unlock()
			switch {
			case err == nil:
				rr.Objects++
			case errors.Is(err, storage.ErrNotExist):
				rr.Missing++
			default:
				return fmt.Errorf("extend %s: %w", o.Name, err)
			}
			return nil
		})
	}
	if err := g.Wait(); err != nil {
		rr.Error = err.Error()
		return rr
	}
	st := &State{Version: StateVersion, Region: rg.Name, Time: start, Until: until, Mode: ol.Mode, Period: ol.Period, Host: opts.Host}
	for _, s := range reach.Snapshots {
		st.Snapshots = append(st.Snapshots, s.ID)
	}
	if err := SaveState(ctx, rg.Storage, st); err != nil {
		rr.Error = err.Error()
	}
	return rr
}

// Retries of a transient failure of one retention request (the Retainer
// is reached beneath the storage's retry wrapper).
const (
	retryAttempts = 3
	retryBackoff  = 200 * time.Millisecond
)

// withRetry runs fn up to retryAttempts times while it fails with a
// transient error, backing off in between.
func withRetry(ctx context.Context, fn func() error) error {
	var err error
	for attempt := 1; attempt <= retryAttempts; attempt++ {
		if err = fn(); err == nil || !storage.IsTransient(err) || attempt == retryAttempts {
			return err
		}
		select {
		case <-ctx.Done():
			return err
		case <-time.After(time.Duration(attempt) * retryBackoff):
		}
	}
	return err
}

// lockedRegions returns the regions of regs that have object lock.
func lockedRegions(regs []Region) []Region {
	var locked []Region
	for _, rg := range regs {
		if ol, _ := Locked(rg); ol != nil {
			locked = append(locked, rg)
		}
	}
	return locked
}
