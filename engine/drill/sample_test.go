package drill

import (
	"slices"
	"testing"
	"time"

	"lifeboat/engine/format"
)

// testPlan is 6 packs and these files (size, packs): the smallest file of
// every pack is listed first.
func testPlan() *plan {
	p := &plan{packIdx: map[format.ID]int32{}}
	for i := range 6 {
		id := format.ID{byte(i + 1)}
		p.packIdx[id] = int32(i)
		p.packs = append(p.packs, id)
	}
	for _, f := range []candidate{
		{"/p0", 10, []int32{0}},
		{"/p1", 10, []int32{1}},
		{"/p2", 10, []int32{2}},
		{"/p3", 10, []int32{3}},
		{"/p4", 10, []int32{4}},
		{"/p5", 10, []int32{5}},
		{"/p01-big", 100, []int32{0, 1}},
		{"/empty", 0, nil},
	} {
		p.files = append(p.files, f)
		p.bytes += f.size
	}
	return p
}

func TestPick(t *testing.T) {
	p := testPlan()
	day := time.Date(2025, 1, 1, 0, 0, 0, 0, time.UTC)
	recent := map[format.ID]time.Time{}
	for i, id := range p.packs {
		recent[id] = day.Add(time.Duration(i) * time.Hour) // pack 0 oldest
	}
	for _, tc := range []struct {
		name    string
		last    map[format.ID]time.Time
		percent float64
		want    []string // exactly, when set
		check   func(t *testing.T, got []string)
	}{
		{
			// 20 of 160 bytes: the two least recently read packs' smallest files.
			name: "oldest-first", last: recent, percent: 12.5,
			want: []string{"/empty", "/p0", "/p1"},
		},
		{
			name: "never-read-first", last: map[format.ID]time.Time{p.packs[0]: day, p.packs[1]: day, p.packs[2]: day, p.packs[3]: day},
			percent: 12.5,
			check: func(t *testing.T, got []string) {
				if !slices.Equal(got, []string{"/empty", "/p4", "/p5"}) {
					t.Fatalf("picked %v, want the files of the never-read packs 4 and 5", got)
				}
			},
		},
		{
			// Every pack covered, then random files fill the budget.
			name: "fills-budget", last: recent, percent: 100,
			want: []string{"/empty", "/p0", "/p01-big", "/p1", "/p2", "/p3", "/p4", "/p5"},
		},
		{
			// A tiny budget still picks one file.
			name: "at-least-one", last: nil, percent: 0.001,
			check: func(t *testing.T, got []string) {
				if len(got) != 2 || got[0] != "/empty" {
					t.Fatalf("picked %v, want the empty file and one other", got)
				}
			},
		},
	} {
		t.Run(tc.name, func(t *testing.T) {
			var got []string
			for _, i := range pick(p, tc.last, tc.percent, 42) {
				got = append(got, p.files[i].path)
			}
			slices.Sort(got)
			if tc.want != nil && !slices.Equal(got, tc.want) {
				t.Fatalf("picked %v, want %v", got, tc.want)
			}
			if tc.check != nil {
				tc.check(t, got)
			}
		})
	}
}

// TestPickSeeded: the same seed picks the same files; ties between equally
// stale packs are broken differently by other seeds.
func TestPickSeeded(t *testing.T) {
	p := testPlan()
	first := pick(p, nil, 10, 1)
	if again := pick(p, nil, 10, 1); !slices.Equal(first, again) {
		t.Fatalf("seed 1 picked %v, then %v", first, again)
	}
	differs := false
	for seed := uint64(2); seed < 20 && !differs; seed++ {
		differs = !slices.Equal(first, pick(p, nil, 10, seed))
	}
	if !differs {
		t.Fatal("18 other seeds all picked the same files")
	}
}
