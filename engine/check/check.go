package check

import (
	"cmp"
	"context"
	"crypto/sha256"
	"errors"
	"fmt"
	"io"
	"math"
	"math/rand/v2"
	"runtime"
	"slices"
	"sort"
	"strings"
	"sync"
	"time"

	"golang.org/x/sync/errgroup"
	"golang.org/x/sync/semaphore"

	"lifeboat/engine/format"
	"lifeboat/engine/repo"
	"lifeboat/storage"
)

// Options select what to verify.
type Options struct {
	// ReadData downloads and verifies pack contents: every region's copy
	// of every pack (see Regions).
	ReadData bool
	// SubsetPercent, when in (0,100), reads only that share of the packs
	// (implies ReadData): the packs read least recently according to
	// LastRead, never-read ones first, ties in an order Seed shuffles. With
	// LastRead kept up to date, successive subsets of p% read every pack
	// within ceil(100/p) runs.
	SubsetPercent float64
	// Regions names the regions whose copies the data check reads (nil:
	// every region of a region set, storage.Capabilities().Regions; a
	// plain storage is one region named ""). A name the storage does not
	// have is an error wrapping ErrUnknownRegion.
	Regions []string
	// LastRead gives, per region, when each pack was last read and
	// verified there (missing: never), for picking the subset; nil treats
	// every pack as never read. A subset reads the same packs in every
	// selected region, ranked by the oldest of their last reads in those
	// regions (a pack never read in one of them counts as never read), so
	// that each region's coverage keeps the ceil(100/p) guarantee even when
	// earlier checks or drills read only some regions.
	LastRead map[string]map[format.ID]time.Time
	// Seed orders packs of equal LastRead (same seed, same subset).
	Seed uint64
	// Workers bounds the packs the data check verifies at once, each
	// holding one copy in memory at a time (0: GOMAXPROCS, at most 8).
	// The structural walk runs alongside them, in one of those slots
	// while it lasts.
	Workers int
	// OnProblem is called for every problem found (may be nil).
	OnProblem func(Problem)
	// OnPackRead is called after each region's copy of a pack was read
	// and verified (err nil) or found bad or missing (coverage).
	OnPackRead func(pack format.ID, region string, err error)
	// OnWarning is called for findings that are not problems, such as
	// orphan packs the next backup adopts (may be nil).
	OnWarning func(Problem)
}

// ErrUnknownRegion is returned when Options.Regions names a region the
// storage does not have.
var ErrUnknownRegion = errors.New("unknown region")

// Problem is one finding.
type Problem struct {
	// Region is the region whose copy is bad or missing; "" for problems
	// of the repository as a whole (the structural check) and for a
	// storage without regions.
	Region string
	Object string    // stored object name
	Blob   format.ID // zero when the problem is the whole object
	Path   string    // snapshot path, when known
	Err    error
}

func (p Problem) String() string {
	s := p.Object
	if p.Region != "" {
		s = "region " + p.Region + ": " + s
	}
	if !p.Blob.IsZero() {
		s += " blob " + p.Blob.Short()
	}
	if p.Path != "" {
		s += " (" + p.Path + ")"
	}
	return s + ": " + p.Err.Error()
}

// Result counts what was checked.
type Result struct {
	Snapshots, Trees, Packs int64
	// PacksRead counts the pack copies read (one per pack and region).
	PacksRead int64
	// Blobs counts the blobs verified, once per copy.
	Blobs          int64
	BytesRead      int64
	Problems       int64
	UnindexedPacks int64
	// Regions lists the regions whose copies the data check read, in the
	// order they were tried.
	Regions []string
	// BadCopies maps each object found bad or missing in some region to
	// those regions, sorted: what `lifeboat sync --bad NAME` repairs from
	// a good copy elsewhere.
	BadCopies map[string][]string
	// NoGoodCopy lists, sorted, the packs no region read had a good copy
	// of (sync cannot repair them from those regions).
	NoGoodCopy []string
	// Unreadable counts, per region, the copies that could not be read
	// (the region failed to answer): unverified, but not known to be bad.
	// They are problems too, and not in BadCopies.
	Unreadable map[string]int64
	// Warnings counts findings that are not problems (orphan packs).
	Warnings int64
	// Tombstoned counts the copies of deleted (tombstoned) objects that
	// regions still hold (warnings: a keyed sync deletes them).
	Tombstoned int64
	// History counts the problems the commit chains found (objects gone
	// without a deletion record, chains, regions or configs gone back);
	// HistoryNoRegion those of them that name no region. They are in
	// Problems too.
	History, HistoryNoRegion int64
}

// ErrProblems is returned when any problem was found.
var ErrProblems = errors.New("repository has problems")

// Run checks r. It returns ErrProblems (wrapped) when anything is wrong; the
// problems themselves go to opts.OnProblem.
func Run(ctx context.Context, r *repo.Repository, opts Options) (*Result, error) {
	if opts.Workers <= 0 {
		// Each worker holds one sealed copy of a pack, one run of its
		// decrypted blobs and one decompressed blob: memory, not only
		// cores, bounds them.
		opts.Workers = min(runtime.GOMAXPROCS(0), 8)
	}
	c := &checker{r: r, opts: opts, free: make(chan []byte, opts.Workers), slots: semaphore.NewWeighted(int64(opts.Workers))}
	readData := opts.ReadData || opts.SubsetPercent > 0
	var reps []storage.Replica
	if readData {
		var err error
		if reps, err = selectReplicas(r.Storage(), opts.Regions); err != nil {
			return &c.res, err
		}
		for _, rep := range reps {
			c.res.Regions = append(c.res.Regions, rep.Region)
		}
	}
	if err := r.LoadIndex(ctx); err != nil {
		c.problem(Problem{Object: format.IndexPrefix, Err: err})
		if !isIntegrity(err) {
			return &c.res, err
		}
	}
	c.checkPacks(ctx)
	// The packs' contents are verified while the structure is walked, so
	// that the walk, one goroutine, does not leave the other cores idle.
	// The walk takes one of the Workers slots while it runs: the data
	// check's workers hold no more packs than the cores can verify.
	dataCtx, stopData := context.WithCancel(ctx)
	defer stopData()
	var data sync.WaitGroup
	walkSlot := false
	if readData {
		walkSlot = c.slots.Acquire(ctx, 1) == nil // fails only when ctx is done
		data.Go(func() { c.readData(dataCtx, reps) })
	}
	err := c.checkSnapshots(ctx)
	if err == nil {
		c.checkTombstones(ctx)
		c.checkHistory(ctx)
		c.checkLocks(ctx) // lock.go
	} else {
		stopData()
	}
	if walkSlot {
		c.slots.Release(1)
	}
	data.Wait()
	if err != nil {
		return &c.res, err
	}
	if err := ctx.Err(); err != nil {
		return &c.res, err
	}
	if c.res.Problems > 0 {
		return &c.res, fmt.Errorf("%w: %d found", ErrProblems, c.res.Problems)
	}
	return &c.res, nil
}

// selectReplicas returns the regions of st named in names (all when names
// is empty), in st's preference order. A storage that is not replicated is
// one region named "".
func selectReplicas(st storage.Storage, names []string) ([]storage.Replica, error) {
	var reps []storage.Replica
	if rs := st.Capabilities().Regions; rs != nil {
		reps = rs.Replicas()
	}
	if len(reps) == 0 {
		reps = []storage.Replica{{Region: "", Reader: st}}
	}
	if len(names) == 0 {
		return reps, nil
	}
	have := make([]string, len(reps))
	for i, rep := range reps {
		have[i] = rep.Region
	}
	for _, n := range names {
		if !slices.Contains(have, n) {
			return nil, fmt.Errorf("check region %q (have %s): %w", n, strings.Join(have, ", "), ErrUnknownRegion)
		}
	}
	var out []storage.Replica
	for _, rep := range reps {
		if slices.Contains(names, rep.Region) {
			out = append(out, rep)
		}
	}
	return out, nil
}

type checker struct {
	r    *repo.Repository
	opts Options
	mu   sync.Mutex
	res  Result
	free chan []byte // pack buffers, one per worker: no garbage per pack
	// slots are the Workers units of work, shared by the data check's
	// packs and the structural walk running alongside.
	slots *semaphore.Weighted
	// indexed counts the blobs the index places in each pack (readData;
	// read-only while packs are verified).
	indexed map[format.ID]int
}

func (c *checker) buffer(n int64) []byte {
	select {
	case b := <-c.free:
		if int64(cap(b)) >= n {
			return b[:n]
		}
	default:
	}
	// Room to spare, so that packs of about the same size share it.
	return make([]byte, n, n+n/8)
}

func (c *checker) recycle(b []byte) {
	select {
	case c.free <- b:
	default:
	}
}

func isIntegrity(err error) bool {
	var ie *repo.IntegrityError
	return errors.As(err, &ie)
}

func (c *checker) problem(p Problem) {
	var ie *repo.IntegrityError
	if errors.As(p.Err, &ie) {
		if p.Object == "" || p.Object == format.IndexPrefix {
			p.Object = ie.Object
		}
		if p.Blob.IsZero() {
			p.Blob = ie.Blob
		}
	}
	c.mu.Lock()
	c.res.Problems++
	c.mu.Unlock()
	if c.opts.OnProblem != nil {
		c.mu.Lock()
		c.opts.OnProblem(p)
		c.mu.Unlock()
	}
}

// badCopy reports a problem of one region's copy of an object and notes
// the copy in Result.BadCopies.
func (c *checker) badCopy(p Problem) {
	c.mu.Lock()
	if c.res.BadCopies == nil {
		c.res.BadCopies = map[string][]string{}
	}
	c.res.BadCopies[p.Object] = append(c.res.BadCopies[p.Object], p.Region)
	c.mu.Unlock()
	c.problem(p)
}

// checkPacks compares the stored packs with the index.
func (c *checker) checkPacks(ctx context.Context) {
	stored := map[string]int64{}
	err := c.r.List(ctx, format.DataPrefix, func(fi storage.Info) error {
		stored[fi.Name] = fi.Size
		return nil
	})
	if err != nil {
		c.problem(Problem{Object: format.DataPrefix, Err: fmt.Errorf("list packs: %w", err)})
		return
	}
	indexed := map[string]bool{}
	for _, p := range c.r.Index().Packs() {
		name := format.PackName(p.ID)
		indexed[name] = true
		c.res.Packs++
		size, ok := stored[name]
		switch {
		case !ok:
			c.problem(Problem{Object: name, Err: fmt.Errorf("pack is indexed but missing: %w", storage.ErrNotExist)})
		case size != p.Size:
			c.problem(Problem{Object: name, Err: fmt.Errorf("size %d, index says %d", size, p.Size)})
		}
	}
	c.checkOrphans(ctx, stored, indexed) // orphans.go
}

// checkSnapshots walks every snapshot's trees.
func (c *checker) checkSnapshots(ctx context.Context) error {
	var ids []format.ID
	err := c.r.List(ctx, format.SnapshotPrefix, func(fi storage.Info) error {
		id, err := format.ParseName(format.SnapshotPrefix, fi.Name)
		if err != nil {
			c.problem(Problem{Object: fi.Name, Err: fmt.Errorf("unexpected object name: %w", err)})
			return nil
		}
		ids = append(ids, id)
		return nil
	})
	if err != nil {
		return fmt.Errorf("list snapshots: %w", err)
	}
	seen := map[format.ID]bool{}
	idx := c.r.Index()
	for _, id := range ids {
		c.res.Snapshots++
		s, err := c.r.LoadSnapshot(ctx, id)
		if err != nil {
			c.problem(Problem{Object: format.SnapshotName(id), Err: err})
			continue
		}
		// Depth-first over trees, each tree once.
		type item struct {
			id   format.ID
			path string
		}
		stack := []item{{s.Tree, "/"}}
		for len(stack) > 0 && ctx.Err() == nil {
			it := stack[len(stack)-1]
			stack = stack[:len(stack)-1]
			if seen[it.id] {
				continue
			}
			seen[it.id] = true
			c.res.Trees++
			t, err := c.r.LoadTree(ctx, it.id)
			if err != nil {
				c.problem(Problem{Object: "tree " + it.id.Short(), Path: it.path, Err: err})
				continue
			}
			for i := range t.Nodes {
				n := &t.Nodes[i]
				p := it.path + n.Name
				switch n.Type {
				case format.TypeDir:
					stack = append(stack, item{*n.Subtree, p + "/"})
				case format.TypeFile:
					for _, b := range n.Content {
						if !idx.Has(b) {
							c.problem(Problem{Object: "snapshot " + id.Short(), Blob: b, Path: p, Err: repo.ErrBlobNotFound})
						}
					}
					if c.r.FileHash(n.Size, n.Content) != *n.Hash {
						c.problem(Problem{Object: "tree " + it.id.Short(), Path: p, Err: errors.New("file hash does not match its blob list")})
					}
				}
			}
		}
	}
	return ctx.Err()
}

// readData verifies the contents of every selected region's copy of the
// packs (all, or the subset). The packs are verified Workers at a time;
// each pack's copies are read one region after the other into one buffer,
// so at most Workers copies are in memory. A copy is hashed as it is read;
// the verification of its contents decrypts it in runs of blobs, and the
// index entries it is compared with are looked up blob by blob: besides
// the index, the data check's memory is bounded by Workers, not by the
// size of the repository.
func (c *checker) readData(ctx context.Context, reps []storage.Replica) {
	packs := c.r.Index().Packs()
	sort.Slice(packs, func(i, j int) bool { return string(packs[i].ID[:]) < string(packs[j].ID[:]) })
	if p := c.opts.SubsetPercent; p > 0 && p < 100 {
		regionNames := make([]string, len(reps))
		for i, rep := range reps {
			regionNames[i] = rep.Region
		}
		packs = subset(packs, oldestRead(c.opts.LastRead, regionNames), p, c.opts.Seed)
	}
	// How many blobs the index places in each pack: a pack's trailer
	// must hold all of them (verify).
	c.indexed = make(map[format.ID]int, len(packs))
	c.r.Index().Each(func(loc repo.Location) {
		c.indexed[loc.Pack.ID]++
	})
	var g errgroup.Group
	g.SetLimit(c.opts.Workers)
	for _, p := range packs {
		if c.slots.Acquire(ctx, 1) != nil {
			break // ctx is done
		}
		g.Go(func() error {
			defer c.slots.Release(1)
			c.checkPack(ctx, p, reps)
			return nil
		})
	}
	_ = g.Wait() // the tasks report problems, they return no error
	for obj := range c.res.BadCopies {
		slices.Sort(c.res.BadCopies[obj])
		c.res.BadCopies[obj] = slices.Compact(c.res.BadCopies[obj])
	}
	slices.Sort(c.res.NoGoodCopy)
}

// verdict is the outcome of verifying the true bytes of a pack (those whose
// SHA-256 is the pack's ID): every copy with those bytes has it.
type verdict struct {
	problems []Problem // without Region
	blobs    int64
	err      error // the first problem's error
}

// checkPack reads and verifies each region's copy of p in turn. The first
// copy whose SHA-256 matches the pack's ID is verified in full
// (authentication, trailer against the index, every blob); a later copy
// whose SHA-256 matches too holds the same bytes, so hashing it verifies
// it and it gets the same verdict (reported under its region).
func (c *checker) checkPack(ctx context.Context, p repo.PackInfo, reps []storage.Replica) {
	name := format.PackName(p.ID)
	var v *verdict
	good := 0
	for _, rep := range reps {
		if ctx.Err() != nil {
			return
		}
		err := c.checkCopy(ctx, p, name, rep, &v)
		if err == nil {
			good++
		}
		if c.opts.OnPackRead != nil {
			c.mu.Lock()
			c.opts.OnPackRead(p.ID, rep.Region, err)
			c.mu.Unlock()
		}
	}
	if good == 0 && ctx.Err() == nil {
		c.mu.Lock()
		if len(c.res.BadCopies[name]) > 0 { // not only unreadable copies
			c.res.NoGoodCopy = append(c.res.NoGoodCopy, name)
		}
		c.mu.Unlock()
	}
}

// checkCopy reads and verifies rep's copy of pack p (named name), setting
// *v once a copy's bytes are the pack's true bytes. It reports the copy's
// problems and returns the first.
func (c *checker) checkCopy(ctx context.Context, p repo.PackInfo, name string, rep storage.Replica, v **verdict) error {
	data := c.buffer(p.Size)
	defer c.recycle(data)
	sum, err := readCopy(ctx, rep.Reader, name, data)
	if err != nil {
		switch {
		case ctx.Err() != nil:
			return err
		case errors.Is(err, storage.ErrNotExist):
			err = fmt.Errorf("pack missing: %w", storage.ErrNotExist)
			if rep.Region != "" {
				err = fmt.Errorf("pack missing in region %s: %w", rep.Region, storage.ErrNotExist)
			}
			c.badCopy(Problem{Region: rep.Region, Object: name, Err: err})
		case isIntegrity(err):
			c.badCopy(Problem{Region: rep.Region, Object: name, Err: err})
		default:
			// The region did not answer: the copy is unverified, not
			// known to be bad.
			c.mu.Lock()
			if c.res.Unreadable == nil {
				c.res.Unreadable = map[string]int64{}
			}
			c.res.Unreadable[rep.Region]++
			c.mu.Unlock()
			c.problem(Problem{Region: rep.Region, Object: name, Err: err})
		}
		return err
	}
	c.mu.Lock()
	c.res.PacksRead++
	c.res.BytesRead += int64(len(data))
	c.mu.Unlock()
	if sum != p.ID {
		// Not the pack's bytes: this copy is bad; a later one gets the
		// full verification.
		err := &repo.IntegrityError{Object: name, Err: fmt.Errorf("content does not match its name: %w", repo.ErrHashMismatch)}
		c.badCopy(Problem{Region: rep.Region, Object: name, Err: err})
		return err
	}
	if *v == nil {
		*v = c.verify(p, name, data)
	}
	c.mu.Lock()
	c.res.Blobs += (*v).blobs
	c.mu.Unlock()
	for _, pr := range (*v).problems {
		pr.Region = rep.Region
		c.badCopy(pr)
	}
	return (*v).err
}

// readStep is how much of a copy readCopy reads before hashing it: the
// hash reads each step while it is still in the processor's cache.
const readStep = 1 << 20

// readCopy reads name from rd into data, which must be exactly its size,
// and returns the SHA-256 of what it read. A copy longer or shorter than
// the index says is an integrity error.
func readCopy(ctx context.Context, rd storage.Reader, name string, data []byte) (format.ID, error) {
	body, err := rd.Get(ctx, name, 0, -1)
	if err != nil {
		return format.ID{}, err
	}
	defer body.Close()
	h := sha256.New()
	for off := 0; off < len(data); {
		n, err := io.ReadFull(body, data[off:min(off+readStep, len(data))])
		h.Write(data[off : off+n])
		off += n
		if errors.Is(err, io.ErrUnexpectedEOF) || errors.Is(err, io.EOF) {
			return format.ID{}, &repo.IntegrityError{Object: name, Err: fmt.Errorf("copy of %d bytes, index says %d", off, len(data))}
		}
		if err != nil {
			return format.ID{}, fmt.Errorf("read %s: %w", name, err)
		}
	}
	var one [1]byte
	if m, _ := io.ReadFull(body, one[:]); m > 0 {
		return format.ID{}, &repo.IntegrityError{Object: name, Err: fmt.Errorf("copy longer than the %d bytes the index says", len(data))}
	}
	var sum format.ID
	h.Sum(sum[:0])
	return sum, nil
}

// verify verifies the sealed bytes of p, whose SHA-256 is p's ID, in full:
// authentication, every blob, and the pack's own trailer against the
// index.
func (c *checker) verify(p repo.PackInfo, name string, data []byte) *verdict {
	v := &verdict{}
	add := func(pr Problem) {
		v.problems = append(v.problems, pr)
		v.err = cmp.Or(v.err, pr.Err)
	}
	trailer, err := c.r.VerifyPackContents(p, data, func(b *format.Blob, err error) {
		v.blobs++
		if err != nil {
			add(Problem{Object: name, Blob: b.ID, Err: err})
		}
	})
	if err != nil {
		add(Problem{Object: name, Err: err})
		return v
	}
	c.compareIndex(p, name, trailer, add)
	return v
}

// errIndexMismatch is the problem of an index entry the pack's trailer
// does not hold.
var errIndexMismatch = errors.New("index entry does not match the pack's own trailer")

// compareIndex reports (through add) every index entry placing a blob in
// pack p that p's trailer does not hold exactly. Each trailer entry is
// looked up in the index: when as many match as the index places in p
// (c.indexed), all do; only otherwise are p's index entries listed, to
// name the ones that do not match.
func (c *checker) compareIndex(p repo.PackInfo, name string, trailer []format.Blob, add func(Problem)) {
	idx := c.r.Index()
	matched := 0
	var empty []format.ID // zero-length blobs matched: an ID counts once
	for i := range trailer {
		tb := &trailer[i]
		loc, ok := idx.Lookup(tb.ID)
		if !ok || loc.Pack.ID != p.ID || loc.Blob != *tb {
			continue // not indexed, or indexed in another pack (a duplicate)
		}
		if tb.Length == 0 { // only such entries can be repeated exactly
			if slices.Contains(empty, tb.ID) {
				continue
			}
			empty = append(empty, tb.ID)
		}
		matched++
	}
	if matched == c.indexed[p.ID] {
		return
	}
	var entries []format.Blob
	idx.Each(func(loc repo.Location) {
		if loc.Pack.ID == p.ID {
			entries = append(entries, loc.Blob)
		}
	})
	slices.SortFunc(entries, func(a, b format.Blob) int { return cmp.Compare(a.Offset, b.Offset) })
	for _, b := range entries {
		if !slices.Contains(trailer, b) {
			add(Problem{Object: name, Blob: b.ID, Err: errIndexMismatch})
		}
	}
}

// oldestRead returns, for every pack read in each of regionNames, the
// oldest of its last reads there; a pack never read in one of them is
// left out (never read).
func oldestRead(last map[string]map[format.ID]time.Time, regionNames []string) map[format.ID]time.Time {
	out := map[format.ID]time.Time{}
	if len(regionNames) == 0 {
		return out
	}
	for id, t := range last[regionNames[0]] {
		keep := true
		for _, rn := range regionNames[1:] {
			u, ok := last[rn][id]
			if !ok {
				keep = false
				break
			}
			if u.Before(t) {
				t = u
			}
		}
		if keep {
			out[id] = t
		}
	}
	return out
}

// subset returns the ceil(percent%) of packs (sorted by ID) read least
// recently according to last, never-read ones first, ties in a seeded
// random order.
func subset(packs []repo.PackInfo, last map[format.ID]time.Time, percent float64, seed uint64) []repo.PackInfo {
	rng := rand.New(rand.NewPCG(seed, 0x6c6966656f6174))
	type ranked struct {
		p    repo.PackInfo
		t    time.Time
		rank uint64
	}
	rs := make([]ranked, len(packs))
	for i, p := range packs {
		rs[i] = ranked{p: p, t: last[p.ID], rank: rng.Uint64()}
	}
	slices.SortFunc(rs, func(a, b ranked) int {
		if c := a.t.Compare(b.t); c != 0 {
			return c
		}
		return cmp.Compare(a.rank, b.rank)
	})
	n := min(int(math.Ceil(float64(len(packs))*percent/100)), len(packs))
	out := make([]repo.PackInfo, n)
	for i := range out {
		out[i] = rs[i].p
	}
	return out
}
