package format

import (
	"errors"
	"testing"
	"time"
)

func TestGCRecordRoundTripAndRules(t *testing.T) {
	a, b := ID{1}, ID{2}
	good := GCRecord{Version: GCRecordVersion, Generation: 7, RunID: "ab12", State: GCMarked,
		Marked: time.Date(2026, 12, 4, 12, 0, 0, 0, time.UTC), GraceSeconds: 86400,
		Snapshots: []ID{b}, Condemned: []ID{a, b}, Superseded: []ID{a}, NewIndex: []ID{b}}
	data, err := EncodeGCRecord(&good)
	if err != nil {
		t.Fatal(err)
	}
	back, err := DecodeGCRecord(data)
	if err != nil || back.Generation != 7 || back.Grace() != 24*time.Hour || len(back.Condemned) != 2 {
		t.Fatalf("round trip: %+v, %v", back, err)
	}
	for _, tc := range []struct {
		name  string
		edit  func(g *GCRecord)
		newer bool
	}{
		{"newer version", func(g *GCRecord) { g.Version = GCRecordVersion + 1 }, true},
		{"no version", func(g *GCRecord) { g.Version = 0 }, false},
		{"no run", func(g *GCRecord) { g.RunID = "" }, false},
		{"state", func(g *GCRecord) { g.State = "deleting" }, false},
		{"no mark", func(g *GCRecord) { g.Marked = time.Time{} }, false},
		{"negative grace", func(g *GCRecord) { g.GraceSeconds = -1 }, false},
		{"unsorted", func(g *GCRecord) { g.Condemned = []ID{b, a} }, false},
		{"duplicate", func(g *GCRecord) { g.NewIndex = []ID{a, a} }, false},
	} {
		g := good
		tc.edit(&g)
		data, err := EncodeGCRecord(&g)
		if err != nil {
			t.Fatal(err)
		}
		_, err = DecodeGCRecord(data)
		if tc.newer && !errors.Is(err, ErrNewerVersion) || !tc.newer && !errors.Is(err, ErrFormat) {
			t.Errorf("%s: %v", tc.name, err)
		}
	}
	if _, err := DecodeGCRecord([]byte(`{"version":1,"extra":1}`)); !errors.Is(err, ErrFormat) {
		t.Errorf("unknown field: %v", err)
	}
}

func TestGCName(t *testing.T) {
	if n := GCName(42); n != "gc/00000000000000000042" {
		t.Fatalf("GCName = %s", n)
	}
	if g, err := ParseGCName(GCName(42)); err != nil || g != 42 {
		t.Fatalf("ParseGCName = %d, %v", g, err)
	}
	for _, bad := range []string{"gc/42", "gc/0000000000000000004x", "snapshots/00000000000000000042", "gc/000000000000000000042"} {
		if _, err := ParseGCName(bad); !errors.Is(err, ErrFormat) {
			t.Errorf("ParseGCName(%q) = %v", bad, err)
		}
	}
}
