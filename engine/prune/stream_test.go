package prune

import (
	"context"
	"encoding/binary"
	"errors"
	"math/rand/v2"
	"testing"

	"lifeboat/engine/format"
	"lifeboat/storage"
	"lifeboat/storage/fault"
)

// TestPrefixSet: every key added is found (no false negative, 0
// included), across growth; keys never added are (almost all) absent.
func TestPrefixSet(t *testing.T) {
	rng := rand.New(rand.NewPCG(1, 2))
	var s prefixSet
	keys := []uint64{0, 1, ^uint64(0)}
	for range 50_000 {
		keys = append(keys, rng.Uint64())
	}
	for i, k := range keys {
		s.add(k)
		s.add(k) // twice: counted once
		if i%997 == 0 {
			for _, k := range keys[:i+1] {
				if !s.has(k) {
					t.Fatalf("key %#x added, not found after %d keys", k, i+1)
				}
			}
		}
	}
	for _, k := range keys {
		if !s.has(k) {
			t.Fatalf("key %#x added, not found", k)
		}
	}
	if s.n != len(keys)-1 { // 0 and 1 are one key
		t.Fatalf("%d keys counted, want %d", s.n, len(keys)-1)
	}
	if s.n*4 > len(s.slots)*3 {
		t.Fatalf("%d keys in %d slots: above 3/4", s.n, len(s.slots))
	}
	absent := 0
	for range 10_000 {
		if !s.has(rng.Uint64() | 1<<63 | 2) {
			absent++
		}
	}
	if absent < 9_990 {
		t.Fatalf("only %d of 10000 random keys absent", absent)
	}
	var empty prefixSet
	if empty.has(0) || empty.has(5) {
		t.Fatal("empty set has a key")
	}
}

// TestUsedSetTreesExact: a tree is found by its full ID only; a data blob
// by its first 64 bits (a false match keeps garbage, never loses data).
func TestUsedSetTreesExact(t *testing.T) {
	u := newUsedSet()
	var tree, data format.ID
	tree[0], data[0] = 1, 2
	u.trees[tree] = struct{}{}
	u.data.add(prefixOf(data))
	sameTreePrefix := tree
	sameTreePrefix[31] = 9
	if !u.has(tree) || !u.has(data) {
		t.Fatal("a used blob is not found")
	}
	if u.has(sameTreePrefix) {
		t.Fatal("a tree is matched by its prefix")
	}
	var other format.ID
	binary.BigEndian.PutUint64(other[:8], 77)
	if u.has(other) {
		t.Fatal("an unused blob is found")
	}
}

// TestConsolidatedIndexBounded: the mark writes the consolidated index in
// objects of at most blobsPerIndex entries (a pack with more goes alone),
// and the repository restores completely before and after the sweep.
func TestConsolidatedIndexBounded(t *testing.T) {
	defer func(n int) { blobsPerIndex = n }(blobsPerIndex)
	blobsPerIndex = 4
	f := newFixture(t)
	s1 := f.mustBackupPaths(1, 2)
	f.mustBackupPaths(2, 3)
	f.mustBackup(4)
	f.forget(s1)
	res, err := f.run(f.opts())
	if err != nil || res.Action != ActionMark {
		t.Fatalf("mark: %v %+v", err, res)
	}
	if len(res.Record.NewIndex) < 2 {
		t.Fatalf("%d consolidated index objects, want several of at most %d entries", len(res.Record.NewIndex), blobsPerIndex)
	}
	r := f.reopen()
	for _, id := range res.Record.NewIndex {
		packs, err := r.ReadIndexObject(context.Background(), id)
		if err != nil {
			t.Fatal(err)
		}
		n := 0
		for _, p := range packs {
			n += len(p.Blobs)
		}
		if n > blobsPerIndex && len(packs) > 1 {
			t.Errorf("index %s: %d packs, %d entries (at most %d, or one pack)", id.Short(), len(packs), n, blobsPerIndex)
		}
	}
	f.check("after mark")
	f.clock = res.SweepAfter.Add(1)
	f.sweepAll(f.opts())
	f.check("after sweep")
}

// TestSweepWritesEachTombstoneOnce: the sweep writes each tombstone once
// per region (through the region set); the per-region pass finds it
// there instead of writing it again.
func TestSweepWritesEachTombstoneOnce(t *testing.T) {
	f := newFixture(t)
	s1 := f.mustBackup(1)
	f.mustBackup(2)
	f.forget(s1)
	res, err := f.run(f.opts())
	if err != nil || res.Action != ActionMark {
		t.Fatalf("mark: %v %+v", err, res)
	}
	objs := sweepObjects(res.Record)
	want := len(objs.index) + len(objs.packs)
	puts := map[string]*fault.Rule{}
	for _, rn := range regionNames {
		puts[rn] = f.faults[rn].Delay(fault.OpPut, fault.Prefix(format.TombstonePrefix), 0)
	}
	f.clock = res.SweepAfter.Add(1)
	res, err = f.run(f.opts())
	if err != nil || res.Action != ActionSweep || len(res.Pending) != 0 {
		t.Fatalf("sweep: %v %+v", err, res)
	}
	for _, rn := range regionNames {
		if n := puts[rn].Hits(); n != want {
			t.Errorf("region %s: %d tombstone writes, want %d (one per object)", rn, n, want)
		}
		if left := f.buriedPresent(rn); len(left) > 0 {
			t.Errorf("region %s holds swept objects %v", rn, left)
		}
	}
	f.check("after sweep")
}

// TestSweepReplacesBadTombstone: a region where the set's tombstone
// write failed, and which holds a tombstone that does not authenticate in
// its place, gets a genuine one before anything is deleted there.
func TestSweepReplacesBadTombstone(t *testing.T) {
	f := newFixture(t)
	s1 := f.mustBackup(1)
	f.mustBackup(2)
	f.forget(s1)
	res, err := f.run(f.opts())
	if err != nil || res.Action != ActionMark {
		t.Fatalf("mark: %v %+v", err, res)
	}
	objs := sweepObjects(res.Record)
	if len(objs.packs) == 0 {
		t.Fatal("test setup: no pack to sweep")
	}
	name := format.TombstoneName(objs.packs[0])
	ctx := context.Background()
	if err := storage.PutBytes(ctx, f.mems["b"], name, []byte("not a tombstone"), storage.PutOptions{}); err != nil {
		t.Fatal(err)
	}
	f.faults["b"].FailOn(fault.OpPut, fault.Exact(name), errors.New("injected"), 1)
	f.clock = res.SweepAfter.Add(1)
	res, err = f.run(f.opts())
	if err != nil || res.Action != ActionSweep || len(res.Pending) != 0 {
		t.Fatalf("sweep: %v %+v", err, res)
	}
	data, err := storage.ReadAll(ctx, f.mems["b"], name)
	if err != nil {
		t.Fatal(err)
	}
	if err := f.reopen().VerifyTombstone(name, data); err != nil {
		t.Fatalf("region b's tombstone of %s: %v", objs.packs[0], err)
	}
	if _, err := f.mems["b"].Stat(ctx, objs.packs[0]); !errors.Is(err, storage.ErrNotExist) {
		t.Fatalf("pack %s in region b: %v, want deleted", objs.packs[0], err)
	}
	f.check("after sweep")
}

// TestUnreadableTreeAborts: a tree that cannot be read (its pack damaged
// in every region) fails the mark with ErrMissingBlob, whatever the other
// walks under way at the same time, and nothing is written.
func TestUnreadableTreeAborts(t *testing.T) {
	f := newFixture(t)
	s1 := f.mustBackupPaths(1, 2)
	f.mustBackupPaths(3, 4)
	s3 := f.mustBackup(5)
	f.forget(s1)
	r := f.reopen()
	snap, err := r.LoadSnapshot(context.Background(), s3)
	if err != nil {
		t.Fatal(err)
	}
	loc, ok := r.Index().Lookup(snap.Tree)
	if !ok {
		t.Fatal("test setup: the snapshot's tree is not indexed")
	}
	for _, rn := range regionNames {
		f.faults[rn].Corrupt(fault.Exact(format.PackName(loc.Pack.ID)))
	}
	before := f.all()
	_, err = f.run(f.opts())
	if !errors.Is(err, ErrMissingBlob) {
		t.Fatalf("mark with an unreadable tree: %v, want ErrMissingBlob", err)
	}
	if !sameObjects(before, f.all()) {
		t.Fatal("a failed mark changed the repository")
	}
}
