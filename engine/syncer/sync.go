package syncer

import (
	"bytes"
	"context"
	"crypto/sha256"
	"errors"
	"fmt"
	"io"
	"os"
	"slices"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"lifeboat/engine/format"
	"lifeboat/engine/repo"
	"lifeboat/storage"
)

// Errors of a sync.
var (
	// ErrForeignRepository reports a region whose config differs from the
	// repository's: it holds another repository and is left alone.
	ErrForeignRepository = errors.New("region holds a different repository")
	// ErrIncomplete reports a sync that left some region behind (an
	// unreachable region, a failed listing, read or write).
	ErrIncomplete = errors.New("sync incomplete")
	// ErrLost reports objects none of whose copies verifies.
	ErrLost = errors.New("no good copy in any region")
)

// DefaultConcurrency is the default Options.Concurrency.
const DefaultConcurrency = 4

// maxErrors bounds the errors kept per region.
const maxErrors = 100

// Options tune a sync.
type Options struct {
	// Verify downloads and hashes every existing copy, not only the ones
	// whose size is wrong, and replaces the bad ones.
	Verify bool
	// Bad names objects known to be bad somewhere (from check, a failed
	// restore): all their copies are hashed, as with Verify.
	Bad []string
	// Concurrency bounds the objects copied at once; each holds one object
	// in memory (0: DefaultConcurrency).
	Concurrency int
	// Now is the clock for the state objects (nil: time.Now).
	Now func() time.Time
	// Host is recorded in the state objects (empty: os.Hostname).
	Host string
	// Tombstones, when set, authenticates tombstones: sync then honours
	// and copies only authenticated ones, and deletes the objects they
	// bury from the regions that still hold them. Without it (a keyless
	// sync) every well-formed tombstone stops its object from being
	// copied, and nothing is deleted.
	Tombstones TombstoneVerifier
	// Reseed names regions to re-seed: they are never copied from, every
	// key, pack, index and snapshot object they hold that no healthy
	// region holds is deleted from them, and they receive the rest.
	Reseed []string
	// TombstoneTTL is how long tombstones are kept (0: repo.TombstoneTTL);
	// a region not synced for longer than that before the others must be
	// re-seeded (ErrReseed).
	TombstoneTTL time.Duration
}

// RegionReport is what a sync did to one region.
type RegionReport struct {
	Region string `json:"region"`
	// Copied counts objects written to the region (missing or bad ones).
	Copied int64 `json:"objects_copied"`
	// Bytes counts the bytes of those objects.
	Bytes int64 `json:"bytes_copied"`
	// Replaced counts copies that were present but bad (wrong size or
	// hash) and were rewritten (included in Copied).
	Replaced int64 `json:"bad_replaced"`
	// Verified counts copies in the region that were downloaded and hashed.
	Verified int64 `json:"verified"`
	// Complete is true when the region holds every object of the
	// repository the other regions could provide.
	Complete bool `json:"complete"`
	// Errors describes what went wrong (at most 100, then a count).
	Errors []string `json:"errors,omitempty"`
	// Warnings describes problems that left no object behind (recording
	// the sync state).
	Warnings []string `json:"warnings,omitempty"`
	// Foreign is true when the region holds a different repository.
	Foreign bool `json:"foreign_repository,omitempty"`
	// Deleted counts objects deleted from the region: tombstoned ones
	// (keyed sync) and, when re-seeded, those no healthy region holds.
	Deleted int64 `json:"objects_deleted"`
	// Tombstoned counts tombstoned objects left in the region because
	// the sync had no key to authenticate their tombstones.
	Tombstoned int64 `json:"tombstoned_left,omitempty"`
	// NeedsReseed is true when the region was refused because it was not
	// synced for longer than the tombstone TTL (ErrReseed).
	NeedsReseed bool `json:"needs_reseed,omitempty"`
	// Reseeded is true when the region was re-seeded (Options.Reseed).
	Reseeded bool `json:"reseeded,omitempty"`
}

// Report is the outcome of a sync, one entry per region in
// configuration order.
type Report struct {
	Regions []RegionReport `json:"regions"`
	// Objects counts the distinct objects considered.
	Objects int64 `json:"objects"`
	// Lost lists objects none of whose copies verifies.
	Lost []string `json:"lost,omitempty"`
}

// member is one region during a sync.
type member struct {
	name string
	rd   storage.Reader // reads this region only
	rank int            // read preference

	// Set before the copy phases, then read-only.
	source   bool // reachable and holds the repository (or nothing)
	noConfig bool
	reseed   bool // being re-seeded: never a source

	mu          sync.Mutex
	target      bool // may receive objects of the next prefix
	phaseFailed bool
	dropped     int
	rep         RegionReport
}

func (m *member) errorf(format string, args ...any) {
	m.mu.Lock()
	defer m.mu.Unlock()
	if len(m.rep.Errors) < maxErrors {
		m.rep.Errors = append(m.rep.Errors, fmt.Sprintf(format, args...))
	} else {
		m.dropped++
	}
}

// fail records an error that keeps the region from the later prefixes.
func (m *member) fail(format string, args ...any) {
	m.errorf(format, args...)
	m.mu.Lock()
	m.phaseFailed = true
	m.mu.Unlock()
}

func (m *member) isTarget() bool {
	m.mu.Lock()
	defer m.mu.Unlock()
	return m.target
}

type syncer struct {
	set     Regions
	opt     Options
	members []*member // configuration order
	byName  map[string]*member
	bad     map[string]bool
	config  []byte
	tomb    tombstoneState

	mu      sync.Mutex
	objects int64
	lost    []string
}

// Regions is what sync, audit and status need of a region set (the
// storage.RegionSet of a region set's Capabilities().Regions has it): the
// regions by name, a reader per region in read preference order, and a way
// to rewrite one region's copy of an object.
type Regions interface {
	// Names lists the regions in configuration order.
	Names() []string
	// Region returns the named region's own storage.
	Region(name string) (storage.Storage, bool)
	// Replicas returns one reader per region, in read preference order.
	Replicas() []storage.Replica
	// Repair rewrites name in region with data the caller verified.
	Repair(ctx context.Context, region, name string, data []byte) error
}

// members returns the regions of set in configuration order, each with
// its replica reader and preference rank.
func members(set Regions) []*member {
	reps := set.Replicas()
	var out []*member
	for _, name := range set.Names() {
		m := &member{name: name, rank: len(reps), rep: RegionReport{Region: name}}
		for i, rep := range reps {
			if rep.Region == name {
				m.rd, m.rank = rep.Reader, i
			}
		}
		if m.rd == nil {
			// Not among the replicas: read the region's storage directly.
			st, _ := set.Region(name)
			m.rd = st
		}
		out = append(out, m)
	}
	return out
}

// Sync copies missing and bad objects between the regions of set until
// each holds the whole repository. See the package documentation. It
// returns a report even when it fails; the error wraps ErrIncomplete when
// some region could not be completed, ErrForeignRepository when a region
// was refused, ErrLost when objects have no good copy, and
// repo.ErrNoRepository when no region holds a config.
func Sync(ctx context.Context, set Regions, opt Options) (*Report, error) {
	if opt.Concurrency <= 0 {
		opt.Concurrency = DefaultConcurrency
	}
	if opt.Now == nil {
		opt.Now = time.Now
	}
	if opt.Host == "" {
		if h, err := os.Hostname(); err == nil {
			opt.Host = h
		}
	}
	s := &syncer{set: set, opt: opt, members: members(set), byName: map[string]*member{}, bad: map[string]bool{},
		tomb: tombstoneState{buried: map[string]bool{}}}
	for _, m := range s.members {
		s.byName[m.name] = m
	}
	for _, name := range opt.Bad {
		s.bad[name] = true
	}
	if err := s.readConfigs(ctx); err != nil {
		return s.report(), err
	}
	if err := s.checkStale(ctx); err != nil {
		return s.report(), err
	}
	steps := []func(context.Context) error{
		// Tombstones first: nothing they bury is copied.
		s.copyTombstones,
		func(ctx context.Context) error { return s.copyPrefix(ctx, format.KeysPrefix) },
		s.copyConfig,
		func(ctx context.Context) error { return s.copyPrefix(ctx, format.DataPrefix) },
		func(ctx context.Context) error { return s.copyPrefix(ctx, format.IndexPrefix) },
		func(ctx context.Context) error { return s.copyPrefix(ctx, format.SnapshotPrefix) },
		// Commit records after what they name (chain.go).
		s.copyChain,
		// Drill records are evidence: every region keeps them all.
		func(ctx context.Context) error { return s.copyPrefix(ctx, repo.DrillPrefix) },
	}
	for _, step := range steps {
		if err := step(ctx); err != nil {
			return s.report(), err
		}
		s.endPhase()
	}
	for _, m := range s.members {
		m.mu.Lock()
		m.rep.Complete = m.target && len(m.rep.Errors) == 0
		m.rep.Reseeded = m.reseed && m.rep.Complete
		m.mu.Unlock()
	}
	s.recordState(ctx)
	rep := s.report()
	return rep, s.result(rep)
}

// readConfigs reads every region's config and decides which regions take
// part.
func (s *syncer) readConfigs(ctx context.Context) error {
	cfgs := readConfigs(ctx, s.members)
	if err := ctx.Err(); err != nil {
		return fmt.Errorf("sync: %w", err)
	}
	ref, err := reference(s.members, cfgs)
	if err != nil {
		return fmt.Errorf("sync: %w", err)
	}
	s.config = ref
	for i, m := range s.members {
		c := cfgs[i]
		switch {
		case c.err != nil:
			m.errorf("unreachable: %v", c.err)
		case c.missing:
			m.noConfig = true
			m.target = true
		case !bytes.Equal(c.data, ref):
			m.rep.Foreign = true
			m.errorf("%v: its config differs from the repository's (not synced)", ErrForeignRepository)
		default:
			m.source, m.target = true, true
		}
	}
	return nil
}

// configResult is one region's config object.
type configResult struct {
	data    []byte
	missing bool
	err     error
}

// readConfigs reads the config of every member concurrently.
func readConfigs(ctx context.Context, ms []*member) []configResult {
	out := make([]configResult, len(ms))
	var wg sync.WaitGroup
	for i, m := range ms {
		wg.Add(1)
		go func() {
			defer wg.Done()
			data, err := readConfig(ctx, m.rd)
			switch {
			case errors.Is(err, storage.ErrNotExist):
				out[i].missing = true
			case err != nil:
				out[i].err = err
			default:
				out[i].data = data
			}
		}()
	}
	wg.Wait()
	return out
}

// maxConfigSize bounds the config object read: a real one is well under
// a kilobyte.
const maxConfigSize = 1 << 20

// readConfig reads a region's config object, refusing one too big to be a
// repository's.
func readConfig(ctx context.Context, rd storage.Reader) ([]byte, error) {
	body, err := rd.Get(ctx, format.ConfigName, 0, maxConfigSize+1)
	if err != nil {
		return nil, err
	}
	defer body.Close()
	data, err := io.ReadAll(body)
	if err != nil {
		return nil, fmt.Errorf("read %s: %w", format.ConfigName, err)
	}
	if len(data) > maxConfigSize {
		return nil, fmt.Errorf("%s is more than %d bytes: not a repository config", format.ConfigName, maxConfigSize)
	}
	return data, nil
}

// reference picks the repository's config: the bytes most regions hold,
// ties going to the preferred region.
func reference(ms []*member, cfgs []configResult) ([]byte, error) {
	var best []byte
	bestCount, bestRank := 0, 0
	unreachable := 0
	for _, c := range cfgs {
		if c.err != nil {
			unreachable++
		}
		if c.data == nil {
			continue
		}
		count, rank := 0, len(ms)
		for j, d := range cfgs {
			if d.data != nil && bytes.Equal(d.data, c.data) {
				count++
				rank = min(rank, ms[j].rank)
			}
		}
		if count > bestCount || count == bestCount && rank < bestRank {
			best, bestCount, bestRank = c.data, count, rank
		}
	}
	if best == nil {
		if unreachable > 0 {
			var errs []error
			for i, c := range cfgs {
				if c.err != nil {
					errs = append(errs, fmt.Errorf("region %s: %w", ms[i].name, c.err))
				}
			}
			return nil, fmt.Errorf("no reachable region holds a repository config: %w", errors.Join(errs...))
		}
		return nil, fmt.Errorf("no region holds a repository config: %w", repo.ErrNoRepository)
	}
	return best, nil
}

// endPhase keeps the regions that failed a step from the later ones.
func (s *syncer) endPhase() {
	for _, m := range s.members {
		m.mu.Lock()
		if m.phaseFailed {
			m.target = false
		}
		m.mu.Unlock()
	}
}

// copyConfig writes the config to the regions that lack it.
func (s *syncer) copyConfig(ctx context.Context) error {
	for _, m := range s.members {
		if !m.noConfig || !m.isTarget() {
			continue
		}
		st, ok := s.set.Region(m.name)
		if !ok {
			continue
		}
		err := storage.PutBytes(ctx, st, format.ConfigName, s.config, storage.PutOptions{IfNotExists: true})
		if errors.Is(err, storage.ErrExist) {
			// Created meanwhile: fine if it is the same repository.
			data, rerr := readConfig(ctx, m.rd)
			switch {
			case rerr != nil:
				m.fail("read config: %v", rerr)
			case !bytes.Equal(data, s.config):
				m.rep.Foreign = true
				m.fail("%v: a different config appeared during the sync", ErrForeignRepository)
			}
			continue
		}
		if err != nil {
			if ctx.Err() != nil {
				return fmt.Errorf("sync: %w", ctx.Err())
			}
			m.fail("write config: %v", err)
			continue
		}
		m.mu.Lock()
		m.rep.Copied++
		m.rep.Bytes += int64(len(s.config))
		m.mu.Unlock()
	}
	return nil
}

// holder is a region holding a copy of an object.
type holder struct {
	m    *member
	size int64
}

// maxListings bounds how often copyPrefix lists a prefix.
const maxListings = 3

// copyPrefix copies the content-addressed objects under prefix. An object
// deleted between the listing and its reading (a backup that ends meanwhile
// replaces its per-pack index objects with one) makes it list the prefix
// again, so that the replacement is copied too, up to maxListings times;
// on the last pass a vanished object is a failure like any other.
func (s *syncer) copyPrefix(ctx context.Context, prefix string) error {
	for pass := 1; ; pass++ {
		n, vanished, err := s.copyPrefixOnce(ctx, prefix, pass == maxListings)
		if err != nil || vanished == 0 || pass == maxListings {
			s.mu.Lock()
			s.objects += int64(n)
			s.mu.Unlock()
			return err
		}
	}
}

// copyPrefixOnce lists prefix and copies its objects. It returns how many
// objects it considered and how many vanished before they could be read
// (with final set, those fail instead).
func (s *syncer) copyPrefixOnce(ctx context.Context, prefix string, final bool) (int, int64, error) {
	type listing struct {
		names map[string]int64
		ok    bool
	}
	lists := make([]listing, len(s.members))
	var wg sync.WaitGroup
	for i, m := range s.members {
		if !m.source && !m.isTarget() {
			continue
		}
		wg.Add(1)
		go func() {
			defer wg.Done()
			names := map[string]int64{}
			err := m.rd.List(ctx, prefix, func(info storage.Info) error {
				names[info.Name] = info.Size
				return nil
			})
			if err != nil {
				if ctx.Err() == nil {
					m.fail("list %s: %v", strings.TrimSuffix(prefix, "/"), err)
				}
				return
			}
			lists[i] = listing{names: names, ok: true}
		}()
	}
	wg.Wait()
	if err := ctx.Err(); err != nil {
		return 0, 0, fmt.Errorf("sync: %w", err)
	}
	// The union of the regions holding the repository (the sources);
	// each name's holders are the sources in read preference order, then
	// the other regions that listed it (a region without a config yet:
	// its copies are checked, but never copied from).
	holders := map[string][]holder{}
	for i, l := range lists {
		if !l.ok || !s.members[i].source {
			continue
		}
		for name, size := range l.names {
			holders[name] = append(holders[name], holder{m: s.members[i], size: size})
		}
	}
	for i, l := range lists {
		if !l.ok || s.members[i].source {
			continue
		}
		for name, size := range l.names {
			if hs, ok := holders[name]; ok {
				holders[name] = append(hs, holder{m: s.members[i], size: size})
			}
		}
	}
	var names []string
	for name, hs := range holders {
		if _, err := format.ParseName(prefix, name); err != nil {
			continue // not ours
		}
		slices.SortStableFunc(hs, func(a, b holder) int {
			if a.m.source != b.m.source {
				if a.m.source {
					return -1
				}
				return 1
			}
			return a.m.rank - b.m.rank
		})
		names = append(names, name)
	}
	slices.Sort(names)
	// The regions each object must be written to (those that listed).
	var targets []*member
	for i, m := range s.members {
		if lists[i].ok && m.isTarget() {
			targets = append(targets, m)
		}
	}
	has := func(m *member, name string) bool {
		for i := range s.members {
			if s.members[i] == m {
				_, ok := lists[i].names[name]
				return ok
			}
		}
		return false
	}
	// Tombstoned objects are not copied; a keyed sync deletes them from
	// every region that lists them, a keyless one counts them.
	live := names[:0]
	for _, name := range names {
		if !s.tomb.isBuried(name) {
			live = append(live, name)
			continue
		}
		for i, m := range s.members {
			if !lists[i].ok || (!m.source && !m.isTarget()) {
				continue
			}
			if _, ok := lists[i].names[name]; !ok {
				continue
			}
			if s.opt.Tombstones != nil {
				s.deleteObject(ctx, m, name)
			} else {
				m.mu.Lock()
				m.rep.Tombstoned++
				m.mu.Unlock()
			}
		}
	}
	names = live
	// A region being re-seeded loses what no healthy region holds.
	for i, m := range s.members {
		if !m.reseed || !lists[i].ok || !m.isTarget() {
			continue
		}
		for name := range lists[i].names {
			if _, err := format.ParseName(prefix, name); err != nil {
				continue
			}
			if hs := holders[name]; len(hs) == 0 || !hs[0].m.source {
				s.deleteObject(ctx, m, name)
			}
		}
	}
	var vanished atomic.Int64
	err := s.parallel(ctx, len(names), func(ctx context.Context, i int) {
		name := names[i]
		var missing []*member
		for _, t := range targets {
			if !has(t, name) {
				missing = append(missing, t)
			}
		}
		if s.syncObject(ctx, prefix, name, holders[name], missing, final) {
			vanished.Add(1)
		}
	})
	return len(names), vanished.Load(), err
}

// parallel runs fn(i) for i in [0,n) on up to Concurrency goroutines; it
// stops early only when ctx ends.
func (s *syncer) parallel(ctx context.Context, n int, fn func(context.Context, int)) error {
	next := make(chan int)
	var wg sync.WaitGroup
	for w := 0; w < min(s.opt.Concurrency, n); w++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := range next {
				fn(ctx, i)
			}
		}()
	}
loop:
	for i := 0; i < n; i++ {
		select {
		case next <- i:
		case <-ctx.Done():
			break loop
		}
	}
	close(next)
	wg.Wait()
	if err := ctx.Err(); err != nil {
		return fmt.Errorf("sync: %w", err)
	}
	return nil
}

// syncObject finds a good copy of name when one is needed (a region
// misses it, sizes disagree, or copies must be verified) and writes it to
// the regions that miss it or hold a bad copy. Unless final, it reports
// (and does nothing else) when the object was deleted everywhere it was
// read since it was listed.
func (s *syncer) syncObject(ctx context.Context, prefix, name string, hs []holder, missing []*member, final bool) (vanished bool) {
	id, err := format.ParseName(prefix, name)
	if err != nil {
		return false
	}
	checkAll := s.opt.Verify || s.bad[name]
	sizesDiffer := false
	for _, h := range hs[1:] {
		sizesDiffer = sizesDiffer || h.size != hs[0].size
	}
	if !checkAll && !sizesDiffer && len(missing) == 0 {
		return
	}
	var good []byte
	var bad []*member
	readFailed := false
	for _, h := range hs {
		if good == nil && !h.m.source {
			break // the sources come first; none verified
		}
		if good != nil {
			if h.size != int64(len(good)) {
				bad = append(bad, h.m)
				continue
			}
			if !checkAll {
				continue // the right size: taken to be good
			}
		}
		data, err := storage.ReadAll(ctx, h.m.rd, name)
		if err != nil {
			if ctx.Err() != nil {
				return false
			}
			if errors.Is(err, storage.ErrNotExist) && !final {
				vanished = true // deleted since the listing
				continue
			}
			readFailed = true
			h.m.errorf("read %s: %v", name, err)
			continue
		}
		h.m.mu.Lock()
		h.m.rep.Verified++
		h.m.mu.Unlock()
		if format.ID(sha256.Sum256(data)) != id {
			bad = append(bad, h.m)
			continue
		}
		if good == nil {
			good = data
		}
	}
	if good == nil {
		if vanished && !readFailed {
			return true // list again: what replaced it is copied then
		}
		if readFailed {
			for _, m := range missing {
				m.fail("%s: no readable good copy in any region", name)
			}
			return false
		}
		// Every copy was read and none verifies: no region is worse off
		// than another, so the later prefixes still go everywhere.
		s.mu.Lock()
		s.lost = append(s.lost, name)
		s.mu.Unlock()
		return false
	}
	write := func(m *member, replace bool) {
		if err := s.set.Repair(ctx, m.name, name, good); err != nil {
			if ctx.Err() == nil {
				m.fail("write %s: %v", name, err)
			}
			return
		}
		m.mu.Lock()
		m.rep.Copied++
		m.rep.Bytes += int64(len(good))
		if replace {
			m.rep.Replaced++
		}
		m.mu.Unlock()
	}
	for _, m := range missing {
		write(m, false)
	}
	for _, m := range bad {
		write(m, true)
	}
	return false
}

// recordState writes the state object of every complete region to every
// region holding the repository.
func (s *syncer) recordState(ctx context.Context) {
	now := s.opt.Now().UTC()
	var states []*State
	for _, m := range s.members {
		if s.complete(m) {
			states = append(states, &State{Version: StateVersion, Region: m.name, Time: now, Host: s.opt.Host})
		}
	}
	for _, st := range states {
		name := StateName(st.Region)
		data, err := EncodeState(st)
		if err == nil && !storage.Valid(name) {
			err = fmt.Errorf("%q: %w", name, storage.ErrInvalidName)
		}
		if err != nil {
			s.byName[st.Region].warnf("record sync state: %v", err)
			continue
		}
		for _, m := range s.members {
			if !m.source && !m.isTarget() {
				continue
			}
			dst, ok := s.set.Region(m.name)
			if !ok {
				continue
			}
			if err := storage.PutBytes(ctx, dst, name, data, storage.PutOptions{}); err != nil {
				m.warnf("record the sync state of %s: %v", st.Region, err)
			}
		}
	}
}

// complete reports whether m took part in every step without an error.
func (s *syncer) complete(m *member) bool {
	m.mu.Lock()
	defer m.mu.Unlock()
	return m.rep.Complete
}

// warnf records a problem that does not leave the region behind.
func (m *member) warnf(format string, args ...any) {
	m.mu.Lock()
	defer m.mu.Unlock()
	if len(m.rep.Warnings) < maxErrors {
		m.rep.Warnings = append(m.rep.Warnings, fmt.Sprintf(format, args...))
	}
}

// report assembles the report.
func (s *syncer) report() *Report {
	rep := &Report{}
	for _, m := range s.members {
		m.mu.Lock()
		r := m.rep
		r.Errors = slices.Clone(r.Errors)
		if m.dropped > 0 {
			r.Errors = append(r.Errors, fmt.Sprintf("… and %d more errors", m.dropped))
		}
		r.Warnings = slices.Clone(r.Warnings)
		m.mu.Unlock()
		rep.Regions = append(rep.Regions, r)
	}
	s.mu.Lock()
	rep.Objects = s.objects
	rep.Lost = slices.Clone(s.lost)
	s.mu.Unlock()
	slices.Sort(rep.Lost)
	return rep
}

// result is the error a finished sync returns.
func (s *syncer) result(rep *Report) error {
	var errs []error
	var foreign, incomplete, reseed []string
	for _, r := range rep.Regions {
		switch {
		case r.Foreign:
			foreign = append(foreign, r.Region)
		case r.NeedsReseed:
			reseed = append(reseed, r.Region)
		case !r.Complete:
			incomplete = append(incomplete, r.Region)
		}
	}
	if len(foreign) > 0 {
		errs = append(errs, fmt.Errorf("region %s: %w (refused)", strings.Join(foreign, ", "), ErrForeignRepository))
	}
	for _, name := range reseed {
		errs = append(errs, fmt.Errorf("region %s: %w (refused: it was not synced for longer than the tombstone TTL; run lifeboat sync --reseed %s)", name, ErrReseed, name))
	}
	if len(incomplete) > 0 {
		errs = append(errs, fmt.Errorf("%w: region %s not brought up to date", ErrIncomplete, strings.Join(incomplete, ", ")))
	}
	if len(rep.Lost) > 0 {
		errs = append(errs, fmt.Errorf("%d object(s) (%s…): %w", len(rep.Lost), rep.Lost[0], ErrLost))
	}
	if len(errs) == 0 {
		return nil
	}
	return fmt.Errorf("sync: %w", errors.Join(errs...))
}
