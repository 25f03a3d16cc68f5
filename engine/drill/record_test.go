package drill_test

import (
	"context"
	"errors"
	"slices"
	"strings"
	"testing"
	"time"

	"lifeboat/engine/drill"
	"lifeboat/engine/format"
	"lifeboat/storage"
	"lifeboat/storage/fault"
)

func validRecord() *drill.Record {
	return &drill.Record{Version: drill.RecordVersion, Kind: drill.KindCheck, Time: backupTime, Host: "h", Packs: 2,
		Coverage: map[string][]format.ID{"a": {{1}, {2}}}}
}

func TestRecordRoundTrip(t *testing.T) {
	for _, rec := range []*drill.Record{
		validRecord(),
		{Version: 1, Kind: drill.KindDrill, Time: backupTime, Drill: &drill.Report{Name: "weekly", Passed: false,
			Reasons: []drill.Reason{{Code: drill.ReasonRPO, Message: "old"}}, RTO: time.Minute, Regions: []string{"b"}}},
	} {
		data, err := drill.EncodeRecord(rec)
		if err != nil {
			t.Fatal(err)
		}
		got, err := drill.DecodeRecord(data)
		if err != nil {
			t.Fatal(err)
		}
		again, err := drill.EncodeRecord(got)
		if err != nil || string(again) != string(data) {
			t.Fatalf("round trip changed the record:\n%s\n%s (%v)", data, again, err)
		}
	}
}

func TestDecodeRecordRejects(t *testing.T) {
	good, err := drill.EncodeRecord(validRecord())
	if err != nil {
		t.Fatal(err)
	}
	s := string(good)
	for _, tc := range []struct{ name, data string }{
		{"empty", ""},
		{"not-json", "{"},
		{"unknown-field", strings.Replace(s, `"host"`, `"hostx"`, 1)},
		{"trailing", s + "{}"},
		{"version", strings.Replace(s, `"version":1`, `"version":2`, 1)},
		{"kind", strings.Replace(s, `"kind":"check"`, `"kind":"audit"`, 1)},
		{"no-time", strings.Replace(s, `"time":"2025-06-01T12:00:00Z",`, ``, 1)},
		{"drill-without-report", strings.Replace(s, `"kind":"check"`, `"kind":"drill"`, 1)},
		{"check-with-report", strings.Replace(s, `"host"`, `"drill":{},"host"`, 1)},
		{"bad-pack-id", strings.Replace(s, `"0100`, `"zz00`, 1)},
		{"negative-packs", strings.Replace(s, `"packs":2`, `"packs":-1`, 1)},
	} {
		t.Run(tc.name, func(t *testing.T) {
			if tc.data == s {
				t.Fatal("the test case does not change the record")
			}
			if _, err := drill.DecodeRecord([]byte(tc.data)); !errors.Is(err, drill.ErrRecord) {
				t.Fatalf("err %v, want ErrRecord", err)
			}
		})
	}
}

func FuzzDecodeRecord(f *testing.F) {
	good, err := drill.EncodeRecord(validRecord())
	if err != nil {
		f.Fatal(err)
	}
	f.Add(good)
	f.Add([]byte(`{"version":1,"kind":"drill","time":"2025-01-01T00:00:00Z","packs":0,"drill":{"passed":true,"regions":["a"]}}`))
	f.Add([]byte(`{}`))
	f.Fuzz(func(t *testing.T, data []byte) {
		rec, err := drill.DecodeRecord(data)
		if err != nil {
			if !errors.Is(err, drill.ErrRecord) {
				t.Fatalf("error %v does not wrap ErrRecord", err)
			}
			return
		}
		again, err := drill.EncodeRecord(rec)
		if err != nil {
			t.Fatalf("a decoded record does not encode: %v", err)
		}
		if _, err := drill.DecodeRecord(again); err != nil {
			t.Fatalf("a re-encoded record does not decode: %v", err)
		}
	})
}

// TestRecordsSealed: records are stored sealed, named by their hash, found
// in any region, and a damaged copy is skipped with a reason.
func TestRecordsSealed(t *testing.T) {
	e := newEnv(t)
	ctx := context.Background()
	r := e.evidence()
	rec := validRecord()
	id, err := drill.SaveRecord(ctx, r, rec)
	if err != nil || rec.ID != id {
		t.Fatalf("save: %v (id %s, rec.ID %s)", err, id, rec.ID)
	}
	sealed, err := storage.ReadAll(ctx, e.faults["b"], "drills/"+id.String())
	if err != nil {
		t.Fatal(err)
	}
	if strings.Contains(string(sealed), `"coverage"`) {
		t.Fatal("the stored record is plaintext")
	}
	// Only in b: still listed and read.
	if err := e.faults["a"].Delete(ctx, "drills/"+id.String()); err != nil {
		t.Fatal(err)
	}
	recs, bad, err := drill.LoadRecords(ctx, e.evidence())
	if err != nil || len(bad) != 0 || len(recs) != 1 || recs[0].ID != id || !slices.Equal(recs[0].Coverage["a"], rec.Coverage["a"]) {
		t.Fatalf("records %+v, bad %v, err %v", recs, bad, err)
	}
	// Damaged in b too: skipped, with a reason.
	e.faults["b"].Corrupt(fault.Prefix("drills/"))
	recs, bad, err = drill.LoadRecords(ctx, e.evidence())
	if err != nil || len(recs) != 0 || len(bad) != 1 {
		t.Fatalf("records %d, bad %v, err %v", len(recs), bad, err)
	}
}

// TestTrackerGet: packs read through the Tracker's Get are read region by
// region and attributed to the region that served them; a check record
// built from them lists them there.
func TestTrackerGet(t *testing.T) {
	e := newEnv(t)
	ctx := context.Background()
	packs := e.evidence().Index().Packs()
	name := format.PackName(packs[0].ID)
	e.faults["a"].FailOn(fault.OpGet, fault.Exact(name), storage.ErrNotExist, -1)
	r := e.open(t, nil)
	tr := r.Storage().(*drill.Tracker)
	for _, p := range packs[:2] {
		if _, err := storage.ReadAll(ctx, tr, format.PackName(p.ID)); err != nil {
			t.Fatal(err)
		}
	}
	if got := tr.ServedBy(name); !slices.Equal(got, []string{"b"}) {
		t.Fatalf("%s served by %v, want [b]", name, got)
	}
	if got := tr.ServedBy(format.PackName(packs[1].ID)); !slices.Equal(got, []string{"a"}) {
		t.Fatalf("second pack served by %v, want [a]", got)
	}
	rec := drill.CheckRecord(backupTime, "h", tr.Served(), len(packs))
	if !slices.Equal(rec.Coverage["b"], []format.ID{packs[0].ID}) || !slices.Equal(rec.Coverage["a"], []format.ID{packs[1].ID}) {
		t.Fatalf("coverage %v", rec.Coverage)
	}
	if _, err := storage.ReadAll(ctx, tr, "data/00/00"+strings.Repeat("0", 62)); !errors.Is(err, storage.ErrNotExist) {
		t.Fatalf("missing pack: %v, want ErrNotExist", err)
	}
}
