package syncer

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"strings"
	"sync"
	"time"

	"lifeboat/engine/format"
	"lifeboat/engine/repo"
	"lifeboat/storage"
)

// ErrReseed reports a region that was not brought up to date for longer
// than the tombstone TTL: it may hold objects deleted since whose
// tombstones are gone, so sync refuses to merge it; `lifeboat sync
// --reseed REGION` makes it a copy of the other regions.
var ErrReseed = errors.New("region must be re-seeded")

// TombstoneVerifier authenticates tombstones; an open repository
// (*repo.Repository) is one. Given one, sync deletes the objects that
// authenticated tombstones bury; without one (a keyless sync) it never
// deletes on a tombstone's word, it only refrains from copying.
type TombstoneVerifier interface {
	VerifyTombstone(name string, data []byte) error
}

// tombstoneState is what the tombstone phase learnt: the objects sync must
// not copy, and whether it may delete them.
type tombstoneState struct {
	mu sync.Mutex
	// buried holds the objects with a tombstone that counts: an
	// authenticated one for a keyed sync, any well-formed one for a
	// keyless sync.
	buried map[string]bool
}

func (t *tombstoneState) isBuried(name string) bool {
	t.mu.Lock()
	defer t.mu.Unlock()
	return t.buried[name]
}

// copyTombstones copies the tombstones to the regions that lack them. A
// keyed sync (Options.Tombstones) copies and honours only tombstones that
// authenticate, and warns of the others; a keyless one honours every
// well-formed tombstone (it cannot tell) but deletes nothing because of
// them.
func (s *syncer) copyTombstones(ctx context.Context) error {
	lists := s.listAll(ctx, format.TombstonePrefix)
	if err := ctx.Err(); err != nil {
		return fmt.Errorf("sync: %w", err)
	}
	holders := map[string][]*member{}
	for i, l := range lists {
		if l == nil || !s.members[i].source {
			continue
		}
		for name := range l {
			if _, ok := format.TombstonedObject(name); ok {
				holders[name] = append(holders[name], s.members[i])
			}
		}
	}
	names := make([]string, 0, len(holders))
	for name, hs := range holders {
		slices.SortStableFunc(hs, func(a, b *member) int { return a.rank - b.rank })
		names = append(names, name)
	}
	slices.Sort(names)
	err := s.parallel(ctx, len(names), func(ctx context.Context, i int) {
		name := names[i]
		obj, _ := format.TombstonedObject(name)
		var good []byte
		for _, h := range holders[name] {
			data, err := storage.ReadAll(ctx, h.rd, name)
			if err != nil {
				if ctx.Err() == nil && !errors.Is(err, storage.ErrNotExist) {
					h.errorf("read %s: %v", name, err)
				}
				continue
			}
			if _, err := format.DecodeTombstone(name, data); err != nil {
				h.warnf("tombstone %s is malformed (ignored): %v", name, err)
				continue
			}
			if s.opt.Tombstones != nil {
				if err := s.opt.Tombstones.VerifyTombstone(name, data); err != nil {
					h.warnf("tombstone %s does not authenticate (not honoured, not copied; check reports it): %v", name, err)
					continue
				}
			}
			good = data
			break
		}
		if good == nil {
			return
		}
		s.tomb.mu.Lock()
		s.tomb.buried[obj] = true
		s.tomb.mu.Unlock()
		s.copyWhereMissing(ctx, lists, name, good)
	})
	return err
}

// copyWhereMissing writes data, verified by the caller, as name to every
// target member whose listing (lists, from listAll) lacks it.
func (s *syncer) copyWhereMissing(ctx context.Context, lists []map[string]storage.Info, name string, data []byte) {
	for j, m := range s.members {
		if lists[j] == nil || !m.isTarget() {
			continue
		}
		if _, ok := lists[j][name]; ok {
			continue
		}
		if err := s.set.Repair(ctx, m.name, name, data); err != nil {
			if ctx.Err() == nil {
				m.fail("write %s: %v", name, err)
			}
			continue
		}
		m.mu.Lock()
		m.rep.Copied++
		m.rep.Bytes += int64(len(data))
		m.mu.Unlock()
	}
}

// listAll lists prefix in every member taking part (nil for the others
// and for those whose listing failed, which fail).
func (s *syncer) listAll(ctx context.Context, prefix string) []map[string]storage.Info {
	lists := make([]map[string]storage.Info, len(s.members))
	var wg sync.WaitGroup
	for i, m := range s.members {
		if !m.source && !m.isTarget() {
			continue
		}
		wg.Add(1)
		go func() {
			defer wg.Done()
			names := map[string]storage.Info{}
			err := m.rd.List(ctx, prefix, func(info storage.Info) error {
				names[info.Name] = info
				return nil
			})
			if err != nil {
				if ctx.Err() == nil {
					m.fail("list %s: %v", strings.TrimSuffix(prefix, "/"), err)
				}
				return
			}
			lists[i] = names
		}()
	}
	wg.Wait()
	return lists
}

// deleteObject deletes name from m (a buried object, or one a re-seeded
// region holds and no healthy region does).
func (s *syncer) deleteObject(ctx context.Context, m *member, name string) {
	st, ok := s.set.Region(m.name)
	if !ok {
		return
	}
	if err := st.Delete(ctx, name); err != nil && !errors.Is(err, storage.ErrNotExist) {
		if ctx.Err() == nil {
			m.fail("delete %s: %v", name, err)
		}
		return
	}
	m.mu.Lock()
	m.rep.Deleted++
	m.mu.Unlock()
}

// lastSeen is the newest storage time of a region's objects.
type lastSeen struct {
	t     time.Time
	empty bool // holds no key, snapshot or tombstone (or no times)
}

// checkStale refuses (as needing a re-seed, ErrReseed) every region
// staleReasons names, and marks the regions of Options.Reseed: those are
// never copied from, and lose what no healthy region holds.
func (s *syncer) checkStale(ctx context.Context) error {
	for _, name := range s.opt.Reseed {
		m, ok := s.byName[name]
		if !ok {
			return fmt.Errorf("sync --reseed %s: no such region", name)
		}
		m.reseed = true
		m.source = false // never copied from
	}
	ttl := s.opt.TombstoneTTL
	if ttl <= 0 {
		ttl = repo.TombstoneTTL
	}
	stale, err := staleReasons(ctx, s.members, ttl)
	if err != nil {
		return err
	}
	healthy := 0
	for _, m := range s.members {
		if !m.source {
			continue
		}
		how, ok := stale[m.name]
		if !ok {
			healthy++
			continue
		}
		m.mu.Lock()
		m.rep.NeedsReseed = true
		m.mu.Unlock()
		m.errorf("%v: %s; run lifeboat sync --reseed %s", ErrReseed, how, m.name)
		m.source, m.target = false, false
	}
	if len(s.opt.Reseed) > 0 && healthy == 0 {
		return fmt.Errorf("sync --reseed: no healthy region to re-seed from: %w", ErrIncomplete)
	}
	return nil
}

// StaleRegion is a region sync refuses until it is re-seeded.
type StaleRegion struct {
	Region string `json:"region"`
	// Reason says when it was last brought up to date.
	Reason string `json:"reason"`
}

// Stale returns the regions of set that sync would refuse (ErrReseed)
// with tombstone TTL ttl (0: repo.TombstoneTTL), in configuration order.
// Regions that cannot be read, or hold another repository, are not judged.
func Stale(ctx context.Context, set Regions, ttl time.Duration) ([]StaleRegion, error) {
	if ttl <= 0 {
		ttl = repo.TombstoneTTL
	}
	ms := members(set)
	cfgs := readConfigs(ctx, ms)
	ref, _ := reference(ms, cfgs)
	for i, m := range ms {
		m.source = cfgs[i].err == nil && !cfgs[i].missing && ref != nil && string(cfgs[i].data) == string(ref)
	}
	stale, err := staleReasons(ctx, ms, ttl)
	if err != nil {
		return nil, err
	}
	var out []StaleRegion
	for _, m := range ms {
		if how, ok := stale[m.name]; ok {
			out = append(out, StaleRegion{Region: m.name, Reason: how})
		}
	}
	return out, nil
}

// staleReasons names, among the members marked source, those last
// brought up to date more than ttl before the others, each with why.
//
// A region with a sync state (state/sync-<region>, the newest copy in any
// region) is stale when that time is more than the TTL before the newest
// sync state of any region. A region without one is stale when the newest
// modification time of its keys, snapshots and tombstones is more than
// the TTL before the newest such time in any region (the storages'
// clocks, compared with each other; an empty region is never stale).
// Sync states are compared with sync states only, and storage times with
// storage times.
func staleReasons(ctx context.Context, ms []*member, ttl time.Duration) (map[string]string, error) {
	states := map[string]time.Time{}
	var newestState time.Time
	for _, m := range ms {
		if !m.source {
			continue
		}
		err := m.rd.List(ctx, StatePrefix, func(info storage.Info) error {
			region, ok := regionOfState(info.Name)
			if !ok {
				return nil
			}
			data, err := storage.ReadAll(ctx, m.rd, info.Name)
			if err != nil {
				return nil
			}
			st, err := DecodeState(data)
			if err != nil || st.Region != region {
				return nil
			}
			if st.Time.After(states[region]) {
				states[region] = st.Time
			}
			if st.Time.After(newestState) {
				newestState = st.Time
			}
			return nil
		})
		if err != nil && ctx.Err() == nil {
			m.warnf("list %s: %v", strings.TrimSuffix(StatePrefix, "/"), err)
		}
	}
	// Storage times, only when some region has no sync state.
	objTimes := map[string]*lastSeen{}
	var newestObj time.Time
	for _, m := range ms {
		if m.source && states[m.name].IsZero() {
			for _, o := range ms {
				if o.source && objTimes[o.name] == nil {
					ls := newestObject(ctx, o)
					objTimes[o.name] = ls
					if !ls.empty && ls.t.After(newestObj) {
						newestObj = ls.t
					}
				}
			}
			break
		}
	}
	if err := ctx.Err(); err != nil {
		return nil, fmt.Errorf("sync: %w", err)
	}
	out := map[string]string{}
	for _, m := range ms {
		if !m.source {
			continue
		}
		if t := states[m.name]; !t.IsZero() {
			if newestState.Sub(t) > ttl {
				out[m.name] = fmt.Sprintf("last synced %s, more than the tombstone TTL (%v) before the other regions (%s): it may hold deleted objects whose tombstones are gone",
					t.UTC().Format(time.RFC3339), ttl, newestState.UTC().Format(time.RFC3339))
			}
		} else if ls := objTimes[m.name]; ls != nil && !ls.empty && newestObj.Sub(ls.t) > ttl {
			out[m.name] = fmt.Sprintf("never synced, and its newest object was written %s, more than the tombstone TTL (%v) before the other regions': it may hold deleted objects whose tombstones are gone",
				ls.t.UTC().Format(time.RFC3339), ttl)
		}
	}
	return out, nil
}

// newestObject returns the newest modification time among m's keys,
// snapshots and tombstones.
func newestObject(ctx context.Context, m *member) *lastSeen {
	ls := &lastSeen{empty: true}
	for _, p := range []string{format.KeysPrefix, format.SnapshotPrefix, format.TombstonePrefix} {
		_ = m.rd.List(ctx, p, func(info storage.Info) error {
			ls.empty = false
			if info.ModTime.After(ls.t) {
				ls.t = info.ModTime
			}
			return nil
		})
	}
	if !ls.empty && ls.t.IsZero() {
		ls.empty = true // the backend reports no times: cannot judge
	}
	return ls
}
