package drill

import (
	"cmp"
	"context"
	"math"
	"math/rand/v2"
	"slices"
	"time"

	"lifeboat/engine/format"
	"lifeboat/engine/repo"
)

// candidate is a regular file a sampled drill may pick.
type candidate struct {
	path  string
	size  uint64
	packs []int32 // indices into plan.packs, distinct
}

// plan is what a sampled drill knows of the snapshot before restoring.
type plan struct {
	files   []candidate
	packs   []format.ID
	packIdx map[format.ID]int32
	// specials are the non-regular entries restored with any sample:
	// symlinks, FIFOs and (as root) devices; they cost no data.
	specials []string
	bytes    uint64
}

// sample walks the snapshot, picks the files to restore and sets
// d.selected, d.picked and the report's sample fields.
func (d *drill) sample(ctx context.Context, snap repo.SnapshotRef) error {
	p := &plan{packIdx: map[format.ID]int32{}}
	idx := d.r.Index()
	err := walkTree(ctx, d.r, snap.Tree, "/", func(sp string, n *format.Node) error {
		switch n.Type {
		case format.TypeFile:
			c := candidate{path: sp, size: n.Size}
			for _, id := range n.Content {
				loc, ok := idx.Lookup(id)
				if !ok {
					continue // the restore reports it
				}
				pi, ok := p.packIdx[loc.Pack.ID]
				if !ok {
					pi = int32(len(p.packs))
					p.packs = append(p.packs, loc.Pack.ID)
					p.packIdx[loc.Pack.ID] = pi
				}
				if !slices.Contains(c.packs, pi) {
					c.packs = append(c.packs, pi)
				}
			}
			p.files = append(p.files, c)
			p.bytes += n.Size
		case format.TypeSymlink, format.TypeFIFO:
			p.specials = append(p.specials, sp)
		case format.TypeDev, format.TypeCharDev:
			if d.owner {
				p.specials = append(p.specials, sp)
			}
		}
		return nil
	}, func(sp string, err error) { d.addFailure(sp, nil, err) })
	if err != nil {
		return err
	}
	seed := d.opts.Seed
	if seed == 0 {
		seed = uint64(d.startTime.UnixNano())
	}
	d.rep.Seed = seed
	last := LastRead(d.records, firstOr(d.rep.Regions, ""))
	picked := pick(p, last, d.opts.SamplePercent, seed)
	d.plan = p
	d.selected = map[string]bool{}
	d.picked = map[string]bool{}
	for _, s := range p.specials {
		d.selected[s] = true
	}
	for _, i := range picked {
		f := &p.files[i]
		d.selected[f.path] = true
		d.picked[f.path] = true
		d.rep.SampledFiles++
		d.rep.SampledBytes += int64(f.size)
		if len(d.rep.Sampled) < d.maxList {
			d.rep.Sampled = append(d.rep.Sampled, f.path)
		}
	}
	slices.Sort(d.rep.Sampled)
	return nil
}

func firstOr(s []string, def string) string {
	if len(s) > 0 {
		return s[0]
	}
	return def
}

// pick chooses the files of a sample of percent of p's bytes. It walks the
// packs from the least recently read (never read first; ties in a seeded
// random order) and, for each pack no picked file touches yet, picks the
// smallest file that touches it, until the picked files reach the budget;
// then, if all packs are touched, random files fill the budget. Empty files
// cost nothing and are always picked. It returns indices into p.files in
// ascending order.
func pick(p *plan, last map[format.ID]time.Time, percent float64, seed uint64) []int {
	rng := rand.New(rand.NewPCG(seed, 0x6c626472696c6c))
	budget := uint64(math.Ceil(float64(p.bytes) * percent / 100))
	fileKey := make([]uint64, len(p.files))
	for i := range fileKey {
		fileKey[i] = rng.Uint64()
	}
	packKey := make([]uint64, len(p.packs))
	for i := range packKey {
		packKey[i] = rng.Uint64()
	}
	packFiles := make([][]int32, len(p.packs))
	for i := range p.files {
		for _, pi := range p.files[i].packs {
			packFiles[pi] = append(packFiles[pi], int32(i))
		}
	}
	order := make([]int32, len(p.packs))
	for i := range order {
		order[i] = int32(i)
	}
	slices.SortFunc(order, func(a, b int32) int {
		ta, tb := last[p.packs[a]], last[p.packs[b]] // zero (never) sorts first
		if c := ta.Compare(tb); c != 0 {
			return c
		}
		return cmp.Compare(packKey[a], packKey[b])
	})
	chosen := make([]bool, len(p.files))
	covered := make([]bool, len(p.packs))
	var got uint64
	var out []int
	take := func(i int) {
		chosen[i] = true
		out = append(out, i)
		got += p.files[i].size
		for _, pi := range p.files[i].packs {
			covered[pi] = true
		}
	}
	for i := range p.files {
		if p.files[i].size == 0 {
			take(i)
		}
	}
	for _, pk := range order {
		if got >= budget {
			break
		}
		if covered[pk] {
			continue
		}
		best := -1
		for _, f := range packFiles[pk] {
			i := int(f)
			if chosen[i] {
				continue
			}
			if best < 0 || p.files[i].size < p.files[best].size ||
				(p.files[i].size == p.files[best].size && fileKey[i] < fileKey[best]) {
				best = i
			}
		}
		if best >= 0 {
			take(best)
		}
	}
	if got < budget {
		rest := make([]int, 0, len(p.files))
		for i := range p.files {
			if !chosen[i] {
				rest = append(rest, i)
			}
		}
		slices.SortFunc(rest, func(a, b int) int { return cmp.Compare(fileKey[a], fileKey[b]) })
		for _, i := range rest {
			if got >= budget {
				break
			}
			take(i)
		}
	}
	slices.Sort(out)
	return out
}
