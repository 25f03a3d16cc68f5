package check

import (
	"cmp"
	"context"
	"errors"
	"fmt"
	"math"
	"math/rand/v2"
	"slices"
	"sort"
	"sync"
	"sync/atomic"
	"time"

	"lifeboat/engine/format"
	"lifeboat/engine/repo"
	"lifeboat/storage"
)

// Options select what to verify.
type Options struct {
	// ReadData downloads and verifies pack contents.
	ReadData bool
	// SubsetPercent, when in (0,100), reads only that share of the packs
	// (implies ReadData): the packs read least recently according to
	// LastRead, never-read ones first, ties in an order Seed shuffles. With
	// LastRead kept up to date, successive subsets of p% read every pack
	// within ceil(100/p) runs.
	SubsetPercent float64
	// LastRead gives when each pack was last read and verified (missing:
	// never), for picking the subset; nil treats every pack as never read.
	LastRead map[format.ID]time.Time
	// Seed orders packs of equal LastRead (same seed, same subset).
	Seed uint64
	// Workers bounds parallel reads (0: 1).
	Workers int
	// OnProblem is called for every problem found (may be nil).
	OnProblem func(Problem)
	// OnPackRead is called after each pack's data was verified (coverage).
	OnPackRead func(pack format.ID, err error)
	// OnWarning is called for findings that are not problems, such as
	// orphan packs the next backup adopts (may be nil).
	OnWarning func(Problem)
}

// Problem is one finding.
type Problem struct {
	Object string    // stored object name
	Blob   format.ID // zero when the problem is the whole object
	Path   string    // snapshot path, when known
	Err    error
}

func (p Problem) String() string {
	s := p.Object
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
	Snapshots, Trees, Packs, PacksRead, Blobs int64
	BytesRead                                 int64
	Problems                                  int64
	UnindexedPacks                            int64
	Warnings                                  int64
}

// ErrProblems is returned when any problem was found.
var ErrProblems = errors.New("repository has problems")

// Run checks r. It returns ErrProblems (wrapped) when anything is wrong; the
// problems themselves go to opts.OnProblem.
func Run(ctx context.Context, r *repo.Repository, opts Options) (*Result, error) {
	if opts.Workers <= 0 {
		opts.Workers = 1 // holds a sealed pack and one decrypted blob; decryption is fast
	}
	c := &checker{r: r, opts: opts, free: make(chan []byte, opts.Workers)}
	if err := r.LoadIndex(ctx); err != nil {
		c.problem(Problem{Object: format.IndexPrefix, Err: err})
		if !isIntegrity(err) {
			return &c.res, err
		}
	}
	c.checkPacks(ctx)
	if err := c.checkSnapshots(ctx); err != nil {
		return &c.res, err
	}
	if opts.ReadData || opts.SubsetPercent > 0 {
		c.readData(ctx)
	}
	if err := ctx.Err(); err != nil {
		return &c.res, err
	}
	if c.res.Problems > 0 {
		return &c.res, fmt.Errorf("%w: %d found", ErrProblems, c.res.Problems)
	}
	return &c.res, nil
}

type checker struct {
	r    *repo.Repository
	opts Options
	mu   sync.Mutex
	res  Result
	free chan []byte // pack buffers, one per worker: no garbage per pack
}

func (c *checker) buffer(n int64) []byte {
	select {
	case b := <-c.free:
		if int64(cap(b)) >= n {
			return b[:n]
		}
	default:
	}
	return make([]byte, n, max(n, 17<<20))
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

// readData verifies pack contents.
func (c *checker) readData(ctx context.Context) {
	packs := c.r.Index().Packs()
	sort.Slice(packs, func(i, j int) bool { return string(packs[i].ID[:]) < string(packs[j].ID[:]) })
	if p := c.opts.SubsetPercent; p > 0 && p < 100 {
		packs = subset(packs, c.opts.LastRead, p, c.opts.Seed)
	}
	// Blobs the index places in each pack.
	byPack := map[format.ID][]format.Blob{}
	c.r.Index().Each(func(loc repo.Location) {
		byPack[loc.Pack.ID] = append(byPack[loc.Pack.ID], loc.Blob)
	})
	var next atomic.Int64
	var wg sync.WaitGroup
	for w := 0; w < c.opts.Workers; w++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for ctx.Err() == nil {
				i := int(next.Add(1) - 1)
				if i >= len(packs) {
					return
				}
				err := c.readPack(ctx, packs[i], byPack[packs[i].ID])
				if c.opts.OnPackRead != nil {
					c.mu.Lock()
					c.opts.OnPackRead(packs[i].ID, err)
					c.mu.Unlock()
				}
			}
		}()
	}
	wg.Wait()
}

func (c *checker) readPack(ctx context.Context, p repo.PackInfo, blobs []format.Blob) error {
	name := format.PackName(p.ID)
	data := c.buffer(p.Size)
	defer c.recycle(data)
	err := storage.ReadRange(ctx, c.r.Storage(), name, 0, data)
	if err != nil {
		c.problem(Problem{Object: name, Err: err})
		return err
	}
	c.mu.Lock()
	c.res.PacksRead++
	c.res.BytesRead += int64(len(data))
	c.mu.Unlock()
	var firstErr error
	trailer, err := c.r.VerifyPackBytes(p, data, func(b *format.Blob, err error) {
		c.mu.Lock()
		c.res.Blobs++
		c.mu.Unlock()
		if err != nil {
			c.problem(Problem{Object: name, Blob: b.ID, Err: err})
			firstErr = cmp.Or(firstErr, err)
		}
	})
	if err != nil {
		c.problem(Problem{Object: name, Err: err})
		return err
	}
	inPack := map[format.ID]format.Blob{}
	for _, b := range trailer {
		inPack[b.ID] = b
	}
	for _, b := range blobs {
		if tb, ok := inPack[b.ID]; !ok || tb != b {
			err := errors.New("index entry does not match the pack's own trailer")
			c.problem(Problem{Object: name, Blob: b.ID, Err: err})
			firstErr = cmp.Or(firstErr, err)
		}
	}
	return firstErr
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
