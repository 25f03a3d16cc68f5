package retention

import (
	"encoding/binary"
	"testing"
	"time"
	_ "time/tzdata" // the zones the tests use, whatever the machine has

	"lifeboat/engine/format"
)

// testID returns an ID whose byte order is the order of n.
func testID(n int) format.ID {
	var id format.ID
	binary.BigEndian.PutUint64(id[:8], uint64(n))
	return id
}

func mustZone(t testing.TB, name string) *time.Location {
	t.Helper()
	z, err := time.LoadLocation(name)
	if err != nil {
		t.Fatalf("load zone %s: %v", name, err)
	}
	return z
}

func mustTime(t testing.TB, s string) time.Time {
	t.Helper()
	v, err := time.Parse(time.RFC3339Nano, s)
	if err != nil {
		t.Fatalf("parse time %q: %v", s, err)
	}
	return v
}

func mustRules(t testing.TB, specs ...string) []Rule {
	t.Helper()
	rules := make([]Rule, len(specs))
	for i, s := range specs {
		r, err := ParseRule(s)
		if err != nil {
			t.Fatalf("parse rule %q: %v", s, err)
		}
		rules[i] = r
	}
	return rules
}

// reasonTexts maps each kept snapshot's ID to its reason texts.
func reasonTexts(r *Result) map[format.ID][]string {
	out := map[format.ID][]string{}
	for _, g := range r.Groups {
		for _, d := range g.Snapshots {
			if (d.Fate == FateKeep) != (len(d.Reasons) > 0) {
				panic("fate and reasons disagree")
			}
			for _, re := range d.Reasons {
				out[d.ID] = append(out[d.ID], re.Text)
			}
		}
	}
	return out
}
