package tests

import (
	"fmt"
	"net"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
	"time"

	"lifeboat/tests/s3rver"
)

// The tests of this file check how lifeboat treats regions that answer but
// are misconfigured (wrong credentials, a missing bucket), regions whose
// server ignores conditional creates (s3rver), and regions that hang at
// start: each is reported for what it is, with what to do, and writes that
// cannot reach the quorum fail before anything is uploaded.

// Credentials no server knows, in environment variables of their own.
const (
	badKeyEnv    = "LB_TEST_BAD_KEY"
	badSecretEnv = "LB_TEST_BAD_SECRET"
	s3rverKeyEnv = "LB_TEST_S3RVER_KEY"
	s3rverSecEnv = "LB_TEST_S3RVER_SECRET"
)

// region is one region of a configuration written by writeRegions.
type region struct {
	name, endpoint, bucket string
	keyEnv, secretEnv      string // default accessKeyEnv, secretKeyEnv
	extra                  string // more YAML lines, indented by 4
}

// writeRegions writes a configuration of rs with the given write quorum
// (0: omitted) into e's directory and returns its path.
func writeRegions(e *s3Env, quorum int, rs ...region) string {
	e.t.Helper()
	var b strings.Builder
	b.WriteString("version: 1\nrepository:\n")
	if quorum > 0 {
		fmt.Fprintf(&b, "  write_quorum: %d\n", quorum)
	}
	b.WriteString("regions:\n")
	for _, r := range rs {
		if r.keyEnv == "" {
			r.keyEnv, r.secretEnv = accessKeyEnv, secretKeyEnv
		}
		fmt.Fprintf(&b, "  - name: %s\n    type: s3\n    endpoint: %q\n    bucket: %s\n", r.name, r.endpoint, r.bucket)
		fmt.Fprintf(&b, "    insecure: true\n    path_style: true\n    timeout: %s\n", regionTimeout)
		fmt.Fprintf(&b, "    access_key_env: %s\n    secret_key_env: %s\n", r.keyEnv, r.secretEnv)
		b.WriteString(r.extra)
	}
	p := filepath.Join(e.Dir, fmt.Sprintf("lifeboat-%d.yaml", e.seq()))
	if err := os.WriteFile(p, []byte(b.String()), 0o644); err != nil {
		e.t.Fatal(err)
	}
	return p
}

// good is region i of e as configured normally.
func (e *s3Env) good(i int) region {
	return region{name: regionNames[i], endpoint: e.Endpoints[i], bucket: e.Servers[i].Bucket}
}

// requireMatch fails t unless re matches out.
func requireMatch(t testing.TB, out, re, what string, res lbResult) {
	t.Helper()
	if !regexp.MustCompile(re).MatchString(out) {
		t.Fatalf("%s: no match for %q\n%s", what, re, res)
	}
}

// requireNoMatch fails t if re matches out.
func requireNoMatch(t testing.TB, out, re, what string, res lbResult) {
	t.Helper()
	if regexp.MustCompile(re).MatchString(out) {
		t.Fatalf("%s: unexpected match for %q\n%s", what, re, res)
	}
}

// TestS3RegionMisconfigured: wrong credentials and a missing bucket are
// configuration errors, not outages. A backup that cannot reach its write
// quorum because of them fails before uploading anything, naming each
// region's cause (exit 2); one that can reports the misconfigured region
// with the fix, not "once the region is back"; lifeboat regions names each
// problem once and exits 6; a region set of one misconfigured region fails
// every command with exit 2 and the fix.
func TestS3RegionMisconfigured(t *testing.T) {
	t.Parallel()
	ctx := testContext(t, 3*time.Minute)
	e := newS3Env(ctx, t, 2)
	e.env = append(e.env, badKeyEnv+"=nobody-knows-me", badSecretEnv+"=not-a-secret")
	e.initRepo()

	badCreds := e.good(1)
	badCreds.keyEnv, badCreds.secretEnv = badKeyEnv, badSecretEnv
	noBucket := e.good(2)
	noBucket.bucket = "no-such-bucket"

	t.Run("quorum-unreachable", func(t *testing.T) {
		e := e.with(t)
		cfg := writeRegions(e, 2, e.good(0), badCreds, noBucket)
		res := e.run("--config", cfg, "backup", e.Src)
		if res.Code != 2 {
			t.Fatalf("backup with two misconfigured regions of three, write quorum 2: want exit 2\n%s", res)
		}
		requireMatch(t, res.Stderr, `quorum`, "the failure names the quorum", res)
		requireMatch(t, res.Stderr, `region bravo: .*permission denied.*\$`+badKeyEnv, "the failure names bravo's cause and fix", res)
		requireMatch(t, res.Stderr, `region charlie: .*bucket does not exist.*create bucket "no-such-bucket"`, "the failure names charlie's cause and fix", res)
		requireNoMatch(t, res.Output(), `no region available`, "the failure blames availability", res)
		if strings.Contains(res.Stdout, "saved") {
			t.Fatalf("a failed backup reports a saved snapshot\n%s", res)
		}
		if packs := objects(t, e.Servers[0], "data/"); len(packs) != 0 {
			t.Fatalf("the backup uploaded %d pack(s) to alpha before failing; want none", len(packs))
		}
	})

	t.Run("one-misconfigured", func(t *testing.T) {
		e := e.with(t)
		cfg := writeRegions(e, 2, e.good(0), badCreds, e.good(2))
		res := e.mustRun(0, "--config", cfg, "backup", e.Src)
		requireMatch(t, res.Stderr, `region bravo is misconfigured.*permission denied.*fix: check the credentials in \$`+badKeyEnv+` and \$`+badSecretEnv, "the warning says what is wrong and how to fix it", res)
		requireNoMatch(t, res.Stderr, `treating the region as down|once the region is back`, "a misconfigured region is reported as down", res)
		requireMatch(t, res.Stderr, `bravo are misconfigured, not down.*fix the configuration, then run 'lifeboat sync'`, "the hint", res)

		res = e.mustRun(6, "--config", cfg, "regions")
		requireMatch(t, res.Stderr, `(?m)^region bravo: misconfigured \(not an outage\): .*permission denied.*\$`+badKeyEnv, "regions names the problem and the fix", res)
		requireNoMatch(t, res.Stderr, `region bravo: region bravo`, "regions doubles the region's name", res)
		if n := len(regexp.MustCompile(`(?m)^.*bravo.*$`).FindAllString(res.Stderr, -1)); n != 1 {
			t.Fatalf("regions reports bravo's problem on %d lines, want one\n%s", n, res)
		}
		requireMatch(t, res.Stdout, `(?m)^bravo +s3 +no +- +unknown +- `, "regions shows bravo unreachable", res)
		requireMatch(t, res.Stdout, `(?m)^alpha +s3 +yes .* ok +yes `, "regions shows alpha fine, with conditional creates", res)

		// Once all three are configured correctly again and synced, regions
		// is content.
		e.mustRun(0, "--config", e.Config, "sync")
		res = e.mustRun(0, "--config", e.Config, "regions")
		requireNoMatch(t, res.Stderr, `region `, "regions reports a problem with healthy regions", res)
	})

	t.Run("behind", func(t *testing.T) {
		e := e.with(t)
		// A backup while charlie is left out; then regions with all three
		// sees charlie behind.
		e.mustRun(0, "--config", writeRegions(e, 2, e.good(0), e.good(1)), "backup", e.Src)
		res := e.mustRun(6, "--config", e.Config, "regions")
		requireMatch(t, res.Stderr, `(?m)^region charlie: behind: it lacks 1 snapshot\(s\)`, "regions reports charlie behind", res)
		e.mustRun(0, "--config", e.Config, "sync")
		e.mustRun(0, "--config", e.Config, "regions")
	})

	t.Run("only-region", func(t *testing.T) {
		e := e.with(t)
		for _, tc := range []struct {
			r   region
			fix string
		}{
			{badCreds, `fix: check the credentials in \$` + badKeyEnv},
			{noBucket, `fix: create bucket "no-such-bucket" on 127\.0\.0\.1:[0-9]+, or fix .bucket:. of region charlie`},
		} {
			res := e.run("--config", writeRegions(e, 0, tc.r), "snapshots")
			if res.Code != 2 {
				t.Fatalf("snapshots with the only region misconfigured: want exit 2\n%s", res)
			}
			requireMatch(t, res.Stderr, tc.fix, "the error names the fix", res)
		}
	})
}

// TestS3NoConditionalCreate runs against s3rver, which ignores
// If-None-Match: init refuses the region (nothing is written), regions
// reports it and exits 6, and unsafe_no_conditional_create lets both
// through.
func TestS3NoConditionalCreate(t *testing.T) {
	t.Parallel()
	ctx := testContext(t, 3*time.Minute)
	e := newS3Env(ctx, t, 0)
	srv := s3rver.Start(t)
	e.env = append(e.env, s3rverKeyEnv+"="+srv.AccessKey, s3rverSecEnv+"="+srv.SecretKey)
	lax := region{name: "lax", endpoint: srv.Endpoint, bucket: srv.Bucket, keyEnv: s3rverKeyEnv, secretEnv: s3rverSecEnv}

	cfg := writeRegions(e, 0, e.good(0), lax)
	res := e.run("--config", cfg, "init")
	if res.Code != 2 {
		t.Fatalf("init with a region that ignores conditional creates: want exit 2\n%s", res)
	}
	requireMatch(t, res.Stderr, `region lax: the S3 server ignores conditional creates.*unsafe_no_conditional_create: true`, "init says why and how to accept it", res)
	requireNoMatch(t, res.Stderr, `region alpha`, "init blames alpha", res)
	if got := objects(t, e.Servers[0], ""); len(got) != 0 {
		t.Fatalf("the refused init wrote %v to alpha", sortedNames(got))
	}
	res = e.mustRun(6, "--config", cfg, "regions")
	requireMatch(t, res.Stdout, `(?m)^lax +s3 +yes .* no +[0-9]+ `, "regions shows lax without conditional creates", res)
	requireMatch(t, res.Stdout, `(?m)^alpha +s3 +yes .* yes +[0-9]+ `, "regions shows alpha with conditional creates", res)
	requireMatch(t, res.Stderr, `(?m)^region lax: the S3 server ignores conditional creates`, "regions names the problem", res)
	res = e.mustRun(6, "--config", cfg, "--json", "regions")
	requireMatch(t, res.Stdout, `"name":"lax",.*"conditional_create":"no","problem":"the S3 server ignores`, "regions --json", res)

	accepted := lax
	accepted.extra = "    unsafe_no_conditional_create: true\n"
	cfg = writeRegions(e, 0, e.good(0), accepted)
	e.mustRun(0, "--config", cfg, "init", "--chunk-avg", "64KiB", "--pack-size", "1MiB")
	e.mustRun(0, "--config", cfg, "backup", e.Src)
	res = e.mustRun(0, "--config", cfg, "regions")
	requireMatch(t, res.Stdout, `(?m)^lax +s3 +yes .* ok +unsafe +[0-9]+ `, "regions shows the accepted region as unsafe", res)
}

// TestS3RegionHungAtStart: a region that accepts connections but never
// answers costs its open_timeout at start, then counts as down (an
// outage, not a configuration error), and the others serve the command.
func TestS3RegionHungAtStart(t *testing.T) {
	t.Parallel()
	ctx := testContext(t, 3*time.Minute)
	e := newS3Env(ctx, t, 1)
	e.initRepo()
	e.mustRun(0, "--config", e.Config, "backup", e.Src)

	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer l.Close()
	go func() {
		var held []net.Conn
		defer func() {
			for _, c := range held {
				c.Close()
			}
		}()
		for {
			c, err := l.Accept()
			if err != nil {
				return
			}
			held = append(held, c) // never answered
		}
	}()
	hung := e.good(1)
	hung.endpoint = l.Addr().String()
	hung.extra = "    open_timeout: 1s\n"
	cfg := writeRegions(e, 1, e.good(0), hung, e.good(2))
	res := e.mustRun(0, "--config", cfg, "snapshots")
	requireMatch(t, res.Stdout, `1 snapshots`, "the others serve the listing", res)
	requireMatch(t, res.Stderr, `region bravo: no answer within 1s \(open_timeout\).*treating the region as down`, "the hung region is down", res)
	requireNoMatch(t, res.Stderr, `misconfigured`, "a hung region is called misconfigured", res)
	res = e.mustRun(6, "--config", cfg, "regions")
	requireMatch(t, res.Stderr, `(?m)^region bravo: unreachable: no answer within 1s`, "regions reports the hung region unreachable", res)
}

// TestS3InitTwice: a second init with another identity over an existing
// repository fails (exit 1) and leaves no key behind: the second
// identity then fails with exit 12 (wrong key), and the first still opens.
func TestS3InitTwice(t *testing.T) {
	t.Parallel()
	ctx := testContext(t, 3*time.Minute)
	e := newS3Env(ctx, t, 0)
	e.initRepo()
	other := filepath.Join(e.Dir, "other-identity.txt")
	e.mustRun(0, "key", "generate", "-o", other)
	e.mustRun(1, "--config", e.Config, "--identity", other, "init")
	for i, srv := range e.Servers {
		if keys := objects(t, srv, "keys/"); len(keys) != 1 {
			t.Fatalf("region %s holds %d keys after the second init, want 1", regionNames[i], len(keys))
		}
	}
	e.mustRun(12, "--config", e.Config, "--identity", other, "snapshots")
	e.mustRun(0, "--config", e.Config, "snapshots")
}
