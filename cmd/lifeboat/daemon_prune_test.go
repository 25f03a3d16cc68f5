package main

import (
	"maps"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus/testutil"

	"lifeboat/engine/format"
	"lifeboat/engine/prune"
	"lifeboat/scheduler"
)

// A mark, its wait and its sweep as the prune job reports them: packs
// waiting, bytes reclaimed only in the regions swept to the end and only
// for the packs not rescued, the action gauge, and the counters.
func TestPruneStatusAndMetrics(t *testing.T) {
	a, b, c := format.ID{1}, format.ID{2}, format.ID{3}
	marked := time.Unix(1700000000, 0).UTC()
	rec := &format.GCRecord{Generation: 1, State: format.GCMarked, Marked: marked, GraceSeconds: 60,
		Condemned: []format.ID{a, b, c}}
	var l pruneLog
	m := newDaemonMetrics(scheduler.New(scheduler.Options{}), map[string]string{})

	mark := l.statusOf(&prune.Result{Action: prune.ActionMark, Record: rec, SweepAfter: marked.Add(time.Minute),
		Plan: &prune.Plan{
			Condemned:   []prune.PackStat{{ID: a, Size: 100, Regions: []string{"one", "two"}}},
			Repack:      []prune.PackStat{{ID: b, Size: 50, Regions: []string{"one"}}, {ID: c, Size: 7, Regions: []string{"one", "two"}}},
			Reclaimable: map[string]int64{"one": 157, "two": 107},
		}})
	mark.OK, mark.Time = true, marked
	m.recordPrune(mark)
	if mark.Condemned != 3 || mark.Generation != 1 || mark.Reclaimable["one"] != 157 {
		t.Errorf("mark status: %+v", mark)
	}
	if v := testutil.ToFloat64(m.pruneWaiting); v != 3 {
		t.Errorf("packs waiting after the mark: %v", v)
	}
	if v := testutil.ToFloat64(m.pruneAction.WithLabelValues("mark")); v != 1 {
		t.Errorf("last action mark: %v", v)
	}

	wait := l.statusOf(&prune.Result{Action: prune.ActionWait, Record: rec, SweepAfter: marked.Add(time.Minute)})
	wait.OK, wait.Time = true, marked.Add(time.Second)
	m.recordPrune(wait)
	if v := testutil.ToFloat64(m.pruneWaiting); v != 3 {
		t.Errorf("packs waiting during the grace: %v", v)
	}

	// The sweep rescued c; region two failed and stays pending.
	swept := *rec
	swept.Generation, swept.State, swept.Rescued, swept.Pending = 3, format.GCSweeping, []format.ID{c}, []string{"two"}
	sweep := l.statusOf(&prune.Result{Action: prune.ActionSweep, Record: &swept,
		Deleted: map[string]int{"one": 3, "two": 1}, Pending: []string{"two"}, Rescued: []format.ID{c}})
	sweep.OK, sweep.Time = true, marked.Add(2*time.Minute)
	m.recordPrune(sweep)
	if want := map[string]int64{"one": 150}; !maps.Equal(sweep.BytesReclaimed, want) {
		t.Errorf("bytes reclaimed %v, want %v", sweep.BytesReclaimed, want)
	}
	if sweep.Condemned != 2 || sweep.Rescued != 1 {
		t.Errorf("sweep status: %+v", sweep)
	}
	for _, tc := range []struct {
		name string
		got  float64
		want float64
	}{
		{"waiting", testutil.ToFloat64(m.pruneWaiting), 0},
		{"sweep action", testutil.ToFloat64(m.pruneAction.WithLabelValues("sweep")), 1},
		{"mark action", testutil.ToFloat64(m.pruneAction.WithLabelValues("mark")), 0},
		{"deleted one", testutil.ToFloat64(m.pruneDeleted.WithLabelValues("one")), 3},
		{"deleted two", testutil.ToFloat64(m.pruneDeleted.WithLabelValues("two")), 1},
		{"reclaimed one", testutil.ToFloat64(m.pruneReclaimed.WithLabelValues("one")), 150},
		{"last success", testutil.ToFloat64(m.pruneSuccess), float64(sweep.Time.Unix())},
	} {
		if tc.got != tc.want {
			t.Errorf("%s: %v, want %v", tc.name, tc.got, tc.want)
		}
	}

	// A failed run keeps the last action and the last success time.
	m.recordPrune(pruneStatus{Time: marked.Add(time.Hour), Error: "boom"})
	if testutil.ToFloat64(m.pruneOK) != 0 || testutil.ToFloat64(m.pruneAction.WithLabelValues("sweep")) != 1 ||
		testutil.ToFloat64(m.pruneSuccess) != float64(sweep.Time.Unix()) {
		t.Errorf("after a failure: ok %v, sweep %v, last success %v", testutil.ToFloat64(m.pruneOK),
			testutil.ToFloat64(m.pruneAction.WithLabelValues("sweep")), testutil.ToFloat64(m.pruneSuccess))
	}
}
