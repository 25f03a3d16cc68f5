package repo

import (
	"context"
	"errors"
	"fmt"
	"os"
	"strings"

	"lifeboat/engine/format"
	"lifeboat/storage"
)

// ErrHistoryUnverified reports an AcceptHistory refused because a region
// could not be listed: it may hold the objects that seem to have vanished.
var ErrHistoryUnverified = errors.New("not every region could be listed")

// HistoryAcceptance is the outcome of AcceptHistory.
type HistoryAcceptance struct {
	// Buried lists the vanished objects whose deletion was recorded
	// (tombstones written).
	Buried []string
	// Configs lists the regions whose config was recorded.
	Configs []string
	// Remaining is what the verification after the acceptance still
	// finds (forged records, gaps in chains, configs of another
	// repository or of an older version).
	Remaining *HistoryReport
}

// AcceptHistory makes the repository's present state the one this host
// expects, after an operator decided that what VerifyHistory reports is
// to stay (a recovery to an earlier point in time, objects removed on
// purpose): it forgets this host's state, records the deletion of every
// snapshot, index object and key the commit records name that no region
// holds (an authenticated tombstone each), records every reported
// region's config that is this repository's (one of an older version than
// recorded stays reported: versions never go down), and verifies again. Every region must be reachable (ErrHistoryUnverified),
// and the storage must not be append-only (storage.ErrAppendOnly).
func (r *Repository) AcceptHistory(ctx context.Context) (*HistoryAcceptance, error) {
	if r.st.Capabilities().AppendOnly {
		return nil, fmt.Errorf("accept history: %w", storage.ErrAppendOnly)
	}
	if r.chain.stateDir != "" {
		r.chain.mu.Lock()
		err := os.Remove(r.chainStatePath())
		r.chain.seen = map[string]format.ChainHead{}
		r.chain.mu.Unlock()
		if err != nil && !errors.Is(err, os.ErrNotExist) {
			return nil, fmt.Errorf("accept history: %w", err)
		}
	}
	rep, err := r.VerifyHistory(ctx, true)
	if err != nil {
		return nil, fmt.Errorf("accept history: %w", err)
	}
	if len(rep.Unverified) > 0 {
		return nil, fmt.Errorf("accept history: %w: %s", ErrHistoryUnverified, strings.Join(rep.Unverified, "; "))
	}
	acc := &HistoryAcceptance{}
	byReason := map[string][]string{}
	configs := map[string]bool{}
	for _, f := range rep.Findings {
		switch {
		case f.Region == "" && errors.Is(f.Err, ErrVanished) && format.TombstonableObject(f.Object):
			reason := format.ReasonGC
			switch {
			case strings.HasPrefix(f.Object, format.SnapshotPrefix):
				reason = format.ReasonForget
			case strings.HasPrefix(f.Object, format.KeysPrefix):
				reason = format.ReasonKeyRemove
			}
			byReason[reason] = append(byReason[reason], f.Object)
			acc.Buried = append(acc.Buried, f.Object)
		case errors.Is(f.Err, ErrConfigReplaced):
			configs[f.Region] = true
		}
	}
	for reason, objs := range byReason {
		if err := r.PutTombstones(ctx, objs, reason); err != nil {
			return nil, fmt.Errorf("accept history: %w", err)
		}
	}
	for _, c := range r.ConfigCopies(ctx) {
		if !configs[c.Region] || c.Config == nil || c.Config.ID != r.cfg.ID {
			continue
		}
		if err := r.RecordConfig(ctx, c.Sealed, c.Config.Version); err != nil {
			return nil, fmt.Errorf("accept history: %w", err)
		}
		acc.Configs = append(acc.Configs, c.Region)
	}
	if acc.Remaining, err = r.VerifyHistory(ctx, true); err != nil {
		return nil, fmt.Errorf("accept history: %w", err)
	}
	return acc, nil
}
