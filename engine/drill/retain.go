package drill

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"time"

	"lifeboat/engine/format"
	"lifeboat/engine/repo"
	"lifeboat/storage"
)

// DefaultRecordRetention is how long drill and check records are kept by
// default: 90 days.
const DefaultRecordRetention = 90 * 24 * time.Hour

// ExpiredRecords returns the records of recs that the record retention
// rule does not keep, oldest first. The rule keeps every record whose time
// is after now − keep, the newest record of each drill name (ad-hoc
// drills, without a name, count as one name) and the newest check record,
// however old: the last evidence of every drill survives. Records of
// another kind are kept. Ties in time are broken by ID, the larger kept.
// It is pure: no storage, no clock.
func ExpiredRecords(recs []*Record, now time.Time, keep time.Duration) []*Record {
	cutoff := now.Add(-keep)
	newest := map[string]*Record{} // by "drill:<name>" or "check"
	newer := func(a, b *Record) bool {
		if !a.Time.Equal(b.Time) {
			return a.Time.After(b.Time)
		}
		return slices.Compare(a.ID[:], b.ID[:]) > 0
	}
	key := func(rec *Record) (string, bool) {
		switch rec.Kind {
		case KindCheck:
			return KindCheck, true
		case KindDrill:
			name := ""
			if rec.Drill != nil {
				name = rec.Drill.Name
			}
			return KindDrill + ":" + name, true
		}
		return "", false
	}
	for _, rec := range recs {
		if k, ok := key(rec); ok && (newest[k] == nil || newer(rec, newest[k])) {
			newest[k] = rec
		}
	}
	var out []*Record
	for _, rec := range recs {
		k, ok := key(rec)
		if !ok || rec.Time.After(cutoff) || newest[k] == rec {
			continue
		}
		out = append(out, rec)
	}
	slices.SortStableFunc(out, func(a, b *Record) int { return a.Time.Compare(b.Time) })
	return out
}

// Deleter deletes objects; a region set deletes from every region.
type Deleter interface {
	Delete(ctx context.Context, name string) error
}

// DeleteRecords deletes the drill records ids from st, every region of a
// region set. Records are not needed to restore, so this is a plain
// deletion, not a tombstone (tombstones cover keys, packs, indexes and
// snapshots only): a region that misses a deletion (it was down) keeps
// the record, lifeboat sync may copy it back to the others, and the next
// DeleteRecords removes it again. It returns how many were deleted; an
// object already gone counts as deleted, and the errors of the others are
// joined.
func DeleteRecords(ctx context.Context, st Deleter, ids []format.ID) (int, error) {
	n := 0
	var errs []error
	for _, id := range ids {
		err := st.Delete(ctx, repo.DrillName(id))
		switch {
		case err == nil, errors.Is(err, storage.ErrNotExist):
			n++
		case ctx.Err() != nil:
			return n, fmt.Errorf("delete drill records: %w", ctx.Err())
		default:
			errs = append(errs, err)
		}
	}
	if len(errs) > 0 {
		return n, fmt.Errorf("delete drill records: %w", errors.Join(errs...))
	}
	return n, nil
}
