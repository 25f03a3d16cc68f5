package syncer

import (
	"context"
	"fmt"
	"slices"

	"lifeboat/engine/repo"
)

// auditTombstones moves the objects that genuine tombstones bury out of
// the drift lists (a region lacks them because they were deleted) into
// rep.Tombstoned when some region still holds them, lists the tombstones
// that do not authenticate, and the regions that need a re-seed.
func auditTombstones(ctx context.Context, r *repo.Repository, set Regions, rep *AuditReport, holding func(string) Presence) error {
	ts, err := r.Tombstones(ctx)
	if err != nil {
		return fmt.Errorf("audit: %w", err)
	}
	buried := map[string]bool{}
	for _, t := range ts {
		if t.Err != nil {
			rep.TombstoneErrors = append(rep.TombstoneErrors, t.Err.Error())
			continue
		}
		buried[t.Object] = true
		if p := holding(t.Object); len(p.Present) > 0 {
			rep.Tombstoned = append(rep.Tombstoned, p)
		}
	}
	drop := func(ps []Presence) []Presence {
		return slices.DeleteFunc(ps, func(p Presence) bool { return buried[p.Object] })
	}
	rep.Keys, rep.Index, rep.Snapshots = drop(rep.Keys), drop(rep.Index), drop(rep.Snapshots)
	stale, err := Stale(ctx, set, 0)
	if err != nil {
		return fmt.Errorf("audit: %w", err)
	}
	rep.Stale = stale
	return nil
}
