package backup

import (
	"context"
	"fmt"

	"lifeboat/engine/repo"
)

// verifyHistory checks, before the backup, that the repository's history
// did not go back since this host last looked (repo.VerifyHistory,
// reading only the commit records appended since): each finding, naming
// what vanished or went back, is a notice; the backup goes on.
func verifyHistory(ctx context.Context, r *repo.Repository, opts *Options) {
	rep, err := r.VerifyHistory(ctx, false)
	if err != nil {
		notice(opts, fmt.Errorf("repository history not verified: %w", err))
		return
	}
	for _, f := range rep.Findings {
		notice(opts, f)
	}
}

func notice(opts *Options, err error) {
	if opts.OnNotice != nil {
		opts.OnNotice(err)
	}
}
