package syncer_test

import (
	"context"
	"crypto/sha256"
	"encoding/json"
	"errors"
	"slices"
	"strings"
	"testing"
	"time"

	"lifeboat/crypto"
	"lifeboat/engine/check"
	"lifeboat/engine/format"
	"lifeboat/engine/repo"
	"lifeboat/engine/syncer"
	"lifeboat/storage"
	"lifeboat/storage/fault"
)

// down makes region name fail every request until the returned func runs.
func (f *fixture) down(name string) func() {
	var rules []*fault.Rule
	for _, op := range []fault.Op{fault.OpGet, fault.OpStat, fault.OpList, fault.OpPut, fault.OpDelete} {
		rules = append(rules, f.faults[name].FailOn(op, nil, fault.ErrInjected, -1))
	}
	return func() {
		for _, r := range rules {
			r.Remove()
		}
	}
}

// keyed returns sync options that authenticate tombstones with r.
func keyed(r *repo.Repository) syncer.Options {
	o := opts()
	o.Tombstones = r
	return o
}

// TestKeyRemoveWithRegionDownStaysRemoved is the scenario: a key
// removed while region c is down must not come back from c, and its
// passphrase must never open the repository again.
func TestKeyRemoveWithRegionDownStaysRemoved(t *testing.T) {
	ctx := context.Background()
	f := newSet(t, 2)
	f.initRepo(t)
	pass := []byte("revoked passphrase")
	prc, err := crypto.PassphraseRecipient(pass, 10)
	if err != nil {
		t.Fatal(err)
	}
	kid, err := f.r.AddKey(ctx, prc, "leaked", "h", "u")
	if err != nil {
		t.Fatal(err)
	}
	up := f.down("c")
	kr, err := f.r.RemoveKey(ctx, kid.String())
	if err != nil || !kr.Tombstoned || len(kr.Pending) != 1 {
		t.Fatalf("RemoveKey with c down = %+v, %v", kr, err)
	}
	up()
	keyName := format.KeyName(kid)
	// A keyless sync copies the tombstone to c and the key nowhere.
	rep, err := syncer.Sync(ctx, f.set, opts())
	if err != nil {
		t.Fatalf("keyless sync: %v (%+v)", err, rep)
	}
	for _, region := range regionNames {
		if _, err := f.mems[region].Stat(ctx, format.TombstoneName(keyName)); err != nil {
			t.Fatalf("region %s lacks the key's tombstone: %v", region, err)
		}
	}
	for _, region := range []string{"a", "b"} {
		if _, err := f.mems[region].Stat(ctx, keyName); !isNotExist(err) {
			t.Fatalf("keyless sync copied the removed key back to %s: %v", region, err)
		}
	}
	if got := regionReport(t, rep, "c").Tombstoned; got != 1 {
		t.Fatalf("c reports %d tombstoned objects left, want 1", got)
	}
	// c still holds the key object: it opens nothing, there or anywhere.
	if _, err := f.mems["c"].Stat(ctx, keyName); err != nil {
		t.Fatalf("keyless sync deleted from c: %v", err)
	}
	for what, st := range map[string]storage.Storage{"the set": f.set, "region c alone": f.mems["c"]} {
		if _, err := repo.Open(ctx, st, crypto.PassphraseIdentity(pass), repo.Options{}); !errors.Is(err, repo.ErrWrongKey) {
			t.Fatalf("the removed passphrase opens %s: %v", what, err)
		}
	}
	// check and audit name the copy left in c.
	var warned []check.Problem
	if _, err := check.Run(ctx, f.r, check.Options{OnWarning: func(p check.Problem) { warned = append(warned, p) }}); err != nil {
		t.Fatalf("check: %v", err)
	}
	if len(warned) != 1 || warned[0].Region != "c" || warned[0].Object != keyName || !errors.Is(warned[0].Err, check.ErrTombstonedPresent) {
		t.Fatalf("check warnings %v, want the key left in c", warned)
	}
	arep, err := syncer.Audit(ctx, f.r, f.set)
	if err != nil {
		t.Fatal(err)
	}
	if len(arep.Keys) != 0 || len(arep.Tombstoned) != 1 || !slices.Equal(arep.Tombstoned[0].Present, []string{"c"}) || !arep.Drift() {
		t.Fatalf("audit: keys %+v, tombstoned %+v", arep.Keys, arep.Tombstoned)
	}
	// A keyed sync deletes it from c.
	rep, err = syncer.Sync(ctx, f.set, keyed(f.r))
	if err != nil || regionReport(t, rep, "c").Deleted != 1 {
		t.Fatalf("keyed sync: %v (%+v)", err, regionReport(t, rep, "c"))
	}
	for _, region := range regionNames {
		if _, err := f.mems[region].Stat(ctx, keyName); !isNotExist(err) {
			t.Fatalf("region %s still holds the removed key: %v", region, err)
		}
	}
	if arep, err := syncer.Audit(ctx, f.r, f.set); err != nil || arep.Drift() {
		t.Fatalf("audit after the keyed sync: %+v, %v", arep, err)
	}
}

// TestForgetWithRegionDown: a snapshot forgotten while c is down is not
// copied back from c, and the keyed sync deletes it there.
func TestForgetWithRegionDown(t *testing.T) {
	ctx := context.Background()
	f := newSet(t, 2)
	f.initRepo(t)
	first, err := f.backup(t)
	if err != nil {
		t.Fatal(err)
	}
	second, err := f.backup(t)
	if err != nil {
		t.Fatal(err)
	}
	up := f.down("c")
	d, err := f.r.Forget(ctx, []format.ID{first.ID})
	if err != nil || len(d.Pending) != 1 {
		t.Fatalf("Forget with c down = %+v, %v", d, err)
	}
	up()
	name := format.SnapshotName(first.ID)
	if _, err := syncer.Sync(ctx, f.set, opts()); err != nil {
		t.Fatal(err)
	}
	for _, region := range []string{"a", "b"} {
		if _, err := f.mems[region].Stat(ctx, name); !isNotExist(err) {
			t.Fatalf("sync copied the forgotten snapshot back to %s: %v", region, err)
		}
	}
	snaps, err := f.r.Snapshots(ctx)
	if err != nil || len(snaps) != 1 || snaps[0].ID != second.ID {
		t.Fatalf("snapshots after the sync: %v, %v", snaps, err)
	}
	rep, err := syncer.Sync(ctx, f.set, keyed(f.r))
	if err != nil || regionReport(t, rep, "c").Deleted != 1 {
		t.Fatalf("keyed sync: %v %+v", err, rep)
	}
	for _, region := range regionNames {
		if n := names(t, f.mems[region], format.SnapshotPrefix); !slices.Equal(n, []string{format.SnapshotName(second.ID)}) {
			t.Fatalf("region %s snapshots %q", region, n)
		}
	}
}

// TestForgedTombstone: a tombstone that does not authenticate, written
// into one region by someone without the key, makes no sync delete
// anything; a keyed sync neither honours nor copies it, and readers and
// check see through it.
func TestForgedTombstone(t *testing.T) {
	ctx := context.Background()
	f := newSet(t, 2)
	f.initRepo(t)
	res, err := f.backup(t)
	if err != nil {
		t.Fatal(err)
	}
	obj := format.SnapshotName(res.ID)
	forged, _ := json.Marshal(&format.Tombstone{Version: 1, Object: obj, Reason: format.ReasonForget,
		Time: time.Now().UTC(), MAC: make([]byte, 32)})
	mustPut(t, f.mems["c"], format.TombstoneName(obj), forged)
	before := repoObjects(t, f.mems["a"])
	// Keyless: it cannot tell, so it copies the tombstone but deletes
	// nothing.
	if _, err := syncer.Sync(ctx, f.set, opts()); err != nil {
		t.Fatal(err)
	}
	for _, region := range regionNames {
		if _, err := f.mems[region].Stat(ctx, obj); err != nil {
			t.Fatalf("keyless sync deleted the snapshot from %s on a forged tombstone: %v", region, err)
		}
	}
	// Keyed: never honoured, and reported.
	for _, region := range []string{"a", "b"} {
		if err := f.mems[region].Delete(ctx, format.TombstoneName(obj)); err != nil {
			t.Fatal(err)
		}
	}
	if err := f.mems["b"].Delete(ctx, obj); err != nil { // b lags
		t.Fatal(err)
	}
	rep, err := syncer.Sync(ctx, f.set, keyed(f.r))
	if err != nil {
		t.Fatal(err)
	}
	if got := repoObjects(t, f.mems["b"]); !slices.Equal(got, before) {
		t.Fatalf("b after the keyed sync differs: the snapshot was not copied over a forged tombstone")
	}
	if _, err := f.mems["a"].Stat(ctx, format.TombstoneName(obj)); !isNotExist(err) {
		t.Fatalf("keyed sync copied a forged tombstone: %v", err)
	}
	if w := regionReport(t, rep, "c").Warnings; len(w) != 1 || !strings.Contains(w[0], "does not authenticate") {
		t.Fatalf("warnings of c: %q", w)
	}
	if snaps, err := f.r.Snapshots(ctx); err != nil || len(snaps) != 1 {
		t.Fatalf("a forged tombstone hid a snapshot: %v %v", snaps, err)
	}
	var problems []check.Problem
	_, err = check.Run(ctx, f.r, check.Options{OnProblem: func(p check.Problem) { problems = append(problems, p) }})
	if !errors.Is(err, check.ErrProblems) || len(problems) != 1 || !errors.Is(problems[0].Err, repo.ErrForgedTombstone) {
		t.Fatalf("check: %v %v", err, problems)
	}
}

// putState records a sync state for region at tm in every region.
func (f *fixture) putState(t *testing.T, region string, tm time.Time) {
	t.Helper()
	data, err := syncer.EncodeState(&syncer.State{Version: syncer.StateVersion, Region: region, Time: tm, Host: "old"})
	if err != nil {
		t.Fatal(err)
	}
	for _, m := range f.mems {
		mustPut(t, m, syncer.StateName(region), data)
	}
}

// TestStaleRegionNeedsReseed: a region last synced more than the
// tombstone TTL before the others is refused with the re-seed advice, and
// --reseed makes it a copy of the others.
func TestStaleRegionNeedsReseed(t *testing.T) {
	ctx := context.Background()
	f := newSet(t, 2)
	f.initRepo(t)
	if _, err := f.backup(t); err != nil {
		t.Fatal(err)
	}
	if _, err := syncer.Sync(ctx, f.set, opts()); err != nil {
		t.Fatal(err)
	}
	f.putState(t, "c", syncTime.Add(-repo.TombstoneTTL-time.Hour))
	// c holds a snapshot the others deleted (long ago: no tombstone).
	junk := []byte("a snapshot deleted long ago")
	jname := format.SnapshotName(format.ID(sha256.Sum256(junk)))
	mustPut(t, f.mems["c"], jname, junk)
	rep, err := syncer.Sync(ctx, f.set, opts())
	if !errors.Is(err, syncer.ErrReseed) || !strings.Contains(err.Error(), "lifeboat sync --reseed c") {
		t.Fatalf("sync with c stale: %v", err)
	}
	if cr := regionReport(t, rep, "c"); !cr.NeedsReseed || cr.Copied != 0 || cr.Complete {
		t.Fatalf("report c = %+v", cr)
	}
	if _, err := f.mems["a"].Stat(ctx, jname); !isNotExist(err) {
		t.Fatalf("the stale region's object was merged: %v", err)
	}
	stale, err := syncer.Stale(ctx, f.set, 0)
	if err != nil || len(stale) != 1 || stale[0].Region != "c" {
		t.Fatalf("Stale = %+v, %v", stale, err)
	}
	if arep, err := syncer.Audit(ctx, f.r, f.set); err != nil || len(arep.Stale) != 1 || !arep.Drift() {
		t.Fatalf("audit: %+v, %v", arep, err)
	}
	o := opts()
	o.Reseed = []string{"c"}
	rep, err = syncer.Sync(ctx, f.set, o)
	if err != nil {
		t.Fatalf("reseed: %v %+v", err, rep)
	}
	if cr := regionReport(t, rep, "c"); !cr.Reseeded || cr.Deleted != 1 {
		t.Fatalf("report c = %+v", cr)
	}
	if got, want := repoObjects(t, f.mems["c"]), repoObjects(t, f.mems["a"]); !slices.Equal(got, want) {
		t.Fatalf("re-seeded c differs from a:\n%q\n%q", got, want)
	}
	if _, err := syncer.Sync(ctx, f.set, opts()); err != nil {
		t.Fatalf("sync after the re-seed: %v", err)
	}
	restoreFrom(t, f.mems["c"], f.id, f.src)
}

// TestRecentlyDownRegionIsMerged: a region that missed syncs for less
// than the TTL (or never synced, with recent objects) is merged as before.
func TestRecentlyDownRegionIsMerged(t *testing.T) {
	ctx := context.Background()
	f := newSet(t, 2)
	f.initRepo(t)
	up := f.down("c")
	if _, err := f.backup(t); err != nil {
		t.Fatal(err)
	}
	if _, err := syncer.Sync(ctx, f.set, opts()); !errors.Is(err, syncer.ErrIncomplete) {
		t.Fatalf("sync with c down: %v", err)
	}
	up()
	// c has no state, a and b have; c's objects are recent.
	if _, err := syncer.Sync(ctx, f.set, opts()); err != nil {
		t.Fatalf("sync: %v", err)
	}
	f.putState(t, "c", syncTime.Add(-repo.TombstoneTTL+time.Hour))
	f.putState(t, "a", syncTime)
	if _, err := syncer.Sync(ctx, f.set, opts()); err != nil {
		t.Fatalf("sync with c synced within the TTL: %v", err)
	}
	o := opts()
	o.Reseed = []string{"nope"}
	if _, err := syncer.Sync(ctx, f.set, o); err == nil {
		t.Fatal("reseed of an unknown region accepted")
	}
}
