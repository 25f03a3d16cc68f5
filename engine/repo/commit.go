package repo

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"slices"
	"strings"

	"lifeboat/engine/format"
	"lifeboat/storage"
)

// ErrTooFewComplete reports a snapshot commit for which fewer regions than
// the write quorum hold every object the session wrote. No region gets the
// snapshot; the objects stay, and the next backup (or a sync) reuses them.
var ErrTooFewComplete = errors.New("too few regions hold every object of the backup")

// CommitSnapshot commits a snapshot like SaveSnapshot, but on a region set
// only to the regions that hold every object written through the set (the
// regions not Lagging: no write to them failed, or every failed one was
// written again since). It returns the snapshot's ID and the regions left
// behind, sorted: they lack the snapshot and some of its objects until
// `lifeboat sync` copies them. With fewer complete regions than the write
// quorum it fails with ErrTooFewComplete naming the regions, and no region
// gets the snapshot. On any other storage it is SaveSnapshot (no region is
// behind). Call Flush first. As with SaveSnapshot, an error wrapping
// ErrNotChained means the snapshot is committed but not recorded.
func (r *Repository) CommitSnapshot(ctx context.Context, s *format.Snapshot) (format.ID, []string, error) {
	cs := regionsOf(r.st)
	if cs == nil {
		id, err := r.SaveSnapshot(ctx, s)
		return id, nil, err
	}
	plain, err := r.encodeSnapshot(s)
	if err != nil {
		return format.ID{}, nil, fmt.Errorf("encode snapshot: %w", err)
	}
	sealed, id, err := r.sealAndName(plain)
	if err != nil {
		return id, nil, fmt.Errorf("save snapshot: %w", err)
	}
	lagging := cs.Lagging()
	var complete []string
	for _, name := range cs.Names() {
		if !slices.Contains(lagging, name) {
			complete = append(complete, name)
		}
	}
	if q := cs.WriteQuorum(); len(complete) < q {
		have := "none"
		if len(complete) > 0 {
			have = strings.Join(complete, ", ")
		}
		return id, sorted(lagging), fmt.Errorf("save snapshot %s: %w: complete: %s; behind (missed writes): %s; the write quorum is %d; no region got the snapshot (run lifeboat sync, then back up again)",
			id.Short(), ErrTooFewComplete, have, strings.Join(lagging, ", "), q)
	}
	name := format.SnapshotName(id)
	err = cs.PutOnly(ctx, complete, name, bytes.NewReader(sealed), int64(len(sealed)), storage.PutOptions{IfNotExists: true})
	if errors.Is(err, storage.ErrExist) {
		// A copy of this very snapshot appeared in a region while it was
		// being created: a concurrent sync copies snapshots it finds in one
		// region to the others. The name is the SHA-256 of the sealed
		// bytes, so that copy is these bytes, and rewriting it changes
		// nothing; the conditional create has undone its own copies, so
		// write them again.
		err = cs.PutOnly(ctx, complete, name, bytes.NewReader(sealed), int64(len(sealed)), storage.PutOptions{})
	}
	if err != nil {
		return id, sorted(cs.Lagging()), fmt.Errorf("save snapshot: write %s: %w", name, err)
	}
	if r.cache != nil {
		r.cache.put(name, sealed)
	}
	r.rememberSnapshot(id, s, true)
	return id, sorted(cs.Lagging()), r.recordSnapshot(ctx, id)
}

func sorted(s []string) []string {
	s = slices.Clone(s)
	slices.Sort(s)
	return s
}
