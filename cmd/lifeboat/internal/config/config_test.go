package config

import (
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"reflect"
	"slices"
	"strings"
	"testing"
	"time"
)

// fakeHome makes "~" expand to /home/tester.
var fakeHome = Parser{HomeDir: func() (string, error) { return "/home/tester", nil }}

// hdr is a valid prefix: lines 1-9. Cases append from line 10 on.
const hdr = `version: 1
regions:
  - name: home
    type: local
    path: /srv/home
  - name: eu
    type: s3
    endpoint: 127.0.0.1:9000
    bucket: lifeboat
`

func TestParseMalformed(t *testing.T) {
	tests := []struct {
		name  string
		yaml  string
		line  int
		field string
		msg   string // fragment of Error.Msg
	}{
		{"missing version", "regions:\n  - {name: a, type: local, path: /x}\n", 1, "version", "required"},
		{"version 2", "version: 2\nregions:\n  - {name: a, type: local, path: /x}\n", 1, "version", "unsupported version 2"},
		{"version not a number", "regions:\n  - {name: a, type: local, path: /x}\nversion: one\n", 3, "version", "expected an integer"},
		{"unknown top-level key", hdr + "regoins: []\n", 10, "regoins", `unknown field "regoins"`},
		{"unknown region key", hdr + "    bukket: x\n", 10, "regions[1].bukket", `unknown field "bukket"`},
		{"duplicate key", hdr + "    bucket: other\n", 10, "regions[1].bucket", "duplicate key"},
		{"s3 key on local region", "version: 1\nregions:\n  - name: home\n    type: local\n    path: /srv\n    bucket: b\n", 6, "regions[0].bucket", "not valid for a local region"},
		{"local key on s3 region", hdr + "    path: /srv/eu\n", 10, "regions[1].path", "not valid for a s3 region"},
		{"missing local path", "version: 1\nregions:\n  - name: home\n    type: local\n", 3, "regions[0].path", "required for a local region"},
		{"missing bucket", "version: 1\nregions:\n  - name: eu\n    type: s3\n    endpoint: h:9000\n", 3, "regions[0].bucket", "required"},
		{"missing endpoint", "version: 1\nregions:\n  - name: eu\n    type: s3\n    bucket: abc\n", 3, "regions[0].endpoint", "required"},
		{"unknown region type", "version: 1\nregions:\n  - name: x\n    type: ftp\n", 4, "regions[0].type", `unknown region type "ftp"`},
		{"missing region type", "version: 1\nregions:\n  - name: x\n    path: /x\n", 3, "regions[0].type", "required"},
		{"duplicate region name", hdr + "  - name: home\n    type: local\n    path: /b\n", 10, "regions[2].name", `duplicate region name "home"`},
		{"bad region name", "version: 1\nregions:\n  - name: Home\n    type: local\n    path: /x\n", 3, "regions[0].name", "invalid name"},
		{"no regions", "version: 1\nregions: []\n", 2, "regions", "at least one region"},
		{"regions not a list", "version: 1\nregions:\n  home: {}\n", 2, "regions", "expected a list, got a mapping"},
		{"null region", "version: 1\nregions:\n  - ~\n", 3, "regions[0]", "got null"},
		{"negative priority", hdr + "    priority: -1\n", 10, "regions[1].priority", "negative"},
		{"endpoint with scheme", strings.Replace(hdr, "127.0.0.1:9000", "http://127.0.0.1:9000", 1), 8, "regions[1].endpoint", "without a scheme"},
		{"endpoint bad port", strings.Replace(hdr, "127.0.0.1:9000", "127.0.0.1:99999", 1), 8, "regions[1].endpoint", "bad port"},
		{"bad bucket", strings.Replace(hdr, "bucket: lifeboat", "bucket: Life_Boat", 1), 9, "regions[1].bucket", "invalid bucket name"},
		{"bad prefix", hdr + "    prefix: a/../b\n", 10, "regions[1].prefix", "invalid prefix"},
		{"timeout without unit", hdr + "    timeout: 30\n", 10, "regions[1].timeout", "missing unit"},
		{"timeout zero", hdr + "    timeout: 0s\n", 10, "regions[1].timeout", "must be positive"},
		{"open timeout zero", hdr + "    open_timeout: 0s\n", 10, "regions[1].open_timeout", "must be positive"},
		{"two credential sources", hdr + "    access_key_env: K\n    secret_key_env: S\n    credentials_file: /c\n", 12, "regions[1].credentials_file", "only one of"},
		{"half a key pair", hdr + "    access_key_env: K\n", 6, "regions[1].secret_key_env", "required when access_key_env is set"},
		{"bad env name", hdr + "    access_key_env: 1K\n    secret_key_env: S\n", 10, "regions[1].access_key_env", "invalid environment variable name"},
		{"bad storage class", hdr + "    storage_class: standard\n", 10, "regions[1].storage_class", "invalid storage class"},
		{"insecure not bool", hdr + "    insecure: maybe\n", 10, "regions[1].insecure", "expected a boolean"},
		{"write quorum too high", hdr + "repository:\n  write_quorum: 3\n", 11, "repository.write_quorum", "out of range 1..2"},
		{"write quorum zero", hdr + "repository:\n  write_quorum: 0\n", 11, "repository.write_quorum", "out of range"},
		{"unknown compression", hdr + "repository:\n  compression: ultra\n", 11, "repository.compression", `unknown compression "ultra"`},
		{"bad pack size unit", hdr + "repository:\n  pack_size: 12QB\n", 11, "repository.pack_size", "invalid size"},
		{"pack size out of range", hdr + "repository:\n  pack_size: 1KiB\n", 11, "repository.pack_size", "out of range"},
		{"tilde user", hdr + "repository:\n  identity: ~bob/id\n", 11, "repository.identity", "only ~ and ~/"},
		{"source without paths", hdr + "sources:\n  - name: s\n", 11, "sources[0].paths", "at least one path"},
		{"source empty schedule", hdr + "sources:\n  - name: s\n    paths: [/a]\n    schedule: \"\"\n", 13, "sources[0].schedule", "must not be empty"},
		{"source bad exclude", hdr + "sources:\n  - name: s\n    paths: [/a]\n    exclude: [\"[x\"]\n", 13, "sources[0].exclude[0]", "invalid pattern"},
		{"source bad tag", hdr + "sources:\n  - name: s\n    paths: [/a]\n    tags:\n      - ok\n      - \"a b\"\n", 15, "sources[0].tags[1]", "invalid tag"},
		{"keep empty mapping", hdr + "sources:\n  - name: s\n    paths: [/a]\n    keep: {}\n", 13, "sources[0].keep", "an empty policy would remove everything"},
		{"keep null", hdr + "sources:\n  - name: s\n    paths: [/a]\n    keep:\n", 13, "sources[0].keep", "an empty policy would remove everything"},
		{"keep bad duration", hdr + "sources:\n  - name: s\n    paths: [/a]\n    keep:\n      last: 2\n      within: 30x\n", 15, "sources[0].keep.within", "unknown unit"},
		{"keep zero count", hdr + "sources:\n  - name: s\n    paths: [/a]\n    keep:\n      last: 0\n", 14, "sources[0].keep.last", "must not be zero"},
		{"keep negative count", hdr + "sources:\n  - name: s\n    paths: [/a]\n    keep:\n      daily: -3\n", 14, "sources[0].keep.daily", "invalid"},
		{"keep duplicate key", hdr + "sources:\n  - name: s\n    paths: [/a]\n    keep:\n      last: 2\n      last: 3\n", 15, "sources[0].keep.last", "duplicate key"},
		{"keep unknown key", hdr + "sources:\n  - name: s\n    paths: [/a]\n    keep:\n      lats: 2\n", 14, "sources[0].keep.lats", `unknown field "lats"`},
		{"keep empty tag list", hdr + "sources:\n  - name: s\n    paths: [/a]\n    keep:\n      tags: [\"\"]\n", 14, "sources[0].keep.tags[0]", "must not be empty"},
		{"retention zone unknown", hdr + "repository:\n  retention_zone: Mars/Olympus\n", 11, "repository.retention_zone", `unknown time zone "Mars/Olympus"`},
		{"retention zone local", hdr + "repository:\n  retention_zone: Local\n", 11, "repository.retention_zone", "not an IANA time zone name"},
		{"retention zone empty", hdr + "repository:\n  retention_zone: \"\"\n", 11, "repository.retention_zone", "must not be empty"},
		{"duplicate source", hdr + "sources:\n  - {name: s, paths: [/a]}\n  - {name: s, paths: [/b]}\n", 12, "sources[1].name", "duplicate source name"},
		{"drill unknown source", hdr + "drills:\n  - name: d\n    source: nope\n", 12, "drills[0].source", `unknown source "nope"`},
		{"drill unknown region", hdr + "drills:\n  - name: d\n    lose: [home, mars]\n", 12, "drills[0].lose[1]", `unknown region "mars"`},
		{"drill loses all", hdr + "drills:\n  - name: d\n    lose: [home, eu]\n", 12, "drills[0].lose", "cannot lose every region"},
		{"drill lose and only", hdr + "drills:\n  - name: d\n    lose: [eu]\n    only: [home]\n", 13, "drills[0].only", "cannot be combined"},
		{"drill sample zero", hdr + "drills:\n  - name: d\n    sample: 0%\n", 12, "drills[0].sample", "greater than 0%"},
		{"drill sample too big", hdr + "drills:\n  - name: d\n    sample: 150%\n", 12, "drills[0].sample", "out of range"},
		{"drill bad rto", hdr + "drills:\n  - name: d\n    rto: 7x\n", 12, "drills[0].rto", "invalid duration"},
		{"drill negative rpo", hdr + "drills:\n  - name: d\n    rpo: -1h\n", 12, "drills[0].rpo", "unsigned"},
		{"sync without schedule", hdr + "jobs:\n  sync: {}\n", 11, "jobs.sync.schedule", "required"},
		{"keep on an append-only host", hdr + "repository:\n  append_only: true\nsources:\n  - name: s\n    paths: [/a]\n    keep: {last: 2}\n", 15, "sources[0].keep", "append-only"},
		{"sync on an append-only host", hdr + "repository:\n  append_only: true\njobs:\n  sync: {schedule: \"@daily\"}\n", 13, "jobs.sync", "append-only"},
		{"append_only not bool", hdr + "    append_only: maybe\n", 10, "regions[1].append_only", "expected a boolean"},
		{"prune without schedule", hdr + "jobs:\n  prune: {grace: 1h}\n", 11, "jobs.prune.schedule", "required"},
		{"prune on an append-only host", hdr + "repository:\n  append_only: true\njobs:\n  prune: {schedule: \"@daily\"}\n", 13, "jobs.prune", "append-only"},
		{"prune bad grace", hdr + "jobs:\n  prune:\n    schedule: \"@daily\"\n    grace: soon\n", 13, "jobs.prune.grace", "invalid duration"},
		{"prune negative grace", hdr + "jobs:\n  prune:\n    schedule: \"@daily\"\n    grace: -1h\n", 13, "jobs.prune.grace", "unsigned"},
		{"prune grace zero", hdr + "jobs:\n  prune:\n    schedule: \"@daily\"\n    grace: 0s\n", 13, "jobs.prune.grace", "at least 1s"},
		{"prune bad min_pack_age", hdr + "jobs:\n  prune:\n    schedule: \"@daily\"\n    min_pack_age: 1y\n", 13, "jobs.prune.min_pack_age", "invalid duration"},
		{"prune max_unused too big", hdr + "jobs:\n  prune:\n    schedule: \"@daily\"\n    max_unused: 120%\n", 13, "jobs.prune.max_unused", "out of range"},
		{"prune bad max_repack_size", hdr + "jobs:\n  prune:\n    schedule: \"@daily\"\n    max_repack_size: lots\n", 13, "jobs.prune.max_repack_size", "invalid size"},
		{"prune unknown key", hdr + "jobs:\n  prune:\n    schedule: \"@daily\"\n    gracefully: 1h\n", 13, "jobs.prune.gracefully", "unknown field"},
		{"bad read_data_subset", hdr + "jobs:\n  check:\n    schedule: \"@daily\"\n    read_data_subset: lots\n", 13, "jobs.check.read_data_subset", "invalid percentage"},
		{"bad listen", hdr + "daemon:\n  listen: \"9464\"\n", 11, "daemon.listen", "want host:port"},
		{"bad log format", hdr + "daemon:\n  log_format: xml\n", 11, "daemon.log_format", `unknown log format "xml"`},
		{"bad webhook url", hdr + "daemon:\n  webhook:\n    url: ftp://x/y\n", 12, "daemon.webhook.url", "invalid URL"},
		{"webhook retries negative", hdr + "daemon:\n  webhook: {url: \"http://h/\", retries: -1}\n", 11, "daemon.webhook.retries", "out of range"},
		{"unknown key through merge", "version: 1\nx-d: &d {bukket: b}\nregions:\n  - name: eu\n    type: s3\n    <<: *d\n", 6, "regions[0].bukket", "unknown field"},
		{"syntax error", hdr + "daemon: [unclosed\n", 10, "", "invalid YAML"},
		{"top level list", "- a\n- b\n", 1, "", "expected a mapping, got a list"},
		{"two documents", hdr + "---\nversion: 1\n", 11, "", "single YAML document"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, err := fakeHome.Parse("lifeboat.yaml", []byte(tt.yaml))
			if err == nil {
				t.Fatalf("Parse succeeded, want error at line %d field %q", tt.line, tt.field)
			}
			var e *Error
			if !errors.As(err, &e) {
				t.Fatalf("error %v (%T) is not a *config.Error", err, err)
			}
			if e.File != "lifeboat.yaml" || e.Line != tt.line || e.Field != tt.field {
				t.Errorf("got %s:%d field %q, want lifeboat.yaml:%d field %q (%v)", e.File, e.Line, e.Field, tt.line, tt.field, err)
			}
			if !strings.Contains(e.Msg, tt.msg) {
				t.Errorf("message %q does not mention %q", e.Msg, tt.msg)
			}
			prefix := fmt.Sprintf("lifeboat.yaml:%d: ", tt.line)
			if tt.field != "" {
				prefix += tt.field + ": "
			}
			if !strings.HasPrefix(err.Error(), prefix) {
				t.Errorf("error text %q does not start with %q", err.Error(), prefix)
			}
		})
	}
}

func TestParseReportsAllProblemsSorted(t *testing.T) {
	src := hdr + "repository:\n  compression: ultra\ndaemon:\n  log_format: xml\n"
	_, err := fakeHome.Parse("c.yaml", []byte("version: 3\n"+strings.TrimPrefix(src, "version: 1\n")))
	var list ErrorList
	if !errors.As(err, &list) {
		t.Fatalf("error %v is not an ErrorList", err)
	}
	var got []string
	for _, e := range list {
		got = append(got, fmt.Sprintf("%d %s", e.Line, e.Field))
	}
	want := []string{"1 version", "11 repository.compression", "13 daemon.log_format"}
	if !reflect.DeepEqual(got, want) {
		t.Errorf("problems %q, want %q", got, want)
	}
	if n := strings.Count(err.Error(), "\n"); n != 2 {
		t.Errorf("error text has %d newlines, want 2: %q", n, err.Error())
	}
}

const fullYAML = `version: 1
x-s3: &s3
  insecure: true
  timeout: 1m
repository:
  identity: ~/.config/lifeboat/identity.txt
  passphrase_file: secrets/pass
  cache_dir: /var/cache/lifeboat
  write_quorum: 2
  compression: best
  pack_size: 32MiB
regions:
  - name: home
    type: local
    path: /srv/backup/home
    priority: 5
  - name: eu
    type: s3
    <<: *s3
    endpoint: 127.0.0.1:9000
    bucket: lifeboat
    prefix: /team-a/
    region: us-east-1
    path_style: false
    storage_class: STANDARD_IA
    access_key_env: LB_EU_KEY
    secret_key_env: LB_EU_SECRET
    open_timeout: 2s
    unsafe_no_conditional_create: true
  - name: us
    type: s3
    endpoint: "[::1]:9001"
    bucket: lb.us
    credentials_file: ../creds
sources:
  - name: home
    paths: [/home, ~/work]
    exclude: ["*.tmp", "**/node_modules"]
    exclude_file: home.exclude
    one_file_system: true
    tags: [nightly, "kind:home"]
    host: myhost
    schedule: "0 2 * * *"
drills:
  - name: weekly
    source: home
    lose: [eu]
    only: []
    sample: full
    rto: 30m
    rpo: 7d
    schedule: "@weekly"
  - name: partial
    snapshot: 1a2b3c
    only: [us, home]
    sample: 2.5
    ransomware: true
jobs:
  sync: { schedule: "@hourly" }
  check: { schedule: "@daily", read_data_subset: 5% }
  prune: { schedule: "@daily", min_pack_age: 0s, max_repack_size: 10GiB }
daemon:
  listen: 127.0.0.1:9464
  log_format: json
  catch_up: true
  jitter: 30s
  job_timeout: 6h
  webhook: { url: "http://127.0.0.1:8080/hook", on_success: true }
`

func fullWant(dir string) *Config {
	f := false
	return &Config{
		File:    filepath.Join(dir, "lifeboat.yaml"),
		Dir:     dir,
		Version: 1,
		Repository: Repository{
			Identity:       "/home/tester/.config/lifeboat/identity.txt",
			PassphraseFile: filepath.Join(dir, "secrets/pass"),
			CacheDir:       "/var/cache/lifeboat",
			WriteQuorum:    2,
			Compression:    CompressionBest,
			PackSize:       32 << 20,
		},
		Regions: []Region{
			{Name: "home", Type: TypeLocal, Priority: 5, Path: "/srv/backup/home"},
			{Name: "eu", Type: TypeS3, Priority: 2, S3: &S3{
				Endpoint: "127.0.0.1:9000", Bucket: "lifeboat", Prefix: "team-a", Region: "us-east-1",
				Insecure: true, PathStyle: &f, StorageClass: "STANDARD_IA",
				AccessKeyEnv: "LB_EU_KEY", SecretKeyEnv: "LB_EU_SECRET", Timeout: Duration(60e9),
				OpenTimeout: Duration(2e9), UnsafeNoConditionalCreate: true,
			}},
			{Name: "us", Type: TypeS3, Priority: 3, S3: &S3{
				Endpoint: "[::1]:9001", Bucket: "lb.us", CredentialsFile: filepath.Join(filepath.Dir(dir), "creds"),
				Timeout: DefaultS3Timeout, OpenTimeout: DefaultS3OpenTimeout,
			}},
		},
		Sources: []Source{{
			Name: "home", Paths: []string{"/home", "/home/tester/work"},
			Exclude: []string{"*.tmp", "**/node_modules"}, ExcludeFile: filepath.Join(dir, "home.exclude"),
			OneFileSystem: true, Tags: []string{"nightly", "kind:home"}, Host: "myhost", Schedule: "0 2 * * *",
		}},
		Drills: []Drill{
			{Name: "weekly", Source: "home", Snapshot: "latest", Lose: []string{"eu"}, Sample: 100,
				RTO: Duration(30 * 60e9), RPO: Duration(7 * 24 * 3600e9), Schedule: "@weekly"},
			{Name: "partial", Snapshot: "1a2b3c", Only: []string{"us", "home"}, Sample: 2.5, Ransomware: true},
		},
		Jobs: Jobs{
			Sync:  &SyncJob{Schedule: "@hourly"},
			Check: &CheckJob{Schedule: "@daily", ReadDataSubset: 5},
			// grace and max_unused default; min_pack_age 0 stays 0.
			Prune: &PruneJob{Schedule: "@daily", Grace: DefaultPruneGrace, MinPackAge: 0,
				MaxUnused: DefaultPruneMaxUnused, MaxRepackSize: 10 << 30},
		},
		Daemon: Daemon{
			Listen: "127.0.0.1:9464", LogFormat: LogJSON, CatchUp: true,
			Jitter: Duration(30e9), JobTimeout: Duration(6 * 3600e9),
			Webhook: &Webhook{URL: "http://127.0.0.1:8080/hook", OnSuccess: true, Retries: DefaultWebhookRetries},
		},
	}
}

func TestParseFullRoundTrip(t *testing.T) {
	dir := t.TempDir()
	name := filepath.Join(dir, "lifeboat.yaml")
	if err := os.WriteFile(name, []byte(fullYAML), 0o600); err != nil {
		t.Fatal(err)
	}
	cfg, err := fakeHome.Load(name)
	if err != nil {
		t.Fatalf("Load: %v", err)
	}
	want := fullWant(dir)
	if !reflect.DeepEqual(cfg, want) {
		t.Fatalf("Load mismatch\n got %s\nwant %s", dump(cfg), dump(want))
	}

	out, err := cfg.Marshal()
	if err != nil {
		t.Fatalf("Marshal: %v", err)
	}
	again, err := fakeHome.Parse(name, out)
	if err != nil {
		t.Fatalf("Parse(Marshal()): %v\n%s", err, out)
	}
	if !reflect.DeepEqual(again, want) {
		t.Fatalf("round trip mismatch\n got %s\nwant %s\nyaml:\n%s", dump(again), dump(want), out)
	}
}

// dump formats a Config with its pointers followed.
func dump(c *Config) string {
	var b strings.Builder
	fmt.Fprintf(&b, "%+v", *c)
	for _, r := range c.Regions {
		if r.S3 != nil {
			fmt.Fprintf(&b, "\n  %s: %+v", r.Name, *r.S3)
		}
	}
	if c.Jobs.Sync != nil {
		fmt.Fprintf(&b, "\n  sync: %+v", *c.Jobs.Sync)
	}
	if c.Jobs.Check != nil {
		fmt.Fprintf(&b, "\n  check: %+v", *c.Jobs.Check)
	}
	if c.Daemon.Webhook != nil {
		fmt.Fprintf(&b, "\n  webhook: %+v", *c.Daemon.Webhook)
	}
	return b.String()
}

func TestDefaults(t *testing.T) {
	src := hdr + "daemon:\n  webhook: {url: \"https://h/x\"}\ndrills:\n  - name: d\njobs:\n  check: {schedule: \"@daily\"}\n"
	cfg, err := fakeHome.Parse("/etc/lifeboat/lifeboat.yaml", []byte(src))
	if err != nil {
		t.Fatal(err)
	}
	checks := []struct {
		name      string
		got, want any
	}{
		{"write quorum", cfg.Repository.WriteQuorum, 2},
		{"compression", cfg.Repository.Compression, CompressionAuto},
		{"pack size", cfg.Repository.PackSize, Size(0)},
		{"priority 0", cfg.Regions[0].Priority, 1},
		{"priority 1", cfg.Regions[1].Priority, 2},
		{"local has no s3", cfg.Regions[0].S3 == nil, true},
		{"s3 timeout", cfg.Regions[1].S3.Timeout, DefaultS3Timeout},
		{"s3 open timeout", cfg.Regions[1].S3.OpenTimeout, DefaultS3OpenTimeout},
		{"s3 conditional create required", cfg.Regions[1].S3.UnsafeNoConditionalCreate, false},
		{"s3 path style", cfg.Regions[1].S3.PathStyle == nil, true},
		{"s3 insecure", cfg.Regions[1].S3.Insecure, false},
		{"log format", cfg.Daemon.LogFormat, LogText},
		{"webhook retries", cfg.Daemon.Webhook.Retries, DefaultWebhookRetries},
		{"drill snapshot", cfg.Drills[0].Snapshot, LatestSnapshot},
		{"drill sample", cfg.Drills[0].Sample, Percent(100)},
		{"check subset", cfg.Jobs.Check.ReadDataSubset, Percent(0)},
		{"sync", cfg.Jobs.Sync == nil, true},
		{"dir", cfg.Dir, "/etc/lifeboat"},
		{"warnings", len(cfg.Warnings), 0},
	}
	for _, c := range checks {
		if !reflect.DeepEqual(c.got, c.want) {
			t.Errorf("%s = %v, want %v", c.name, c.got, c.want)
		}
	}
}

func TestRelativePathResolution(t *testing.T) {
	dir := filepath.Join(t.TempDir(), "conf")
	if err := os.Mkdir(dir, 0o700); err != nil {
		t.Fatal(err)
	}
	src := `version: 1
repository:
  identity: ./keys/id.txt
  cache_dir: "~"
regions:
  - {name: a, type: local, path: data}
  - {name: b, type: local, path: ../elsewhere/./repo/}
  - {name: c, type: local, path: ~/backups}
  - {name: d, type: local, path: /abs//path}
sources:
  - {name: s, paths: [src, ~/docs], exclude_file: ex.txt}
`
	name := filepath.Join(dir, "lifeboat.yaml")
	if err := os.WriteFile(name, []byte(src), 0o600); err != nil {
		t.Fatal(err)
	}
	cfg, err := fakeHome.Load(name)
	if err != nil {
		t.Fatal(err)
	}
	tests := []struct{ name, got, want string }{
		{"identity", cfg.Repository.Identity, filepath.Join(dir, "keys/id.txt")},
		{"cache_dir", cfg.Repository.CacheDir, "/home/tester"},
		{"relative", cfg.Region("a").Path, filepath.Join(dir, "data")},
		{"parent", cfg.Region("b").Path, filepath.Join(filepath.Dir(dir), "elsewhere/repo")},
		{"home", cfg.Region("c").Path, "/home/tester/backups"},
		{"absolute", cfg.Region("d").Path, "/abs/path"},
		{"source path", cfg.Sources[0].Paths[0], filepath.Join(dir, "src")},
		{"source home", cfg.Sources[0].Paths[1], "/home/tester/docs"},
		{"exclude file", cfg.Sources[0].ExcludeFile, filepath.Join(dir, "ex.txt")},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if tt.got != tt.want {
				t.Errorf("got %q, want %q", tt.got, tt.want)
			}
		})
	}

	t.Run("relative config name", func(t *testing.T) {
		cfg, err := fakeHome.Parse("sub/lifeboat.yaml", []byte("version: 1\nregions: [{name: a, type: local, path: data}]\n"))
		if err != nil {
			t.Fatal(err)
		}
		wd, err := os.Getwd()
		if err != nil {
			t.Fatal(err)
		}
		if want := filepath.Join(wd, "sub", "data"); cfg.Regions[0].Path != want {
			t.Errorf("path %q, want %q", cfg.Regions[0].Path, want)
		}
	})

	t.Run("home dir failure", func(t *testing.T) {
		boom := errors.New("no home")
		p := Parser{HomeDir: func() (string, error) { return "", boom }}
		_, err := p.Parse("l.yaml", []byte("version: 1\nregions:\n  - name: a\n    type: local\n    path: ~/x\n"))
		var e *Error
		if !errors.As(err, &e) || e.Line != 5 || e.Field != "regions[0].path" || !strings.Contains(e.Msg, "no home") {
			t.Fatalf("got %v, want regions[0].path error at line 5 mentioning the cause", err)
		}
	})
	t.Run("home dir not called without tilde", func(t *testing.T) {
		p := Parser{HomeDir: func() (string, error) { t.Error("HomeDir called"); return "", nil }}
		if _, err := p.Parse("/l.yaml", []byte("version: 1\nregions: [{name: a, type: local, path: x}]\n")); err != nil {
			t.Fatal(err)
		}
	})
}

func TestInlineSecretsWarn(t *testing.T) {
	src := hdr + "    access_key: AKIAEXAMPLE\n    secret_key: s3cr3t\n"
	cfg, err := fakeHome.Parse("lifeboat.yaml", []byte(src))
	if err != nil {
		t.Fatal(err)
	}
	want := []string{
		"lifeboat.yaml:10: regions[1].access_key: secret stored in the configuration file; prefer access_key_env/secret_key_env or credentials_file",
		"lifeboat.yaml:11: regions[1].secret_key: secret stored in the configuration file; prefer access_key_env/secret_key_env or credentials_file",
	}
	if !reflect.DeepEqual(cfg.Warnings, want) {
		t.Errorf("warnings %q, want %q", cfg.Warnings, want)
	}
	for _, w := range cfg.Warnings {
		if strings.Contains(w, "s3cr3t") || strings.Contains(w, "AKIAEXAMPLE") {
			t.Errorf("warning leaks the secret: %q", w)
		}
	}
	ak, sk, err := cfg.Region("eu").S3.Credentials(nil, nil)
	if err != nil || ak != "AKIAEXAMPLE" || sk != "s3cr3t" {
		t.Errorf("Credentials = %q, %q, %v", ak, sk, err)
	}

	cfg, err = fakeHome.Parse("lifeboat.yaml", []byte(hdr+"    access_key_env: A\n    secret_key_env: B\n"))
	if err != nil {
		t.Fatal(err)
	}
	if len(cfg.Warnings) != 0 {
		t.Errorf("env credentials produced warnings %q", cfg.Warnings)
	}
}

func TestExampleFile(t *testing.T) {
	cfg, err := fakeHome.Load("example.yaml")
	if err != nil {
		t.Fatalf("example.yaml: %v", err)
	}
	if len(cfg.Warnings) != 0 {
		t.Errorf("example.yaml has warnings: %q", cfg.Warnings)
	}
	if eu := cfg.Region("eu"); eu == nil || eu.S3 == nil || eu.S3.Bucket != "lifeboat" || eu.S3.Timeout != DefaultS3Timeout {
		t.Errorf("region eu = %+v", eu)
	}
	if cfg.Repository.Identity != "/home/tester/.config/lifeboat/identity.txt" {
		t.Errorf("identity %q", cfg.Repository.Identity)
	}
	if d := cfg.Drill("weekly"); d == nil || d.Sample != 10 || d.RPO != Duration(26*3600e9) {
		t.Errorf("drill weekly = %+v", d)
	}
	if k := cfg.Source("home").Keep; k == nil || k.Last != 3 || k.Monthly != 12 || cfg.Repository.Zone().String() != "Europe/Berlin" {
		t.Errorf("source home keep = %+v, zone %v", k, cfg.Repository.Zone())
	}
	if cfg.Source("home") == nil || cfg.Source("nope") != nil || cfg.Drill("nope") != nil {
		t.Error("Source/Drill lookup wrong")
	}
}

func TestLoadMissingFile(t *testing.T) {
	_, err := Load(filepath.Join(t.TempDir(), "absent.yaml"))
	if !errors.Is(err, fs.ErrNotExist) {
		t.Fatalf("err = %v, want fs.ErrNotExist", err)
	}
}

func TestLoadTooLarge(t *testing.T) {
	name := filepath.Join(t.TempDir(), "big.yaml")
	data := []byte("version: 1\n" + strings.Repeat("#", MaxFileSize))
	if err := os.WriteFile(name, data, 0o600); err != nil {
		t.Fatal(err)
	}
	_, err := Load(name)
	var e *Error
	if !errors.As(err, &e) || !strings.Contains(e.Msg, "larger than") || e.File != name {
		t.Fatalf("err = %v, want a too-large error", err)
	}
}

func TestRegionLookupAndPriority(t *testing.T) {
	src := `version: 1
regions:
  - {name: a, type: local, path: /a, priority: 3}
  - {name: b, type: local, path: /b}
  - {name: c, type: local, path: /c, priority: 0}
  - {name: d, type: local, path: /d, priority: 3}
`
	cfg, err := fakeHome.Parse("/l.yaml", []byte(src))
	if err != nil {
		t.Fatal(err)
	}
	if r := cfg.Region("b"); r == nil || r.Path != "/b" {
		t.Errorf("Region(b) = %+v", r)
	}
	if r := cfg.Region("zz"); r != nil {
		t.Errorf("Region(zz) = %+v, want nil", r)
	}
	var order []string
	for _, r := range cfg.RegionsByPriority() {
		order = append(order, r.Name)
	}
	if want := []string{"c", "b", "a", "d"}; !reflect.DeepEqual(order, want) {
		t.Errorf("order %q, want %q", order, want)
	}
	if cfg.Regions[0].Name != "a" {
		t.Error("RegionsByPriority reordered cfg.Regions")
	}
}

func TestLocalRepo(t *testing.T) {
	dir := t.TempDir()
	cfg := LocalRepo(dir)
	if len(cfg.Regions) != 1 {
		t.Fatalf("regions %+v", cfg.Regions)
	}
	r := cfg.Regions[0]
	if r.Name != "local" || r.Type != TypeLocal || r.Path != dir || r.Priority != 1 || r.S3 != nil {
		t.Errorf("region %+v", r)
	}
	if cfg.Version != 1 || cfg.Repository.WriteQuorum != 1 || cfg.Repository.Compression != CompressionAuto {
		t.Errorf("config %+v", cfg)
	}
	if cfg.Region("local") == nil {
		t.Error("Region(local) = nil")
	}
	// LocalRepo's result is equivalent to parsing the same region.
	out, err := cfg.Marshal()
	if err != nil {
		t.Fatal(err)
	}
	parsed, err := fakeHome.Parse(filepath.Join(dir, "x.yaml"), out)
	if err != nil {
		t.Fatalf("Parse(LocalRepo.Marshal()): %v\n%s", err, out)
	}
	parsed.File, parsed.Dir, cfg.Dir = "", "", ""
	if !reflect.DeepEqual(parsed, cfg) {
		t.Errorf("parsed %s, want %s", dump(parsed), dump(cfg))
	}

	rel := LocalRepo("some/repo")
	if !filepath.IsAbs(rel.Regions[0].Path) || !strings.HasSuffix(rel.Regions[0].Path, "some/repo") {
		t.Errorf("relative path not made absolute: %q", rel.Regions[0].Path)
	}
}

func TestIgnoredKeys(t *testing.T) {
	src := "version: 1\nx-notes: {anything: [1, 2]}\nregions:\n  - {name: a, type: local, path: /a, x-comment: hi}\n"
	if _, err := fakeHome.Parse("/l.yaml", []byte(src)); err != nil {
		t.Fatal(err)
	}
}

// laughs returns anchors that expand to 10^levels nodes, defined under
// ignored keys, followed by use.
func laughs(levels int, use string) string {
	var b strings.Builder
	b.WriteString("version: 1\nx-l0: &l0 [a, a, a, a, a, a, a, a, a, a]\n")
	for i := 1; i <= levels; i++ {
		p := fmt.Sprintf("*l%d", i-1)
		fmt.Fprintf(&b, "x-l%d: &l%d [%s]\n", i, i, strings.Repeat(p+", ", 9)+p)
	}
	return b.String() + strings.ReplaceAll(use, "LAST", fmt.Sprintf("l%d", levels))
}

func TestHostileInputs(t *testing.T) {
	const region = "regions:\n  - {name: a, type: local, path: /a}\n"
	tests := []struct {
		name string
		yaml string
		line int
		msg  string // "" = must parse
	}{
		{"unused alias bomb", laughs(30, region), 0, ""},
		{"alias bomb as a value", laughs(30, region+"sources:\n  - {name: s, paths: *LAST}\n"), 36, "aliases expand to more than"},
		{"alias bomb merged", laughs(30, "regions:\n  - name: a\n    <<: *LAST\n"), 35, "aliases expand to more than"},
		{"deep flow nesting", "version: 1\nx: " + strings.Repeat("[", 5000) + strings.Repeat("]", 5000) + "\n", 2, "nesting is too deep"},
		{"deep but quoted", "version: 1\nx-q: \"" + strings.Repeat("[", 100) + "\"\n# " + strings.Repeat("{", 100) + "\n" + region, 0, ""},
		{"self alias", "version: 1\nx-a: &a [*a]\n" + region, 0, ""},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, err := fakeHome.Parse("h.yaml", []byte(tt.yaml))
			if tt.msg == "" {
				if err != nil {
					t.Fatalf("Parse: %v", err)
				}
				return
			}
			var e *Error
			if !errors.As(err, &e) || e.Line != tt.line || !strings.Contains(e.Msg, tt.msg) {
				t.Fatalf("got %v, want line %d mentioning %q", err, tt.line, tt.msg)
			}
		})
	}
}

// TestMarshalQuoting round-trips strings that YAML would read as other types.
func TestMarshalQuoting(t *testing.T) {
	tricky := []string{"~", "null", "true", "no", "0x10", "1e3", "012", "-a", "a:b", "#x", "@x", "*x", "&x", "!x", "'q", "\"q", "%x", "[x]", "{x}", "|", ">", "",
		"é", "a\\b"}
	cfg := LocalRepo("/repo")
	cfg.Dir = ""
	for i, s := range tricky {
		tag := s
		if tag == "" {
			tag = "x"
		}
		cfg.Sources = append(cfg.Sources, Source{
			Name: fmt.Sprintf("s%d", i), Paths: []string{"/p/" + s}, Tags: []string{tag}, Host: s,
			Exclude: []string{"x" + s},
		})
	}
	out, err := cfg.Marshal()
	if err != nil {
		t.Fatal(err)
	}
	got, err := fakeHome.Parse("/q.yaml", out)
	if err != nil {
		t.Fatalf("Parse: %v\n%s", err, out)
	}
	got.File, got.Dir = "", ""
	for i := range cfg.Sources {
		cfg.Sources[i].Paths[0] = filepath.Clean(cfg.Sources[i].Paths[0])
	}
	if !reflect.DeepEqual(got, cfg) {
		t.Fatalf("round trip mismatch\n got %s\nwant %s\n%s", dump(got), dump(cfg), out)
	}
}

// TestKeepAndZone: a source's keep: becomes retention rules in kind
// order, and repository.retention_zone loads (UTC when left out).
func TestKeepAndZone(t *testing.T) {
	yaml := hdr + "repository:\n  retention_zone: Europe/Berlin\nsources:\n  - name: s\n    paths: [/a]\n    keep:\n      last: 2\n      daily: 7\n      within_daily: 30d\n      tags: [\"keep,gold\"]\n  - name: t\n    paths: [/b]\n"
	cfg, err := Parse("lifeboat.yaml", []byte(yaml))
	if err != nil {
		t.Fatal(err)
	}
	if z := cfg.Repository.Zone().String(); z != "Europe/Berlin" {
		t.Errorf("zone %q, want Europe/Berlin", z)
	}
	rules, err := cfg.Source("s").Keep.Rules()
	if err != nil {
		t.Fatal(err)
	}
	var got []string
	for _, r := range rules {
		got = append(got, r.String())
	}
	if want := []string{"last 2", "daily 7", "within-daily 30d", "tag gold,keep"}; !slices.Equal(got, want) {
		t.Errorf("rules %q, want %q", got, want)
	}
	if k := cfg.Source("t").Keep; k != nil {
		t.Errorf("source without keep: has %+v", k)
	}
	if z := LocalRepo("/x").Repository.Zone(); z != time.UTC {
		t.Errorf("default zone %v, want UTC", z)
	}
}
