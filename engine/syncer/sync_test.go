package syncer_test

import (
	"bytes"
	"context"
	"crypto/sha256"
	"errors"
	"slices"
	"strings"
	"testing"

	"lifeboat/engine/enginetest"
	"lifeboat/engine/format"
	"lifeboat/engine/repo"
	"lifeboat/engine/syncer"
	"lifeboat/storage"
	"lifeboat/storage/fault"
)

// phaseOf ranks an object name by the order sync must write it in.
func phaseOf(name string) int {
	switch {
	case strings.HasPrefix(name, format.KeysPrefix):
		return 0
	case name == format.ConfigName:
		return 1
	case strings.HasPrefix(name, format.DataPrefix):
		return 2
	case strings.HasPrefix(name, format.IndexPrefix):
		return 3
	case strings.HasPrefix(name, format.SnapshotPrefix):
		return 4
	case strings.HasPrefix(name, format.ChainPrefix):
		return 5
	case strings.HasPrefix(name, syncer.StatePrefix):
		return 6
	}
	return -1
}

func TestSyncFillsRegionsInOrder(t *testing.T) {
	for _, tc := range []struct {
		name string
		// prepare leaves region c empty or partly filled.
		prepare func(t *testing.T, f *fixture)
	}{
		{"empty region", func(t *testing.T, f *fixture) {
			// c misses everything, the config included.
			f.faults["c"].FailOn(fault.OpPut, nil, nil, -1)
			f.initRepo(t)
			if _, err := f.backup(t); err != nil {
				t.Fatal(err)
			}
		}},
		{"partly filled region", func(t *testing.T, f *fixture) {
			f.initRepo(t)
			// c misses every other pack, every index object and the
			// snapshot.
			n := 0
			f.faults["c"].FailOn(fault.OpPut, func(name string) bool {
				if strings.HasPrefix(name, format.DataPrefix) {
					n++
					return n%2 == 0
				}
				return true
			}, nil, -1)
			if _, err := f.backup(t); err != nil {
				t.Fatal(err)
			}
		}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			f := newSet(t, 2)
			tc.prepare(t, f)
			f.faults["c"].Reset()
			want := repoObjects(t, f.mems["a"])
			if slices.Equal(repoObjects(t, f.mems["c"]), want) {
				t.Fatal("test bug: region c is not behind")
			}
			missing := 0
			for _, n := range want {
				if !slices.Contains(repoObjects(t, f.mems["c"]), n) {
					missing++
				}
			}
			f.recs["c"].take()
			rep, err := syncer.Sync(context.Background(), f.set, opts())
			if err != nil {
				t.Fatalf("sync: %v", err)
			}
			if got := repoObjects(t, f.mems["c"]); !slices.Equal(got, want) {
				t.Fatalf("after sync c holds %d objects, want %d", len(got), len(want))
			}
			// Keys, then the config, packs, index objects, snapshots,
			// commit records.
			puts := f.recs["c"].take()
			last := -1
			seen := map[int]bool{}
			for _, name := range puts {
				seen[phaseOf(name)] = true
				p := phaseOf(name)
				if p < last {
					t.Fatalf("put %s (phase %d) after phase %d: %q", name, p, last, puts)
				}
				last = p
			}
			if !seen[2] || !seen[3] || !seen[4] || !seen[5] || !seen[6] {
				t.Fatalf("sync did not write packs, index objects, snapshots, commit records and state to c: %q", puts)
			}
			cr := regionReport(t, rep, "c")
			if cr.Copied != int64(missing) || cr.Bytes == 0 || cr.Replaced != 0 || !cr.Complete || len(cr.Errors) > 0 {
				t.Fatalf("report c = %+v, want %d copied", cr, missing)
			}
			for _, name := range []string{"a", "b"} {
				if r := regionReport(t, rep, name); r.Copied != 0 || !r.Complete {
					t.Fatalf("report %s = %+v", name, r)
				}
			}
			// Region c alone now holds a restorable repository.
			restoreFrom(t, f.mems["c"], f.id, f.src)
		})
	}
}

func TestSyncIsIdempotent(t *testing.T) {
	f := newSet(t, 2)
	f.initRepo(t)
	f.faults["b"].FailOn(fault.OpPut, fault.Prefix(format.DataPrefix), nil, -1)
	if _, err := f.backup(t); err != nil {
		t.Fatal(err)
	}
	f.faults["b"].Reset()
	rep, err := syncer.Sync(context.Background(), f.set, opts())
	if err != nil || regionReport(t, rep, "b").Copied == 0 {
		t.Fatalf("first sync: %+v, %v", rep, err)
	}
	for _, name := range regionNames {
		f.recs[name].take()
	}
	rep, err = syncer.Sync(context.Background(), f.set, opts())
	if err != nil {
		t.Fatal(err)
	}
	if rep.Objects == 0 {
		t.Fatal("second sync considered no objects")
	}
	for _, r := range rep.Regions {
		if r.Copied != 0 || r.Bytes != 0 || r.Verified != 0 || !r.Complete {
			t.Fatalf("second sync did work in %s: %+v", r.Region, r)
		}
	}
	for _, name := range regionNames {
		for _, p := range f.recs[name].take() {
			if !strings.HasPrefix(p, syncer.StatePrefix) {
				t.Fatalf("second sync wrote %s to %s", p, name)
			}
		}
	}
}

func TestSyncRefusesAnotherRepository(t *testing.T) {
	f := newSet(t, 1)
	// a and b hold one repository, c another.
	f.faults["c"].FailOn(fault.OpPut, nil, nil, -1)
	f.initRepo(t)
	if _, err := f.backup(t); err != nil {
		t.Fatal(err)
	}
	f.faults["c"].Reset()
	enginetest.NewRepo(t, f.mems["c"])
	before := repoObjects(t, f.mems["c"])
	rep, err := syncer.Sync(context.Background(), f.set, opts())
	if !errors.Is(err, syncer.ErrForeignRepository) || !strings.Contains(err.Error(), "region c") {
		t.Fatalf("sync: err = %v, want ErrForeignRepository naming c", err)
	}
	cr := regionReport(t, rep, "c")
	if !cr.Foreign || cr.Complete || cr.Copied != 0 || len(cr.Errors) == 0 {
		t.Fatalf("report c = %+v", cr)
	}
	if got := repoObjects(t, f.mems["c"]); !slices.Equal(got, before) {
		t.Fatal("sync wrote to the other repository")
	}
	if f.faults["c"].Calls(fault.OpPut) != 0 {
		t.Fatal("sync wrote to region c")
	}
	// Nothing of c's leaked into a.
	for _, n := range before {
		if n != format.ConfigName && slices.Contains(repoObjects(t, f.mems["a"]), n) {
			t.Fatalf("%s of the other repository is in a", n)
		}
	}
	if r := regionReport(t, rep, "a"); !r.Complete || r.Copied != 0 {
		t.Fatalf("report a = %+v", r)
	}
}

func TestSyncVerify(t *testing.T) {
	ctx := context.Background()
	f := newSet(t, 0)
	f.initRepo(t)
	if _, err := f.backup(t); err != nil {
		t.Fatal(err)
	}
	name, good := largestPack(t, f.mems["b"])
	corrupt := func() {
		bad := bytes.Clone(good)
		bad[len(bad)/2] ^= 0xff
		mustPut(t, f.mems["b"], name, bad)
	}
	isGood := func() bool {
		data, err := storage.ReadAll(ctx, f.mems["b"], name)
		return err == nil && format.ID(sha256.Sum256(data)) == format.ID(sha256.Sum256(good))
	}
	corrupt()
	// Same size: a plain sync does not notice.
	rep, err := syncer.Sync(ctx, f.set, opts())
	if err != nil || regionReport(t, rep, "b").Replaced != 0 || isGood() {
		t.Fatalf("plain sync: %+v, %v", regionReport(t, rep, "b"), err)
	}
	for _, tc := range []struct {
		name string
		opt  func(*syncer.Options)
	}{
		{"verify", func(o *syncer.Options) { o.Verify = true }},
		{"reported bad", func(o *syncer.Options) { o.Bad = []string{name} }},
	} {
		t.Run(tc.name, func(t *testing.T) {
			corrupt()
			o := opts()
			tc.opt(&o)
			rep, err := syncer.Sync(ctx, f.set, o)
			if err != nil {
				t.Fatal(err)
			}
			br := regionReport(t, rep, "b")
			if br.Replaced != 1 || br.Copied != 1 || br.Bytes != int64(len(good)) || !isGood() {
				t.Fatalf("report b = %+v, good again: %v", br, isGood())
			}
			if ar := regionReport(t, rep, "a"); ar.Copied != 0 || ar.Verified == 0 {
				t.Fatalf("report a = %+v", ar)
			}
		})
	}
	// A copy of the wrong size is replaced without --verify.
	mustPut(t, f.mems["c"], name, good[:len(good)-1])
	rep, err = syncer.Sync(ctx, f.set, opts())
	if cr := regionReport(t, rep, "c"); err != nil || cr.Replaced != 1 {
		t.Fatalf("truncated copy: %+v, %v", cr, err)
	}
	// A copy bad in every region is lost.
	bad := bytes.Clone(good)
	bad[10] ^= 1
	for _, m := range f.mems {
		mustPut(t, m, name, bad)
	}
	o := opts()
	o.Verify = true
	rep, err = syncer.Sync(ctx, f.set, o)
	if !errors.Is(err, syncer.ErrLost) || !slices.Equal(rep.Lost, []string{name}) {
		t.Fatalf("all copies bad: lost %q, err %v", rep.Lost, err)
	}
}

func TestSyncFailuresKeepOrder(t *testing.T) {
	ctx := context.Background()
	f := newSet(t, 2)
	f.initRepo(t)
	f.faults["c"].FailOn(fault.OpPut, nil, nil, -1)
	if _, err := f.backup(t); err != nil {
		t.Fatal(err)
	}
	f.faults["c"].Reset()
	// One pack write fails during the sync: c gets no index object and no
	// snapshot, so it never names a pack it lacks.
	f.faults["c"].FailOn(fault.OpPut, fault.Prefix(format.DataPrefix), nil, 1)
	rep, err := syncer.Sync(ctx, f.set, opts())
	if !errors.Is(err, syncer.ErrIncomplete) || !strings.Contains(err.Error(), "region c") {
		t.Fatalf("sync: err = %v", err)
	}
	if cr := regionReport(t, rep, "c"); cr.Complete || len(cr.Errors) != 1 {
		t.Fatalf("report c = %+v", cr)
	}
	if n := names(t, f.mems["c"], format.IndexPrefix); len(n) != 0 {
		t.Fatalf("c got index objects %q", n)
	}
	if n := names(t, f.mems["c"], format.SnapshotPrefix); len(n) != 0 {
		t.Fatalf("c got snapshots %q", n)
	}
	if _, err := f.mems["c"].Stat(ctx, syncer.StateName("c")); !isNotExist(err) {
		t.Fatalf("state of incomplete c recorded: %v", err)
	}
	// The next run finishes the job.
	rep, err = syncer.Sync(ctx, f.set, opts())
	if err != nil || !regionReport(t, rep, "c").Complete || regionReport(t, rep, "c").Copied == 0 {
		t.Fatalf("second sync: %+v, %v", regionReport(t, rep, "c"), err)
	}
	if got, want := repoObjects(t, f.mems["c"]), repoObjects(t, f.mems["a"]); !slices.Equal(got, want) {
		t.Fatal("c incomplete after the second sync")
	}
	// An unreachable region is reported, the others are synced.
	f.faults["b"].FailOn(fault.OpGet, nil, nil, -1)
	rep, err = syncer.Sync(ctx, f.set, opts())
	if !errors.Is(err, syncer.ErrIncomplete) || !strings.Contains(err.Error(), "region b") {
		t.Fatalf("sync with b down: %v", err)
	}
	if br := regionReport(t, rep, "b"); br.Complete || len(br.Errors) == 0 || !strings.Contains(br.Errors[0], "unreachable") {
		t.Fatalf("report b = %+v", br)
	}
	if !regionReport(t, rep, "a").Complete || !regionReport(t, rep, "c").Complete {
		t.Fatal("a and c not complete")
	}
}

func TestSyncNoRepository(t *testing.T) {
	f := newSet(t, 0)
	_, err := syncer.Sync(context.Background(), f.set, opts())
	if !errors.Is(err, repo.ErrNoRepository) {
		t.Fatalf("err = %v", err)
	}
}

func TestStatus(t *testing.T) {
	ctx := context.Background()
	f := newSet(t, 2)
	f.initRepo(t)
	f.faults["c"].FailOn(fault.OpPut, fault.Prefix(format.DataPrefix), nil, -1)
	res, err := f.backup(t)
	if err != nil {
		t.Fatal(err)
	}
	f.faults["c"].Reset()
	packs := len(names(t, f.mems["a"], format.DataPrefix))
	st, err := syncer.Status(ctx, f.set, nil)
	if err != nil {
		t.Fatal(err)
	}
	if len(st) != 3 || st[2].Name != "c" {
		t.Fatalf("status = %+v", st)
	}
	for _, s := range st[:2] {
		if !s.Reachable || s.Config != syncer.ConfigOK || s.Snapshots != 1 || s.SnapshotsMissing != 0 || s.Packs != packs || s.PacksMissing != 0 || s.LastSync != nil || s.Objects == 0 || s.Bytes == 0 {
			t.Fatalf("status %s = %+v", s.Name, s)
		}
	}
	if c := st[2]; c.Snapshots != 0 || c.SnapshotsMissing != 1 || c.Packs != 0 || c.PacksMissing != packs {
		t.Fatalf("status c = %+v (snapshot %s)", c, res.ID.Short())
	}
	if _, err := syncer.Sync(ctx, f.set, opts()); err != nil {
		t.Fatal(err)
	}
	f.faults["b"].FailOn(fault.OpStat, nil, nil, -1)
	st, err = syncer.Status(ctx, f.set, nil)
	if err != nil {
		t.Fatal(err)
	}
	for _, s := range st {
		if s.Name == "b" {
			if s.Reachable || s.Error == "" {
				t.Fatalf("status b = %+v", s)
			}
			continue
		}
		if s.SnapshotsMissing != 0 || s.PacksMissing != 0 || s.LastSync == nil || !s.LastSync.Time.Equal(syncTime) || s.LastSync.Host != "testhost" {
			t.Fatalf("status after sync %s = %+v", s.Name, s)
		}
	}
}

// An object deleted between the listing and its reading (a backup ending
// meanwhile replaces its per-pack index objects with one) is no failure:
// sync lists the prefix again and copies what is there then. One that keeps
// vanishing fails after the last listing, and the region gets no snapshot.
func TestSyncObjectVanishing(t *testing.T) {
	ctx := context.Background()
	setup := func(t *testing.T) *fixture {
		t.Helper()
		f := newSet(t, 1)
		f.initRepo(t)
		f.faults["c"].FailOn(fault.OpPut, fault.Prefix(format.IndexPrefix), nil, -1)
		if _, err := f.backup(t); err != nil {
			t.Fatal(err)
		}
		f.faults["c"].Reset()
		if n := names(t, f.mems["c"], format.IndexPrefix); len(n) != 0 {
			t.Fatalf("c has index objects %q", n)
		}
		return f
	}
	t.Run("once", func(t *testing.T) {
		f := setup(t)
		for _, r := range regionNames[:2] {
			f.faults[r].FailOn(fault.OpGet, fault.Prefix(format.IndexPrefix), storage.ErrNotExist, 1)
		}
		rep, err := syncer.Sync(ctx, f.set, opts())
		if err != nil || !regionReport(t, rep, "c").Complete {
			t.Fatalf("sync: %+v, %v", regionReport(t, rep, "c"), err)
		}
		if got, want := repoObjects(t, f.mems["c"]), repoObjects(t, f.mems["a"]); !slices.Equal(got, want) {
			t.Fatal("c incomplete after the sync")
		}
	})
	t.Run("always", func(t *testing.T) {
		f := setup(t)
		for _, r := range regionNames[:2] {
			f.faults[r].FailOn(fault.OpGet, fault.Prefix(format.IndexPrefix), storage.ErrNotExist, -1)
		}
		rep, err := syncer.Sync(ctx, f.set, opts())
		if !errors.Is(err, syncer.ErrIncomplete) {
			t.Fatalf("sync: err = %v", err)
		}
		if cr := regionReport(t, rep, "c"); cr.Complete || len(cr.Errors) == 0 {
			t.Fatalf("report c = %+v", cr)
		}
		if n := names(t, f.mems["c"], format.SnapshotPrefix); len(n) != 0 {
			t.Fatalf("c got snapshots %q without their index", n)
		}
	})
}
