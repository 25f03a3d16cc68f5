package repo

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"math/rand/v2"
	"slices"
	"sync"

	"lifeboat/engine/format"
	"lifeboat/storage"
)

// MaxAdoptPerRun bounds how many orphan packs one AdoptOrphans call
// downloads and verifies (each costs a pack's download, 16 MiB by
// default). A crash leaves at most a few orphans (one per pack upload in
// flight), so one run adopts them all; beyond the bound the rest wait for
// later runs, which pick their share in a different order each run (so
// orphans that fail verification, which stay, cannot starve the others).
const MaxAdoptPerRun = 64

// ErrOrphanPack marks a stored pack that no index object names: a backup
// stored it and died before writing the index object naming it, or a
// backup (on another host) is still running and about to name it.
var ErrOrphanPack = errors.New("pack is not named by any index")

// Rejected is an orphan pack that was not adopted because it failed
// verification.
type Rejected struct {
	Pack PackInfo
	Err  error
}

// AdoptResult tells what AdoptOrphans did.
type AdoptResult struct {
	Orphans  int        // orphan packs found
	Adopted  []PackInfo // verified and indexed by this call
	Blobs    int64      // blobs in the adopted packs
	Rejected []Rejected // failed verification: not adopted, not deleted
	Deferred int        // left for a later run (MaxAdoptPerRun)
}

// AdoptOptions tune AdoptOrphans.
type AdoptOptions struct {
	// Max bounds the packs verified in this call (0: MaxAdoptPerRun).
	Max int
	// Seed orders the orphans when there are more than Max.
	Seed uint64
}

// FindOrphans lists the stored packs (across all regions of a region set)
// that no index object names. When some listed pack is not in the loaded
// index, it first loads index objects written since the index was loaded,
// so that a pack whose index object another backup has just written is not
// taken for an orphan. A listed object whose name
// is not a pack name is ignored (check reports it).
func (r *Repository) FindOrphans(ctx context.Context) ([]PackInfo, error) {
	var stored []PackInfo
	err := listAll(ctx, r.st, format.DataPrefix, func(fi storage.Info) error {
		if id, err := format.ParseName(format.DataPrefix, fi.Name); err == nil {
			stored = append(stored, PackInfo{ID: id, Size: fi.Size})
		}
		return nil
	})
	if err != nil {
		return nil, fmt.Errorf("find orphan packs: list packs: %w", err)
	}
	unindexed := func() []PackInfo {
		r.idx.mu.RLock()
		defer r.idx.mu.RUnlock()
		var out []PackInfo
		for _, p := range stored {
			if _, ok := r.idx.packPos[p.ID]; !ok {
				out = append(out, p)
			}
		}
		return out
	}
	// Every listed pack indexed already: loading more index objects could
	// only index more, so there is no orphan, and index/ need not be
	// listed again (a cost that grew with every backup).
	orphans := unindexed()
	if len(orphans) == 0 {
		return nil, nil
	}
	// Listing packs before index objects: a pack listed above whose index
	// object was written before this load is recognized.
	if err := r.LoadIndex(ctx); err != nil {
		return nil, fmt.Errorf("find orphan packs: %w", err)
	}
	orphans = unindexed()
	slices.SortFunc(orphans, func(a, b PackInfo) int { return bytes.Compare(a.ID[:], b.ID[:]) })
	// A pack prune swept is tombstoned before its index entries go and
	// may outlive them where its deletion is pending: never adopt it.
	if orphans, err = r.dropBuriedPacks(ctx, orphans); err != nil || len(orphans) == 0 {
		return orphans, err
	}
	// Nor a pack an outstanding prune condemned: its index objects may be
	// gone (tombstoned) before the pack's tombstone is written.
	condemned, err := r.OutstandingCondemned(ctx)
	if err != nil {
		return nil, fmt.Errorf("find orphan packs: %w", err)
	}
	return slices.DeleteFunc(orphans, func(p PackInfo) bool { return condemned[p.ID] }), nil
}

// VerifyPack downloads a whole pack (from any region holding a good copy)
// and verifies it: its SHA-256 against its name, its authentication, its
// trailer and every blob in it (decrypted, decompressed and re-hashed). It
// returns the pack as stored and its blobs, with offsets. Any failure,
// of the pack or of one blob, is an error.
func (r *Repository) VerifyPack(ctx context.Context, pack PackInfo) (PackInfo, []format.Blob, error) {
	name := format.PackName(pack.ID)
	var blobs []format.Blob
	var size int64
	err := r.withReplicas(ctx, name, func(rep storage.Replica) error {
		sealed, err := storage.ReadAll(ctx, rep.Reader, name)
		if err != nil {
			return fmt.Errorf("read pack %s: %w", pack.ID.Short(), err)
		}
		var blobErr error
		bs, err := r.VerifyPackBytes(PackInfo{ID: pack.ID, Size: int64(len(sealed))}, sealed, func(_ *format.Blob, err error) {
			blobErr = cmpErr(blobErr, err)
		})
		if err = cmpErr(err, blobErr); err != nil {
			return err
		}
		r.reads.served(rep.Region, int64(len(sealed)))
		blobs, size = bs, int64(len(sealed))
		return nil
	})
	if err != nil {
		return pack, nil, err
	}
	return PackInfo{ID: pack.ID, Size: size}, blobs, nil
}

// AdoptOrphans indexes the packs no index object names (see FindOrphans):
// each is downloaded and verified (VerifyPack), then described by a
// one-pack index object exactly as a backup describes each pack it
// uploads, and its blobs join the in-memory index, so that what follows
// deduplicates against them. When a writing session is open (or opens
// later, before Flush), its Flush folds these index objects into its
// consolidated one. A pack that fails verification is reported in
// Rejected and left alone: never deleted here.
//
// Adopting a pack that another host's backup stored and is about to index
// is safe: puts are atomic, so a listed pack is complete; that host's index
// object then names the same pack with the same blobs, and identical
// duplicate index entries are harmless (the index keeps one).
//
// An error is returned only when the orphans could not be listed or an
// index object could not be written; the result then tells what was done.
func (r *Repository) AdoptOrphans(ctx context.Context, opts AdoptOptions) (*AdoptResult, error) {
	res := &AdoptResult{}
	orphans, err := r.FindOrphans(ctx)
	if err != nil {
		return res, err
	}
	res.Orphans = len(orphans)
	limit := opts.Max
	if limit <= 0 {
		limit = MaxAdoptPerRun
	}
	if len(orphans) > limit {
		rng := rand.New(rand.NewPCG(opts.Seed, 0x61646f7074))
		rng.Shuffle(len(orphans), func(i, j int) { orphans[i], orphans[j] = orphans[j], orphans[i] })
		res.Deferred = len(orphans) - limit
		orphans = orphans[:limit]
	}
	// Each worker holds one sealed pack in memory.
	var mu sync.Mutex
	err = parallel(ctx, min(2, r.concurrency()), len(orphans), func(ctx context.Context, i int) error {
		pack, blobs, err := r.VerifyPack(ctx, orphans[i])
		if err != nil {
			if ctx.Err() != nil {
				return ctx.Err()
			}
			mu.Lock()
			res.Rejected = append(res.Rejected, Rejected{Pack: orphans[i], Err: fmt.Errorf("%w: not adopted: %w", ErrOrphanPack, err)})
			mu.Unlock()
			return nil
		}
		if err := r.adopt(ctx, format.IndexPack{ID: pack.ID, Size: pack.Size, Blobs: blobs}); err != nil {
			return fmt.Errorf("adopt pack %s: %w", pack.ID.Short(), err)
		}
		mu.Lock()
		res.Adopted = append(res.Adopted, pack)
		res.Blobs += int64(len(blobs))
		mu.Unlock()
		return nil
	})
	slices.SortFunc(res.Adopted, func(a, b PackInfo) int { return bytes.Compare(a.ID[:], b.ID[:]) })
	slices.SortFunc(res.Rejected, func(a, b Rejected) int { return bytes.Compare(a.Pack.ID[:], b.Pack.ID[:]) })
	return res, err
}

// adopt writes a one-pack index object for a verified pack, adds it to the
// in-memory index and to the writing session's packs, so that Flush names
// it in its consolidated index object and removes the one-pack object.
func (r *Repository) adopt(ctx context.Context, ip format.IndexPack) error {
	frag, err := r.writeIndex(ctx, []format.IndexPack{ip})
	if err != nil {
		return err
	}
	r.idx.add(&ip)
	r.writeMu.Lock()
	r.adopted = append(r.adopted, adoptedPack{ip: ip, frag: frag})
	r.writeMu.Unlock()
	return nil
}

// adoptedPack is a pack adopted since the last Flush, with its one-pack
// index object.
type adoptedPack struct {
	ip   format.IndexPack
	frag format.ID
}
