package tests

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"sort"
	"strings"
	"testing"
	"time"

	"lifeboat/engine/treecmp"
	"lifeboat/tests/s3server"
)

// The end-to-end region tests below run the lifeboat binary (built by
// TestMain) against three real versitygw servers, one per region, and damage
// the regions behind lifeboat's back: SIGKILL, files flipped or removed in
// the servers' data directories, and (toxi_test.go) Toxiproxy faults.

// Bounds on the commands and tests of this file.
const (
	// cmdTimeout bounds one lifeboat run; a run that takes longer is
	// killed and fails the test.
	cmdTimeout = 120 * time.Second
	// regionTimeout is the per-request timeout of every s3 region in the
	// generated configurations, so dead regions fail fast.
	regionTimeout = "2s"
)

// Environment variables naming the S3 credentials in the generated
// configurations.
const (
	accessKeyEnv = "LB_TEST_S3_ACCESS_KEY"
	secretKeyEnv = "LB_TEST_S3_SECRET_KEY"
)

// regionNames are the regions' names, in configuration (and default read
// priority) order. Words that cannot occur in hex object names.
var regionNames = []string{"alpha", "bravo", "charlie"}

// lbResult is the outcome of one lifeboat run.
type lbResult struct {
	// Args are the arguments lifeboat ran with, for messages.
	Args []string
	// Code is the exit code (-1 when the process was killed).
	Code int
	// Stdout and Stderr are everything the process printed.
	Stdout, Stderr string
	// Elapsed is the run's wall-clock time.
	Elapsed time.Duration
}

// Output is stdout and stderr together.
func (r lbResult) Output() string { return r.Stdout + r.Stderr }

func (r lbResult) String() string {
	return fmt.Sprintf("lifeboat %s: exit %d after %v\n--- stdout:\n%s--- stderr:\n%s",
		strings.Join(r.Args, " "), r.Code, r.Elapsed.Round(time.Millisecond), r.Stdout, r.Stderr)
}

// runLifeboat runs the lifeboat binary TestMain built with args, in dir,
// with the test process's environment minus every LIFEBOAT_* variable, plus
// env ("KEY=value" entries, later ones winning). The run is bounded by ctx
// and cmdTimeout; a run that could not start or was killed fails t. The exit
// code is for the caller to judge.
func runLifeboat(ctx context.Context, t testing.TB, dir string, env []string, args ...string) lbResult {
	t.Helper()
	if binDir == "" {
		t.Fatal("the lifeboat binary was not built (TestMain did not run)")
	}
	ctx, cancel := context.WithTimeout(ctx, cmdTimeout)
	defer cancel()
	cmd := exec.CommandContext(ctx, filepath.Join(binDir, "lifeboat"), args...)
	cmd.Dir = dir
	cmd.WaitDelay = 5 * time.Second
	for _, kv := range os.Environ() {
		if !strings.HasPrefix(kv, "LIFEBOAT_") {
			cmd.Env = append(cmd.Env, kv)
		}
	}
	cmd.Env = append(cmd.Env, env...)
	var stdout, stderr bytes.Buffer
	cmd.Stdout, cmd.Stderr = &stdout, &stderr
	start := time.Now()
	err := cmd.Run()
	res := lbResult{Args: args, Stdout: stdout.String(), Stderr: stderr.String(), Elapsed: time.Since(start)}
	var ee *exec.ExitError
	switch {
	case ctx.Err() != nil:
		t.Fatalf("lifeboat %s did not finish within its time bound (%v): %v\n%s", strings.Join(args, " "), cmdTimeout, ctx.Err(), res)
	case err == nil:
	case errors.As(err, &ee):
		res.Code = ee.ExitCode()
	default:
		t.Fatalf("lifeboat %s: %v", strings.Join(args, " "), err)
	}
	t.Logf("lifeboat %s: exit %d in %v", strings.Join(args, " "), res.Code, res.Elapsed.Round(time.Millisecond))
	return res
}

// regionSpec is one region of a generated configuration.
type regionSpec struct {
	// Name is the region's name.
	Name string
	// Endpoint is host:port: the server's, or a proxy's in front of it.
	Endpoint string
	// Bucket is the server's bucket.
	Bucket string
	// Priority is the read priority (0: position in the file).
	Priority int
}

// s3Env is a scratch directory with three versitygw regions, an age
// identity, a source tree and a configuration listing every region.
type s3Env struct {
	t   testing.TB
	ctx context.Context
	// Dir is the scratch directory (lifeboat's working directory).
	Dir string
	// Src is the source tree backed up.
	Src string
	// Servers are the regions' servers, in regionNames order.
	Servers []*s3server.Server
	// Endpoints are the addresses the configurations use for each region
	// (the servers' own unless a test put a proxy in front).
	Endpoints []string
	// Config is the configuration file of all three regions.
	Config string
	env    []string
	next   *int // sequence for file names, shared by the copies of with
}

// with returns a copy of e that reports to t (a subtest's).
func (e *s3Env) with(t testing.TB) *s3Env {
	c := *e
	c.t = t
	return &c
}

// seq returns the next number for a file name.
func (e *s3Env) seq() int {
	*e.next++
	return *e.next
}

// newS3Env starts three servers, writes the source tree and the identity,
// and a configuration of all three regions with the given write quorum
// (0: omitted, i.e. all regions). It does not init the repository.
func newS3Env(ctx context.Context, t *testing.T, writeQuorum int) *s3Env {
	t.Helper()
	dir := t.TempDir()
	e := &s3Env{t: t, ctx: ctx, Dir: dir, Src: filepath.Join(dir, "src"), next: new(int)}
	for range regionNames {
		srv := s3server.Start(t)
		e.Servers = append(e.Servers, srv)
		e.Endpoints = append(e.Endpoints, srv.Endpoint)
	}
	if err := makeTree(e.Src, 42, cliSizes); err != nil {
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
		"XDG_CONFIG_HOME=" + filepath.Join(home, ".config"),
		accessKeyEnv + "=" + s3server.DefaultAccessKey,
		secretKeyEnv + "=" + s3server.DefaultSecretKey,
	}
	e.mustRun(0, "key", "generate", "-o", id)
	e.env = append(e.env, "LIFEBOAT_IDENTITY="+id)
	e.Config = e.writeConfig(writeQuorum, e.specs(nil)...)
	return e
}

// specs describes the regions at their current Endpoints, all of them or
// those whose indexes are listed, with priorities by position.
func (e *s3Env) specs(which []int) []regionSpec {
	if which == nil {
		which = []int{0, 1, 2}
	}
	var out []regionSpec
	for _, i := range which {
		out = append(out, regionSpec{Name: regionNames[i], Endpoint: e.Endpoints[i], Bucket: e.Servers[i].Bucket})
	}
	return out
}

// writeConfig writes a configuration of the given regions and returns its
// path. writeQuorum 0 omits the setting.
func (e *s3Env) writeConfig(writeQuorum int, regions ...regionSpec) string {
	e.t.Helper()
	var b strings.Builder
	b.WriteString("version: 1\nrepository:\n")
	if writeQuorum > 0 {
		fmt.Fprintf(&b, "  write_quorum: %d\n", writeQuorum)
	}
	b.WriteString("regions:\n")
	for _, r := range regions {
		fmt.Fprintf(&b, "  - name: %s\n    type: s3\n    endpoint: %q\n    bucket: %s\n", r.Name, r.Endpoint, r.Bucket)
		fmt.Fprintf(&b, "    insecure: true\n    path_style: true\n    timeout: %s\n", regionTimeout)
		fmt.Fprintf(&b, "    access_key_env: %s\n    secret_key_env: %s\n", accessKeyEnv, secretKeyEnv)
		if r.Priority > 0 {
			fmt.Fprintf(&b, "    priority: %d\n", r.Priority)
		}
	}
	p := filepath.Join(e.Dir, fmt.Sprintf("lifeboat-%d.yaml", e.seq()))
	if err := os.WriteFile(p, []byte(b.String()), 0o644); err != nil {
		e.t.Fatal(err)
	}
	return p
}

// run runs lifeboat with the environment's variables; --no-cache keeps
// every read going to the regions.
func (e *s3Env) run(args ...string) lbResult {
	e.t.Helper()
	return runLifeboat(e.ctx, e.t, e.Dir, e.env, append([]string{"--no-cache"}, args...)...)
}

// mustRun runs lifeboat and fails the test unless it exits with code.
func (e *s3Env) mustRun(code int, args ...string) lbResult {
	e.t.Helper()
	res := e.run(args...)
	if res.Code != code {
		e.t.Fatalf("want exit code %d\n%s", code, res)
	}
	return res
}

// initRepo creates the repository in every region of e.Config, with small
// chunks and packs so that the tree fills several packs.
func (e *s3Env) initRepo() {
	e.t.Helper()
	e.mustRun(0, "--config", e.Config, "init", "--chunk-avg", "64KiB", "--pack-size", "1MiB")
}

// restoreExact restores the latest snapshot through config into a fresh
// directory, requires exit code 0 and a tree identical to the source, and
// returns the run.
func (e *s3Env) restoreExact(config string, extra ...string) lbResult {
	e.t.Helper()
	target := filepath.Join(e.Dir, fmt.Sprintf("restore-%d", e.seq()))
	args := append([]string{"--config", config}, extra...)
	res := e.mustRun(0, append(args, "restore", "latest", "--target", target)...)
	requireSameTree(e.t, e.Src, filepath.Join(target, e.Src))
	return res
}

// requireSameTree fails t unless the trees at a and b are identical
// (content, modes, mtimes, links).
func requireSameTree(t testing.TB, a, b string) {
	t.Helper()
	diffs, err := treecmp.Compare(a, b, treecmp.Options{Limit: 50})
	if err != nil {
		t.Fatalf("compare %s with %s: %v", a, b, err)
	}
	if len(diffs) > 0 {
		var sb strings.Builder
		for _, d := range diffs {
			fmt.Fprintf(&sb, "\n\t%s", d)
		}
		t.Fatalf("restore %s differs from the source %s:%s", b, a, sb.String())
	}
}

// objects returns the objects of srv's bucket under prefix ("" for all),
// by walking the posix backend's directory: object name -> content. Hidden
// entries (the server's temporary files) are skipped.
func objects(t testing.TB, srv *s3server.Server, prefix string) map[string][]byte {
	t.Helper()
	root := filepath.Join(srv.DataDir, srv.Bucket)
	out := map[string][]byte{}
	err := filepath.WalkDir(root, func(p string, d fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		if strings.HasPrefix(d.Name(), ".") && p != root {
			if d.IsDir() {
				return filepath.SkipDir
			}
			return nil
		}
		if !d.Type().IsRegular() {
			return nil
		}
		rel, err := filepath.Rel(root, p)
		if err != nil {
			return err
		}
		name := filepath.ToSlash(rel)
		if !strings.HasPrefix(name, prefix) {
			return nil
		}
		data, err := os.ReadFile(p)
		if err != nil {
			return err
		}
		out[name] = data
		return nil
	})
	if err != nil {
		t.Fatalf("list objects of %s: %v", srv.Endpoint, err)
	}
	return out
}

// sortedNames returns the keys of objs, sorted.
func sortedNames(objs map[string][]byte) []string {
	names := make([]string, 0, len(objs))
	for n := range objs {
		names = append(names, n)
	}
	sort.Strings(names)
	return names
}

// requireSameObjects fails t unless the regions at indexes which hold
// exactly the same objects with the same bytes.
func (e *s3Env) requireSameObjects(which ...int) {
	e.t.Helper()
	ref := objects(e.t, e.Servers[which[0]], "")
	if len(ref) == 0 {
		e.t.Fatalf("region %s holds no objects", regionNames[which[0]])
	}
	for _, i := range which[1:] {
		got := objects(e.t, e.Servers[i], "")
		var problems []string
		for _, n := range sortedNames(ref) {
			g, ok := got[n]
			switch {
			case !ok:
				problems = append(problems, n+": missing")
			case !bytes.Equal(g, ref[n]):
				problems = append(problems, n+": different bytes")
			}
		}
		for _, n := range sortedNames(got) {
			if _, ok := ref[n]; !ok {
				problems = append(problems, n+": extra")
			}
		}
		if len(problems) > 0 {
			e.t.Fatalf("region %s differs from region %s:\n\t%s", regionNames[i], regionNames[which[0]], strings.Join(problems, "\n\t"))
		}
	}
}

// packsBySize returns the data packs of region i, largest first (ties by
// name).
func (e *s3Env) packsBySize(i int) []string {
	e.t.Helper()
	objs := objects(e.t, e.Servers[i], "data/")
	names := sortedNames(objs)
	sort.SliceStable(names, func(a, b int) bool { return len(objs[names[a]]) > len(objs[names[b]]) })
	return names
}

// restoreSummary is the final JSON object of `restore --json`. Regions and
// Failovers are the read statistics the engine collects
// (repo.ReadStats): which regions served the objects, and every object a
// region could not serve correctly and who served it instead.
type restoreSummary struct {
	MessageType   string `json:"message_type"`
	FilesRestored int64  `json:"files_restored"`
	Errors        int64  `json:"errors"`
	Regions       map[string]struct {
		Objects int64 `json:"objects"`
		Bytes   int64 `json:"bytes"`
		Errors  int64 `json:"errors"`
	} `json:"regions"`
	Failovers []struct {
		Object string `json:"object"`
		Region string `json:"region"`
		Reason string `json:"reason"`
		Served string `json:"served_by"`
	} `json:"failovers"`
}

// parseSummary finds the summary line of a --json run's stdout.
func parseSummary(t testing.TB, res lbResult) restoreSummary {
	t.Helper()
	lines := strings.Split(strings.TrimSpace(res.Stdout), "\n")
	for i := len(lines) - 1; i >= 0; i-- {
		var s restoreSummary
		if json.Unmarshal([]byte(lines[i]), &s) == nil && s.MessageType == "summary" {
			return s
		}
	}
	t.Fatalf("no JSON summary in the output\n%s", res)
	return restoreSummary{}
}

// requireFailover fails t unless the summary records that region could not
// serve object and another region served it.
func requireFailover(t testing.TB, s restoreSummary, object, region string, res lbResult) {
	t.Helper()
	for _, f := range s.Failovers {
		if f.Object == object && f.Region == region {
			if f.Served == "" || f.Served == region {
				t.Fatalf("failover of %s from %s: served by %q, want another region\n%s", object, region, f.Served, res)
			}
			if s.Regions[f.Served].Objects == 0 {
				t.Errorf("summary regions %v: %s served %s but has no objects counted", s.Regions, f.Served, object)
			}
			return
		}
	}
	t.Fatalf("restore summary does not report the failover of %s from region %s (failovers %+v, regions %v)\n%s",
		object, region, s.Failovers, s.Regions, res)
}

// requireLineMatching fails t unless some line of out matches re.
func requireLineMatching(t testing.TB, out, re, what string, res lbResult) {
	t.Helper()
	rx := regexp.MustCompile(re)
	for _, l := range strings.Split(out, "\n") {
		if rx.MatchString(l) {
			t.Logf("%s: %q", what, l)
			return
		}
	}
	t.Fatalf("%s: no output line matches %s\n%s", what, re, res)
}

// testContext bounds a whole test.
func testContext(t *testing.T, d time.Duration) context.Context {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), d)
	t.Cleanup(cancel)
	return ctx
}

// requireSyncCommand fails t unless the binary has a sync command.
func requireSyncCommand(e *s3Env) {
	e.t.Helper()
	res := e.mustRun(0, "help")
	if !regexp.MustCompile(`(?m)^\s+sync\s`).MatchString(res.Stdout) {
		e.t.Fatalf("the lifeboat binary has no sync command\n%s", res)
	}
}

// Scenario a: a backup to three regions, then the preferred region's server
// is SIGKILLed; the restore reads the other regions and is byte-identical.
func TestS3RegionKilledRestore(t *testing.T) {
	t.Parallel() // mostly waiting on servers and timeouts; own ports and directories
	ctx := testContext(t, 3*time.Minute)
	e := newS3Env(ctx, t, 0)
	e.initRepo()
	res := e.mustRun(0, "--config", e.Config, "backup", e.Src)
	if !strings.Contains(res.Stdout, "saved") {
		t.Fatalf("backup did not report a saved snapshot\n%s", res)
	}
	// Every region holds every object.
	e.requireSameObjects(0, 1, 2)
	if n := len(e.packsBySize(0)); n < 3 {
		t.Fatalf("the backup wrote %d packs, want several", n)
	}

	e.Servers[0].Kill()
	res = e.mustRun(0, "--config", e.Config, "snapshots")
	if !strings.Contains(res.Stdout, "1 snapshots") {
		t.Fatalf("snapshots with %s down: want 1 snapshot\n%s", regionNames[0], res)
	}
	res = e.restoreExact(e.Config, "--json")
	s := parseSummary(t, res)
	if s.Errors != 0 || s.FilesRestored == 0 {
		t.Fatalf("restore summary: %+v\n%s", s, res)
	}
	if s.Regions[regionNames[0]].Objects != 0 {
		t.Errorf("the killed region %s served %d objects", regionNames[0], s.Regions[regionNames[0]].Objects)
	}
	if s.Regions[regionNames[1]].Objects == 0 {
		t.Errorf("summary regions %v: the next preferred region %s served nothing (or the CLI does not print read statistics)", s.Regions, regionNames[1])
	}
}

// Scenario b: a pack corrupted in one region and another pack deleted in a
// second: restores that prefer the damaged regions are still exact and
// report the failovers; sync repairs both copies.
func TestS3RegionDamageFailoverAndSync(t *testing.T) {
	t.Parallel() // mostly waiting on servers and timeouts; own ports and directories
	ctx := testContext(t, 3*time.Minute)
	e := newS3Env(ctx, t, 0)
	e.initRepo()
	e.mustRun(0, "--config", e.Config, "backup", e.Src)
	e.requireSameObjects(0, 1, 2)
	packs := e.packsBySize(0)
	if len(packs) < 2 {
		t.Fatalf("want at least two packs, have %v", packs)
	}
	corrupted, deleted := packs[0], packs[1]
	good := objects(t, e.Servers[0], "data/")
	// damage corrupts bravo's copy of one pack (one byte flipped in the
	// middle) and removes charlie's copy of another, behind the servers'
	// backs.
	damage := func(t testing.TB) {
		t.Helper()
		bad := bytes.Clone(good[corrupted])
		bad[len(bad)/2] ^= 0xff
		if err := os.WriteFile(e.Servers[1].ObjectPath(corrupted), bad, 0o644); err != nil {
			t.Fatal(err)
		}
		if err := os.Remove(e.Servers[2].ObjectPath(deleted)); err != nil && !errors.Is(err, fs.ErrNotExist) {
			t.Fatal(err)
		}
	}
	damage(t)
	t.Logf("corrupted %s in %s, deleted %s in %s", corrupted, regionNames[1], deleted, regionNames[2])

	// A restore that prefers bravo, then charlie: the corrupted pack fails
	// over from bravo.
	bravoCfg := e.writeConfig(0,
		regionSpec{Name: "bravo", Endpoint: e.Endpoints[1], Bucket: e.Servers[1].Bucket, Priority: 1},
		regionSpec{Name: "charlie", Endpoint: e.Endpoints[2], Bucket: e.Servers[2].Bucket, Priority: 2},
		regionSpec{Name: "alpha", Endpoint: e.Endpoints[0], Bucket: e.Servers[0].Bucket, Priority: 3},
	)
	// One that prefers charlie, then bravo: the deleted pack fails over
	// from charlie.
	charlieCfg := e.writeConfig(0,
		regionSpec{Name: "charlie", Endpoint: e.Endpoints[2], Bucket: e.Servers[2].Bucket, Priority: 1},
		regionSpec{Name: "bravo", Endpoint: e.Endpoints[1], Bucket: e.Servers[1].Bucket, Priority: 2},
		regionSpec{Name: "alpha", Endpoint: e.Endpoints[0], Bucket: e.Servers[0].Bucket, Priority: 3},
	)
	// Each damaged region alone cannot restore the snapshot: the damage
	// lies on the restore's path.
	t.Run("damage-is-real", func(t *testing.T) {
		e := e.with(t)
		for _, i := range []int{1, 2} {
			target := filepath.Join(e.Dir, fmt.Sprintf("restore-%d", e.seq()))
			res := e.run("--config", e.writeConfig(0, e.specs([]int{i})...), "restore", "latest", "--target", target)
			if res.Code == 0 {
				t.Fatalf("restore from the damaged region %s alone succeeded\n%s", regionNames[i], res)
			}
			rep, err := restoredState(e.Src, filepath.Join(target, e.Src))
			if err != nil {
				t.Fatal(err)
			}
			if len(rep.Problems) > 0 || len(rep.Missing) == 0 {
				t.Fatalf("restore from %s alone: missing %v, problems %v\n%s", regionNames[i], rep.Missing, rep.Problems, res)
			}
		}
	})
	t.Run("restore-prefers-corrupted", func(t *testing.T) {
		res := e.with(t).restoreExact(bravoCfg, "--json")
		requireFailover(t, parseSummary(t, res), corrupted, "bravo", res)
	})
	t.Run("restore-prefers-deleted", func(t *testing.T) {
		res := e.with(t).restoreExact(charlieCfg, "--json")
		requireFailover(t, parseSummary(t, res), deleted, "charlie", res)
	})
	// sync brings every region back to alpha's objects. Without --verify
	// it compares copies by size, so it restores the deleted pack; a
	// same-size corrupted copy needs --verify (hash every copy) or --bad
	// NAME (the object a restore or check reported).
	for _, tc := range []struct {
		name           string
		args           []string
		fixesCorrupted bool
	}{
		{"sync", nil, false},
		{"sync-bad", []string{"--bad", corrupted}, true},
		{"sync-verify", []string{"--verify"}, true},
	} {
		t.Run(tc.name, func(t *testing.T) {
			e := e.with(t)
			requireSyncCommand(e)
			// Should a restore or an earlier sync have repaired the
			// copies, they get damaged again.
			damage(t)
			e.mustRun(0, append([]string{"--config", e.Config, "sync"}, tc.args...)...)
			if got, err := os.ReadFile(e.Servers[2].ObjectPath(deleted)); err != nil || !bytes.Equal(got, good[deleted]) {
				t.Errorf("after sync, %s in charlie is not alpha's copy (err %v)", deleted, err)
			}
			if !tc.fixesCorrupted {
				return
			}
			if got, err := os.ReadFile(e.Servers[1].ObjectPath(corrupted)); err != nil || !bytes.Equal(got, good[corrupted]) {
				t.Errorf("after sync, %s in bravo is not alpha's copy (err %v)", corrupted, err)
			}
			e.requireSameObjects(0, 1, 2)
		})
	}
}

// Scenario c: the third region dies during a backup with write quorum 2:
// the backup succeeds and reports the region behind; once the region is
// back, sync completes it, and a restore from that region alone is exact.
func TestS3RegionBehindThenSync(t *testing.T) {
	t.Parallel() // mostly waiting on servers and timeouts; own ports and directories
	ctx := testContext(t, 3*time.Minute)
	e := newS3Env(ctx, t, 2)
	charlie := proxied(t, e, 2, 2)
	e.initRepo()

	// charlie's server dies once it has received 256 KiB of the backup's
	// requests: mid-upload.
	trig := charlie.budget(t, "kill-charlie", "upstream", 256<<10, budgetBlackhole, e.Servers[2].Kill)
	res := e.mustRun(0, "--config", e.Config, "backup", e.Src)
	if !trig.Fired() {
		t.Fatalf("charlie was not killed during the backup (%d bytes sent to it)", trig.Used())
	}
	requireLineMatching(t, res.Output(), `(?i)(charlie.*(behind|sync))|((behind|sync).*charlie)`, "the backup reports charlie behind", res)
	snaps := objects(t, e.Servers[0], "snapshots/")
	if len(snaps) != 1 {
		t.Fatalf("alpha holds %d snapshots, want 1", len(snaps))
	}
	e.requireSameObjects(0, 1)
	if got := objects(t, e.Servers[2], "snapshots/"); len(got) != 0 {
		t.Fatalf("charlie died before the snapshot was written but holds %v", sortedNames(got))
	}

	charlie.remove(t, "kill-charlie")
	e.Servers[2].Restart()
	// Before the sync, a configuration that prefers the region that is
	// behind still sees the snapshot and restores it.
	t.Run("behind-region-preferred", func(t *testing.T) {
		e := e.with(t)
		cfg := charlieFirst(e)
		res := e.mustRun(0, "--config", cfg, "snapshots")
		if !strings.Contains(res.Stdout, "1 snapshots") {
			t.Fatalf("with charlie (behind) preferred: want 1 snapshot listed\n%s", res)
		}
		e.restoreExact(cfg)
	})
	requireSyncCommand(e)
	e.mustRun(0, "--config", e.Config, "sync")
	e.requireSameObjects(0, 2)

	alone := e.writeConfig(0, e.specs([]int{2})...)
	e.restoreExact(alone)
}

// Scenario e: with write quorum 3 and a region down, a backup fails cleanly,
// naming the region or the quorum, and no region holds a snapshot; every
// region alone still passes check (nothing references missing data).
func TestS3QuorumAllFails(t *testing.T) {
	t.Parallel() // mostly waiting on servers and timeouts; own ports and directories
	for _, tc := range []struct {
		name string
		// midway kills charlie after it received this many request bytes
		// of the backup; 0 kills it before the backup starts.
		midway int64
	}{
		{"down-before", 0},
		{"dies-midway", 256 << 10},
	} {
		t.Run(tc.name, func(t *testing.T) {
			ctx := testContext(t, 3*time.Minute)
			e := newS3Env(ctx, t, 3)
			charlie := proxied(t, e, 2, 3)
			e.initRepo()
			var trig *budgetState
			if tc.midway == 0 {
				e.Servers[2].Kill()
			} else {
				trig = charlie.budget(t, "kill-charlie", "upstream", tc.midway, budgetBlackhole, e.Servers[2].Kill)
			}
			res := e.run("--config", e.Config, "backup", e.Src)
			if trig != nil && !trig.Fired() {
				t.Fatalf("charlie was not killed during the backup\n%s", res)
			}
			if res.Code == 0 || res.Code == 3 {
				t.Fatalf("backup with write quorum 3 and charlie dead: want a failure\n%s", res)
			}
			if !regexp.MustCompile(`(?i)charlie|quorum`).MatchString(res.Stderr) {
				t.Fatalf("the failure names neither the region nor the quorum\n%s", res)
			}
			t.Logf("the backup failed as it should:\n%s", res.Stderr)
			if strings.Contains(res.Stdout, "saved") {
				t.Fatalf("a failed backup reports a saved snapshot\n%s", res)
			}
			if trig != nil {
				charlie.remove(t, "kill-charlie")
			}
			e.Servers[2].Restart()
			for i, srv := range e.Servers {
				if snaps := objects(t, srv, "snapshots/"); len(snaps) != 0 {
					t.Errorf("region %s holds snapshots %v after a failed backup", regionNames[i], sortedNames(snaps))
				}
			}
			for i := range e.Servers {
				alone := e.writeConfig(0, e.specs([]int{i})...)
				res := e.run("--config", alone, "check")
				if res.Code != 0 {
					t.Errorf("check of region %s alone after the failed backup: exit %d\n%s", regionNames[i], res.Code, res)
				}
			}
		})
	}
}
