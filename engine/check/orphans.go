package check

import (
	"bytes"
	"context"
	"fmt"
	"slices"

	"lifeboat/engine/format"
	"lifeboat/engine/repo"
)

// checkOrphans reports the stored packs that no index object names
// (stored maps every listed object under data/ to its size, indexed the
// names of the indexed packs). Such a pack is left by a backup that died
// between storing it and indexing it, or belongs to a backup still running;
// it is not damage (no snapshot depends on it yet), and the next backup
// adopts it, so it is a warning naming that fix.
//
// With data reading on, each orphan is also downloaded and verified, as the
// next backup would before adopting it. One that fails is a problem: puts
// are atomic, so a stored pack that does not verify was damaged in storage
// (or by its writer), a backup will never adopt it, and a backup still
// running on another host may be about to name it in its index.
func (c *checker) checkOrphans(ctx context.Context, stored map[string]int64, indexed map[string]bool) {
	var orphans []repo.PackInfo
	for name, size := range stored {
		if indexed[name] {
			continue
		}
		c.res.UnindexedPacks++
		id, err := format.ParseName(format.DataPrefix, name)
		if err != nil {
			c.warning(Problem{Object: name, Err: fmt.Errorf("not a pack name, ignored: %w", err)})
			continue
		}
		orphans = append(orphans, repo.PackInfo{ID: id, Size: size})
	}
	slices.SortFunc(orphans, func(a, b repo.PackInfo) int { return bytes.Compare(a.ID[:], b.ID[:]) })
	verify := c.opts.ReadData || c.opts.SubsetPercent > 0
	for _, p := range orphans {
		name := format.PackName(p.ID)
		if !verify {
			c.warning(Problem{Object: name, Err: fmt.Errorf("%w: left by an interrupted backup, or one still running; the next `lifeboat backup` verifies and adopts it", repo.ErrOrphanPack)})
			continue
		}
		if _, _, err := c.r.VerifyPack(ctx, p); err != nil {
			if ctx.Err() != nil {
				return
			}
			c.problem(Problem{Object: name, Err: fmt.Errorf("%w and fails verification, so no backup will adopt it: %w; no snapshot uses it: remove it once no backup is running", repo.ErrOrphanPack, err)})
			continue
		}
		c.warning(Problem{Object: name, Err: fmt.Errorf("%w (its blobs verify): left by an interrupted backup, or one still running; the next `lifeboat backup` adopts it", repo.ErrOrphanPack)})
	}
}

// warning reports a finding that is not a problem (it does not fail the
// check) to opts.OnWarning.
func (c *checker) warning(p Problem) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.res.Warnings++
	if c.opts.OnWarning != nil {
		c.opts.OnWarning(p)
	}
}
