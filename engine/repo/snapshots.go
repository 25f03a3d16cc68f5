package repo

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"sort"
	"strings"

	"lifeboat/engine/format"
	"lifeboat/storage"
)

// SnapshotRef is a snapshot with its ID.
type SnapshotRef struct {
	ID format.ID
	*format.Snapshot
}

// SaveSnapshot commits a snapshot. Call Flush first: everything it
// references must be durable. The object is created with a conditional put,
// so an existing snapshot is never replaced. Then the commit is recorded in
// this writer's commit chain (chain.go): if that fails, the snapshot is
// committed all the same and the error wraps ErrNotChained.
func (r *Repository) SaveSnapshot(ctx context.Context, s *format.Snapshot) (format.ID, error) {
	data, err := r.encodeSnapshot(s)
	if err != nil {
		return format.ID{}, fmt.Errorf("encode snapshot: %w", err)
	}
	id, err := r.writeSealed(ctx, format.SnapshotName, data, storage.PutOptions{IfNotExists: true})
	if err != nil {
		return id, fmt.Errorf("save snapshot: %w", err)
	}
	r.rememberSnapshot(id, s, true)
	return id, r.recordSnapshot(ctx, id)
}

// encodeSnapshot sets s.Version to the repository's format version (a
// snapshot never carries a version the config does not allow, so the
// releases that wrote the repository keep reading every snapshot) and
// encodes it.
func (r *Repository) encodeSnapshot(s *format.Snapshot) ([]byte, error) {
	s.Version = r.cfg.Version
	return format.EncodeSnapshot(s)
}

// LoadSnapshot reads and verifies one snapshot.
func (r *Repository) LoadSnapshot(ctx context.Context, id format.ID) (*format.Snapshot, error) {
	name := format.SnapshotName(id)
	plain, err := r.readVerified(ctx, name, id)
	if err != nil {
		return nil, err
	}
	s, err := format.DecodeSnapshot(plain)
	if errors.Is(err, format.ErrNewerVersion) {
		return nil, fmt.Errorf("%s: %w", name, err)
	}
	if err != nil {
		return nil, &IntegrityError{Object: name, Err: err}
	}
	return s, nil
}

// snapshotIDs lists the snapshots of every region, leaving out the
// tombstoned ones (forgotten, possibly still present in a region that was
// down).
func (r *Repository) snapshotIDs(ctx context.Context) ([]format.ID, error) {
	ids, err := listIDs(ctx, r.st, format.SnapshotPrefix)
	if err != nil {
		return nil, err
	}
	return r.dropBuried(ctx, format.SnapshotPrefix, format.SnapshotName, ids)
}

// Snapshots lists every snapshot, oldest first. Tombstoned snapshots are
// left out.
func (r *Repository) Snapshots(ctx context.Context) ([]SnapshotRef, error) {
	ids, err := r.snapshotIDs(ctx)
	if err != nil {
		return nil, err
	}
	refs := make([]SnapshotRef, len(ids))
	err = parallel(ctx, r.concurrency(), len(ids), func(ctx context.Context, i int) error {
		s, err := r.LoadSnapshot(ctx, ids[i])
		if err != nil {
			return err
		}
		refs[i] = SnapshotRef{ID: ids[i], Snapshot: s}
		return nil
	})
	if err != nil {
		return nil, err
	}
	// Every header is known now: the next search for the latest snapshot
	// reads none but the one it finds.
	c := r.headers
	c.mu.Lock()
	c.load(r)
	var missing []format.ID
	var heads []snapshotHeader
	for _, ref := range refs {
		if _, ok := c.m[ref.ID]; !ok {
			missing = append(missing, ref.ID)
			heads = append(heads, headerOf(ref.Snapshot))
		}
	}
	c.update(r, ids, missing, heads)
	c.mu.Unlock()
	sort.SliceStable(refs, func(i, j int) bool { return refs[i].Time.Before(refs[j].Time) })
	return refs, nil
}

// Filter selects snapshots.
type Filter struct {
	Host  string
	Tags  []string // all must be present
	Paths []string // snapshot paths must equal these (order-insensitive)
}

// Match reports whether s passes the filter.
func (f Filter) Match(s *format.Snapshot) bool {
	if f.Host != "" && s.Host != f.Host {
		return false
	}
	for _, t := range f.Tags {
		if !slices.Contains(s.Tags, t) {
			return false
		}
	}
	if len(f.Paths) > 0 {
		a, b := slices.Clone(f.Paths), slices.Clone(s.Paths)
		slices.Sort(a)
		slices.Sort(b)
		if !slices.Equal(a, b) {
			return false
		}
	}
	return true
}

// FindSnapshot resolves "latest" (the newest snapshot passing f) or a
// unique ID prefix (at least 4 hex characters). Tombstoned snapshots are
// not found. "latest" reads only the snapshot it returns and those whose
// headers the session's snapshot header cache lacks (see headerCache), so
// its cost does not grow with the number of snapshots decoded before.
func (r *Repository) FindSnapshot(ctx context.Context, sel string, f Filter) (SnapshotRef, error) {
	if sel == "latest" || sel == "" {
		return r.latestSnapshot(ctx, f)
	}
	if len(sel) < 4 {
		return SnapshotRef{}, fmt.Errorf("snapshot %q: give at least 4 characters of its ID", sel)
	}
	ids, err := r.snapshotIDs(ctx)
	if err != nil {
		return SnapshotRef{}, err
	}
	var match []format.ID
	for _, id := range ids {
		if strings.HasPrefix(id.String(), strings.ToLower(sel)) {
			match = append(match, id)
		}
	}
	switch len(match) {
	case 0:
		return SnapshotRef{}, fmt.Errorf("snapshot %q: %w", sel, ErrSnapshotNotFound)
	case 1:
		s, err := r.LoadSnapshot(ctx, match[0])
		if err != nil {
			return SnapshotRef{}, err
		}
		return SnapshotRef{ID: match[0], Snapshot: s}, nil
	}
	return SnapshotRef{}, fmt.Errorf("snapshot %q is ambiguous (%d matches)", sel, len(match))
}

// LoadTree reads and decodes a tree blob.
func (r *Repository) LoadTree(ctx context.Context, id format.ID) (*format.Tree, error) {
	data, err := r.LoadBlob(ctx, id)
	if err != nil {
		return nil, err
	}
	t, err := format.DecodeTree(data)
	if errors.Is(err, format.ErrNewerVersion) {
		return nil, fmt.Errorf("tree %s: %w", id.Short(), err)
	}
	if err != nil {
		loc, _ := r.idx.Lookup(id)
		return nil, &IntegrityError{Object: format.PackName(loc.Pack.ID), Blob: id, Err: err}
	}
	return t, nil
}

// SaveTree encodes and stores a tree blob, returning its ID. Trees are
// encoded as the repository's format version prescribes; a node that
// encoding cannot store unchanged (extended attributes before version 3, a
// name that is not UTF-8 in version 1) is an error wrapping
// format.ErrNotRepresentable, never stored altered (see
// format.TreeEncoding.CheckNode, which writers use to leave such nodes out).
func (r *Repository) SaveTree(ctx context.Context, t *format.Tree) (format.ID, error) {
	data, err := format.EncodeTree(t, format.TreeEncodingFor(r.cfg.Version))
	if err != nil {
		return format.ID{}, fmt.Errorf("encode tree: %w", err)
	}
	id := r.Hash(data)
	if _, err := r.SaveBlob(ctx, format.BlobTree, id, data); err != nil {
		return id, err
	}
	return id, nil
}
