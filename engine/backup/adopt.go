package backup

import (
	"context"
	"fmt"

	"lifeboat/engine/format"
	"lifeboat/engine/repo"
)

// adoptOrphans indexes the packs a crashed backup stored without indexing
// them (repo.AdoptOrphans), before this run saves anything, so that it
// deduplicates against their blobs instead of uploading them again. It is
// housekeeping: a failure, or an orphan that fails verification (left in
// place), is reported to opts.OnNotice and the backup goes on.
func adoptOrphans(ctx context.Context, r *repo.Repository, opts *Options, seed uint64) *repo.AdoptResult {
	res, err := r.AdoptOrphans(ctx, repo.AdoptOptions{Seed: seed})
	notice := func(err error) {
		if opts.OnNotice != nil {
			opts.OnNotice(err)
		}
	}
	for _, rj := range res.Rejected {
		notice(fmt.Errorf("%s: %w (check --read-data reports it; no snapshot uses it: remove it once no backup is running)", format.PackName(rj.Pack.ID), rj.Err))
	}
	if err != nil && ctx.Err() == nil {
		notice(fmt.Errorf("adopting orphan packs: %w (the next backup tries again)", err))
	}
	return res
}
