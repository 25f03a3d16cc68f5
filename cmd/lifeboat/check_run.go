package main

import (
	"context"
	"fmt"
	"maps"
	"slices"
	"strings"

	"lifeboat/crypto"
	"lifeboat/engine/check"
	"lifeboat/engine/drill"
	"lifeboat/engine/format"
	"lifeboat/engine/repo"
	"lifeboat/storage"
)

// runCheck opens the repository on st and checks it with opts. A data
// check reads every selected region's copy of each pack (opts.Regions;
// all regions by default). A --read-data-subset takes the packs verified
// least recently in the selected regions according to the coverage
// records of earlier drills and checks, so that successive checks read
// every pack in every region. The copies verified are stored as a
// coverage record, per region (only the regions read); a failure to store
// it goes to warn and does not change the check's result.
func runCheck(ctx context.Context, st storage.Storage, id *crypto.Identity, ropts repo.Options, host string, opts check.Options, warn func(error)) (*check.Result, error) {
	r, err := repo.Open(ctx, st, id, ropts)
	if err != nil {
		return nil, err
	}
	return checkRepo(ctx, r, host, opts, warn)
}

// checkRepo is runCheck on a repository already opened (opening derives
// the key, a passphrase's scrypt included: once is enough).
func checkRepo(ctx context.Context, r *repo.Repository, host string, opts check.Options, warn func(error)) (*check.Result, error) {
	if opts.SubsetPercent > 0 && opts.SubsetPercent < 100 {
		recs, _, lerr := drill.LoadRecords(ctx, r)
		if lerr != nil {
			warn(lerr) // pick without coverage: a seeded random subset
		}
		opts.LastRead = drill.LastReadByRegion(recs)
	}
	verified := map[string][]format.ID{}
	n := 0
	onRead := opts.OnPackRead
	opts.OnPackRead = func(pack format.ID, region string, err error) {
		if err == nil {
			verified[region] = append(verified[region], pack)
			n++
		}
		if onRead != nil {
			onRead(pack, region, err)
		}
	}
	res, err := check.Run(ctx, r, opts)
	if n > 0 && ctx.Err() == nil && !r.Storage().Capabilities().ReadOnly { // read only: check --as-of
		rec := drill.CheckRecord(r.Now(), host, verified, len(r.Index().Packs()))
		if _, rerr := drill.SaveRecord(ctx, r, rec); rerr != nil {
			warn(rerr)
		}
	}
	return res, err
}

// maxBadNames bounds the objects a repair advice names one by one; beyond
// it the advice is `lifeboat sync --verify`.
const maxBadNames = 10

// repairAdvice says how to repair what a check found: the bad or missing
// copies of objects that some region read holds a good copy of are
// replaced by `lifeboat sync --bad NAME…` (`sync --verify` for many); an
// object no region read holds a good copy of is named as such. other
// counts the problems of no particular region's copy (the structural
// check's): they get `lifeboat sync --verify`.
func repairAdvice(res *check.Result, other int) []string {
	if res == nil {
		return nil
	}
	var fixable []string
	for obj := range res.BadCopies {
		if !slices.Contains(res.NoGoodCopy, obj) {
			fixable = append(fixable, obj)
		}
	}
	slices.Sort(fixable)
	var out []string
	switch {
	case len(fixable) > maxBadNames:
		out = append(out, fmt.Sprintf("to replace the %d bad copies from good regions, run: lifeboat sync --verify", len(fixable)))
	case len(fixable) > 0:
		out = append(out, "to replace the bad copies from a good region, run: lifeboat sync --bad "+strings.Join(fixable, " --bad "))
	}
	for _, obj := range res.NoGoodCopy {
		out = append(out, fmt.Sprintf("no region read holds a good copy of %s (lifeboat sync --bad %s repairs it only from another region)", obj, obj))
	}
	if other-int(res.HistoryNoRegion) > 0 && len(fixable) <= maxBadNames {
		out = append(out, "to hash every copy in every region and replace the bad ones, run: lifeboat sync --verify")
	}
	if res.History > 0 {
		out = append(out, "the repository's history went back (objects gone without a deletion record, or a chain, region or config rolled back): "+
			"if another region still holds them, lifeboat sync copies them back; on versioned buckets, lifeboat regions recover REGION --as-of TIME restores a region "+
			"(README: Ransomware and hostile hosts); if the removal was deliberate, lifeboat history accept")
	}
	for _, region := range slices.Sorted(maps.Keys(res.Unreadable)) {
		out = append(out, fmt.Sprintf("region %s did not answer for %d pack copies, which are not verified: check them when it answers (lifeboat check --read-data --region %s)",
			region, res.Unreadable[region], region))
	}
	return out
}

// checkExitCode is the exit code of a check that found problems: 4 when a
// copy is bad or missing or the structure is damaged (other counts the
// problems of no particular region's copy); 1 when the only problems are
// copies a region did not serve (unverified, not known to be damaged).
func checkExitCode(res *check.Result, other int) int {
	if res != nil && len(res.BadCopies) == 0 && other == 0 && len(res.Unreadable) > 0 {
		return ExitError
	}
	return ExitIntegrity
}
