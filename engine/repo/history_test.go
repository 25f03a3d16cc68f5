package repo

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"math/rand/v2"
	"strings"
	"sync"
	"testing"
	"time"

	"lifeboat/crypto"
	"lifeboat/engine/format"
	"lifeboat/storage"
	"lifeboat/storage/mem"
	"lifeboat/storage/readonly"
)

// historyRepo creates a repository of the current version in st, opened
// by host with a state directory of its own.
func historyRepo(t *testing.T, st storage.Storage) (*Repository, *crypto.Identity) {
	t.Helper()
	id, rc := testIdentity(t)
	r, err := Init(context.Background(), st, InitOptions{Recipient: rc, PackSize: 1 << 20,
		Options: Options{StateDir: t.TempDir(), Host: "alpha"}})
	if err != nil {
		t.Fatal(err)
	}
	return r, id
}

// openAs opens st as another host, with its own state directory ("" for
// none).
func openAs(t *testing.T, st storage.Storage, id *crypto.Identity, host, stateDir string) *Repository {
	t.Helper()
	r, err := Open(context.Background(), st, id, Options{StateDir: stateDir, Host: host})
	if err != nil {
		t.Fatal(err)
	}
	return r
}

// backupIn stores one blob and commits a snapshot, as a backup does: the
// session's index object goes into the commit record.
func backupIn(t *testing.T, r *Repository, n int) (snap, index format.ID) {
	t.Helper()
	ctx := context.Background()
	data := []byte(fmt.Sprintf("blob %d %s", n, r.chain.host))
	if _, err := r.SaveBlob(ctx, format.BlobData, r.Hash(data), data); err != nil {
		t.Fatal(err)
	}
	before := r.Index().Files()
	if _, err := r.Flush(ctx); err != nil {
		t.Fatal(err)
	}
	for _, f := range r.Index().Files() {
		if !containsID(before, f) {
			index = f
		}
	}
	snap, err := r.SaveSnapshot(ctx, &format.Snapshot{Time: time.Date(2026, 1, 2, 3, 4, n, 0, time.UTC),
		Host: r.chain.host, Paths: []string{"/x"}, Tree: format.ID{1}})
	if err != nil {
		t.Fatal(err)
	}
	return snap, index
}

func containsID(ids []format.ID, id format.ID) bool {
	for _, x := range ids {
		if x == id {
			return true
		}
	}
	return false
}

func verify(t *testing.T, r *Repository, full bool) *HistoryReport {
	t.Helper()
	rep, err := r.VerifyHistory(context.Background(), full)
	if err != nil {
		t.Fatal(err)
	}
	return rep
}

func wantClean(t *testing.T, rep *HistoryReport) {
	t.Helper()
	for _, f := range rep.Findings {
		t.Errorf("finding: %v", f)
	}
}

// wantFinding checks that rep names object (in region) with an error
// wrapping want.
func wantFinding(t *testing.T, rep *HistoryReport, region, object string, want error) {
	t.Helper()
	for _, f := range rep.Findings {
		if f.Region == region && f.Object == object && errors.Is(f.Err, want) {
			return
		}
	}
	t.Fatalf("no finding %v for %s (region %q); got %v", want, object, region, rep.Findings)
}

// A repository used only the legitimate way (backups, a key added, a
// snapshot forgotten) verifies clean, fully and incrementally, from the
// writing host and from one that never saw it.
func TestHistoryCleanRepository(t *testing.T) {
	ctx := context.Background()
	st := mem.New()
	r, id := historyRepo(t, st)
	backupIn(t, r, 1)
	gone, _ := backupIn(t, r, 2)
	_, rc := testIdentity(t)
	if _, err := r.AddKey(ctx, rc, "second", "h", "u"); err != nil {
		t.Fatal(err)
	}
	if _, err := r.Forget(ctx, []format.ID{gone}); err != nil {
		t.Fatal(err)
	}
	rep := verify(t, r, true)
	wantClean(t, rep)
	if rep.Writers != 1 || rep.Records < 4 || rep.Committed < 5 {
		t.Fatalf("report %+v: want one writer, its records and what they commit", rep)
	}
	again := verify(t, r, false)
	wantClean(t, again)
	if again.Records != 1 {
		t.Fatalf("incremental verification read %d records, want only the head it knew", again.Records)
	}
	other := openAs(t, st, id, "beta", "")
	wantClean(t, verify(t, other, false))
	backupIn(t, other, 3)
	wantClean(t, verify(t, r, false))
}

// Objects removed by hand (no tombstone) are named, whether or not the
// host saw them before: the commit records say they existed.
func TestHistoryDetectsVanished(t *testing.T) {
	ctx := context.Background()
	st := mem.New()
	r, id := historyRepo(t, st)
	snap, index := backupIn(t, r, 1)
	backupIn(t, r, 2)
	keys, err := r.Keys(ctx)
	if err != nil || len(keys) != 1 {
		t.Fatalf("keys %v, %v", keys, err)
	}
	_, rc := testIdentity(t)
	second, err := r.AddKey(ctx, rc, "second", "h", "u")
	if err != nil {
		t.Fatal(err)
	}
	for _, name := range []string{format.SnapshotName(snap), format.IndexName(index), format.KeyName(second)} {
		if err := st.Delete(ctx, name); err != nil {
			t.Fatal(err)
		}
	}
	for _, v := range []*Repository{r, openAs(t, st, id, "beta", "")} {
		rep := verify(t, v, true)
		wantFinding(t, rep, "", format.SnapshotName(snap), ErrVanished)
		wantFinding(t, rep, "", format.IndexName(index), ErrVanished)
		wantFinding(t, rep, "", format.KeyName(second), ErrVanished)
		if len(rep.Findings) != 3 {
			t.Fatalf("findings %v, want the three objects", rep.Findings)
		}
	}
	// Incremental verification (a backup's) reports them too, and
	// keeps reporting them.
	for range 2 {
		wantFinding(t, verify(t, r, false), "", format.SnapshotName(snap), ErrVanished)
	}
}

// A replaced config, including the config of an older version, is
// reported, per region.
func TestHistoryDetectsReplacedConfig(t *testing.T) {
	ctx := context.Background()
	set, sts := gcRegions(t)
	id, rc := testIdentity(t)
	r, err := Init(ctx, set, InitOptions{Recipient: rc, PackSize: 1 << 20, Options: Options{StateDir: t.TempDir()}})
	if err != nil {
		t.Fatal(err)
	}
	backupIn(t, r, 1)
	wantClean(t, verify(t, r, true))
	same, err := r.SealConfig(r.cfg) // the same config, sealed anew: other bytes
	if err != nil {
		t.Fatal(err)
	}
	if err := storage.PutBytes(ctx, sts[1], format.ConfigName, same, storage.PutOptions{}); err != nil {
		t.Fatal(err)
	}
	if err := storage.PutBytes(ctx, sts[2], format.ConfigName, sealedConfig(t, r, 3), storage.PutOptions{}); err != nil {
		t.Fatal(err)
	}
	rep := verify(t, openAs(t, set, id, "beta", ""), true)
	wantFinding(t, rep, "b", format.ConfigName, ErrConfigReplaced)
	wantFinding(t, rep, "c", format.ConfigName, ErrConfigReplaced)
	if len(rep.Findings) != 2 {
		t.Fatalf("findings %v, want the two regions' configs", rep.Findings)
	}
	// A config a migrate recorded is not a finding.
	if err := r.RecordConfig(ctx, same, r.cfg.Version); err != nil {
		t.Fatal(err)
	}
	if err := storage.PutBytes(ctx, sts[2], format.ConfigName, same, storage.PutOptions{}); err != nil {
		t.Fatal(err)
	}
	if err := storage.PutBytes(ctx, sts[0], format.ConfigName, same, storage.PutOptions{}); err != nil {
		t.Fatal(err)
	}
	wantClean(t, verify(t, r, true))
}

// copyStorage replaces dst's objects with src's.
func copyStorage(t *testing.T, dst, src storage.Storage) {
	t.Helper()
	ctx := context.Background()
	var names []string
	if err := dst.List(ctx, "", func(fi storage.Info) error { names = append(names, fi.Name); return nil }); err != nil {
		t.Fatal(err)
	}
	for _, n := range names {
		if err := dst.Delete(ctx, n); err != nil {
			t.Fatal(err)
		}
	}
	if err := src.List(ctx, "", func(fi storage.Info) error {
		data, err := storage.ReadAll(ctx, src, fi.Name)
		if err != nil {
			return err
		}
		return storage.PutBytes(ctx, dst, fi.Name, data, storage.PutOptions{})
	}); err != nil {
		t.Fatal(err)
	}
}

// A region put back to an older copy of itself is named, with what it
// lost, by the host that saw it newer; the other regions still hold
// everything, so nothing vanished from the repository.
func TestHistoryDetectsRegionRollback(t *testing.T) {
	set, sts := gcRegions(t)
	_, rc := testIdentity(t)
	r, err := Init(context.Background(), set, InitOptions{Recipient: rc, PackSize: 1 << 20, Options: Options{StateDir: t.TempDir()}})
	if err != nil {
		t.Fatal(err)
	}
	backupIn(t, r, 1)
	old := mem.New()
	copyStorage(t, old, sts[1])
	snap, _ := backupIn(t, r, 2)
	wantClean(t, verify(t, r, false))
	copyStorage(t, sts[1], old)
	rep := verify(t, r, false)
	wantFinding(t, rep, "b", format.SnapshotName(snap), ErrRegionRolledBack)
	for _, f := range rep.Findings {
		if f.Region != "b" || !errors.Is(f.Err, ErrRegionRolledBack) {
			t.Errorf("finding %v, want only region b's rollback", f)
		}
	}
}

// A chain cut short is detected by the host that saw it longer, and by a
// host that never did when another writer's record witnessed it; a record
// written without the key is reported; a record rewritten by a key holder
// is detected by the host that had read it.
func TestHistoryDetectsChainRollback(t *testing.T) {
	ctx := context.Background()
	st := mem.New()
	r, id := historyRepo(t, st)
	backupIn(t, r, 1)
	backupIn(t, r, 2)
	w := r.ChainWriter()
	seqs, err := r.chainSeqs(ctx, w)
	if err != nil {
		t.Fatal(err)
	}
	head := seqs[len(seqs)-1]
	witness := openAs(t, st, id, "beta", t.TempDir())
	wantClean(t, verify(t, witness, false))
	backupIn(t, witness, 3) // its record witnesses r's head
	wantClean(t, verify(t, r, false))

	tail := format.ChainName(w, head)
	data, err := storage.ReadAll(ctx, st, tail)
	if err != nil {
		t.Fatal(err)
	}
	if err := st.Delete(ctx, tail); err != nil {
		t.Fatal(err)
	}
	wantFinding(t, verify(t, r, false), "", tail, ErrRolledBack)
	wantFinding(t, verify(t, openAs(t, st, id, "gamma", ""), true), "", tail, ErrRolledBack)

	// Put back, but rewritten with the key: same content, other time.
	rec, err := verifyChainRecord(r.chainKey(), tail, data)
	if err != nil {
		t.Fatal(err)
	}
	rec.Time = rec.Time.Add(time.Second)
	body, err := format.EncodeChainBody(rec)
	if err != nil {
		t.Fatal(err)
	}
	forged := format.ChainObject(body, chainMAC(r.chainKey(), tail, body))
	if err := storage.PutBytes(ctx, st, tail, forged, storage.PutOptions{}); err != nil {
		t.Fatal(err)
	}
	wantFinding(t, verify(t, r, false), "", tail, ErrRolledBack)

	// Written without the key.
	next := format.ChainName(w, head+1)
	if err := storage.PutBytes(ctx, st, next, bytes.Replace(data, []byte(`"op"`), []byte(`"op" `), 1), storage.PutOptions{}); err != nil {
		t.Fatal(err)
	}
	wantFinding(t, verify(t, openAs(t, st, id, "delta", ""), true), "", next, ErrChainForged)
}

// A version 3 repository has no commit chain: its writers do not append
// (their deletions have no tombstones, so records would report them).
func TestHistoryNotInOldVersions(t *testing.T) {
	ctx := context.Background()
	st := mem.New()
	r, _ := initVersion(t, st, 3)
	snapshotIn(t, r, "h")
	found, err := r.anyChain(ctx)
	if err != nil || found {
		t.Fatalf("chain records in a version 3 repository: %v, %v", found, err)
	}
}

// Several hosts, and several processes of one host (one writer), append
// at once; every snapshot is recorded exactly once, every chain links up
// and verification finds nothing.
func TestHistoryConcurrentWriters(t *testing.T) {
	for _, seed := range []uint64{1, 2, 3, 4} {
		// Odd seeds: every host has a state directory, alpha's two
		// processes share one (its lock orders them); even: none (the
		// conditional creates do).
		t.Run(fmt.Sprint(seed), func(t *testing.T) { concurrentWriters(t, seed, seed%2 == 1) })
	}
}

func concurrentWriters(t *testing.T, seed uint64, withState bool) {
	rng := rand.New(rand.NewPCG(seed, 1))
	ctx := context.Background()
	st := mem.New()
	r, id := historyRepo(t, st)
	hosts := []string{"alpha", "alpha", "beta", "gamma"}
	var writers []*Repository
	dirs := map[string]string{}
	for _, h := range hosts {
		if _, ok := dirs[h]; !ok && withState {
			dirs[h] = t.TempDir()
		}
		writers = append(writers, openAs(t, st, id, h, dirs[h]))
	}
	rounds := 3 + rng.IntN(4)
	var mu sync.Mutex
	var snaps []format.ID
	var wg sync.WaitGroup
	errs := make(chan error, len(writers)*rounds)
	for i, w := range writers {
		n := rounds + rng.IntN(3)
		wg.Add(1)
		go func() {
			defer wg.Done()
			for j := range n {
				id, err := w.SaveSnapshot(ctx, &format.Snapshot{Time: time.Unix(int64(i*100+j), 0).UTC(),
					Host: hosts[i], Paths: []string{"/x"}, Tree: format.ID{byte(i), byte(j)}})
				if err != nil {
					errs <- err
					return
				}
				mu.Lock()
				snaps = append(snaps, id)
				mu.Unlock()
			}
		}()
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		t.Fatal(err)
	}
	rep := verify(t, r, true)
	wantClean(t, rep)
	if rep.Writers != 3 {
		t.Fatalf("%d writers, want 3 (alpha's two processes share a chain)", rep.Writers)
	}
	st2 := r.loadChainState()
	for _, s := range snaps {
		if _, ok := st2.Committed[format.SnapshotName(s)]; !ok {
			t.Errorf("snapshot %s not recorded", s.Short())
		}
	}
	var names []string
	_ = st.List(ctx, format.ChainPrefix, func(fi storage.Info) error { names = append(names, fi.Name); return nil })
	for _, n := range names {
		if !strings.HasPrefix(n, format.ChainPrefix) {
			t.Fatalf("listed %s", n)
		}
	}
}

// After a recovery to an earlier state (the newest commit record, its
// snapshot and index object gone) and a snapshot removed on purpose, the
// host that saw the newer state accepts it: afterwards nothing is
// reported, the removed snapshot is tombstoned, and its next commit
// continues the chain without a gap.
func TestAcceptHistory(t *testing.T) {
	ctx := context.Background()
	st := mem.New()
	r, id := historyRepo(t, st)
	removed, _ := backupIn(t, r, 1)
	backupIn(t, r, 2)
	snap, index := backupIn(t, r, 3)
	wantClean(t, verify(t, r, false))
	w := r.ChainWriter()
	seqs, err := r.chainSeqs(ctx, w)
	if err != nil {
		t.Fatal(err)
	}
	tail := format.ChainName(w, seqs[len(seqs)-1])
	for _, name := range []string{tail, format.SnapshotName(snap), format.IndexName(index), format.SnapshotName(removed)} {
		if err := st.Delete(ctx, name); err != nil {
			t.Fatal(err)
		}
	}
	rep := verify(t, r, false)
	wantFinding(t, rep, "", tail, ErrRolledBack)
	wantFinding(t, rep, "", format.SnapshotName(removed), ErrVanished)
	acc, err := r.AcceptHistory(ctx)
	if err != nil {
		t.Fatal(err)
	}
	wantClean(t, acc.Remaining)
	if len(acc.Buried) != 1 || acc.Buried[0] != format.SnapshotName(removed) {
		t.Fatalf("buried %v, want only %s", acc.Buried, format.SnapshotName(removed))
	}
	backupIn(t, r, 4)
	wantClean(t, verify(t, r, true))
	wantClean(t, verify(t, openAs(t, st, id, "beta", ""), true))
}

// A read-only view (such as the repository as of a past time) is verified
// against the chains alone: this host's newer view of the live repository
// is neither compared nor changed.
func TestHistoryReadOnlyViewIgnoresState(t *testing.T) {
	ctx := context.Background()
	st := mem.New()
	r, id := historyRepo(t, st)
	backupIn(t, r, 1)
	past := mem.New()
	copyStorage(t, past, st)
	backupIn(t, r, 2)
	wantClean(t, verify(t, r, false))
	view, err := Open(ctx, readonly.New(past), id, Options{StateDir: r.chain.stateDir, Host: "alpha"})
	if err != nil {
		t.Fatal(err)
	}
	wantClean(t, verify(t, view, true))
	wantClean(t, verify(t, r, false))
}
