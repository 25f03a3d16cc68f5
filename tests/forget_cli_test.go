package tests

import (
	"encoding/json"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// snapshotIDs lists the fixture copy's snapshot IDs through the CLI.
func snapshotIDs(t *testing.T, dir string) []string {
	t.Helper()
	out, errOut, code := lifeboatCLI(t, dir, "--json", "snapshots")
	var snaps []struct {
		ID string `json:"id"`
	}
	if err := json.Unmarshal([]byte(out), &snaps); code != 0 || err != nil {
		t.Fatalf("snapshots: exit %d, %v\n%s%s", code, err, out, errOut)
	}
	var ids []string
	for _, s := range snaps {
		ids = append(ids, s.ID)
	}
	return ids
}

// TestForgetCommand: forget is refused in a version 3 repository (exit
// 2, naming lifeboat migrate, nothing deleted); after the migrate,
// --dry-run deletes nothing, and forget by a short ID tombstones and
// deletes the snapshot.
func TestForgetCommand(t *testing.T) {
	dir := copyFixture(t, "v3")
	ids := snapshotIDs(t, dir)
	if len(ids) != 2 {
		t.Fatalf("v3 fixture: %d snapshots", len(ids))
	}
	out, errOut, code := lifeboatCLI(t, dir, "forget", ids[0][:8])
	if code != 2 || !strings.Contains(errOut, "run lifeboat migrate") {
		t.Fatalf("forget in a version 3 repository: exit %d, want 2\n%s%s", code, out, errOut)
	}
	if got := snapshotIDs(t, dir); len(got) != 2 {
		t.Fatalf("a refused forget deleted a snapshot: %v", got)
	}
	if out, errOut, code := lifeboatCLI(t, dir, "migrate"); code != 0 {
		t.Fatalf("migrate: exit %d\n%s%s", code, out, errOut)
	}
	out, errOut, code = lifeboatCLI(t, dir, "forget", "--dry-run", ids[0][:8])
	if code != 0 || !strings.Contains(out, "would forget snapshot "+ids[0][:8]) {
		t.Fatalf("forget --dry-run: exit %d\n%s%s", code, out, errOut)
	}
	if got := snapshotIDs(t, dir); len(got) != 2 {
		t.Fatalf("forget --dry-run deleted a snapshot: %v", got)
	}
	for _, bad := range [][]string{{"forget", "latest"}, {"forget", "ab"}, {"forget", "0000000000"}} {
		if out, errOut, code := lifeboatCLI(t, dir, bad...); code != 2 {
			t.Fatalf("%v: exit %d, want 2\n%s%s", bad, code, out, errOut)
		}
	}
	out, errOut, code = lifeboatCLI(t, dir, "--json", "forget", ids[0][:8])
	var res struct {
		DryRun    bool `json:"dry_run"`
		Snapshots []struct {
			ID string `json:"id"`
		} `json:"snapshots"`
	}
	if err := json.Unmarshal([]byte(out), &res); code != 0 || err != nil || res.DryRun || len(res.Snapshots) != 1 || res.Snapshots[0].ID != ids[0] {
		t.Fatalf("forget --json: exit %d, %v\n%s%s", code, err, out, errOut)
	}
	if got := snapshotIDs(t, dir); len(got) != 1 || got[0] != ids[1] {
		t.Fatalf("after forget: %v", got)
	}
	if _, err := os.Stat(filepath.Join(dir, "repo", "tombstones", "snapshots", ids[0])); err != nil {
		t.Fatalf("no tombstone: %v", err)
	}
	if _, err := os.Stat(filepath.Join(dir, "repo", "snapshots", ids[0])); !os.IsNotExist(err) {
		t.Fatalf("forgotten snapshot still stored: %v", err)
	}
	if out, errOut, code := lifeboatCLI(t, dir, "check"); code != 0 {
		t.Fatalf("check after forget: exit %d\n%s%s", code, out, errOut)
	}
}
