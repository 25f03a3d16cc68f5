package tests

import (
	"bytes"
	"context"
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"github.com/minio/minio-go/v7"
	"github.com/minio/minio-go/v7/pkg/credentials"

	"lifeboat/tests/s3server"
)

// The write-only backup host's account on the test server.
const (
	hostAccessKey = "backup-host"
	hostSecretKey = "backup-host-secret"
)

// appendOnlyBucketPolicy is the bucket policy that gives principal what an
// append-only backup host needs of bucket, and no more: read and list
// everything, write only the objects a backup writes (packs, index
// objects, snapshots, their commit records, its probe) and those of drills
// and checks (drill records, lock generations), and it denies every delete and bucket-level
// change explicitly. It is versitygw's form of the IAM policy the README
// documents for such a host. Without write access to config, keys/,
// tombstones/ and gc/ the host can neither add a key nor forge a deletion
// for a trusted host's sync to apply.
func appendOnlyBucketPolicy(bucket, principal string) string {
	return fmt.Sprintf(`{"Version":"2012-10-17","Statement":[
 {"Sid":"Read","Effect":"Allow","Principal":{"AWS":[%[2]q]},
  "Action":["s3:GetObject","s3:ListBucket","s3:GetBucketLocation"],
  "Resource":["arn:aws:s3:::%[1]s","arn:aws:s3:::%[1]s/*"]},
 {"Sid":"WriteBackups","Effect":"Allow","Principal":{"AWS":[%[2]q]},
  "Action":["s3:PutObject","s3:AbortMultipartUpload"],
  "Resource":["arn:aws:s3:::%[1]s/data/*","arn:aws:s3:::%[1]s/index/*","arn:aws:s3:::%[1]s/snapshots/*",
   "arn:aws:s3:::%[1]s/probe/*","arn:aws:s3:::%[1]s/drills/*","arn:aws:s3:::%[1]s/locks/*",
   "arn:aws:s3:::%[1]s/chain/*"]},
 {"Sid":"NeverDelete","Effect":"Deny","Principal":{"AWS":[%[2]q]},
  "Action":["s3:DeleteObject","s3:DeleteObjectVersion","s3:PutObjectRetention","s3:BypassGovernanceRetention",
   "s3:PutBucket*","s3:DeleteBucket*","s3:PutLifecycleConfiguration"],
  "Resource":["arn:aws:s3:::%[1]s","arn:aws:s3:::%[1]s/*"]}]}`, bucket, principal)
}

func minioClient(t *testing.T, srv *s3server.Server, ak, sk string) *minio.Client {
	t.Helper()
	c, err := minio.New(srv.Endpoint, &minio.Options{Creds: credentials.NewStaticV4(ak, sk, ""), Region: "us-east-1"})
	if err != nil {
		t.Fatal(err)
	}
	return c
}

// keysUnder lists the keys of bucket under prefix (as root).
func keysUnder(ctx context.Context, t *testing.T, c *minio.Client, bucket, prefix string) []string {
	t.Helper()
	var keys []string
	for o := range c.ListObjects(ctx, bucket, minio.ListObjectsOptions{Prefix: prefix, Recursive: true}) {
		if o.Err != nil {
			t.Fatalf("list %s/%s: %v", bucket, prefix, o.Err)
		}
		keys = append(keys, o.Key)
	}
	slices.Sort(keys)
	return keys
}

// hostRequests counts the requests of the backup host's account among
// reqs: all of them, its delete requests (any S3 delete action), and those
// refused with 403.
func hostRequests(reqs []s3server.Request) (all, deletes, denied int) {
	for _, r := range reqs {
		if r.Requester != hostAccessKey {
			continue
		}
		all++
		if strings.Contains(r.Operation, "Delete") {
			deletes++
		}
		if r.Status == 403 {
			denied++
		}
	}
	return all, deletes, denied
}

// A backup host whose credential is really denied deletes (a versitygw
// account restricted by a bucket policy, checked here with a raw
// DeleteObject) backs up, then incrementally, with append_only: true, and
// the server's access log shows that it sent no delete request at all and
// was refused nothing; the trusted host restores and checks the result.
// The same credential without append_only sends deletes (its open's
// probe, its index consolidation) that the server refuses, leaves a probe
// object per open, and its backup fails: the refused deletes count against
// the regions until their breakers open, so the snapshot misses the write
// quorum.
func TestAppendOnlyHostWithDeleteDeniedCredential(t *testing.T) {
	ctx := context.Background()
	srv := s3server.Start(t, s3server.WithBucket("alpha"), s3server.WithIAM(), s3server.WithAccessLog())
	srv.CreateBucket("bravo")
	buckets := []string{"alpha", "bravo"}
	srv.CreateUser(hostAccessKey, hostSecretKey, "user")
	root := minioClient(t, srv, srv.AccessKey, srv.SecretKey)
	for _, b := range buckets {
		if err := root.SetBucketPolicy(ctx, b, appendOnlyBucketPolicy(b, hostAccessKey)); err != nil {
			t.Fatalf("bucket policy of %s: %v", b, err)
		}
	}

	// The credential may write and read, but really may not delete.
	host := minioClient(t, srv, hostAccessKey, hostSecretKey)
	const check = "data/00/denied-check"
	if _, err := host.PutObject(ctx, "alpha", check, bytes.NewReader([]byte("x")), 1, minio.PutObjectOptions{}); err != nil {
		t.Fatalf("put with the host's credential: %v", err)
	}
	for _, name := range []string{"tombstones/snapshots/x", "keys/x", "config"} {
		_, err := host.PutObject(ctx, "alpha", name, bytes.NewReader([]byte("x")), 1, minio.PutObjectOptions{})
		if code := minio.ToErrorResponse(err).Code; code != "AccessDenied" {
			t.Fatalf("put %s with the host's credential: %v, want AccessDenied", name, err)
		}
	}
	err := host.RemoveObject(ctx, "alpha", check, minio.RemoveObjectOptions{})
	if code := minio.ToErrorResponse(err).Code; code != "AccessDenied" {
		t.Fatalf("delete with the host's credential: %v (code %q), want AccessDenied", err, code)
	}
	if err := host.SetBucketPolicy(ctx, "alpha", ""); minio.ToErrorResponse(err).Code != "AccessDenied" {
		t.Fatalf("removing the bucket policy with the host's credential: %v, want AccessDenied", err)
	}
	if _, err := root.StatObject(ctx, "alpha", check, minio.StatObjectOptions{}); err != nil {
		t.Fatalf("the refused delete removed the object: %v", err)
	}
	if err := root.RemoveObject(ctx, "alpha", check, minio.RemoveObjectOptions{}); err != nil {
		t.Fatal(err)
	}

	dir := t.TempDir()
	src := filepath.Join(dir, "src")
	if err := makeTree(src, 12, cliSizes); err != nil {
		t.Fatal(err)
	}
	home := filepath.Join(dir, "home")
	if err := os.MkdirAll(home, 0o700); err != nil {
		t.Fatal(err)
	}
	env := []string{
		"HOME=" + home,
		"XDG_CACHE_HOME=" + filepath.Join(home, ".cache"),
		"XDG_CONFIG_HOME=" + filepath.Join(home, ".config"),
		"LB_ROOT_KEY=" + srv.AccessKey, "LB_ROOT_SECRET=" + srv.SecretKey,
		"LB_HOST_KEY=" + hostAccessKey, "LB_HOST_SECRET=" + hostSecretKey,
	}
	run := func(code int, args ...string) lbResult {
		t.Helper()
		res := runLifeboat(ctx, t, dir, env, append([]string{"--no-cache"}, args...)...)
		if res.Code != code {
			t.Fatalf("want exit code %d\n%s", code, res)
		}
		return res
	}
	config := func(name, keyVar string, appendOnly bool) string {
		t.Helper()
		var b strings.Builder
		b.WriteString("version: 1\n")
		if appendOnly {
			b.WriteString("repository:\n  append_only: true\n")
		}
		b.WriteString("regions:\n")
		for _, bucket := range buckets {
			fmt.Fprintf(&b, "  - name: %s\n    type: s3\n    endpoint: %q\n    bucket: %s\n", bucket, srv.Endpoint, bucket)
			fmt.Fprintf(&b, "    insecure: true\n    path_style: true\n    timeout: %s\n", regionTimeout)
			fmt.Fprintf(&b, "    access_key_env: %s_KEY\n    secret_key_env: %s_SECRET\n", keyVar, keyVar)
		}
		p := filepath.Join(dir, name)
		if err := os.WriteFile(p, []byte(b.String()), 0o644); err != nil {
			t.Fatal(err)
		}
		return p
	}
	trusted := config("trusted.yaml", "LB_ROOT", false)
	appendOnly := config("append-only.yaml", "LB_HOST", true)
	plain := config("plain.yaml", "LB_HOST", false)

	run(0, "key", "generate", "-o", filepath.Join(dir, "id.txt"))
	env = append(env, "LIFEBOAT_IDENTITY="+filepath.Join(dir, "id.txt"))
	run(0, "--config", trusted, "init", "--chunk-avg", "64KiB", "--pack-size", "1MiB")

	// Backups and an incremental with the restricted credential.
	logged := len(srv.Requests())
	first := run(0, "--config", appendOnly, "--json", "backup", src)
	if err := makeTree(filepath.Join(src, "added"), 13, cliSizes); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(src, "changed.txt"), []byte("changed since the first backup"), 0o600); err != nil {
		t.Fatal(err)
	}
	second := run(0, "--config", appendOnly, "--json", "backup", src)
	if !strings.Contains(second.Stdout, `"parent"`) || !strings.Contains(first.Stdout, `"packs_added"`) {
		t.Fatalf("the second backup is not an incremental of the first:\n%s\n%s", first, second)
	}
	run(0, "--config", appendOnly, "snapshots")
	reqs := srv.Requests()[logged:]
	all, deletes, denied := hostRequests(reqs)
	t.Logf("append-only: %d requests by the host's credential, %d deletes, %d refused", all, deletes, denied)
	if all == 0 {
		t.Fatal("the access log shows no request by the host's credential")
	}
	if deletes != 0 || denied != 0 {
		t.Fatalf("append-only backups sent %d delete requests and had %d requests refused, want none", deletes, denied)
	}
	for _, b := range buckets {
		if got := keysUnder(ctx, t, root, b, "probe/"); !slices.Equal(got, []string{"probe/conditional-create-append-only"}) {
			t.Fatalf("probe objects in %s: %v, want the one fixed append-only probe", b, got)
		}
	}
	if n := len(keysUnder(ctx, t, root, "alpha", "index/")); n < 3 {
		t.Fatalf("%d index objects: the one-pack index objects should stay", n)
	}

	// The trusted host restores the incremental and finds nothing wrong.
	target := filepath.Join(dir, "restore")
	run(0, "--config", trusted, "restore", "latest", "--target", target)
	requireSameTree(t, src, filepath.Join(target, src))
	run(0, "--config", trusted, "check")

	// Without append_only the same credential's backup sends deletes,
	// which the server refuses, and leaves its probe objects. Whether it
	// then also fails depends on how the refusals interleave with the
	// successful requests (they count against a region's breaker): when
	// it fails, it must be at the snapshot's quorum.
	logged = len(srv.Requests())
	if err := os.WriteFile(filepath.Join(src, "changed.txt"), []byte("changed again"), 0o600); err != nil {
		t.Fatal(err)
	}
	if err := makeTree(filepath.Join(src, "added-again"), 14, cliSizes); err != nil {
		t.Fatal(err)
	}
	failed := runLifeboat(ctx, t, dir, env, "--no-cache", "--config", plain, "backup", src)
	if failed.Code != 0 && (failed.Code != 1 || !strings.Contains(failed.Stderr, "write quorum not reached")) {
		t.Fatalf("the backup without append_only failed otherwise than at the snapshot's quorum:\n%s", failed)
	}
	_, deletes, denied = hostRequests(srv.Requests()[logged:])
	t.Logf("without append_only: %d delete requests, %d refused", deletes, denied)
	if deletes == 0 || denied < deletes {
		t.Fatalf("without append_only: %d delete requests, %d refused; want deletes, all refused", deletes, denied)
	}
	for _, b := range buckets {
		if got := keysUnder(ctx, t, root, b, "probe/"); len(got) < 2 {
			t.Fatalf("probe objects in %s without append_only: %v, want the refused probe left beside the fixed one", b, got)
		}
	}
}
