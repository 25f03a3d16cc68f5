package check

import (
	"context"
	"fmt"
)

// checkHistory verifies the repository against its commit chains and
// what this host saw before (repo.VerifyHistory, reading every record):
// objects that vanished without a deletion record, chains or regions gone
// back, replaced configs and forged records are problems; regions that
// could not be listed are warnings (their objects were not checked).
func (c *checker) checkHistory(ctx context.Context) {
	rep, err := c.r.VerifyHistory(ctx, true)
	if err != nil {
		if ctx.Err() == nil {
			c.problem(Problem{Object: "chain/", Err: fmt.Errorf("verify history: %w", err)})
		}
		return
	}
	for _, f := range rep.Findings {
		c.mu.Lock()
		c.res.History++
		if f.Region == "" {
			c.res.HistoryNoRegion++
		}
		c.mu.Unlock()
		c.problem(Problem{Region: f.Region, Object: f.Object, Err: f.Err})
	}
	for _, u := range rep.Unverified {
		c.warning(Problem{Object: "chain/", Err: fmt.Errorf("history not verified against %s", u)})
	}
}
