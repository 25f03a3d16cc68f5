package repo

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"sync/atomic"

	"lifeboat/engine/format"
	"lifeboat/storage"
)

// SaveGCRecord seals g and stores it as gc/<generation> with a conditional
// create: a generation is written once (storage.ErrExist when it exists).
func (r *Repository) SaveGCRecord(ctx context.Context, g *format.GCRecord) error {
	plain, err := format.EncodeGCRecord(g)
	if err != nil {
		return fmt.Errorf("encode gc record: %w", err)
	}
	sealed, err := r.dk.Seal(plain)
	if err != nil {
		return fmt.Errorf("seal gc record: %w", err)
	}
	name := format.GCName(g.Generation)
	if err := storage.PutBytes(ctx, r.st, name, sealed, storage.PutOptions{IfNotExists: true}); err != nil {
		return fmt.Errorf("write %s: %w", name, err)
	}
	return nil
}

// ListGC returns the generations of the GC records of every region (the
// union, so that a region that is behind cannot hide one), sorted. Objects
// under gc/ that are not record names are left out (check reports them).
func (r *Repository) ListGC(ctx context.Context) ([]uint64, error) {
	var gens []uint64
	err := listAll(ctx, r.st, format.GCPrefix, func(fi storage.Info) error {
		if gen, err := format.ParseGCName(fi.Name); err == nil {
			gens = append(gens, gen)
		}
		return nil
	})
	if err != nil {
		return nil, fmt.Errorf("list gc: %w", err)
	}
	slices.Sort(gens)
	return slices.Compact(gens), nil
}

// LoadGCRecord reads, authenticates and decodes generation gen, failing
// over to another region when a copy is missing or bad.
func (r *Repository) LoadGCRecord(ctx context.Context, gen uint64) (*format.GCRecord, error) {
	name := format.GCName(gen)
	var g *format.GCRecord
	err := r.withReplicas(ctx, name, func(rep storage.Replica) error {
		sealed, err := storage.ReadAll(ctx, rep.Reader, name)
		if err != nil {
			return err
		}
		plain, err := r.dk.Open(sealed)
		if err != nil {
			return &IntegrityError{Object: name, Err: err}
		}
		rec, err := format.DecodeGCRecord(plain)
		if errors.Is(err, format.ErrNewerVersion) {
			return fmt.Errorf("%s: %w", name, err)
		}
		if err != nil {
			return &IntegrityError{Object: name, Err: err}
		}
		if rec.Generation != gen {
			return &IntegrityError{Object: name, Err: fmt.Errorf("record of generation %d: %w", rec.Generation, format.ErrFormat)}
		}
		g = rec
		return nil
	})
	if err != nil {
		return nil, fmt.Errorf("read gc record: %w", err)
	}
	return g, nil
}

// LoadGC reads every GC record of every region, oldest generation first.
func (r *Repository) LoadGC(ctx context.Context) ([]*format.GCRecord, error) {
	gens, err := r.ListGC(ctx)
	if err != nil {
		return nil, err
	}
	recs := make([]*format.GCRecord, len(gens))
	err = parallel(ctx, r.concurrency(), len(gens), func(ctx context.Context, i int) error {
		g, err := r.LoadGCRecord(ctx, gens[i])
		recs[i] = g
		return err
	})
	if err != nil {
		return nil, err
	}
	return recs, nil
}

// CondemnPacks tells the in-memory index that the given packs are condemned
// by a prune: from now on Has reports a blob whose indexed copy is in one of
// them as absent, so SaveBlob stores it again (in a new pack), and a copy
// in a pack not condemned, added later, replaces the condemned location.
// Lookup and LoadBlob still find the condemned copy (it is readable until
// the sweep), which is what Rescue reads. Condemnation lasts for the
// Repository's lifetime.
func (r *Repository) CondemnPacks(packs []format.ID) {
	r.idx.condemn(packs)
}

// TrackReferences makes the index record which packs this session uses:
// every pack in which Has found a blob, and every pack the session's writer
// uploads. ReferencedPacks reports them; a backup uses this to know whether
// a prune that condemned packs after its start condemned data it already
// references. Each call starts a new record (one backup at a time).
func (r *Repository) TrackReferences() {
	x := r.idx
	x.mu.Lock()
	defer x.mu.Unlock()
	x.tracking = true
	x.refs = make([]uint32, len(x.packs))
}

// ReferencedPacks returns those of packs that the session referenced since
// TrackReferences.
func (r *Repository) ReferencedPacks(packs []format.ID) []format.ID {
	x := r.idx
	x.mu.RLock()
	defer x.mu.RUnlock()
	var out []format.ID
	for _, p := range packs {
		if pos, ok := x.packPos[p]; ok && x.tracking && atomic.LoadUint32(&x.refs[pos]) != 0 {
			out = append(out, p)
		}
	}
	return out
}

// ReloadIndexObjects reads the given index objects again (a prune's new
// index, after CondemnPacks), so that blobs they place in packs not
// condemned get that location. An object that does not exist is skipped.
func (r *Repository) ReloadIndexObjects(ctx context.Context, ids []format.ID) error {
	defer r.idx.settle()
	return parallel(ctx, r.concurrency(), len(ids), func(ctx context.Context, i int) error {
		packs, err := r.ReadIndexObject(ctx, ids[i])
		if errors.Is(err, storage.ErrNotExist) {
			return nil
		}
		if err != nil {
			return err
		}
		for j := range packs {
			r.idx.add(&packs[j])
		}
		r.idx.mu.Lock()
		r.idx.files[ids[i]] = struct{}{}
		r.idx.mu.Unlock()
		return nil
	})
}

// Rescue copies every blob whose indexed location is still in one of packs
// (condemned packs: call CondemnPacks first) into this session's new packs:
// it reads and verifies each blob and saves it again through the writer.
// It copies the whole indexed content of those packs, since the session
// knows which packs it used, not which of their blobs. It returns the
// number of blobs copied; they are durable after Flush.
func (r *Repository) Rescue(ctx context.Context, packs []format.ID) (int, error) {
	want := map[format.ID]struct{}{}
	for _, p := range packs {
		want[p] = struct{}{}
	}
	var blobs []format.Blob
	r.idx.Each(func(loc Location) {
		if _, ok := want[loc.Pack.ID]; ok {
			blobs = append(blobs, loc.Blob)
		}
	})
	n := 0
	for _, b := range blobs {
		data, err := r.LoadBlob(ctx, b.ID)
		if err != nil {
			return n, fmt.Errorf("rescue blob %s: %w", b.ID.Short(), err)
		}
		if _, err := r.SaveBlob(ctx, b.Type, b.ID, data); err != nil {
			return n, fmt.Errorf("rescue blob %s: %w", b.ID.Short(), err)
		}
		n++
	}
	return n, nil
}
