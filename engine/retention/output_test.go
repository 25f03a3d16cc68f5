package retention

import (
	"encoding/json"
	"errors"
	"testing"
	"time"

	"lifeboat/engine/format"
)

// TestResultJSON pins the JSON form a forget --json prints.
func TestResultJSON(t *testing.T) {
	snaps := []Snapshot{
		{ID: testID(1), Time: mustTime(t, "2024-01-02T10:00:00Z"), Host: "h", Paths: []string{"/b", "/a"}},
		{ID: testID(2), Time: mustTime(t, "2024-01-01T10:00:00+01:00"), Host: "h", Paths: []string{"/a", "/b"}, Tags: []string{"x"}},
		{ID: testID(3), Time: mustTime(t, "2023-12-01T10:00:00Z"), Host: "h", Paths: []string{"/a", "/b"}, Partial: true},
	}
	res, err := Apply(snaps, Policy{Rules: mustRules(t, "daily 1", "tag x")}, mustTime(t, "2024-01-03T00:00:00Z"), mustZone(t, "Europe/Berlin"))
	if err != nil {
		t.Fatal(err)
	}
	b, err := json.Marshal(res)
	if err != nil {
		t.Fatal(err)
	}
	id := func(n int) string { return testID(n).String() }
	want := `{"zone":"Europe/Berlin","groups":[{"key":{"host":"h","paths":["/a","/b"]},"ref":"2024-01-02T10:00:00Z","snapshots":[` +
		`{"id":"` + id(1) + `","time":"2024-01-02T10:00:00Z","fate":"keep","reasons":[{"kind":"last complete","text":"last complete"},{"kind":"rule","rule":"daily 1","count":1,"text":"daily 1/1"}]},` +
		`{"id":"` + id(2) + `","time":"2024-01-01T10:00:00+01:00","fate":"keep","reasons":[{"kind":"rule","rule":"tag x","text":"tag x"}]},` +
		`{"id":"` + id(3) + `","time":"2023-12-01T10:00:00Z","partial":true,"fate":"remove"}]}]}`
	if string(b) != want {
		t.Fatalf("json\n%s\nwant\n%s", b, want)
	}
	if k, r := res.Kept(), res.Removed(); len(k) != 2 || k[0] != testID(1) || k[1] != testID(2) || len(r) != 1 || r[0] != testID(3) {
		t.Fatalf("kept %v removed %v", k, r)
	}
}

// TestDuplicateIDsSharingPrefix checks the duplicate detection where IDs
// agree in their first 8 bytes.
func TestDuplicateIDsSharingPrefix(t *testing.T) {
	mk := func(last ...byte) []Snapshot {
		var out []Snapshot
		for i, b := range last {
			var id format.ID
			id[31] = b
			out = append(out, Snapshot{ID: id, Time: time.Date(2024, 1, 1, i, 0, 0, 0, time.UTC)})
		}
		return out
	}
	now := time.Date(2024, 2, 1, 0, 0, 0, 0, time.UTC)
	p := Policy{Rules: []Rule{Last(1)}}
	if _, err := Apply(mk(3, 1, 2, 5, 4), p, now, nil); err != nil {
		t.Fatalf("distinct IDs sharing a prefix: %v", err)
	}
	if _, err := Apply(mk(3, 1, 2, 5, 1), p, now, nil); !errors.Is(err, ErrDuplicateID) {
		t.Fatalf("duplicate among IDs sharing a prefix: %v", err)
	}
}

func TestFromFormat(t *testing.T) {
	ts := mustTime(t, "2024-01-01T00:00:00Z")
	s := &format.Snapshot{Time: ts, Host: "h", Paths: []string{"/a"}, Tags: []string{"t"}, Summary: &format.Summary{Partial: true}}
	got := FromFormat(testID(7), s)
	if got.ID != testID(7) || !got.Time.Equal(ts) || got.Host != "h" || got.Paths[0] != "/a" || got.Tags[0] != "t" || !got.Partial {
		t.Fatalf("FromFormat: %+v", got)
	}
	s.Summary = nil
	if FromFormat(testID(7), s).Partial {
		t.Fatal("a snapshot without summary counts as partial")
	}
}
