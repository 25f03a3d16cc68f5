package repo

import (
	"context"
	"crypto/sha256"
	"errors"
	"fmt"
	"slices"
	"sort"

	"golang.org/x/sync/errgroup"

	"lifeboat/engine/format"
	"lifeboat/storage"
)

var (
	// ErrVanished reports an object a commit record names that no region
	// holds and no authenticated tombstone records the deletion of: it was
	// removed by hand, or by an attacker.
	ErrVanished = errors.New("vanished without a deletion record")
	// ErrRolledBack reports history going backwards: a commit chain that
	// ends before a record this host or another writer saw, or a record
	// replaced by another.
	ErrRolledBack = errors.New("rolled back")
	// ErrRegionRolledBack reports a region that no longer holds an object
	// it held when this host last looked, with no deletion record.
	ErrRegionRolledBack = errors.New("region went back to an older state")
	// ErrConfigReplaced reports a region whose config is not one any
	// commit record names, or older than the newest recorded.
	ErrConfigReplaced = errors.New("config replaced")
)

// HistoryFinding is one thing VerifyHistory found gone or rewritten.
type HistoryFinding struct {
	// Region is the region concerned ("" for the repository as a whole).
	Region string
	// Object names what vanished or changed.
	Object string
	// Err wraps ErrVanished, ErrRolledBack, ErrRegionRolledBack,
	// ErrConfigReplaced or ErrChainForged.
	Err error
}

// Error describes the finding, naming the region and the object; a
// finding is an error so that commands can report it as one.
func (f HistoryFinding) Error() string {
	s := f.Object + ": " + f.Err.Error()
	if f.Region != "" {
		s = "region " + f.Region + ": " + s
	}
	return s
}

// Unwrap returns Err.
func (f HistoryFinding) Unwrap() error { return f.Err }

// HistoryReport is the outcome of VerifyHistory.
type HistoryReport struct {
	// Findings are the rollbacks and vanished objects, sorted.
	Findings []HistoryFinding
	// Unverified lists regions that could not be listed, so objects only
	// they might hold were not checked (no finding is made for them).
	Unverified []string
	// Writers and Records count the chains and the records read.
	Writers, Records int
	// Committed counts the objects the records name that were checked.
	Committed int
}

// VerifyHistory checks the repository against its commit chains and what
// this host saw before (Options.StateDir): every chain authenticates,
// links up and ends no earlier than any head this host or a witness saw;
// every object a record names is still listed in some region unless an
// authenticated tombstone records its deletion; no region lost an object
// or record it held when this host last looked; every region's config is
// the newest recorded one. full re-reads every record; otherwise only
// those after the heads this host verified before (plus each such head,
// whose hash is compared). The state is then advanced (never backwards).
// The error is for failures to list or read; findings are in the report.
func (r *Repository) VerifyHistory(ctx context.Context, full bool) (*HistoryReport, error) {
	rep := &HistoryReport{}
	regions := r.Regions()
	held := make([]map[string]bool, len(regions))
	union := map[string]bool{}
	var listed []int
	for i, reg := range regions {
		held[i] = map[string]bool{}
		err := func() error {
			for _, p := range []string{format.ChainPrefix, format.SnapshotPrefix, format.IndexPrefix, format.KeysPrefix} {
				if err := reg.Storage.List(ctx, p, func(fi storage.Info) error {
					held[i][fi.Name] = true
					return nil
				}); err != nil {
					return err
				}
			}
			return nil
		}()
		if ctx.Err() != nil {
			return nil, ctx.Err()
		}
		if err != nil {
			rep.Unverified = append(rep.Unverified, fmt.Sprintf("%s (%v)", regionLabel(reg.Name), err))
			held[i] = nil
			continue
		}
		listed = append(listed, i)
		for n := range held[i] {
			union[n] = true
		}
	}
	if len(listed) == 0 {
		return rep, fmt.Errorf("verify history: no region could be listed: %v", rep.Unverified)
	}
	complete := len(listed) == len(regions)

	state := r.loadChainState()
	seqs := map[string][]uint64{}
	for n := range union {
		if w, s, err := format.ParseChainName(n); err == nil {
			seqs[w] = append(seqs[w], s)
		}
	}
	writers := map[string]bool{}
	for w := range seqs {
		writers[w] = true
		slices.Sort(seqs[w])
	}
	for w := range state.Heads {
		writers[w] = true
	}
	rep.Writers = len(seqs)
	find := func(f HistoryFinding) { rep.Findings = append(rep.Findings, f) }
	// absent reports what is missing from the union, which only a
	// complete listing can tell (an unlisted region may hold it).
	absent := func(f HistoryFinding) {
		if complete {
			find(f)
		}
	}

	// Read the records needed, in parallel.
	type want struct {
		name string
		rec  *format.ChainRecord
		hash format.ID
		err  error
	}
	var wants []*want
	for w := range writers {
		local := state.Heads[w]
		for _, s := range seqs[w] {
			if full || s >= local.Seq {
				wants = append(wants, &want{name: format.ChainName(w, s)})
			}
		}
	}
	g, gctx := errgroup.WithContext(ctx)
	g.SetLimit(r.concurrency())
	for _, wt := range wants {
		g.Go(func() error {
			rec, data, err := r.readChainRecord(gctx, wt.name)
			if err != nil && gctx.Err() != nil {
				return gctx.Err()
			}
			wt.rec, wt.err = rec, err
			if err == nil {
				wt.hash = format.ID(sha256.Sum256(data))
			}
			return nil
		})
	}
	if err := g.Wait(); err != nil {
		return nil, err
	}
	rep.Records = len(wants)
	got := map[string]*want{}
	for _, wt := range wants {
		got[wt.name] = wt
	}

	next := newChainState(r.cfg.ID)
	next.merge(state, nil)
	for _, w := range sortedKeys(writers) {
		local := state.Heads[w]
		ss := seqs[w]
		var head uint64
		if n := len(ss); n > 0 {
			head = ss[n-1]
		}
		if local.Seq > head {
			absent(HistoryFinding{Object: format.ChainName(w, local.Seq), Err: fmt.Errorf("%w: the chain of writer %s ends at record %d, this host saw record %d", ErrRolledBack, w, head, local.Seq)})
		}
		present := map[uint64]bool{}
		for _, s := range ss {
			present[s] = true
		}
		for s := uint64(1); s <= head; s++ {
			if !present[s] {
				absent(HistoryFinding{Object: format.ChainName(w, s), Err: fmt.Errorf("commit record %w", ErrVanished)})
			}
		}
		// Walk the records read, in order, linking each to the one
		// before; the head advances over an unbroken run of verified
		// records, so that a break is reported again next time.
		hashes := map[uint64]format.ID{}
		contiguous := uint64(0)
		if local.Seq > 0 {
			hashes[local.Seq] = local.Hash
			if !full {
				contiguous = local.Seq
			}
		}
		advancing := true
		for _, s := range ss {
			wt := got[format.ChainName(w, s)]
			if wt == nil {
				continue // before the local head: known
			}
			if wt.err != nil {
				find(HistoryFinding{Object: wt.name, Err: wt.err})
				advancing = false
				continue
			}
			if s == local.Seq && wt.hash != local.Hash {
				find(HistoryFinding{Object: wt.name, Err: fmt.Errorf("%w: the record was replaced since this host read it", ErrRolledBack)})
				advancing = false
			}
			if p, ok := hashes[s-1]; ok && s > 1 && (wt.rec.Prev == nil || *wt.rec.Prev != p) {
				find(HistoryFinding{Object: wt.name, Err: fmt.Errorf("%w: the record does not follow record %d of its chain", ErrRolledBack, s-1)})
				advancing = false
			}
			if s != local.Seq {
				hashes[s] = wt.hash
			}
			next.addRecord(wt.rec, wt.name)
			switch {
			case advancing && s == contiguous+1:
				contiguous = s
				maxHead(next.Heads, format.ChainHead{Writer: w, Seq: s, Hash: wt.hash})
			case s > contiguous:
				advancing = false
			}
		}
	}
	// Witnesses: a head a record names must still be there.
	for _, h := range next.Witnessed {
		ss := seqs[h.Writer]
		if len(ss) == 0 || ss[len(ss)-1] < h.Seq {
			var head uint64
			if len(ss) > 0 {
				head = ss[len(ss)-1]
			}
			absent(HistoryFinding{Object: format.ChainName(h.Writer, h.Seq), Err: fmt.Errorf("%w: another writer's record saw the chain of writer %s at record %d, it now ends at %d", ErrRolledBack, h.Writer, h.Seq, head)})
			continue
		}
		if wt := got[format.ChainName(h.Writer, h.Seq)]; wt != nil && wt.err == nil && wt.hash != h.Hash {
			find(HistoryFinding{Object: wt.name, Err: fmt.Errorf("%w: the record is not the one another writer's record saw", ErrRolledBack)})
		}
	}

	// Committed objects: listed somewhere, or buried.
	tomb, err := tombstoneNames(ctx, r.st, "")
	if err != nil {
		return nil, err
	}
	key := tombstoneKey(r.master)
	drop := map[string]bool{}
	isBuried := func(name string) bool {
		if b, ok := drop[name]; ok {
			return b
		}
		b := tomb[name] && buried(ctx, r.st, key, name)
		drop[name] = b
		return b
	}
	rep.Committed = len(next.Committed)
	for _, name := range sortedKeys(next.Committed) {
		if union[name] || !complete {
			continue
		}
		if isBuried(name) {
			continue
		}
		find(HistoryFinding{Object: name, Err: fmt.Errorf("%w (committed in %s)", ErrVanished, next.Committed[name])})
	}
	for name := range next.Committed {
		if !union[name] && isBuried(name) {
			delete(next.Committed, name)
		}
	}

	// Regions: nothing a region held may go missing from it.
	if len(regions) > 1 {
		for _, i := range listed {
			reg := regions[i].Name
			for _, name := range state.Regions[reg] {
				// What no region holds any more is reported once, as
				// vanished (or a chain gone back), not per region.
				if held[i][name] || !union[name] || (!isChainName(name) && isBuried(name)) {
					continue
				}
				find(HistoryFinding{Region: reg, Object: name, Err: fmt.Errorf("%w: the region held it when this host last looked", ErrRegionRolledBack)})
			}
			now := slices.DeleteFunc(slices.Clone(state.Regions[reg]), func(n string) bool {
				return !isChainName(n) && drop[n]
			})
			tops := map[string]uint64{}
			for n := range held[i] {
				if w, s, err := format.ParseChainName(n); err == nil {
					tops[w] = max(tops[w], s)
				} else if _, ok := next.Committed[n]; ok {
					now = append(now, n)
				}
			}
			// Keep one chain name per writer: the highest held.
			now = slices.DeleteFunc(now, func(n string) bool {
				w, s, err := format.ParseChainName(n)
				return err == nil && s < tops[w]
			})
			for w, s := range tops {
				now = append(now, format.ChainName(w, s))
			}
			slices.Sort(now)
			next.Regions[reg] = slices.Compact(now)
		}
	}

	// The config of every region must be the newest recorded.
	if len(next.Configs) > 0 {
		newest := 0
		for _, v := range next.Configs {
			newest = max(newest, v)
		}
		for _, c := range r.ConfigCopies(ctx) {
			if c.Sealed == nil {
				continue
			}
			h := format.ID(sha256.Sum256(c.Sealed))
			v, ok := next.Configs[h.String()]
			switch {
			case !ok:
				find(HistoryFinding{Region: c.Region, Object: format.ConfigName, Err: fmt.Errorf("%w: no commit record names this config (%s); it was replaced, or a lifeboat migrate is unfinished", ErrConfigReplaced, h.Short())})
			case v < newest:
				find(HistoryFinding{Region: c.Region, Object: format.ConfigName, Err: fmt.Errorf("%w: it is the config of version %d, a record names one of version %d (rolled back, or a lifeboat migrate is unfinished)", ErrConfigReplaced, v, newest)})
			}
		}
	}

	r.chain.mu.Lock()
	for w, h := range next.Heads {
		if h.Seq > r.chain.seen[w].Seq {
			r.chain.seen[w] = h
		}
	}
	r.chain.mu.Unlock()
	r.updateChainState(func(st *chainState) {
		for n := range st.Committed {
			if drop[n] {
				delete(st.Committed, n)
			}
		}
		for reg := range next.Regions {
			st.Regions[reg] = nil // replaced by next's, which kept what counts
		}
		st.merge(next, drop)
	})
	sort.Slice(rep.Findings, func(i, j int) bool {
		a, b := rep.Findings[i], rep.Findings[j]
		if a.Region != b.Region {
			return a.Region < b.Region
		}
		return a.Object < b.Object
	})
	return rep, nil
}

func regionLabel(name string) string {
	if name == "" {
		return "the storage"
	}
	return "region " + name
}

func sortedKeys[V any](m map[string]V) []string {
	out := make([]string, 0, len(m))
	for k := range m {
		out = append(out, k)
	}
	sort.Strings(out)
	return out
}
