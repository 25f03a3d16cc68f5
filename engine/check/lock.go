package check

import (
	"context"
	"fmt"

	"lifeboat/engine/retain"
)

// checkLocks reports, in every region with object lock, the objects the
// snapshots need whose retention has ended by the repository's clock:
// snapshots no longer fully protected (run lifeboat lock extend). It
// reads the retention of every needed object except packs, and of a
// bounded sample of the packs (retain.DefaultMaxPacks per region, chosen
// by Options.Seed). Regions without object lock cost nothing.
func (c *checker) checkLocks(ctx context.Context) {
	findings, err := retain.Verify(ctx, c.r, retain.Regions(c.r.Storage()), retain.Options{Seed: c.opts.Seed})
	if err != nil && ctx.Err() == nil {
		c.problem(Problem{Object: "object lock", Err: fmt.Errorf("verify retention: %w", err)})
	}
	for _, f := range findings {
		c.problem(Problem{Region: f.Region, Object: f.Object, Err: f.Err()})
	}
}
