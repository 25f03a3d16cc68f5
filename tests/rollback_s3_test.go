package tests

import (
	"bytes"
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/minio/minio-go/v7"

	"lifeboat/engine/format"
	"lifeboat/tests/s3server"
)

// The rollback tests remove objects from three versitygw regions behind
// lifeboat's back (the files of the servers' posix backend, as a host
// with write access to the buckets could) and require check, backup and
// drill to name what vanished (FORMAT.md §19).

// removeEverywhere deletes name from every server's bucket and returns its
// bytes in each (nil where it was not stored).
func (e *s3Env) removeEverywhere(name string) [][]byte {
	e.t.Helper()
	var out [][]byte
	for _, srv := range e.Servers {
		data, err := os.ReadFile(srv.ObjectPath(name))
		if err != nil && !os.IsNotExist(err) {
			e.t.Fatal(err)
		}
		out = append(out, data)
		if err == nil {
			if err := os.Remove(srv.ObjectPath(name)); err != nil {
				e.t.Fatal(err)
			}
		}
	}
	return out
}

// putBack stores the copies removeEverywhere returned again, through the
// S3 API (a file written behind the server's back has no metadata).
func (e *s3Env) putBack(name string, copies [][]byte) {
	e.t.Helper()
	for i, data := range copies {
		if data != nil {
			e.putObject(i, name, data)
		}
	}
}

// putObject stores data as name in server i, through the S3 API.
func (e *s3Env) putObject(i int, name string, data []byte) {
	e.t.Helper()
	c := minioClient(e.t.(*testing.T), e.Servers[i], s3server.DefaultAccessKey, s3server.DefaultSecretKey)
	if _, err := c.PutObject(e.ctx, e.Servers[i].Bucket, name, bytes.NewReader(data), int64(len(data)), minio.PutObjectOptions{}); err != nil {
		e.t.Fatalf("put %s in %s: %v", name, e.Servers[i].Endpoint, err)
	}
}

// checkNames runs check with the state directory state, requires the
// damaged-data exit code and every want in its output, and returns it.
func (e *s3Env) checkNames(state string, want ...string) lbResult {
	e.t.Helper()
	res := e.runState(state, "--config", e.Config, "check")
	if res.Code != 4 {
		e.t.Fatalf("check: want exit code 4 (damaged data)\n%s", res)
	}
	e.t.Logf("check reports:\n%s", res.Stderr)
	for _, w := range want {
		if !strings.Contains(res.Stderr, w) {
			e.t.Fatalf("check does not name %q\n%s", w, res)
		}
	}
	return res
}

// runState runs lifeboat with LIFEBOAT_STATE_DIR=state.
func (e *s3Env) runState(state string, args ...string) lbResult {
	e.t.Helper()
	c := *e
	c.env = append(append([]string{}, e.env...), "LIFEBOAT_STATE_DIR="+state)
	return c.run(args...)
}

// names returns the names of the objects under prefix in server i.
func (e *s3Env) names(i int, prefix string) []string {
	e.t.Helper()
	return sortedNames(objects(e.t, e.Servers[i], prefix))
}

// TestS3RollbackDetection: a snapshot, an index object and a key removed
// from every region by hand, a config replaced by another repository's,
// and a region rolled back to an older state of itself are each named by
// check (exit 4), and the vanished snapshot by backup and drill too, both
// by the host that saw them and, for what vanished from every region, by
// a host that never did (from the commit chains alone).
func TestS3RollbackDetection(t *testing.T) {
	t.Parallel()
	ctx := testContext(t, 5*time.Minute)
	e := newS3Env(ctx, t, 0)
	state := filepath.Join(e.Dir, "state")
	e.initRepo()
	for i := range 2 {
		if err := os.WriteFile(filepath.Join(e.Src, fmt.Sprintf("new-%d", i)), []byte(fmt.Sprint("file ", i)), 0o644); err != nil {
			t.Fatal(err)
		}
		if res := e.runState(state, "--config", e.Config, "backup", e.Src); res.Code != 0 {
			t.Fatalf("backup\n%s", res)
		}
	}
	if res := e.runState(state, "--config", e.Config, "check"); res.Code != 0 {
		t.Fatalf("check of the untouched repository\n%s", res)
	}
	if chains := e.names(0, format.ChainPrefix); len(chains) < 3 {
		t.Fatalf("commit records %v: want the init, start and backup records", chains)
	}

	t.Run("snapshot", func(t *testing.T) {
		e := e.with(t)
		snaps := e.names(0, format.SnapshotPrefix)
		gone := snaps[0]
		copies := e.removeEverywhere(gone)
		defer e.putBack(gone, copies)
		e.checkNames(state, gone, "vanished without a deletion record")
		e.checkNames(filepath.Join(e.Dir, "fresh-host"), gone, "vanished")
		res := e.runState(state, "--config", e.Config, "backup", e.Src)
		if res.Code != 0 || !strings.Contains(res.Output(), gone) || !strings.Contains(res.Output(), "vanished") {
			t.Fatalf("backup: want success and a warning naming %s\n%s", gone, res)
		}
		file := filepath.Join(e.Dir, "drill.json")
		res = e.runState(state, "--config", e.Config, "drill", "--json", file)
		data, err := os.ReadFile(file)
		if err != nil {
			t.Fatalf("drill wrote no report: %v\n%s", err, res)
		}
		var rep struct{ Warnings []string }
		if err := json.Unmarshal(data, &rep); err != nil {
			t.Fatal(err)
		}
		if !strings.Contains(strings.Join(rep.Warnings, "\n"), gone) {
			t.Fatalf("drill warnings %q do not name %s\n%s", rep.Warnings, gone, res)
		}
	})

	t.Run("index", func(t *testing.T) {
		e := e.with(t)
		gone := e.names(0, format.IndexPrefix)[0]
		copies := e.removeEverywhere(gone)
		defer e.putBack(gone, copies)
		e.checkNames(state, gone, "vanished without a deletion record")
	})

	t.Run("key", func(t *testing.T) {
		e := e.with(t)
		before := e.names(0, format.KeysPrefix)
		other := filepath.Join(e.Dir, "other-identity.txt")
		rcpt := strings.TrimSpace(e.mustRun(0, "key", "generate", "-o", other).Stdout)
		if !strings.HasPrefix(rcpt, "age1") {
			t.Fatalf("key generate printed %q, not a recipient", rcpt)
		}
		if res := e.runState(state, "--config", e.Config, "key", "add", "--recipient", rcpt); res.Code != 0 {
			t.Fatalf("key add\n%s", res)
		}
		var gone string
		for _, n := range e.names(0, format.KeysPrefix) {
			if !contains(before, n) {
				gone = n
			}
		}
		if gone == "" {
			t.Fatal("key add stored no key")
		}
		copies := e.removeEverywhere(gone)
		defer e.putBack(gone, copies)
		e.checkNames(state, gone, "vanished without a deletion record")
		e.checkNames(filepath.Join(e.Dir, "fresh-host-key"), gone, "vanished")
	})

	t.Run("config", func(t *testing.T) {
		e := e.with(t)
		foreign := t.TempDir()
		cfg := filepath.Join(foreign, "lifeboat.yaml")
		if err := os.WriteFile(cfg, []byte(fmt.Sprintf("version: 1\nregions:\n  - name: local\n    type: local\n    path: %s\n", filepath.Join(foreign, "repo"))), 0o644); err != nil {
			t.Fatal(err)
		}
		e.mustRun(0, "--config", cfg, "init")
		other, err := os.ReadFile(filepath.Join(foreign, "repo", format.ConfigName))
		if err != nil {
			t.Fatal(err)
		}
		own, err := os.ReadFile(e.Servers[1].ObjectPath(format.ConfigName))
		if err != nil {
			t.Fatal(err)
		}
		e.putObject(1, format.ConfigName, other)
		defer e.putObject(1, format.ConfigName, own)
		e.checkNames(state, "region bravo: config", "config replaced")
	})

	t.Run("region rolled back", func(t *testing.T) {
		e := e.with(t)
		if res := e.runState(state, "--config", e.Config, "check"); res.Code != 0 {
			t.Fatalf("check after the damage was undone\n%s", res)
		}
		old := map[string]bool{}
		for _, n := range e.names(1, "") {
			old[n] = true
		}
		if err := os.WriteFile(filepath.Join(e.Src, "later"), []byte("later"), 0o644); err != nil {
			t.Fatal(err)
		}
		if res := e.runState(state, "--config", e.Config, "backup", e.Src); res.Code != 0 {
			t.Fatalf("backup\n%s", res)
		}
		if res := e.runState(state, "--config", e.Config, "check"); res.Code != 0 {
			t.Fatalf("check\n%s", res)
		}
		// Bravo goes back to what it held before that backup.
		var lost []string
		for _, n := range e.names(1, "") {
			if !old[n] {
				lost = append(lost, n)
				if err := os.Remove(e.Servers[1].ObjectPath(n)); err != nil {
					t.Fatal(err)
				}
			}
		}
		var snap string
		for _, n := range lost {
			if strings.HasPrefix(n, format.SnapshotPrefix) {
				snap = n
			}
		}
		if snap == "" {
			t.Fatalf("the backup stored no snapshot in bravo: %v", lost)
		}
		e.checkNames(state, "region bravo: "+snap, "went back to an older state")
		// A sync brings bravo up to date again.
		e.mustRun(0, "--config", e.Config, "sync")
		if res := e.runState(state, "--config", e.Config, "check"); res.Code != 0 {
			t.Fatalf("check after sync\n%s", res)
		}
	})

	t.Run("accept", func(t *testing.T) {
		e := e.with(t)
		gone := e.names(0, format.SnapshotPrefix)[0]
		e.removeEverywhere(gone)
		e.checkNames(state, gone, "vanished")
		res := e.runState(state, "--config", e.Config, "history", "accept")
		if res.Code != 0 || !strings.Contains(res.Stdout, "recorded the deletion of "+gone) {
			t.Fatalf("history accept: want exit 0 naming %s\n%s", gone, res)
		}
		for _, st := range []string{state, filepath.Join(e.Dir, "fresh-host-accept")} {
			if res := e.runState(st, "--config", e.Config, "check"); res.Code != 0 {
				t.Fatalf("check after history accept\n%s", res)
			}
		}
	})
}

func contains(list []string, s string) bool {
	for _, x := range list {
		if x == s {
			return true
		}
	}
	return false
}
