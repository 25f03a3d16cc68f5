package tests

import (
	"crypto/rand"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
	"time"
)

// packBytes sums the sizes of the packs a server holds.
func packBytes(t *testing.T, e *s3Env) int64 {
	t.Helper()
	var n int64
	for _, srv := range e.Servers {
		for _, b := range objects(t, srv, "data/") {
			n += int64(len(b))
		}
	}
	return n
}

// TestS3PruneMarkThenSweep: three versitygw regions; a snapshot whose
// large file no other snapshot has is forgotten; prune marks (deleting
// nothing), a second run after the grace sweeps every region; the kept
// snapshots restore identically from each region alone, and the regions
// store less.
func TestS3PruneMarkThenSweep(t *testing.T) {
	t.Parallel()
	ctx := testContext(t, 3*time.Minute)
	e := newS3Env(ctx, t, 0)
	e.initRepo()
	e.mustRun(0, "--config", e.Config, "backup", e.Src)
	big := filepath.Join(e.Src, "big.bin")
	data := make([]byte, 3<<20)
	if _, err := rand.Read(data); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(big, data, 0o644); err != nil {
		t.Fatal(err)
	}
	res := e.mustRun(0, "--config", e.Config, "backup", e.Src)
	m := regexp.MustCompile(`snapshot ([0-9a-f]{8}) saved`).FindStringSubmatch(res.Stdout)
	if m == nil {
		t.Fatalf("no snapshot ID in the backup's output\n%s", res)
	}
	if err := os.Remove(big); err != nil {
		t.Fatal(err)
	}
	e.mustRun(0, "--config", e.Config, "backup", e.Src)
	e.mustRun(0, "--config", e.Config, "forget", m[1])
	before := packBytes(t, e)
	time.Sleep(2 * time.Second) // the packs must be older than --min-pack-age
	flags := []string{"--config", e.Config, "prune", "--grace", "3s", "--min-pack-age", "1s"}
	dry := e.mustRun(0, append(flags, "--dry-run")...)
	if !strings.Contains(dry.Stdout, "would condemn") {
		t.Fatalf("dry run\n%s", dry)
	}
	mark := e.mustRun(0, flags...)
	if !strings.Contains(mark.Stdout, "nothing deleted yet") {
		t.Fatalf("mark\n%s", mark)
	}
	if after := packBytes(t, e); after < before {
		t.Fatalf("the mark deleted packs: %d bytes before, %d after", before, after)
	}
	wait := e.mustRun(0, flags...)
	if !strings.Contains(wait.Stdout, "waits for its grace") {
		t.Fatalf("second run within the grace\n%s", wait)
	}
	time.Sleep(4 * time.Second)
	sweep := e.mustRun(0, flags...)
	if !strings.Contains(sweep.Stdout, "swept gc record") || strings.Contains(sweep.Stdout, "still to sweep") {
		t.Fatalf("sweep\n%s", sweep)
	}
	after := packBytes(t, e)
	if after >= before-3*(3<<20) {
		t.Fatalf("storage not smaller: %d bytes of packs before, %d after", before, after)
	}
	e.restoreExact(e.Config)
	for i := range e.Servers {
		e.restoreExact(e.writeConfig(0, e.specs([]int{i})...))
	}
	if res := e.mustRun(0, "--config", e.Config, "check"); res.Code != 0 {
		t.Fatalf("check\n%s", res)
	}
}
