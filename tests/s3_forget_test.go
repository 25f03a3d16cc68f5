package tests

import (
	"regexp"
	"strings"
	"testing"
	"time"
)

// TestS3ForgetWithRegionKilled: with charlie's server killed, forget
// tombstones the first snapshot in alpha and bravo and deletes it there;
// after charlie restarts, sync copies the tombstone to charlie and deletes
// the snapshot there instead of copying it back: it stays deleted in all
// three regions, and each region alone lists only the kept snapshot.
func TestS3ForgetWithRegionKilled(t *testing.T) {
	t.Parallel() // mostly waiting on servers and timeouts; own ports and directories
	ctx := testContext(t, 3*time.Minute)
	e := newS3Env(ctx, t, 2)
	e.initRepo()
	first := e.mustRun(0, "--config", e.Config, "backup", e.Src)
	m := regexp.MustCompile(`snapshot ([0-9a-f]{8}) saved`).FindStringSubmatch(first.Stdout)
	if m == nil {
		t.Fatalf("no snapshot ID in the backup's output\n%s", first)
	}
	id := m[1]
	e.mustRun(0, "--config", e.Config, "backup", e.Src)

	e.Servers[2].Kill()
	res := e.mustRun(0, "--config", e.Config, "forget", id)
	if !strings.Contains(res.Stdout, "forgot snapshot "+id) || !strings.Contains(res.Stdout, "not deleted yet") {
		t.Fatalf("forget with charlie killed\n%s", res)
	}
	var name string
	for n := range objects(t, e.Servers[2], "snapshots/") {
		if strings.HasPrefix(n, "snapshots/"+id) {
			name = n
		}
	}
	if name == "" {
		t.Fatal("charlie (down during the forget) does not hold the forgotten snapshot")
	}
	for i := range 2 {
		if _, ok := objects(t, e.Servers[i], "tombstones/")["tombstones/"+name]; !ok {
			t.Fatalf("%s lacks the tombstone", regionNames[i])
		}
		if _, ok := objects(t, e.Servers[i], "snapshots/")[name]; ok {
			t.Fatalf("%s still holds the forgotten snapshot", regionNames[i])
		}
	}

	e.Servers[2].Restart()
	sync := e.mustRun(0, "--config", e.Config, "sync")
	if !strings.Contains(sync.Stdout, "region charlie: deleted 1 object") {
		t.Fatalf("sync did not delete the snapshot from charlie\n%s", sync)
	}
	for i := range 3 {
		snaps := objects(t, e.Servers[i], "snapshots/")
		if _, ok := snaps[name]; ok || len(snaps) != 1 {
			t.Fatalf("%s holds snapshots %v after the sync, want only the kept one", regionNames[i], sortedNames(snaps))
		}
		if _, ok := objects(t, e.Servers[i], "tombstones/")["tombstones/"+name]; !ok {
			t.Fatalf("%s lacks the tombstone after the sync", regionNames[i])
		}
		alone := e.writeConfig(0, e.specs([]int{i})...)
		list := e.mustRun(0, "--config", alone, "snapshots")
		if !strings.Contains(list.Stdout, "1 snapshots") || strings.Contains(list.Stdout, id) {
			t.Fatalf("%s alone lists\n%s", regionNames[i], list)
		}
	}
	// A second sync finds nothing to do, and the regions agree.
	again := e.mustRun(0, "--config", e.Config, "sync")
	if strings.Contains(again.Stdout, "deleted") {
		t.Fatalf("second sync deleted again\n%s", again)
	}
	e.requireSameObjects(0, 1, 2)
	if res := e.mustRun(0, "--config", e.Config, "regions", "audit"); !strings.Contains(res.Stdout, "no drift found") {
		t.Fatalf("audit after the sync\n%s", res)
	}
	e.restoreExact(e.Config)
}
