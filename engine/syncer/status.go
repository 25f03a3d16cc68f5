package syncer

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"strings"
	"sync"
	"time"

	"lifeboat/engine/format"
	"lifeboat/storage"
)

// Config states reported by Status.
const (
	// ConfigOK: the region holds the repository's config.
	ConfigOK = "ok"
	// ConfigMissing: the region holds no config (never initialized or
	// synced).
	ConfigMissing = "missing"
	// ConfigDifferent: the region holds another repository.
	ConfigDifferent = "different"
	// ConfigUnknown: the region could not be read.
	ConfigUnknown = "unknown"
)

// RegionStatus describes one region, from its listing.
type RegionStatus struct {
	Name string `json:"name"`
	// Reachable is true when the region answered.
	Reachable bool   `json:"reachable"`
	Error     string `json:"error,omitempty"`
	// Latency is how long a Stat of the config took.
	Latency time.Duration `json:"latency_ns"`
	// Config is ConfigOK, ConfigMissing, ConfigDifferent or ConfigUnknown.
	Config string `json:"config"`
	// Objects and Bytes count everything the region lists.
	Objects int64 `json:"objects"`
	Bytes   int64 `json:"bytes"`
	// Snapshots and Packs count the region's snapshots and packs; the
	// Missing counts are those of the union of all regions that the
	// region lacks.
	Snapshots        int `json:"snapshots"`
	SnapshotsMissing int `json:"snapshots_missing"`
	Packs            int `json:"packs"`
	PacksMissing     int `json:"packs_missing"`
	// LastSync is the newest state object about this region found in any
	// region (nil: never synced).
	LastSync *State `json:"last_sync,omitempty"`
}

// regionListing is what Status learns from one region.
type regionListing struct {
	snapshots, packs map[string]struct{}
	states           []string
	buried           []string // objects with a tombstone here
}

// Status describes every region of set, in configuration order. now times
// the Stat (nil: time.Now). It needs no key. It fails only when ctx ends.
func Status(ctx context.Context, set Regions, now func() time.Time) ([]RegionStatus, error) {
	if now == nil {
		now = time.Now
	}
	ms := members(set)
	out := make([]RegionStatus, len(ms))
	lists := make([]*regionListing, len(ms))
	cfgs := readConfigs(ctx, ms)
	ref, _ := reference(ms, cfgs)
	var wg sync.WaitGroup
	for i, m := range ms {
		wg.Add(1)
		go func() {
			defer wg.Done()
			st := &out[i]
			st.Name = m.name
			st.Config = ConfigUnknown
			start := now()
			_, err := m.rd.Stat(ctx, format.ConfigName)
			st.Latency = max(now().Sub(start), 0)
			if err != nil && !errors.Is(err, storage.ErrNotExist) {
				st.Error = err.Error()
				return
			}
			c := cfgs[i]
			switch {
			case c.err != nil:
				st.Error = c.err.Error()
				return
			case c.missing:
				st.Config = ConfigMissing
			case bytes.Equal(c.data, ref):
				st.Config = ConfigOK
			default:
				st.Config = ConfigDifferent
			}
			l := &regionListing{snapshots: map[string]struct{}{}, packs: map[string]struct{}{}}
			err = m.rd.List(ctx, "", func(info storage.Info) error {
				st.Objects++
				st.Bytes += info.Size
				switch {
				case strings.HasPrefix(info.Name, format.SnapshotPrefix):
					l.snapshots[info.Name] = struct{}{}
				case strings.HasPrefix(info.Name, format.DataPrefix):
					l.packs[info.Name] = struct{}{}
				case strings.HasPrefix(info.Name, StatePrefix):
					l.states = append(l.states, info.Name)
				case strings.HasPrefix(info.Name, format.TombstonePrefix):
					if obj, ok := format.TombstonedObject(info.Name); ok {
						l.buried = append(l.buried, obj)
					}
				}
				return nil
			})
			if err != nil {
				st.Error = fmt.Sprintf("list: %v", err)
				return
			}
			st.Reachable = true
			st.Snapshots, st.Packs = len(l.snapshots), len(l.packs)
			lists[i] = l
		}()
	}
	wg.Wait()
	if err := ctx.Err(); err != nil {
		return out, fmt.Errorf("region status: %w", err)
	}
	// Union of the regions holding the repository.
	snaps, packs := map[string]struct{}{}, map[string]struct{}{}
	for i, l := range lists {
		if l == nil || out[i].Config != ConfigOK {
			continue
		}
		for n := range l.snapshots {
			snaps[n] = struct{}{}
		}
		for n := range l.packs {
			packs[n] = struct{}{}
		}
	}
	// A region lacks a tombstoned object because it was deleted: not
	// behind (keyless, so any well-formed tombstone counts, as for sync).
	for i, l := range lists {
		if l == nil || out[i].Config != ConfigOK {
			continue
		}
		for _, n := range l.buried {
			delete(snaps, n)
			delete(packs, n)
		}
	}
	for i, l := range lists {
		if l == nil {
			continue
		}
		out[i].SnapshotsMissing = missingFrom(snaps, l.snapshots)
		out[i].PacksMissing = missingFrom(packs, l.packs)
	}
	// Last sync: the newest state object about each region, in any region.
	for i, l := range lists {
		if l == nil || out[i].Config != ConfigOK {
			continue
		}
		for _, name := range l.states {
			region, ok := regionOfState(name)
			if !ok {
				continue
			}
			data, err := storage.ReadAll(ctx, ms[i].rd, name)
			if err != nil {
				continue
			}
			s, err := DecodeState(data)
			if err != nil || s.Region != region {
				continue
			}
			for j := range out {
				if out[j].Name == region && (out[j].LastSync == nil || s.Time.After(out[j].LastSync.Time)) {
					out[j].LastSync = s
				}
			}
		}
	}
	return out, nil
}

func missingFrom(union, have map[string]struct{}) int {
	n := 0
	for name := range union {
		if _, ok := have[name]; !ok {
			n++
		}
	}
	return n
}
