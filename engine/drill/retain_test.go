package drill_test

import (
	"context"
	"slices"
	"testing"
	"time"

	"lifeboat/engine/drill"
	"lifeboat/engine/enginetest"
	"lifeboat/engine/format"
	"lifeboat/engine/repo"
	"lifeboat/storage"
	"lifeboat/storage/mem"
	"lifeboat/storage/regions"
)

func TestExpiredRecords(t *testing.T) {
	now := time.Date(2024, 6, 1, 12, 0, 0, 0, time.UTC)
	day := 24 * time.Hour
	rec := func(id byte, kind, name string, age time.Duration) *drill.Record {
		r := &drill.Record{Version: drill.RecordVersion, Kind: kind, Time: now.Add(-age), ID: format.ID{id}}
		if kind == drill.KindDrill {
			r.Drill = &drill.Report{Name: name}
		}
		return r
	}
	tests := []struct {
		name    string
		recs    []*drill.Record
		expired []byte // IDs, oldest first
	}{
		{"none", nil, nil},
		{"all recent", []*drill.Record{rec(1, drill.KindCheck, "", day), rec(2, drill.KindDrill, "w", 89*day)}, nil},
		{"old checks: newest kept", []*drill.Record{
			rec(1, drill.KindCheck, "", 200*day), rec(2, drill.KindCheck, "", 150*day), rec(3, drill.KindCheck, "", 100*day),
		}, []byte{1, 2}},
		{"old check, recent check", []*drill.Record{
			rec(1, drill.KindCheck, "", 100*day), rec(2, drill.KindCheck, "", day),
		}, []byte{1}},
		{"newest of each drill name kept", []*drill.Record{
			rec(1, drill.KindDrill, "weekly", 300*day), rec(2, drill.KindDrill, "weekly", 200*day),
			rec(3, drill.KindDrill, "monthly", 400*day), rec(4, drill.KindDrill, "", 500*day),
			rec(5, drill.KindDrill, "", 95*day), rec(6, drill.KindCheck, "", 120*day),
		}, []byte{4, 1}},
		{"exactly at the cutoff expires", []*drill.Record{
			rec(1, drill.KindDrill, "d", 90*day), rec(2, drill.KindDrill, "d", 90*day-time.Second),
		}, []byte{1}},
		{"tie: larger ID kept", []*drill.Record{
			rec(2, drill.KindCheck, "", 100*day), rec(1, drill.KindCheck, "", 100*day),
		}, []byte{1}},
		{"future record kept", []*drill.Record{
			rec(1, drill.KindCheck, "", -day), rec(2, drill.KindCheck, "", 100*day),
		}, []byte{2}},
		{"unknown kind kept", []*drill.Record{rec(1, "other", "", 400*day)}, nil},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			var got []byte
			for _, r := range drill.ExpiredRecords(tc.recs, now, drill.DefaultRecordRetention) {
				got = append(got, r.ID[0])
			}
			if !slices.Equal(got, tc.expired) {
				t.Fatalf("expired %v, want %v", got, tc.expired)
			}
		})
	}
}

// TestDeleteRecords: the expired records are deleted from every region;
// the kept ones stay loadable.
func TestDeleteRecords(t *testing.T) {
	ctx := context.Background()
	a, b := mem.New(), mem.New()
	set, err := regions.New([]regions.Region{{Name: "a", Storage: a}, {Name: "b", Storage: b}}, regions.Options{})
	if err != nil {
		t.Fatal(err)
	}
	r, _ := enginetest.NewRepo(t, set)
	now := time.Date(2024, 6, 1, 12, 0, 0, 0, time.UTC)
	for _, age := range []int{300, 200, 10} {
		rec := drill.CheckRecord(now.Add(-time.Duration(age)*24*time.Hour), "h", nil, 0)
		if _, err := drill.SaveRecord(ctx, r, rec); err != nil {
			t.Fatal(err)
		}
	}
	recs, bad, err := drill.LoadRecords(ctx, r)
	if err != nil || len(bad) > 0 || len(recs) != 3 {
		t.Fatalf("load: %d records, %v %v", len(recs), bad, err)
	}
	expired := drill.ExpiredRecords(recs, now, drill.DefaultRecordRetention)
	var ids []format.ID
	for _, rec := range expired {
		ids = append(ids, rec.ID)
	}
	if len(ids) != 2 {
		t.Fatalf("%d expired, want 2", len(ids))
	}
	n, err := drill.DeleteRecords(ctx, set, ids)
	if err != nil || n != 2 {
		t.Fatalf("deleted %d: %v", n, err)
	}
	left, bad, err := drill.LoadRecords(ctx, r)
	if err != nil || len(bad) > 0 || len(left) != 1 || !left[0].Time.Equal(now.Add(-10*24*time.Hour)) {
		t.Fatalf("left %d records (%v %v)", len(left), bad, err)
	}
	for name, st := range map[string]storage.Storage{"a": a, "b": b} {
		n := 0
		if err := st.List(ctx, repo.DrillPrefix, func(storage.Info) error { n++; return nil }); err != nil || n != 1 {
			t.Errorf("region %s holds %d records (%v), want 1", name, n, err)
		}
	}
}
