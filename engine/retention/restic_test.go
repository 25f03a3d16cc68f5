package retention

import (
	"encoding/json"
	"os"
	"testing"
	"time"
)

// resticVectors is testdata/restic_vectors.json: restic's TestApplyPolicy
// input and, for each of its policies, the snapshots restic keeps and the
// ones Lifeboat keeps in addition (see testdata/README.md for why).
type resticVectors struct {
	Source    string `json:"source"`
	Snapshots []struct {
		Time  time.Time `json:"time"`
		Tags  []string  `json:"tags"`
		Paths []string  `json:"paths"`
	} `json:"snapshots"`
	Cases []struct {
		Source     string         `json:"source"`
		Rules      []string       `json:"rules"`
		ResticKeep []int          `json:"restic_keep"`
		Extra      map[string]int `json:"extra"` // reason kind -> snapshot index
	} `json:"cases"`
}

// TestResticVectors is a differential test against restic's policy
// golden files, run in UTC (restic's vectors are UTC, so bucketing in the
// recorded offset and in the policy zone agree) with everything in one
// group (restic's ApplyPolicy sees one list). Lifeboat must keep every
// snapshot restic keeps, and in addition exactly the listed extras, each
// for exactly its listed reason.
func TestResticVectors(t *testing.T) {
	b, err := os.ReadFile("testdata/restic_vectors.json")
	if err != nil {
		t.Fatal(err)
	}
	var v resticVectors
	if err := json.Unmarshal(b, &v); err != nil {
		t.Fatal(err)
	}
	snaps := make([]Snapshot, len(v.Snapshots))
	for i, s := range v.Snapshots {
		snaps[i] = Snapshot{ID: testID(i), Time: s.Time, Tags: s.Tags, Paths: s.Paths}
	}
	now := mustTime(t, "2016-01-18T13:00:00Z")
	if len(v.Cases) != 39 {
		t.Fatalf("%d cases, want restic's 39 non-empty policies", len(v.Cases))
	}
	for _, c := range v.Cases {
		t.Run(c.Source, func(t *testing.T) {
			res, err := Apply(snaps, Policy{Rules: mustRules(t, c.Rules...), GroupBy: GroupNone}, now, time.UTC)
			if err != nil {
				t.Fatal(err)
			}
			reasons := map[int][]Reason{}
			for _, d := range res.Groups[0].Snapshots {
				if d.Fate == FateKeep {
					reasons[int(d.ID[7])] = d.Reasons
				}
			}
			want := map[int]ReasonKind{}
			for _, i := range c.ResticKeep {
				want[i] = ""
			}
			for kind, i := range c.Extra {
				if _, dup := want[i]; dup {
					t.Fatalf("extra %d is also kept by restic", i)
				}
				want[i] = ReasonKind(kind)
			}
			for i := range snaps {
				r, kept := reasons[i]
				kind, wanted := want[i]
				switch {
				case kept != wanted:
					t.Errorf("snapshot %d (%s %v): kept %v, want %v (reasons %v)", i, snaps[i].Time, snaps[i].Tags, kept, wanted, r)
				case kind != "":
					// an extra: kept for that reason and no rule
					if len(r) != 1 || r[0].Kind != kind {
						t.Errorf("extra snapshot %d: reasons %v, want only %q", i, r, kind)
					}
				}
			}
		})
	}
}
