package syncer_test

import (
	"context"
	"errors"
	"slices"
	"strings"
	"testing"

	"lifeboat/engine/enginetest"
	"lifeboat/engine/format"
	"lifeboat/engine/repo"
	"lifeboat/engine/syncer"
	"lifeboat/storage/fault"
	"lifeboat/storage/regions"
)

// TestCommitRule: with W=2, a region failing every write during a backup
// gets no snapshot and is reported behind; sync completes it, and the
// repository restores from that region alone.
func TestCommitRule(t *testing.T) {
	ctx := context.Background()
	f := newSet(t, 2)
	f.initRepo(t)
	f.faults["c"].FailOn(fault.OpPut, nil, nil, -1)
	res, err := f.backup(t)
	if err != nil {
		t.Fatalf("backup: %v", err)
	}
	snap := format.SnapshotName(res.ID)
	for _, name := range []string{"a", "b"} {
		if got := names(t, f.mems[name], format.SnapshotPrefix); !slices.Equal(got, []string{snap}) {
			t.Fatalf("region %s snapshots = %q", name, got)
		}
	}
	if got := names(t, f.mems["c"], format.SnapshotPrefix); len(got) != 0 {
		t.Fatalf("region c got snapshots %q", got)
	}
	if got := f.set.Lagging(); !slices.Equal(got, []string{"c"}) {
		t.Fatalf("lagging = %q", got)
	}
	behind := f.set.Behind()
	if _, ok := behind["c"]; !ok || len(behind) != 1 || !slices.Contains(behind["c"].Names, snap) {
		t.Fatalf("behind = %+v", behind)
	}
	f.faults["c"].Reset()
	rep, err := syncer.Sync(ctx, f.set, opts())
	if err != nil || !regionReport(t, rep, "c").Complete {
		t.Fatalf("sync: %+v, %v", rep, err)
	}
	if len(f.set.Lagging()) != 0 {
		t.Fatalf("still lagging after sync: %q", f.set.Lagging())
	}
	restoreFrom(t, f.mems["c"], f.id, f.src)
	// The next backup goes to every region again.
	f.src = ""
	res2, err := f.backup(t)
	if err != nil {
		t.Fatal(err)
	}
	if got := names(t, f.mems["c"], format.SnapshotPrefix); !slices.Contains(got, format.SnapshotName(res2.ID)) {
		t.Fatalf("region c snapshots after catching up = %q", got)
	}
}

func TestCommitFailsWithoutQuorum(t *testing.T) {
	for _, tc := range []struct {
		name   string
		quorum int
		faults func(f *fixture)
		want   error
	}{
		// Every pack write misses the quorum: the backup fails before the
		// commit.
		{"W=3, region failing", 3, func(f *fixture) {
			f.faults["c"].FailOn(fault.OpPut, nil, nil, -1)
		}, regions.ErrQuorum},
		// Every write reaches 2 regions, but only a holds them all.
		{"W=2, only one region complete", 2, func(f *fixture) {
			f.faults["b"].FailOn(fault.OpPut, fault.Prefix(format.DataPrefix), nil, -1)
			f.faults["c"].FailOn(fault.OpPut, fault.Prefix(format.IndexPrefix), nil, -1)
		}, repo.ErrTooFewComplete},
	} {
		t.Run(tc.name, func(t *testing.T) {
			f := newSet(t, tc.quorum)
			f.initRepo(t)
			tc.faults(f)
			_, err := f.backup(t)
			t.Logf("backup error: %v", err)
			if !errors.Is(err, tc.want) {
				t.Fatalf("backup: err = %v, want %v", err, tc.want)
			}
			if errors.Is(tc.want, repo.ErrTooFewComplete) && (!strings.Contains(err.Error(), "b, c") || !strings.Contains(err.Error(), "complete: a")) {
				t.Fatalf("error does not name the regions: %v", err)
			}
			for _, name := range regionNames {
				if got := names(t, f.mems[name], format.SnapshotPrefix); len(got) != 0 {
					t.Fatalf("region %s holds snapshots %q", name, got)
				}
			}
		})
	}
}

// TestCommitPlainStorage: on a storage that is not a region set,
// CommitSnapshot is SaveSnapshot.
func TestCommitPlainStorage(t *testing.T) {
	f := newSet(t, 0)
	r, _ := enginetest.NewRepo(t, f.mems["a"])
	id, behind, err := r.CommitSnapshot(context.Background(), &format.Snapshot{Version: format.Version, Host: "h", Paths: []string{"/x"}, Tree: format.ID{1}})
	if err != nil || behind != nil {
		t.Fatalf("commit: %v, behind %q", err, behind)
	}
	if got := names(t, f.mems["a"], format.SnapshotPrefix); !slices.Equal(got, []string{format.SnapshotName(id)}) {
		t.Fatalf("snapshots = %q", got)
	}
}
