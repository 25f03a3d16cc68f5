package main

import (
	"context"
	"time"

	"lifeboat/crypto"
	"lifeboat/engine/check"
	"lifeboat/engine/drill"
	"lifeboat/engine/format"
	"lifeboat/engine/repo"
	"lifeboat/storage"
)

// runCheck opens the repository on st through a coverage tracker and checks
// it with opts. A --read-data-subset takes the packs that the region serving
// reads has verified least recently according to the coverage records of
// earlier drills and checks, so that successive checks read every pack.
// The packs verified are stored as a coverage record; a failure to store it
// goes to warn and does not change the check's result.
func runCheck(ctx context.Context, st storage.Storage, id *crypto.Identity, cacheDir, host string, opts check.Options, warn func(error)) (*check.Result, error) {
	// Packs are read region by region through the tracker, so that the
	// coverage record names the region each verified pack came from.
	tracked := drill.Track(st)
	r, err := repo.Open(ctx, tracked, id, repo.Options{CacheDir: cacheDir})
	if err != nil {
		return nil, err
	}
	if opts.SubsetPercent > 0 && opts.SubsetPercent < 100 {
		recs, _, lerr := drill.LoadRecords(ctx, r)
		if lerr != nil {
			warn(lerr) // pick without coverage: a seeded random subset
		}
		opts.LastRead = drill.LastRead(recs, tracked.Preferred())
	}
	var verified []format.ID
	onRead := opts.OnPackRead
	opts.OnPackRead = func(pack format.ID, err error) {
		if err == nil {
			verified = append(verified, pack)
		}
		if onRead != nil {
			onRead(pack, err)
		}
	}
	res, err := check.Run(ctx, r, opts)
	if len(verified) > 0 && ctx.Err() == nil {
		rec := drill.CheckRecord(time.Now(), host, tracked, verified, len(r.Index().Packs()))
		if _, rerr := drill.SaveRecord(ctx, r, rec); rerr != nil {
			warn(rerr)
		}
	}
	return res, err
}
