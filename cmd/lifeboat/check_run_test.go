package main

import (
	"context"
	"errors"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	"lifeboat/crypto"
	"lifeboat/engine/backup"
	"lifeboat/engine/check"
	"lifeboat/engine/drill"
	"lifeboat/engine/enginetest"
	"lifeboat/engine/format"
	"lifeboat/engine/repo"
	"lifeboat/storage"
	"lifeboat/storage/mem"
	"lifeboat/storage/regions"
)

// twoRegions backs up the sample tree into regions a and b (a preferred)
// and flips a byte of b's copy of the largest pack, which it returns.
func twoRegions(t *testing.T) (*regions.Set, *crypto.Identity, []format.ID, string) {
	t.Helper()
	ctx := context.Background()
	mems := map[string]storage.Storage{"a": mem.New(), "b": mem.New()}
	set, err := regions.New([]regions.Region{{Name: "a", Storage: mems["a"]}, {Name: "b", Storage: mems["b"], Priority: 1}}, regions.Options{})
	if err != nil {
		t.Fatal(err)
	}
	r, id := enginetest.NewRepo(t, set)
	src := filepath.Join(t.TempDir(), "src")
	enginetest.MakeTree(t, src, 4)
	if _, err := backup.Run(ctx, r, backup.Options{Paths: []string{src}, Host: "test"}); err != nil {
		t.Fatal(err)
	}
	packs := r.Index().Packs()
	slices.SortFunc(packs, func(x, y repo.PackInfo) int { return int(y.Size - x.Size) })
	var ids []format.ID
	for _, p := range packs {
		ids = append(ids, p.ID)
	}
	bad := format.PackName(packs[0].ID)
	data, err := storage.ReadAll(ctx, mems["b"], bad)
	if err != nil {
		t.Fatal(err)
	}
	data[len(data)/2] ^= 1
	if err := storage.PutBytes(ctx, mems["b"], bad, data, storage.PutOptions{}); err != nil {
		t.Fatal(err)
	}
	return set, id, ids, bad
}

// coverage returns the coverage records' per-region coverage.
func coverage(t *testing.T, set *regions.Set, id *crypto.Identity, packs []format.ID) map[string]drill.RegionCoverage {
	t.Helper()
	r := enginetest.Reopen(t, set, id)
	recs, bad, err := drill.LoadRecords(context.Background(), r)
	if err != nil || len(bad) > 0 {
		t.Fatalf("load records: %v %v", err, bad)
	}
	out := map[string]drill.RegionCoverage{}
	for _, c := range drill.Coverage(recs, packs, []string{"a", "b"}, time.Time{}) {
		out[c.Region] = c
	}
	return out
}

// TestRunCheckEveryRegion: runCheck with the daemon's check job options
// (no region named) reads every region, reports b's damaged copy under b,
// and stores coverage for both regions: all packs in a, all but the
// damaged one in b.
func TestRunCheckEveryRegion(t *testing.T) {
	set, id, packs, bad := twoRegions(t)
	var problems []check.Problem
	opts := check.Options{SubsetPercent: 100, ReadData: true, Seed: 1, OnProblem: func(p check.Problem) { problems = append(problems, p) }}
	res, err := runCheck(context.Background(), set, id, repo.Options{}, "h", opts, func(err error) { t.Errorf("coverage: %v", err) })
	if !errors.Is(err, check.ErrProblems) {
		t.Fatalf("runCheck: %v, want ErrProblems", err)
	}
	if len(problems) == 0 || problems[0].Region != "b" || problems[0].Object != bad {
		t.Fatalf("problems %v, want %s in region b", problems, bad)
	}
	advice := strings.Join(repairAdvice(res, 0), "\n")
	if !strings.Contains(advice, "lifeboat sync --bad "+bad) {
		t.Errorf("advice %q does not name sync --bad %s", advice, bad)
	}
	cov := coverage(t, set, id, packs)
	if c := cov["a"]; c.Read != len(packs) {
		t.Errorf("coverage of a: %+v, want all %d packs", c, len(packs))
	}
	if c := cov["b"]; c.Read != len(packs)-1 {
		t.Errorf("coverage of b: %+v, want all %d packs but the damaged one", c, len(packs))
	}
}

// TestRunCheckOneRegion: a check limited to region a stores coverage for
// a only, and does not see b's damaged copy.
func TestRunCheckOneRegion(t *testing.T) {
	set, id, packs, _ := twoRegions(t)
	opts := check.Options{ReadData: true, Regions: []string{"a"}}
	if _, err := runCheck(context.Background(), set, id, repo.Options{}, "h", opts, func(err error) { t.Errorf("coverage: %v", err) }); err != nil {
		t.Fatalf("runCheck of a: %v", err)
	}
	cov := coverage(t, set, id, packs)
	if c := cov["a"]; c.Read != len(packs) {
		t.Errorf("coverage of a: %+v, want all %d packs", c, len(packs))
	}
	if c := cov["b"]; c.Read != 0 {
		t.Errorf("coverage of b: %+v, want none: b was not read", c)
	}
}

func TestRepairAdvice(t *testing.T) {
	many := map[string][]string{}
	for i := range maxBadNames + 1 {
		many[format.PackName(format.ID{byte(i)})] = []string{"b"}
	}
	lost := format.PackName(format.ID{0xee})
	for _, tc := range []struct {
		name  string
		res   check.Result
		other int
		want  []string // substrings, one per line
	}{
		{"one", check.Result{BadCopies: map[string][]string{"data/aa/aa": {"b"}}}, 0, []string{"lifeboat sync --bad data/aa/aa"}},
		{"many", check.Result{BadCopies: many}, 0, []string{"lifeboat sync --verify"}},
		{"lost", check.Result{BadCopies: map[string][]string{lost: {"a", "b"}}, NoGoodCopy: []string{lost}}, 0, []string{"no region read holds a good copy of " + lost}},
		{"structural", check.Result{}, 2, []string{"lifeboat sync --verify"}},
		{"unreadable", check.Result{Unreadable: map[string]int64{"c": 3}}, 0, []string{"region c did not answer for 3 pack copies"}},
		{"history", check.Result{History: 1, HistoryNoRegion: 1}, 1, []string{"lifeboat history accept"}},
		{"history and structural", check.Result{History: 1, HistoryNoRegion: 1}, 2, []string{"lifeboat sync --verify", "regions recover REGION --as-of"}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			got := repairAdvice(&tc.res, tc.other)
			if len(got) != len(tc.want) {
				t.Fatalf("advice %q, want %d lines", got, len(tc.want))
			}
			for i, w := range tc.want {
				if !strings.Contains(got[i], w) {
					t.Errorf("line %d %q does not contain %q", i, got[i], w)
				}
			}
		})
	}
}

func TestCheckExitCode(t *testing.T) {
	for _, tc := range []struct {
		name  string
		res   check.Result
		other int
		want  int
	}{
		{"bad copy", check.Result{BadCopies: map[string][]string{"data/aa/aa": {"b"}}}, 0, ExitIntegrity},
		{"structural", check.Result{}, 1, ExitIntegrity},
		{"bad and unreadable", check.Result{BadCopies: map[string][]string{"data/aa/aa": {"b"}}, Unreadable: map[string]int64{"c": 1}}, 0, ExitIntegrity},
		{"only unreadable", check.Result{Unreadable: map[string]int64{"c": 1}}, 0, ExitError},
	} {
		if got := checkExitCode(&tc.res, tc.other); got != tc.want {
			t.Errorf("%s: exit %d, want %d", tc.name, got, tc.want)
		}
	}
}
