package check

import (
	"math"
	"testing"
	"time"

	"lifeboat/engine/format"
	"lifeboat/engine/repo"
)

func testPacks(n int) []repo.PackInfo {
	packs := make([]repo.PackInfo, n)
	for i := range packs {
		packs[i].ID[0], packs[i].ID[1] = byte(i>>8), byte(i)
	}
	return packs
}

func TestSubsetPrefersPacksReadLeastRecently(t *testing.T) {
	packs := testPacks(10)
	t0 := time.Date(2026, 11, 1, 0, 0, 0, 0, time.UTC)
	last := map[format.ID]time.Time{}
	for i := range 7 { // packs 0..6 were read, 0 longest ago; 7..9 never
		last[packs[i].ID] = t0.Add(time.Duration(i) * time.Hour)
	}
	got := subset(packs, last, 50, 1)
	want := map[format.ID]bool{packs[7].ID: true, packs[8].ID: true, packs[9].ID: true, packs[0].ID: true, packs[1].ID: true}
	if len(got) != 5 {
		t.Fatalf("picked %d packs, want 5", len(got))
	}
	for _, p := range got {
		if !want[p.ID] {
			t.Errorf("picked pack %x, want the never-read ones and then the oldest", p.ID[:2])
		}
	}
	// Same seed, same subset; nil LastRead is a seeded random subset.
	a, b := subset(packs, nil, 30, 7), subset(packs, nil, 30, 7)
	for i := range a {
		if a[i].ID != b[i].ID {
			t.Fatal("same seed gave different subsets")
		}
	}
}

func TestSuccessiveSubsetsCoverEveryPack(t *testing.T) {
	for _, tc := range []struct {
		packs   int
		percent float64
	}{{100, 10}, {37, 30}, {5, 50}, {1000, 7}} {
		packs := testPacks(tc.packs)
		last := map[format.ID]time.Time{}
		now := time.Date(2026, 11, 1, 0, 0, 0, 0, time.UTC)
		runs := int(math.Ceil(100 / tc.percent))
		for run := range runs {
			for _, p := range subset(packs, last, tc.percent, uint64(run)) {
				last[p.ID] = now // what a coverage record of this run says
			}
			now = now.Add(time.Hour)
		}
		if len(last) != tc.packs {
			t.Errorf("%d packs at %v%%: %d runs read %d of them", tc.packs, tc.percent, runs, len(last))
		}
	}
}

// TestSuccessiveSubsetsCoverEveryRegion: with regions whose histories
// differ (b never read, c read only for some packs), successive subsets
// ranked by the oldest read over the regions read every pack in every
// region within ceil(100/p) runs.
func TestSuccessiveSubsetsCoverEveryRegion(t *testing.T) {
	packs := testPacks(40)
	t0 := time.Date(2026, 11, 1, 0, 0, 0, 0, time.UTC)
	last := map[string]map[format.ID]time.Time{"a": {}, "b": {}, "c": {}}
	for i, p := range packs {
		last["a"][p.ID] = t0 // a was read completely, long ago
		if i%3 == 0 {
			last["c"][p.ID] = t0.Add(time.Hour)
		}
	}
	regions := []string{"a", "b", "c"}
	now := t0.Add(24 * time.Hour)
	const percent = 25
	for run := range 4 {
		for _, p := range subset(packs, oldestRead(last, regions), percent, uint64(run)) {
			for _, r := range regions {
				last[r][p.ID] = now
			}
		}
		now = now.Add(time.Hour)
	}
	for _, r := range regions {
		for _, p := range packs {
			if last[r][p.ID].Before(t0.Add(24 * time.Hour)) {
				t.Errorf("region %s: pack %x not read in 4 runs of 25%%", r, p.ID[:2])
			}
		}
	}
}
