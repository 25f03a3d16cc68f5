package tests

import (
	"bytes"
	"encoding/json"
	"os"
	"regexp"
	"slices"
	"strings"
	"testing"
	"time"
)

// checkJSON is the part of `check --json` these tests read.
type checkJSON struct {
	PacksRead      int64    `json:"packs_read"`
	RegionsRead    []string `json:"regions_read"`
	ProblemDetails []struct {
		Region string `json:"region"`
		Object string `json:"object"`
		Error  string `json:"error"`
	} `json:"problem_details"`
	BadCopies map[string][]string `json:"bad_copies"`
	Repair    []string            `json:"repair"`
}

// coverageJSON is `drill coverage --json`.
type coverageJSON struct {
	Regions []struct {
		Region string `json:"region"`
		Packs  int    `json:"packs"`
		Read   int    `json:"read"`
	} `json:"regions"`
}

func parseJSON[T any](t testing.TB, res lbResult) T {
	t.Helper()
	var v T
	if err := json.Unmarshal([]byte(strings.TrimSpace(res.Stdout)), &v); err != nil {
		t.Fatalf("decode the JSON output: %v\n%s", err, res)
	}
	return v
}

// TestS3CheckEveryRegion: three versitygw regions; one byte of bravo's
// copy of a pack is flipped on the server's disk. check --read-data reads
// every region's copy, names bravo and the pack, exits 4 and says how to
// repair it; a check of alpha and charlie alone passes and stores coverage
// for them only; the advised sync --bad repairs the copy.
func TestS3CheckEveryRegion(t *testing.T) {
	t.Parallel() // mostly waiting on servers; own ports and directories
	ctx := testContext(t, 3*time.Minute)
	e := newS3Env(ctx, t, 0)
	e.initRepo()
	e.mustRun(0, "--config", e.Config, "backup", e.Src)
	e.requireSameObjects(0, 1, 2)
	packs := e.packsBySize(1)
	if len(packs) < 2 {
		t.Fatalf("want at least two packs, have %v", packs)
	}
	bad := packs[0]
	good, err := os.ReadFile(e.Servers[1].ObjectPath(bad))
	if err != nil {
		t.Fatal(err)
	}
	flipped := bytes.Clone(good)
	flipped[len(flipped)/2] ^= 0x10
	if err := os.WriteFile(e.Servers[1].ObjectPath(bad), flipped, 0o644); err != nil {
		t.Fatal(err)
	}
	t.Logf("flipped a byte of %s in bravo", bad)

	// alpha (preferred) and charlie alone: nothing wrong, and coverage
	// only for them.
	res := e.mustRun(0, "--config", e.Config, "--json", "check", "--read-data", "--region", "alpha", "--region", "charlie")
	cj := parseJSON[checkJSON](t, res)
	if !slices.Equal(cj.RegionsRead, []string{"alpha", "charlie"}) || len(cj.ProblemDetails) != 0 {
		t.Fatalf("check of alpha and charlie: regions %v, problems %v\n%s", cj.RegionsRead, cj.ProblemDetails, res)
	}
	cov := parseJSON[coverageJSON](t, e.mustRun(0, "--config", e.Config, "--json", "drill", "coverage"))
	for _, c := range cov.Regions {
		want := c.Packs
		if c.Region == "bravo" {
			want = 0
		}
		if c.Packs == 0 || c.Read != want {
			t.Errorf("coverage of %s: %d of %d packs, want %d", c.Region, c.Read, c.Packs, want)
		}
	}

	// Every region: bravo's copy is found.
	res = e.mustRun(4, "--config", e.Config, "check", "--read-data")
	requireLineMatching(t, res.Stderr, `^error: region bravo: `+regexp.QuoteMeta(bad)+`: `, "the bad copy", res)
	requireLineMatching(t, res.Stderr, `lifeboat sync --bad `+regexp.QuoteMeta(bad), "the repair advice", res)
	if regexp.MustCompile(`region (alpha|charlie): `).MatchString(res.Stderr) {
		t.Errorf("a good region is reported\n%s", res)
	}
	res = e.mustRun(4, "--config", e.Config, "--json", "check", "--read-data")
	cj = parseJSON[checkJSON](t, res)
	if len(cj.ProblemDetails) == 0 || cj.ProblemDetails[0].Region != "bravo" || cj.ProblemDetails[0].Object != bad {
		t.Errorf("problem details %+v, want %s in bravo", cj.ProblemDetails, bad)
	}
	if got := cj.BadCopies[bad]; len(cj.BadCopies) != 1 || !slices.Equal(got, []string{"bravo"}) {
		t.Errorf("bad copies %v, want only %s in bravo", cj.BadCopies, bad)
	}
	if want := int64(3 * len(packs)); cj.PacksRead != want {
		t.Errorf("read %d pack copies, want %d (every pack in every region)", cj.PacksRead, want)
	}

	// The advice repairs it.
	e.mustRun(0, "--config", e.Config, "sync", "--bad", bad)
	if got, err := os.ReadFile(e.Servers[1].ObjectPath(bad)); err != nil || !bytes.Equal(got, good) {
		t.Fatalf("after sync --bad, bravo's copy of %s is not the good one (err %v)", bad, err)
	}
	e.mustRun(0, "--config", e.Config, "check", "--read-data")
}
