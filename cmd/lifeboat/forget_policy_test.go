package main

import (
	"context"
	"errors"
	"path/filepath"
	"slices"
	"testing"
	"time"

	"lifeboat/engine/backup"
	"lifeboat/engine/drill"
	"lifeboat/engine/enginetest"
	"lifeboat/engine/format"
	"lifeboat/engine/repo"
	"lifeboat/engine/retention"
	"lifeboat/storage"
	"lifeboat/storage/mem"
	"lifeboat/storage/regions"
)

// policyRepo is a two-region repository with one real backup of host
// "test", whose snapshot is then saved again at each of times (and once
// for host "other"); it returns the set, the repository, the saved IDs by
// time, the other host's snapshot and the first region's own storage.
func policyRepo(t *testing.T, times []time.Time) (*regions.Set, *repo.Repository, map[time.Time]format.ID, format.ID, storage.Storage) {
	t.Helper()
	ctx := context.Background()
	a, b := mem.New(), mem.New()
	set, err := regions.New([]regions.Region{{Name: "a", Storage: a}, {Name: "b", Storage: b}}, regions.Options{})
	if err != nil {
		t.Fatal(err)
	}
	r, _ := enginetest.NewRepo(t, set)
	src := filepath.Join(t.TempDir(), "src")
	enginetest.MakeTree(t, src, 2)
	res, err := backup.Run(ctx, r, backup.Options{Paths: []string{src}, Host: "test"})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := r.Forget(ctx, []format.ID{res.ID}); err != nil {
		t.Fatal(err)
	}
	ids := map[time.Time]format.ID{}
	for _, tm := range times {
		s := *res.Snapshot
		s.Time = tm
		id, err := r.SaveSnapshot(ctx, &s)
		if err != nil {
			t.Fatal(err)
		}
		ids[tm] = id
	}
	o := *res.Snapshot
	o.Host, o.Time = "other", times[0]
	other, err := r.SaveSnapshot(ctx, &o)
	if err != nil {
		t.Fatal(err)
	}
	return set, r, ids, other, a
}

// TestApplyPolicy: forget's shared policy path lists the snapshots of
// every region (one missing from a region still counts; tombstoned ones
// do not), keeps those of the filter, buckets days in the configured zone,
// and forgets exactly the removed ones, which then are gone.
func TestApplyPolicy(t *testing.T) {
	ctx := context.Background()
	utc := func(s string) time.Time {
		tm, err := time.Parse(time.RFC3339, s)
		if err != nil {
			t.Fatal(err)
		}
		return tm
	}
	// 22:30 UTC on June 1 is 00:30 on June 2 in Berlin.
	times := []time.Time{utc("2024-05-31T12:00:00Z"), utc("2024-06-01T08:00:00Z"), utc("2024-06-01T22:30:00Z"), utc("2024-06-02T10:00:00Z")}
	berlin, err := time.LoadLocation("Europe/Berlin")
	if err != nil {
		t.Fatal(err)
	}
	now := utc("2024-06-03T00:00:00Z")
	tests := []struct {
		name string
		zone *time.Location
		keep []int // indexes of times kept
	}{
		// UTC days: 06-02 (10:00), 06-01 (22:30): daily 2; oldest not kept
		// since two were kept.
		{"utc", time.UTC, []int{2, 3}},
		// Berlin days: 06-02 holds 22:30Z and 10:00Z (newest kept), 06-01
		// holds 08:00Z.
		{"berlin", berlin, []int{1, 3}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			_, r, ids, other, a := policyRepo(t, times)
			// The oldest snapshot is missing from region a: still listed.
			if err := a.Delete(ctx, format.SnapshotName(ids[times[0]])); err != nil {
				t.Fatal(err)
			}
			plan := forgetPlan{policy: retention.Policy{Rules: []retention.Rule{retention.Daily(2)}}, filter: repo.Filter{Host: "test"}, zone: tc.zone}
			dry, err := applyPolicy(ctx, r, plan, now, true)
			if err != nil {
				t.Fatal(err)
			}
			var want []format.ID
			for i, tm := range times {
				if !slices.Contains(tc.keep, i) {
					want = append(want, ids[tm])
				}
			}
			sortIDs := func(l []format.ID) []format.ID {
				l = slices.Clone(l)
				slices.SortFunc(l, func(x, y format.ID) int { return cmpID(x, y) })
				return l
			}
			if got := sortIDs(dry.removed); !slices.Equal(got, sortIDs(want)) {
				t.Fatalf("removed %v, want %v", got, want)
			}
			if len(dry.snapshots()) != len(times) || dry.deletion != nil {
				t.Fatalf("dry run: %d snapshots considered, deletion %v", len(dry.snapshots()), dry.deletion)
			}
			run, err := applyPolicy(ctx, r, plan, now, false)
			if err != nil || run.deletion == nil {
				t.Fatalf("forget: %v", err)
			}
			refs, err := r.Snapshots(ctx)
			if err != nil {
				t.Fatal(err)
			}
			var left []format.ID
			for _, ref := range refs {
				left = append(left, ref.ID)
			}
			wantLeft := []format.ID{other}
			for _, i := range tc.keep {
				wantLeft = append(wantLeft, ids[times[i]])
			}
			if !slices.Equal(sortIDs(left), sortIDs(wantLeft)) {
				t.Fatalf("left %v, want %v", left, wantLeft)
			}
		})
	}
}

func cmpID(x, y format.ID) int {
	return slices.Compare(x[:], y[:])
}

// TestApplyPolicyEmpty: an empty policy is a usage error, nothing removed.
func TestApplyPolicyEmpty(t *testing.T) {
	_, r, _, _, _ := policyRepo(t, []time.Time{time.Date(2024, 1, 1, 0, 0, 0, 0, time.UTC)})
	_, err := applyPolicy(context.Background(), r, forgetPlan{}, time.Now(), false)
	if !errors.Is(err, retention.ErrEmptyPolicy) || exitCode(err, false) != ExitUsage {
		t.Fatalf("empty policy: %v (exit %d)", err, exitCode(err, false))
	}
}

// TestStorageNow: the storage's time comes from the probe each region
// stores; a local clock more than 5 minutes off is refused.
func TestStorageNow(t *testing.T) {
	ctx := context.Background()
	a, b := mem.New(), mem.New()
	set, err := regions.New([]regions.Region{{Name: "a", Storage: a}, {Name: "b", Storage: b}}, regions.Options{})
	if err != nil {
		t.Fatal(err)
	}
	local := time.Now()
	got, err := storageNow(ctx, set, local)
	if err != nil {
		t.Fatal(err)
	}
	for _, st := range []storage.Storage{a, b} {
		fi, err := st.Stat(ctx, clockProbe)
		if err != nil {
			t.Fatalf("no probe in a region: %v", err)
		}
		if fi.ModTime.After(got) {
			t.Errorf("storage time %v is older than a region's probe %v", got, fi.ModTime)
		}
	}
	for _, off := range []time.Duration{-time.Hour, 10 * time.Minute} {
		if _, err := storageNow(ctx, set, local.Add(off)); !errors.Is(err, errClockSkew) {
			t.Errorf("local clock off by %v: %v, want errClockSkew", off, err)
		}
	}
}

// TestDeleteExpiredRecords: the daemon's record retention deletes the
// check and drill records older than 90 days except the newest check
// record and the newest record of each drill.
func TestDeleteExpiredRecords(t *testing.T) {
	ctx := context.Background()
	a, b := mem.New(), mem.New()
	set, err := regions.New([]regions.Region{{Name: "a", Storage: a}, {Name: "b", Storage: b}}, regions.Options{})
	if err != nil {
		t.Fatal(err)
	}
	r, _ := enginetest.NewRepo(t, set)
	now := time.Date(2024, 6, 1, 0, 0, 0, 0, time.UTC)
	day := 24 * time.Hour
	save := func(rec *drill.Record) {
		if _, err := drill.SaveRecord(ctx, r, rec); err != nil {
			t.Fatal(err)
		}
	}
	for _, age := range []time.Duration{400 * day, 200 * day, 10 * day} {
		save(drill.CheckRecord(now.Add(-age), "h", nil, 0))
	}
	for _, age := range []time.Duration{300 * day, 100 * day} {
		save(&drill.Record{Version: drill.RecordVersion, Kind: drill.KindDrill, Time: now.Add(-age), Drill: &drill.Report{Name: "weekly"}})
	}
	n, err := deleteExpiredRecords(ctx, r, set, now)
	if err != nil || n != 3 {
		t.Fatalf("deleted %d, %v; want 3", n, err)
	}
	recs, _, err := drill.LoadRecords(ctx, r)
	if err != nil {
		t.Fatal(err)
	}
	var ages []time.Duration
	for _, rec := range recs {
		ages = append(ages, now.Sub(rec.Time))
	}
	if want := []time.Duration{100 * day, 10 * day}; !slices.Equal(ages, want) {
		t.Fatalf("records left of ages %v, want %v", ages, want)
	}
}
