package drill

import "context"

// verifyHistory checks the repository's history against its commit
// chains and what this host saw before (repo.VerifyHistory, on the
// evidence repository: every region): each snapshot, index object or key
// that vanished without a deletion record, chain or region gone back and
// replaced config is a warning of the report, naming it.
// Without an evidence repository, a drill that loses regions sees only the
// others, which may lack what the lost ones hold: it verifies nothing.
func (d *drill) verifyHistory(ctx context.Context) {
	if d.opts.Evidence == nil && (len(d.opts.Lose) > 0 || len(d.opts.Only) > 0) {
		d.warn("repository history not verified: the drill reads only some regions")
		return
	}
	rep, err := d.evidence.VerifyHistory(ctx, false)
	if err != nil {
		if ctx.Err() == nil {
			d.warn("repository history not verified: %v", err)
		}
		return
	}
	for _, f := range rep.Findings {
		d.warn("history: %v", f)
	}
	for _, u := range rep.Unverified {
		d.warn("history not verified against %s", u)
	}
}
