package tests

import (
	"context"
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"lifeboat/tests/s3server"
)

// lockEnv is a scratch directory with an identity and a configuration of
// one s3 region with object_lock.
type lockEnv struct {
	s3Env
}

func newLockEnv(ctx context.Context, t *testing.T, srv *s3server.Server) *lockEnv {
	t.Helper()
	dir := t.TempDir()
	e := &lockEnv{s3Env{t: t, ctx: ctx, Dir: dir, Src: filepath.Join(dir, "src"), next: new(int), Servers: []*s3server.Server{srv}}}
	if err := makeTree(e.Src, 7, cliSizes); err != nil {
		t.Fatal(err)
	}
	home := filepath.Join(dir, "home")
	if err := os.MkdirAll(home, 0o700); err != nil {
		t.Fatal(err)
	}
	id := filepath.Join(dir, "identity.txt")
	e.env = []string{
		"HOME=" + home,
		"XDG_CACHE_HOME=" + filepath.Join(home, ".cache"),
		accessKeyEnv + "=" + srv.AccessKey,
		secretKeyEnv + "=" + srv.SecretKey,
	}
	e.mustRun(0, "key", "generate", "-o", id)
	e.env = append(e.env, "LIFEBOAT_IDENTITY="+id)
	cfg := fmt.Sprintf(`version: 1
regions:
  - name: vault
    type: s3
    endpoint: %q
    bucket: %s
    insecure: true
    path_style: true
    timeout: %s
    access_key_env: %s
    secret_key_env: %s
    object_lock: { mode: compliance, period: 1h }
`, srv.Endpoint, srv.Bucket, regionTimeout, accessKeyEnv, secretKeyEnv)
	e.Config = filepath.Join(dir, "lifeboat.yaml")
	if err := os.WriteFile(e.Config, []byte(cfg), 0o644); err != nil {
		t.Fatal(err)
	}
	return e
}

type regionLockJSON struct {
	Name       string `json:"name"`
	ObjectLock *struct {
		Mode              string `json:"mode"`
		Period            string `json:"period"`
		OldestUnprotected string `json:"oldest_unprotected"`
		Unprotected       int    `json:"unprotected"`
		ProtectedUntil    string `json:"protected_until"`
	} `json:"object_lock"`
}

func (e *lockEnv) regionsJSON() regionLockJSON {
	e.t.Helper()
	res := e.mustRun(0, "--config", e.Config, "--json", "regions")
	var rows []regionLockJSON
	if err := json.Unmarshal([]byte(res.Stdout), &rows); err != nil || len(rows) != 1 || rows[0].ObjectLock == nil {
		e.t.Fatalf("regions --json: %v\n%s", err, res)
	}
	return rows[0]
}

// TestS3ObjectLockCLI: init on a bucket with object lock, a backup,
// lifeboat regions before and after lock extend (the new snapshot is
// unprotected until extended), check, and the refusals: object_lock on
// a bucket without it (exit 2, naming the fix), lock extend without any
// object_lock region (exit 2).
func TestS3ObjectLockCLI(t *testing.T) {
	ctx := context.Background()
	e := newLockEnv(ctx, t, s3server.Start(t, s3server.WithObjectLock()))
	e.mustRun(0, "--config", e.Config, "init", "--chunk-avg", "64KiB", "--pack-size", "1MiB")
	e.mustRun(0, "--config", e.Config, "backup", e.Src)

	before := e.regionsJSON()
	if l := before.ObjectLock; l.Mode != "compliance" || l.Period != "1h" || l.Unprotected != 1 || !strings.HasPrefix(l.OldestUnprotected, "snapshots/") {
		t.Fatalf("regions before lock extend: %+v", *l)
	}
	text := e.mustRun(0, "--config", e.Config, "regions")
	if !strings.Contains(text.Stdout, "compliance 1h") {
		t.Fatalf("regions does not show the lock:\n%s", text)
	}

	ext := e.mustRun(0, "--config", e.Config, "lock", "extend")
	if !strings.Contains(ext.Stdout, "vault") || !strings.Contains(ext.Stdout, "extended") {
		t.Fatalf("lock extend output:\n%s", ext)
	}
	after := e.regionsJSON()
	if l := after.ObjectLock; l.Unprotected != 0 || l.OldestUnprotected != "" || l.ProtectedUntil == "" {
		t.Fatalf("regions after lock extend: %+v", *l)
	}
	e.mustRun(0, "--config", e.Config, "check")

	// A bucket without object lock is refused, not silently unprotected.
	plain := newLockEnv(ctx, t, s3server.Start(t))
	res := plain.mustRun(2, "--config", plain.Config, "init")
	if !strings.Contains(res.Stderr, "object lock") || !strings.Contains(res.Stderr, "fix:") {
		t.Fatalf("init on a bucket without object lock:\n%s", res)
	}

	// lock extend needs a region with object_lock.
	noLock := filepath.Join(e.Dir, "nolock.yaml")
	data, err := os.ReadFile(e.Config)
	if err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(noLock, []byte(strings.Replace(string(data), "    object_lock: { mode: compliance, period: 1h }\n", "", 1)), 0o644); err != nil {
		t.Fatal(err)
	}
	e.mustRun(2, "--config", noLock, "lock", "extend")
}
