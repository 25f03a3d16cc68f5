package syncer

import (
	"bytes"
	"context"
	"fmt"
	"maps"
	"slices"
	"strings"
	"sync"

	"lifeboat/engine/format"
	"lifeboat/engine/repo"
	"lifeboat/storage"
)

// Presence is an object some regions hold and others lack.
type Presence struct {
	Object  string   `json:"object"`
	Present []string `json:"present"`
	Missing []string `json:"missing"`
}

// SizeDrift is a pack whose copies do not all have the size the index
// gives it (Want is 0 for a pack no index names).
type SizeDrift struct {
	Object string           `json:"object"`
	Want   int64            `json:"want"`
	Sizes  map[string]int64 `json:"sizes"`
}

// Unreferenced is a pack that no index object names (left by an
// interrupted upload; harmless, and not counted as drift).
type Unreferenced struct {
	Object  string   `json:"object"`
	Regions []string `json:"regions"`
	Size    int64    `json:"size"`
}

// AuditReport compares the regions of a repository.
type AuditReport struct {
	// Regions are the regions audited (a region holding another
	// repository is only named in Config); Unreachable maps the regions
	// that could not be listed to their error.
	Regions     []string          `json:"regions"`
	Unreachable map[string]string `json:"unreachable,omitempty"`
	// Config lists regions whose config is missing or differs.
	Config []string `json:"config_drift,omitempty"`
	// Keys, Index and Snapshots list objects present in some audited
	// regions and missing in others.
	Keys      []Presence `json:"key_drift,omitempty"`
	Index     []Presence `json:"index_drift,omitempty"`
	Snapshots []Presence `json:"snapshot_drift,omitempty"`
	// MissingPacks lists packs an index object names that some regions
	// lack.
	MissingPacks []Presence `json:"missing_packs,omitempty"`
	// PackSizes lists packs whose size differs between regions or from
	// the index.
	PackSizes []SizeDrift `json:"pack_sizes,omitempty"`
	// Unreferenced lists packs no index object names.
	Unreferenced []Unreferenced `json:"unreferenced_packs,omitempty"`
	// IndexErrors lists index objects that could not be read or verified.
	IndexErrors []string `json:"index_errors,omitempty"`
	// Tombstoned lists objects deleted with a tombstone that some regions
	// still hold (Present): a keyed `lifeboat sync` deletes them. They
	// are not in Keys, Index or Snapshots.
	Tombstoned []Presence `json:"tombstoned_present,omitempty"`
	// TombstoneErrors lists tombstones that do not authenticate with the
	// repository key (forged or damaged): nothing honours them.
	TombstoneErrors []string `json:"tombstone_errors,omitempty"`
	// Stale lists the regions sync refuses until re-seeded.
	Stale []StaleRegion `json:"needs_reseed,omitempty"`
	// Packs and IndexObjects count the union's packs and index objects.
	Packs        int `json:"packs"`
	IndexObjects int `json:"index_objects"`
}

// Drift reports whether the audit found the regions out of step or
// damage: any finding except unreferenced packs and unreachable regions.
func (a *AuditReport) Drift() bool {
	return len(a.Config)+len(a.Keys)+len(a.Index)+len(a.Snapshots)+len(a.MissingPacks)+len(a.PackSizes)+len(a.IndexErrors)+
		len(a.Tombstoned)+len(a.TombstoneErrors)+len(a.Stale) > 0
}

// Audit compares the regions of set, which must be the storage r was
// opened on: the listings of keys/, index/, snapshots/ and data/, and the
// packs that the union of all regions' index objects names. It reads and
// decrypts every index object (through r, with failover) but no pack.
// It fails only when ctx ends or no region can be listed.
func Audit(ctx context.Context, r *repo.Repository, set Regions) (*AuditReport, error) {
	ms := members(set)
	rep := &AuditReport{}
	cfgs := readConfigs(ctx, ms)
	ref, _ := reference(ms, cfgs)
	type listing map[string]int64
	lists := make([]map[string]listing, len(ms)) // by prefix
	errs := make([]error, len(ms))
	prefixes := []string{format.KeysPrefix, format.IndexPrefix, format.SnapshotPrefix, format.DataPrefix}
	var wg sync.WaitGroup
	for i, m := range ms {
		if cfgs[i].err != nil {
			errs[i] = cfgs[i].err
			continue
		}
		wg.Add(1)
		go func() {
			defer wg.Done()
			l := map[string]listing{}
			for _, p := range prefixes {
				names := listing{}
				err := m.rd.List(ctx, p, func(info storage.Info) error {
					if _, err := format.ParseName(p, info.Name); err == nil {
						names[info.Name] = info.Size
					}
					return nil
				})
				if err != nil {
					errs[i] = fmt.Errorf("list %s: %w", p, err)
					return
				}
				l[p] = names
			}
			lists[i] = l
		}()
	}
	wg.Wait()
	if err := ctx.Err(); err != nil {
		return nil, fmt.Errorf("audit: %w", err)
	}
	var live []int
	for i, m := range ms {
		if errs[i] != nil {
			if rep.Unreachable == nil {
				rep.Unreachable = map[string]string{}
			}
			rep.Unreachable[m.name] = errs[i].Error()
			continue
		}
		if !cfgs[i].missing && !bytes.Equal(cfgs[i].data, ref) {
			// Another repository: its objects are not ours to compare.
			rep.Config = append(rep.Config, m.name)
			continue
		}
		if cfgs[i].missing {
			rep.Config = append(rep.Config, m.name)
		}
		live = append(live, i)
		rep.Regions = append(rep.Regions, m.name)
	}
	if len(live) == 0 {
		return rep, fmt.Errorf("audit: no region could be listed")
	}
	// presence returns, for every name under prefix in any live region,
	// the regions holding it and those lacking it.
	presence := func(prefix string) (map[string][]string, []string) {
		where := map[string][]string{}
		for _, i := range live {
			for name := range lists[i][prefix] {
				where[name] = append(where[name], ms[i].name)
			}
		}
		return where, slices.Sorted(maps.Keys(where))
	}
	drift := func(prefix string) []Presence {
		var out []Presence
		where, names := presence(prefix)
		for _, name := range names {
			if p := presenceOf(name, where[name], ms, live); len(p.Missing) > 0 {
				out = append(out, p)
			}
		}
		return out
	}
	rep.Keys = drift(format.KeysPrefix)
	rep.Index = drift(format.IndexPrefix)
	rep.Snapshots = drift(format.SnapshotPrefix)
	holding := func(name string) Presence {
		var present []string
		for _, pfx := range prefixes {
			if strings.HasPrefix(name, pfx) {
				for _, i := range live {
					if _, ok := lists[i][pfx][name]; ok {
						present = append(present, ms[i].name)
					}
				}
			}
		}
		return presenceOf(name, present, ms, live)
	}
	if err := auditTombstones(ctx, r, set, rep, holding); err != nil {
		return nil, err
	}

	// The packs the union of the index objects names, with their sizes.
	_, indexNames := presence(format.IndexPrefix)
	rep.IndexObjects = len(indexNames)
	want := map[string]int64{}
	var mu sync.Mutex
	sem := make(chan struct{}, DefaultConcurrency)
	for _, name := range indexNames {
		id, err := format.ParseName(format.IndexPrefix, name)
		if err != nil {
			continue
		}
		if ctx.Err() != nil {
			break
		}
		sem <- struct{}{}
		wg.Add(1)
		go func() {
			defer wg.Done()
			defer func() { <-sem }()
			packs, err := r.ReadIndexObject(ctx, id)
			mu.Lock()
			defer mu.Unlock()
			if err != nil {
				rep.IndexErrors = append(rep.IndexErrors, fmt.Sprintf("%s: %v", name, err))
				return
			}
			for _, p := range packs {
				if _, ok := want[format.PackName(p.ID)]; !ok {
					want[format.PackName(p.ID)] = p.Size
				}
			}
		}()
	}
	wg.Wait()
	if err := ctx.Err(); err != nil {
		return nil, fmt.Errorf("audit: %w", err)
	}
	slices.Sort(rep.IndexErrors)
	where, packNames := presence(format.DataPrefix)
	for name := range want {
		if _, ok := where[name]; !ok {
			packNames = append(packNames, name)
		}
	}
	slices.Sort(packNames)
	rep.Packs = len(packNames)
	for _, name := range packNames {
		size, referenced := want[name]
		p := presenceOf(name, where[name], ms, live)
		if !referenced {
			u := Unreferenced{Object: name, Regions: p.Present}
			for _, i := range live {
				if sz, ok := lists[i][format.DataPrefix][name]; ok {
					u.Size = sz
					break
				}
			}
			rep.Unreferenced = append(rep.Unreferenced, u)
		} else if len(p.Missing) > 0 {
			rep.MissingPacks = append(rep.MissingPacks, p)
		}
		sizes := map[string]int64{}
		differ := false
		first := int64(-1)
		for _, i := range live {
			sz, ok := lists[i][format.DataPrefix][name]
			if !ok {
				continue
			}
			sizes[ms[i].name] = sz
			if first < 0 {
				first = sz
			}
			differ = differ || sz != first || referenced && sz != size
		}
		if differ {
			if !referenced {
				size = 0
			}
			rep.PackSizes = append(rep.PackSizes, SizeDrift{Object: name, Want: size, Sizes: sizes})
		}
	}
	return rep, nil
}

// presenceOf splits the live regions into those holding an object and
// those lacking it, in configuration order.
func presenceOf(name string, present []string, ms []*member, live []int) Presence {
	p := Presence{Object: name, Present: []string{}, Missing: []string{}}
	for _, i := range live {
		if slices.Contains(present, ms[i].name) {
			p.Present = append(p.Present, ms[i].name)
		} else {
			p.Missing = append(p.Missing, ms[i].name)
		}
	}
	return p
}
