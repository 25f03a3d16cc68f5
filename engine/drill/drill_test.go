package drill_test

import (
	"context"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	"lifeboat/engine/drill"
	"lifeboat/engine/format"
	"lifeboat/engine/repo"
	"lifeboat/storage"
	"lifeboat/storage/fault"
)

// TestScenarios runs the drills of the issue on one repository in regions a
// and b: losing a passes, a pack corrupted in the only remaining region
// fails naming the file and the region, an RPO objective exceeded fails
// for that reason alone, and the history lists all three.
func TestScenarios(t *testing.T) {
	e := newEnv(t)
	evidence := e.evidence()

	t.Run("lose-a-passes", func(t *testing.T) {
		at := backupTime.Add(3 * time.Hour)
		rep := e.drill(t, at, []string{"a"}, drill.Options{RTO: time.Hour, RPO: 24 * time.Hour, Evidence: evidence, Host: "h"})
		if !rep.Passed || len(rep.Reasons) != 0 {
			t.Fatalf("drill failed: %+v\nfailures %+v", rep.Reasons, rep.Failures)
		}
		// The clock is read at the start, before the restore, before the
		// verification and at the end, one second apart.
		if rep.RTO != 3*time.Second || rep.RestoreTime != time.Second || rep.VerifyTime != time.Second {
			t.Errorf("RTO %v (restore %v, verify %v), want 3s (1s, 1s)", rep.RTO, rep.RestoreTime, rep.VerifyTime)
		}
		if rep.RPO != 3*time.Hour {
			t.Errorf("RPO %v, want 3h", rep.RPO)
		}
		if rep.Snapshot != e.snapID.String() || !rep.SnapshotTime.Equal(backupTime) {
			t.Errorf("snapshot %s of %v, want %s of %v", rep.Snapshot, rep.SnapshotTime, e.snapID, backupTime)
		}
		if !slices.Equal(rep.Regions, []string{"b"}) || !slices.Equal(rep.Lost, []string{"a"}) {
			t.Errorf("regions %v lost %v, want [b] [a]", rep.Regions, rep.Lost)
		}
		if rep.Reads["a"] != nil || rep.Reads["b"] == nil || rep.Reads["b"].Objects == 0 {
			t.Errorf("reads %v: want everything from b", rep.Reads)
		}
		if !rep.Full || rep.Files != rep.FilesTotal || rep.Bytes != rep.BytesTotal || rep.Files < 40 || rep.FailureCount != 0 {
			t.Errorf("full drill verified %d/%d files, %d/%d bytes, %d failures", rep.Files, rep.FilesTotal, rep.Bytes, rep.BytesTotal, rep.FailureCount)
		}
		if rep.Dirs == 0 || rep.Symlinks != 4 || rep.Other != 1 {
			t.Errorf("verified %d dirs, %d symlinks, %d other; want some, 4, 1 (the FIFO)", rep.Dirs, rep.Symlinks, rep.Other)
		}
		if rep.Throughput <= 0 {
			t.Errorf("throughput %v", rep.Throughput)
		}
		if rep.PacksRead["b"] != rep.PacksTotal || rep.PacksTotal == 0 {
			t.Errorf("a full drill read %v of %d packs", rep.PacksRead, rep.PacksTotal)
		}
		if rep.Record == "" || rep.RecordError != "" {
			t.Errorf("record %q, error %q", rep.Record, rep.RecordError)
		}
		if _, err := os.Stat(rep.Target); !errors.Is(err, os.ErrNotExist) {
			t.Errorf("the scratch directory %s was not removed: %v", rep.Target, err)
		}
	})

	t.Run("corrupt-pack-fails", func(t *testing.T) {
		files := e.fileNodes()
		var victim string
		for p := range files {
			if strings.HasSuffix(p, "/big/large.bin") {
				victim = p
			}
		}
		pack := e.packOf(files[victim].Content[0])
		name := format.PackName(pack)
		rule := e.faults["b"].Corrupt(fault.Exact(name))
		defer rule.Remove()
		rep := e.drill(t, backupTime.Add(4*time.Hour), []string{"a"}, drill.Options{Evidence: evidence})
		if rep.Passed {
			t.Fatal("the drill passed with a corrupted pack in its only region")
		}
		if got := reasonCodes(rep); !slices.Equal(got, []drill.ReasonCode{drill.ReasonVerify}) {
			t.Fatalf("reasons %v, want [verification]", rep.Reasons)
		}
		// Which files fail depends on where the corruption lands (damage
		// stays within one encryption chunk); every failure must name the
		// region and the object.
		if len(rep.Failures) == 0 {
			t.Fatalf("no failure listed (the corrupted pack holds %s)", victim)
		}
		integrity := 0
		for _, f := range rep.Failures {
			if !slices.Equal(f.Regions, []string{"b"}) || !slices.Contains(f.Objects, name) {
				t.Errorf("failure %+v: want region b, object %s", f, name)
			}
			if f.Kind == drill.KindIntegrity {
				integrity++
			}
		}
		if integrity == 0 {
			t.Errorf("no integrity failure among %+v", rep.Failures)
		}
		msg := rep.Reasons[0].Message
		if !strings.Contains(msg, "region b") || !strings.Contains(msg, "/") {
			t.Errorf("reason %q names no file or region", msg)
		}
		if rep.PacksRead["b"] >= rep.PacksTotal {
			t.Errorf("the corrupted pack counts as read: %v of %d", rep.PacksRead, rep.PacksTotal)
		}
	})

	t.Run("rpo-exceeded", func(t *testing.T) {
		rep := e.drill(t, backupTime.Add(48*time.Hour), []string{"a"}, drill.Options{RPO: 24 * time.Hour, RTO: time.Hour, Evidence: evidence})
		if rep.Passed || !slices.Equal(reasonCodes(rep), []drill.ReasonCode{drill.ReasonRPO}) {
			t.Fatalf("reasons %+v, want [rpo]", rep.Reasons)
		}
		if rep.RPO != 48*time.Hour {
			t.Errorf("RPO %v, want 48h", rep.RPO)
		}
	})

	t.Run("history", func(t *testing.T) {
		recs, bad, err := drill.LoadRecords(context.Background(), e.evidence())
		if err != nil || len(bad) > 0 {
			t.Fatal(err, bad)
		}
		h := drill.History(recs)
		if len(h) != 3 {
			t.Fatalf("history has %d drills, want 3", len(h))
		}
		want := []struct {
			passed bool
			reason drill.ReasonCode
			rpo    time.Duration
		}{{true, "", 3 * time.Hour}, {false, drill.ReasonVerify, 4 * time.Hour}, {false, drill.ReasonRPO, 48 * time.Hour}}
		for i, w := range want {
			d := h[i].Drill
			if d.Passed != w.passed || d.RPO != w.rpo || (w.reason != "" && d.Reasons[0].Code != w.reason) {
				t.Errorf("history[%d]: passed %v RPO %v reasons %v; want %v %v %v", i, d.Passed, d.RPO, d.Reasons, w.passed, w.rpo, w.reason)
			}
			if !slices.Equal(d.Lost, []string{"a"}) || d.Snapshot != e.snapID.String() || d.RTO != 3*time.Second {
				t.Errorf("history[%d]: lost %v snapshot %s RTO %v", i, d.Lost, d.Snapshot, d.RTO)
			}
		}
		// Every region holds every record.
		for _, name := range []string{"a", "b"} {
			n := 0
			if err := e.faults[name].List(context.Background(), "drills/", func(storage.Info) error { n++; return nil }); err != nil {
				t.Fatal(err)
			}
			if n != 3 {
				t.Errorf("region %s holds %d drill records, want 3", name, n)
			}
		}
	})
}

// TestSampledCoverage runs sampled drills until every pack was read in the
// region they read from; the sample prefers packs not read yet, so this
// takes a bounded number of drills.
func TestSampledCoverage(t *testing.T) {
	e := newEnvWith(t, func(root string) { makeFiles(t, root, 120, 5) })
	evidence := e.evidence()
	packs := evidence.Index().Packs()
	ids := make([]format.ID, len(packs))
	for i, p := range packs {
		ids[i] = p.ID
	}
	if len(ids) < 25 {
		t.Fatalf("only %d packs; the test wants many", len(ids))
	}
	// 2% of the bytes per drill. Every drill reaches packs no drill read
	// before, until none is left: with these seeds the 35 packs take 6
	// drills (a uniform 2% sample would need dozens to reach the last
	// pack).
	const maxDrills = 10
	prev := 0
	at := backupTime.Add(time.Hour)
	for n := 1; ; n++ {
		if n > maxDrills {
			t.Fatalf("coverage below 100%% after %d sampled drills", maxDrills)
		}
		rep := e.drill(t, at, nil, drill.Options{SamplePercent: 2, Seed: uint64(n), Evidence: evidence})
		if !rep.Passed {
			t.Fatalf("drill %d failed: %+v", n, rep.Reasons)
		}
		if rep.Full || rep.SampledBytes*50 < rep.BytesTotal || rep.Files != rep.SampledFiles || rep.Seed != uint64(n) {
			t.Fatalf("drill %d: sampled %d files, %d of %d bytes, verified %d, seed %d", n, rep.SampledFiles, rep.SampledBytes, rep.BytesTotal, rep.Files, rep.Seed)
		}
		if rep.RTOExtrapolated <= rep.RTO {
			t.Errorf("drill %d: extrapolated RTO %v not above the measured %v", n, rep.RTOExtrapolated, rep.RTO)
		}
		recs, _, err := drill.LoadRecords(context.Background(), evidence)
		if err != nil {
			t.Fatal(err)
		}
		cov := drill.Coverage(recs, ids, []string{"a", "b"}, backupTime)
		t.Logf("drill %d: %d files sampled, coverage a %d/%d", n, rep.SampledFiles, cov[0].Read, cov[0].Packs)
		if cov[1].Read != 0 {
			t.Fatalf("region b was never read but has coverage %+v", cov[1])
		}
		if cov[0].Read <= prev {
			t.Fatalf("drill %d read no pack that was not read before (%d/%d)", n, cov[0].Read, cov[0].Packs)
		}
		prev = cov[0].Read
		if cov[0].Share == 1 {
			break
		}
		at = at.Add(time.Hour)
	}
	// A window that ends before the drills sees no coverage.
	recs, _, err := drill.LoadRecords(context.Background(), evidence)
	if err != nil {
		t.Fatal(err)
	}
	if c := drill.Coverage(recs, ids, []string{"a"}, at.Add(time.Hour)); c[0].Read != 0 {
		t.Errorf("coverage after the last drill: %+v", c[0])
	}
}

// TestRTOObjective: a slow drill fails for its RTO alone; a sampled drill
// is judged by its extrapolated RTO.
func TestRTOObjective(t *testing.T) {
	e := newEnv(t)
	for _, tc := range []struct {
		name   string
		sample float64
		rto    time.Duration
		fail   bool
	}{
		{"full-within", 0, 3 * time.Second, false},
		{"full-exceeded", 0, 2 * time.Second, true},
		// 3s measured over ~10% of the bytes extrapolates to ~20s.
		{"sampled-extrapolated", 10, 5 * time.Second, true},
	} {
		t.Run(tc.name, func(t *testing.T) {
			rep := e.drill(t, backupTime.Add(time.Hour), nil, drill.Options{RTO: tc.rto, SamplePercent: tc.sample, Seed: 1, NoRecord: true})
			if tc.fail != !rep.Passed {
				t.Fatalf("passed %v, reasons %+v (RTO %v, extrapolated %v)", rep.Passed, rep.Reasons, rep.RTO, rep.RTOExtrapolated)
			}
			if tc.fail && !slices.Equal(reasonCodes(rep), []drill.ReasonCode{drill.ReasonRTO}) {
				t.Fatalf("reasons %+v, want [rto]", rep.Reasons)
			}
			if rep.Record != "" {
				t.Errorf("NoRecord stored %s", rep.Record)
			}
		})
	}
}

// TestUnavailable: when the remaining region cannot serve packs, or
// anything at all, the drill fails with the unavailable reason.
func TestUnavailable(t *testing.T) {
	e := newEnv(t)
	evidence := e.evidence()
	t.Run("packs", func(t *testing.T) {
		rule := e.faults["b"].FailOn(fault.OpGet, fault.Prefix("data/"), storage.MarkTransient(fault.ErrInjected), -1)
		defer rule.Remove()
		rep := e.drill(t, backupTime.Add(time.Hour), []string{"a"}, drill.Options{Evidence: evidence})
		if rep.Passed || !slices.Contains(reasonCodes(rep), drill.ReasonUnavailable) {
			t.Fatalf("reasons %+v, want unavailable", rep.Reasons)
		}
	})
	t.Run("everything", func(t *testing.T) {
		rule := e.faults["b"].FailOn(fault.OpList, fault.Prefix("index/"), storage.MarkTransient(fault.ErrInjected), -1)
		defer rule.Remove()
		rep := e.drill(t, backupTime.Add(time.Hour), []string{"a"}, drill.Options{Evidence: evidence})
		if rep.Passed || !slices.Equal(reasonCodes(rep), []drill.ReasonCode{drill.ReasonUnavailable}) || rep.Snapshot != "" {
			t.Fatalf("reasons %+v snapshot %q, want [unavailable] and none", rep.Reasons, rep.Snapshot)
		}
		// The record went to a, which the drill only pretended to lose.
		if rep.Record == "" {
			t.Errorf("no record stored: %s", rep.RecordError)
		}
	})
}

// TestNoSnapshot: when the regions answer but no snapshot matches (a
// source never backed up, an unknown ID), the drill fails with its own
// reason, not as an outage, and its record is stored.
func TestNoSnapshot(t *testing.T) {
	e := newEnv(t)
	for _, tc := range []struct {
		name string
		opts drill.Options
		want string
	}{
		{"filter", drill.Options{Filter: repo.Filter{Paths: []string{"/nowhere"}, Tags: []string{"nightly"}}},
			`no snapshot matches "latest" with paths /nowhere, tags nightly in the regions b`},
		{"id", drill.Options{Snapshot: "ffffffff"}, `no snapshot matches "ffffffff" in the regions b`},
	} {
		t.Run(tc.name, func(t *testing.T) {
			rep := e.drill(t, backupTime.Add(time.Hour), []string{"a"}, tc.opts)
			if rep.Passed || !slices.Equal(reasonCodes(rep), []drill.ReasonCode{drill.ReasonNoSnapshot}) || rep.Snapshot != "" {
				t.Fatalf("reasons %+v snapshot %q, want [no-snapshot] and none", rep.Reasons, rep.Snapshot)
			}
			if r, _ := rep.Reason(drill.ReasonNoSnapshot); !strings.Contains(r.Message, tc.want) {
				t.Errorf("message %q, want it to contain %q", r.Message, tc.want)
			}
			if rep.FailureCount != 0 || rep.Target != "" {
				t.Errorf("failures %d %+v, target %q: want none (nothing was restored)", rep.FailureCount, rep.Failures, rep.Target)
			}
			if rep.Record == "" {
				t.Errorf("no record stored: %s", rep.RecordError)
			}
		})
	}
}

// TestAgainst: changes to the live source since the snapshot are drift,
// not failures.
func TestAgainst(t *testing.T) {
	e := newEnv(t)
	// Same size and mtime, other bytes: only the content comparison sees it.
	changed := filepath.Join(e.src, "d1", "e1", "f01")
	data, err := os.ReadFile(changed)
	if err != nil {
		t.Fatal(err)
	}
	fi, _ := os.Stat(changed)
	data[len(data)/2] ^= 1
	if err := os.WriteFile(changed, data, 0o644); err != nil {
		t.Fatal(err)
	}
	if err := os.Chtimes(changed, fi.ModTime(), fi.ModTime()); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(e.src, "new-file"), []byte("new"), 0o644); err != nil {
		t.Fatal(err)
	}
	if err := os.Remove(filepath.Join(e.src, "d0", "e0", "f00")); err != nil {
		t.Fatal(err)
	}
	rep := e.drill(t, backupTime.Add(time.Hour), nil, drill.Options{Against: e.src})
	if !rep.Passed {
		t.Fatalf("drift failed the drill: %+v", rep.Reasons)
	}
	d := rep.Drift
	if d == nil || d.Error != "" {
		t.Fatalf("drift %+v", d)
	}
	want := &drill.Drift{Path: e.src,
		Changed: []drill.DriftEntry{{Path: changed, Change: "content"}},
		New:     []string{filepath.Join(e.src, "new-file")}, Deleted: []string{filepath.Join(e.src, "d0", "e0", "f00")},
		ChangedCount: 1, NewCount: 1, DeletedCount: 1}
	// The source's root directory changed mode/mtime? Only entries below
	// it matter here, and the root's mtime is ignored.
	if !slices.Equal(d.Changed, want.Changed) || !slices.Equal(d.New, want.New) || !slices.Equal(d.Deleted, want.Deleted) ||
		d.ChangedCount != 1 || d.NewCount != 1 || d.DeletedCount != 1 {
		t.Fatalf("drift\n%+v\nwant\n%+v", d, want)
	}
	t.Run("outside-the-snapshot", func(t *testing.T) {
		rep := e.drill(t, backupTime.Add(time.Hour), nil, drill.Options{Against: t.TempDir(), NoRecord: true})
		if rep.Drift == nil || rep.Drift.Error == "" || !rep.Passed {
			t.Fatalf("drift %+v passed %v", rep.Drift, rep.Passed)
		}
	})
}

// TestTarget: a given target must be empty; Keep leaves the restore there.
func TestTarget(t *testing.T) {
	e := newEnv(t)
	t.Run("keep", func(t *testing.T) {
		target := filepath.Join(t.TempDir(), "scratch")
		rep := e.drill(t, backupTime, nil, drill.Options{Target: target, Keep: true, NoRecord: true})
		if !rep.Passed || !rep.Kept || rep.Target != target {
			t.Fatalf("passed %v kept %v target %s", rep.Passed, rep.Kept, rep.Target)
		}
		got, err := os.ReadFile(filepath.Join(target, e.src, "d1", "e1", "f01"))
		want, _ := os.ReadFile(filepath.Join(e.src, "d1", "e1", "f01"))
		if err != nil || string(got) != string(want) {
			t.Fatalf("kept file: %v", err)
		}
		makeWritable(t, target)
	})
	t.Run("removed", func(t *testing.T) {
		target := t.TempDir()
		rep := e.drill(t, backupTime, nil, drill.Options{Target: target, NoRecord: true})
		entries, err := os.ReadDir(target)
		if !rep.Passed || err != nil || len(entries) != 0 {
			t.Fatalf("passed %v; target holds %d entries (%v)", rep.Passed, len(entries), err)
		}
	})
	t.Run("not-empty", func(t *testing.T) {
		target := t.TempDir()
		if err := os.WriteFile(filepath.Join(target, "x"), nil, 0o600); err != nil {
			t.Fatal(err)
		}
		_, err := drill.Run(context.Background(), e.open(t, nil), drill.Options{Target: target, NoRecord: true})
		if err == nil || !strings.Contains(err.Error(), "not empty") {
			t.Fatalf("err %v, want a refusal", err)
		}
	})
}

// makeWritable lets t.TempDir's cleanup remove a restored tree.
func makeWritable(t *testing.T, root string) {
	t.Helper()
	_ = filepath.WalkDir(root, func(p string, d os.DirEntry, err error) error {
		if err == nil && d.IsDir() {
			_ = os.Chmod(p, 0o700)
		}
		return nil
	})
}

func TestKeepRegions(t *testing.T) {
	names := []string{"a", "b", "c"}
	for _, tc := range []struct {
		name       string
		lose, only []string
		want       []string
		bad        bool
	}{
		{"none", nil, nil, []string{"a", "b", "c"}, false},
		{"lose", []string{"b"}, nil, []string{"a", "c"}, false},
		{"only", nil, []string{"c", "a"}, []string{"a", "c"}, false},
		{"lose-all", names, nil, nil, true},
		{"unknown", []string{"x"}, nil, nil, true},
		{"both", []string{"a"}, []string{"b"}, nil, true},
	} {
		t.Run(tc.name, func(t *testing.T) {
			got, err := drill.Keep(names, tc.lose, tc.only)
			if tc.bad {
				if !errors.Is(err, drill.ErrRegions) {
					t.Fatalf("err %v, want ErrRegions", err)
				}
				return
			}
			if err != nil || !slices.Equal(got, tc.want) {
				t.Fatalf("got %v, %v; want %v", got, err, tc.want)
			}
		})
	}
}

// TestFailuresCapped: the report lists at most MaxListed failures but
// counts, and judges, all of them.
func TestFailuresCapped(t *testing.T) {
	e := newEnv(t)
	files := e.fileNodes()
	var victim string
	for p := range files {
		if strings.HasSuffix(p, "/big/large.bin") {
			victim = p
		}
	}
	// large.bin and its hard link share the corrupted pack.
	e.faults["b"].Corrupt(fault.Exact(format.PackName(e.packOf(files[victim].Content[0]))))
	rep := e.drill(t, backupTime, []string{"a"}, drill.Options{MaxListed: 1, NoRecord: true})
	if len(rep.Failures) != 1 || rep.FailureCount < 2 {
		t.Fatalf("listed %d failures of %d, want 1 of at least 2", len(rep.Failures), rep.FailureCount)
	}
	if len(rep.Reasons) != 1 || !strings.HasPrefix(rep.Reasons[0].Message, fmt.Sprint(rep.FailureCount)+" entries") {
		t.Fatalf("reasons %+v for %d failures", rep.Reasons, rep.FailureCount)
	}
}
