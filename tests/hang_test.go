package tests

import (
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"lifeboat/storage/s3"
)

// A region whose server is SIGSTOPped (it accepts connections and never
// answers) before or during a restore: the restore completes identical,
// reading the other regions, and reports the failovers.

// hangConfig writes a configuration of e's regions at their current
// endpoints with the backends' default request timeout (30 s), so that a
// hung region is caught by the region set's read deadline, not by a short
// per-request timeout.
func hangConfig(e *s3Env) string {
	e.t.Helper()
	var b strings.Builder
	b.WriteString("version: 1\nregions:\n")
	for _, r := range e.specs(nil) {
		fmt.Fprintf(&b, "  - name: %s\n    type: s3\n    endpoint: %q\n    bucket: %s\n", r.Name, r.Endpoint, r.Bucket)
		fmt.Fprintf(&b, "    insecure: true\n    path_style: true\n")
		fmt.Fprintf(&b, "    access_key_env: %s\n    secret_key_env: %s\n", accessKeyEnv, secretKeyEnv)
	}
	p := filepath.Join(e.Dir, fmt.Sprintf("lifeboat-hang-%d.yaml", e.seq()))
	if err := os.WriteFile(p, []byte(b.String()), 0o644); err != nil {
		e.t.Fatal(err)
	}
	return p
}

// requireFailoversFrom fails t unless the restore summary reports objects
// that region could not serve, each served by another region, and returns
// them.
func requireFailoversFrom(t testing.TB, s restoreSummary, region string, res lbResult) []string {
	t.Helper()
	var reasons []string
	for _, f := range s.Failovers {
		if f.Region != region {
			continue
		}
		if f.Served == "" || f.Served == region {
			t.Fatalf("failover of %s from %s: served by %q, want another region\n%s", f.Object, region, f.Served, res)
		}
		reasons = append(reasons, f.Reason)
	}
	if len(reasons) == 0 {
		t.Fatalf("the restore reports no failover from the hung region %s (failovers %+v, regions %v)\n%s", region, s.Failovers, s.Regions, res)
	}
	return reasons
}

func TestS3HungRegionRestore(t *testing.T) {
	t.Parallel() // mostly waiting on servers; own ports and directories
	t.Run("paused-before", func(t *testing.T) {
		t.Parallel()
		ctx := testContext(t, 4*time.Minute)
		e := newS3Env(ctx, t, 0)
		e.initRepo()
		e.mustRun(0, "--config", e.Config, "backup", e.Src)
		e.requireSameObjects(0, 1, 2)
		// alpha, preferred for reads, freezes before the restore starts.
		e.Servers[0].Pause()
		res := e.restoreExact(hangConfig(e), "--json")
		s := parseSummary(t, res)
		if s.Errors != 0 || s.FilesRestored == 0 {
			t.Fatalf("restore summary: %+v\n%s", s, res)
		}
		if n := s.Regions[regionNames[0]].Objects; n != 0 {
			t.Errorf("the hung region %s served %d objects", regionNames[0], n)
		}
		// The failover: the next region served what alpha would have (the
		// region cannot even be opened, so it is treated as down and no
		// read is sent to it).
		if s.Regions[regionNames[1]].Objects == 0 {
			t.Errorf("summary regions %v: the next region %s served nothing", s.Regions, regionNames[1])
		}
	})
	t.Run("paused-during", func(t *testing.T) {
		t.Parallel()
		ctx := testContext(t, 4*time.Minute)
		e := newS3Env(ctx, t, 0)
		alpha := proxied(t, e, 0, 0)
		e.initRepo()
		e.mustRun(0, "--config", e.Config, "backup", e.Src)
		e.requireSameObjects(0, 1, 2)
		// alpha, preferred, is SIGSTOPped once it has served 512 KiB of
		// the restore's reads (the proxy holds back what it sends later).
		st := alpha.budget(t, "pause", "downstream", 512<<10, budgetBlackhole, e.Servers[0].Pause)
		res := e.restoreExact(hangConfig(e), "--json")
		if !st.Fired() || !e.Servers[0].Paused() {
			t.Fatalf("alpha was not paused during the restore (%d bytes served)", st.Used())
		}
		s := parseSummary(t, res)
		if s.Errors != 0 || s.FilesRestored == 0 {
			t.Fatalf("restore summary: %+v\n%s", s, res)
		}
		reasons := requireFailoversFrom(t, s, regionNames[0], res)
		// The hung reads were abandoned at the region set's read deadline,
		// not after the backend's 30 s no-progress timeout (or twice that,
		// retried).
		for _, r := range reasons {
			if !strings.Contains(r, "did not answer within its deadline") {
				t.Errorf("failover from the hung region not by its read deadline (%v timeout of the backend): %s", s3.DefaultTimeout, r)
			}
		}
	})
}
