package pitr_test

import (
	"context"
	"errors"
	"strings"
	"testing"
	"time"

	"lifeboat/engine/pitr"
	"lifeboat/storage"
	"lifeboat/storage/mem"
	"lifeboat/storage/storagetest"
)

var (
	base     = time.Date(2026, 3, 1, 12, 0, 0, 0, time.UTC)
	recovery = base.Add(30 * time.Minute) // between the backup and the attack
)

// before is the region's content at the recovery time.
var before = map[string]string{
	"config":            "the config",
	"keys/k1":           "a key",
	"data/aa/pack1":     "pack one",
	"index/i1":          "index one",
	"snapshots/s1":      "snapshot one",
	"locks/repo/000001": "a lock",
}

// attacked is a versioned region holding before, then attacked an hour
// later: every object overwritten, half of them then deleted, a decoy
// snapshot and pack added, the lock replaced. locked says which of the
// attack's versions object lock keeps from removal.
func attacked(t *testing.T, locked func(storage.VersionInfo) bool) storage.Storage {
	t.Helper()
	now := base
	st := mem.NewVersioned(mem.VersionedOptions{
		Now: func() time.Time { return now },
		Retained: func(v storage.VersionInfo) bool {
			return locked != nil && v.ModTime.After(recovery) && locked(v)
		},
	})
	ctx := context.Background()
	for name, data := range before {
		storagetest.PutString(t, st, name, data)
	}
	now = base.Add(time.Hour)
	i := 0
	for name := range before {
		storagetest.PutString(t, st, name, "ENCRYPTED BY ATTACKER "+name)
		if i%2 == 0 {
			if err := st.Delete(ctx, name); err != nil {
				t.Fatal(err)
			}
		}
		i++
	}
	storagetest.PutString(t, st, "snapshots/evil", "a decoy")
	storagetest.PutString(t, st, "data/bb/evil", "decoy data")
	return st
}

// requireBefore fails unless st's current content is before, locks/ aside.
func requireBefore(t *testing.T, st storage.Storage) {
	t.Helper()
	ctx := context.Background()
	got := map[string]string{}
	if err := st.List(ctx, "", func(i storage.Info) error {
		data, err := storage.ReadAll(ctx, st, i.Name)
		got[i.Name] = string(data)
		return err
	}); err != nil {
		t.Fatal(err)
	}
	for name, want := range before {
		if name == "locks/repo/000001" {
			continue
		}
		if got[name] != want {
			t.Errorf("%s = %q, want %q", name, got[name], want)
		}
	}
	for name := range got {
		if _, ok := before[name]; !ok {
			t.Errorf("%s exists, but did not at the recovery time", name)
		}
	}
}

func countVersions(t *testing.T, st storage.Storage) int {
	t.Helper()
	return len(storagetest.ListAllVersions(t, st.Capabilities().Versions, ""))
}

func recoverRegion(t *testing.T, st storage.Storage) (*pitr.Plan, *pitr.Result) {
	t.Helper()
	p, err := pitr.MakePlan(context.Background(), st, recovery)
	if err != nil {
		t.Fatal(err)
	}
	res, err := pitr.Apply(context.Background(), st, p, pitr.Options{})
	if err != nil {
		t.Fatal(err)
	}
	if res.Failed > 0 {
		t.Fatalf("apply: %+v", res.Outcomes)
	}
	return p, res
}

// TestRecoverRemovesLaterVersions: with nothing locked, the attack's
// versions and markers are removed, the region is as it was, the lock is
// left alone, and a second run finds nothing to do.
func TestRecoverRemovesLaterVersions(t *testing.T) {
	st := attacked(t, nil)
	p, res := recoverRegion(t, st)
	if len(p.Items) != 7 {
		t.Fatalf("plan has %d names, want 7 (5 objects, 2 decoys; not the lock): %+v", len(p.Items), p.Items)
	}
	// Content comes back before the decoys go, and the decoy snapshot
	// goes before the decoy data.
	order := map[string]int{}
	for i, it := range p.Items {
		order[it.Name] = i
	}
	if !(order["data/aa/pack1"] < order["snapshots/s1"] && order["snapshots/s1"] < order["snapshots/evil"] && order["snapshots/evil"] < order["data/bb/evil"]) {
		t.Fatalf("plan order %v", order)
	}
	for _, o := range res.Outcomes {
		if o.Rewritten || o.Hidden || o.Removed == 0 {
			t.Errorf("%s: %+v, want later versions removed", o.Name, o)
		}
	}
	requireBefore(t, st)
	if got, _ := storage.ReadAll(context.Background(), st, "locks/repo/000001"); string(got) == "a lock" {
		t.Fatal("the lock was recovered: locks/ must be left alone")
	}
	again, err := pitr.MakePlan(context.Background(), st, recovery)
	if err != nil || len(again.Items) != 0 {
		t.Fatalf("second plan: %+v, %v; want nothing to do", again, err)
	}
}

// TestRecoverOverLockedVersions: where the attacker's versions are under
// object lock, the version of the time is written again as current and
// decoys are deleted; running it again changes nothing.
func TestRecoverOverLockedVersions(t *testing.T) {
	st := attacked(t, func(storage.VersionInfo) bool { return true })
	_, res := recoverRegion(t, st)
	rewritten, hidden := 0, 0
	for _, o := range res.Outcomes {
		if o.Rewritten {
			rewritten++
		}
		if o.Hidden {
			hidden++
		}
	}
	if rewritten != 5 || hidden != 2 {
		t.Fatalf("rewritten %d, hidden %d, want 5 and 2: %+v", rewritten, hidden, res.Outcomes)
	}
	requireBefore(t, st)
	n := countVersions(t, st)
	_, res = recoverRegion(t, st)
	for _, o := range res.Outcomes {
		if !o.AlreadyCurrent {
			t.Errorf("second run changed %s: %+v", o.Name, o)
		}
	}
	if m := countVersions(t, st); m != n {
		t.Fatalf("second run: %d versions, had %d", m, n)
	}
	requireBefore(t, st)
}

func TestRecoverNeedsVersions(t *testing.T) {
	if _, err := pitr.MakePlan(context.Background(), mem.New(), recovery); !errors.Is(err, pitr.ErrNoVersioning) || !errors.Is(err, storage.ErrNoVersioning) {
		t.Fatalf("MakePlan without versions: %v", err)
	}
}

// TestSurvey: the versions current at the attack survive when retained
// (or when the credentials may not delete); the as-of Keep keeps exactly
// those, and delete markers.
func TestSurvey(t *testing.T) {
	st := attacked(t, nil)
	ctx := context.Background()
	locked := func(_ context.Context, v storage.VersionInfo) (bool, error) {
		return strings.HasPrefix(v.Name, "data/") || v.Name == "config", nil
	}
	s, err := pitr.MakeSurvey(ctx, st, recovery, pitr.SurveyOptions{Retained: locked})
	if err != nil {
		t.Fatal(err)
	}
	// locks/ is bookkeeping: not counted.
	if s.Objects != 5 || strings.Join(s.Destroyable, " ") != "index/i1 keys/k1 snapshots/s1" {
		t.Fatalf("survey: %d objects, destroyable %v", s.Objects, s.Destroyable)
	}
	for _, v := range storagetest.ListAllVersions(t, st.Capabilities().Versions, "") {
		keep, _ := s.Keep(ctx, v)
		want := v.DeleteMarker || (!v.ModTime.After(recovery) && (strings.HasPrefix(v.Name, "data/") || v.Name == "config"))
		if keep != want {
			t.Errorf("Keep(%s %s at %v) = %v, want %v", v.Name, v.VersionID, v.ModTime, keep, want)
		}
	}
	all, err := pitr.MakeSurvey(ctx, st, recovery, pitr.SurveyOptions{NoDelete: true})
	if err != nil || len(all.Destroyable) != 0 || all.Objects != 5 {
		t.Fatalf("survey without deletes: %+v, %v", all, err)
	}
}
