package drill

import "context"

// verifyHistory checks the repository's history against its commit
// chains and what this host saw before (repo.VerifyHistory, on the
// evidence repository: every region): each snapshot, index object or key
// that vanished without a deletion record, chain or region gone back and
// replaced config is a warning of the report, naming it.
func (d *drill) verifyHistory(ctx context.Context) {
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
