package retain

import (
	"context"
	"errors"
	"fmt"
	"math/rand/v2"
	"sort"
	"strings"
	"sync"
	"time"

	"golang.org/x/sync/errgroup"

	"lifeboat/engine/format"
	"lifeboat/engine/repo"
	"lifeboat/storage"
)

// Finding is a needed object that is not protected in a region.
type Finding struct {
	Region string
	Object string
	// Snapshot is the oldest kept snapshot needing the object (zero for
	// the config and keys).
	Snapshot format.ID
	// Until is the object's retain-until (zero: no retention).
	Until time.Time
}

// Err describes the finding; it wraps ErrUnprotected.
func (f Finding) Err() error {
	who := "every snapshot"
	if !f.Snapshot.IsZero() {
		who = "snapshot " + f.Snapshot.Short()
	}
	if f.Until.IsZero() {
		return fmt.Errorf("needed by %s: %w (no retention); run lifeboat lock extend", who, ErrUnprotected)
	}
	return fmt.Errorf("needed by %s: %w (retained until %s only); run lifeboat lock extend", who, ErrUnprotected, f.Until.UTC().Format(time.RFC3339))
}

// Verify reads, in every region of regs with object lock, the retention
// of what the kept snapshots of r need: every object except packs, and at
// most opts.MaxPacks of the packs (a sample chosen by opts.Seed when
// more are needed). It returns the objects whose retention has ended by
// now. An object a region lacks is not a finding (check reports missing
// copies elsewhere).
func Verify(ctx context.Context, r *repo.Repository, regs []Region, opts Options) ([]Finding, error) {
	opts.defaults(r)
	locked := lockedRegions(regs)
	if len(locked) == 0 {
		return nil, nil
	}
	reach, err := Reachable(ctx, r, opts.Keep)
	if err != nil {
		return nil, err
	}
	objs := sample(reach.Objects, opts.MaxPacks, opts.Seed)
	now := opts.Now()
	var out []Finding
	for _, rg := range locked {
		_, rt := Locked(rg)
		var mu sync.Mutex
		g, gctx := errgroup.WithContext(ctx)
		g.SetLimit(opts.Concurrency)
		for _, o := range objs {
			g.Go(func() error {
				var ret storage.Retention
				err := withRetry(gctx, func() (err error) {
					ret, err = rt.Retention(gctx, o.Name)
					return err
				})
				if errors.Is(err, storage.ErrNotExist) {
					return nil
				}
				if err != nil {
					return fmt.Errorf("region %s: retention of %s: %w", rg.Name, o.Name, err)
				}
				if ret.LegalHold || ret.Until.After(now) {
					return nil
				}
				mu.Lock()
				out = append(out, Finding{Region: rg.Name, Object: o.Name, Snapshot: o.Snapshot, Until: ret.Until})
				mu.Unlock()
				return nil
			})
		}
		if err := g.Wait(); err != nil {
			return out, err
		}
	}
	sort.Slice(out, func(i, j int) bool {
		if out[i].Region != out[j].Region {
			return out[i].Region < out[j].Region
		}
		return out[i].Object < out[j].Object
	})
	return out, nil
}

// sample keeps every object that is not a pack and at most max packs,
// chosen by a seeded shuffle when there are more.
func sample(objs []Object, max int, seed uint64) []Object {
	var out, packs []Object
	for _, o := range objs {
		if strings.HasPrefix(o.Name, format.DataPrefix) {
			packs = append(packs, o)
		} else {
			out = append(out, o)
		}
	}
	if len(packs) > max {
		rnd := rand.New(rand.NewPCG(seed, 0x10c4))
		rnd.Shuffle(len(packs), func(i, j int) { packs[i], packs[j] = packs[j], packs[i] })
		packs = packs[:max]
	}
	return append(out, packs...)
}
