package config

import (
	"cmp"
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"time"
	_ "time/tzdata" // retention_zone names load on machines without a zone database

	"github.com/goccy/go-yaml"

	"lifeboat/engine/retention"
)

// DefaultFile is the configuration file used when neither --config nor
// LIFEBOAT_CONFIG names another.
const DefaultFile = "lifeboat.yaml"

// Region types.
const (
	// TypeLocal is a region stored in a local directory.
	TypeLocal = "local"
	// TypeS3 is a region stored in a bucket of an S3-compatible server.
	TypeS3 = "s3"
)

// Compression levels accepted by repository.compression.
const (
	CompressionFastest = "fastest"
	CompressionDefault = "default"
	CompressionBetter  = "better"
	CompressionBest    = "best"
	// CompressionAuto, the default, is zstd "default" for blobs under
	// 256 KiB and "fastest" for chunks of large files.
	CompressionAuto = "auto"
)

// Log formats accepted by daemon.log_format.
const (
	LogText = "text"
	LogJSON = "json"
)

// Defaults and limits applied by Parse.
const (
	// DefaultS3Timeout is the per-request timeout of an s3 region.
	DefaultS3Timeout = Duration(30 * time.Second)
	// DefaultS3OpenTimeout bounds opening an s3 region (the bucket check
	// and the conditional-create probe); a region that takes longer is
	// treated as down.
	DefaultS3OpenTimeout = Duration(5 * time.Second)
	// DefaultWebhookRetries is daemon.webhook.retries when absent.
	DefaultWebhookRetries = 3
	// MaxWebhookRetries bounds daemon.webhook.retries.
	MaxWebhookRetries = 100
	// MinPackSize and MaxPackSize bound repository.pack_size.
	MinPackSize Size = 1 << 20
	MaxPackSize Size = 1 << 30
	// MaxFileSize bounds the size of a configuration file.
	MaxFileSize = 256 << 10
	// LatestSnapshot is drills[].snapshot when absent.
	LatestSnapshot = "latest"
)

// Config is a validated configuration file. Paths in it are absolute and
// cleaned; defaults are filled in.
type Config struct {
	// File is the name the configuration was loaded from ("" for LocalRepo).
	File string `yaml:"-"`
	// Dir is the absolute directory relative paths were resolved against.
	Dir string `yaml:"-"`
	// Warnings lists non-fatal problems, each formatted like an Error
	// ("lifeboat.yaml:14: regions[1].access_key: ...").
	Warnings []string `yaml:"-"`

	// Version is the configuration format version; only 1 exists.
	Version int `yaml:"version"`
	// Repository holds settings shared by all regions.
	Repository Repository `yaml:"repository,omitempty"`
	// Regions lists where the repository is stored, at least one.
	Regions []Region `yaml:"regions"`
	// Sources lists named backup sources for the daemon.
	Sources []Source `yaml:"sources,omitempty"`
	// Drills lists restore drills.
	Drills []Drill `yaml:"drills,omitempty"`
	// Jobs holds the daemon's maintenance schedules.
	Jobs Jobs `yaml:"jobs,omitempty"`
	// Daemon holds the daemon's settings.
	Daemon Daemon `yaml:"daemon,omitempty"`
}

// Repository holds repository-wide settings.
type Repository struct {
	// Identity is an age identity or SSH private key file ("" = none; the
	// CLI's --identity and LIFEBOAT_IDENTITY override it).
	Identity string `yaml:"identity,omitempty"`
	// PassphraseFile holds the repository passphrase ("" = none;
	// LIFEBOAT_PASSPHRASE_FILE overrides it).
	PassphraseFile string `yaml:"passphrase_file,omitempty"`
	// CacheDir is the local cache directory ("" = the CLI's default).
	CacheDir string `yaml:"cache_dir,omitempty"`
	// WriteQuorum is how many regions must accept a write for it to count;
	// 1..len(Regions), defaulting to len(Regions).
	WriteQuorum int `yaml:"write_quorum,omitempty"`
	// Compression is one of the Compression* constants (default
	// CompressionAuto); used when the repository is created.
	Compression string `yaml:"compression,omitempty"`
	// PackSize is the target pack file size (0 = the engine's default);
	// used when the repository is created. MinPackSize..MaxPackSize.
	PackSize Size `yaml:"pack_size,omitempty"`
	// AppendOnly says that this host's credentials may not delete: its
	// backups issue no deletes at all, and the commands left to a host
	// that may delete (init, sync, key remove, and any that prune) are
	// refused. See
	// Config.AppendOnly.
	AppendOnly bool `yaml:"append_only,omitempty"`
	// RetentionZone is the IANA time zone of the retention policies'
	// calendar (days, weeks, months); "" means UTC.
	RetentionZone string `yaml:"retention_zone,omitempty"`
}

// Zone returns the retention zone loaded: time.UTC for "", and time.UTC
// too for a zone that does not load (validation reports that as an error,
// so a validated Config never has one).
func (r *Repository) Zone() *time.Location {
	if r.RetentionZone == "" {
		return time.UTC
	}
	loc, err := time.LoadLocation(r.RetentionZone)
	if err != nil {
		return time.UTC
	}
	return loc
}

// Region is one storage location of the repository. Exactly the fields of
// its Type are set: Path for TypeLocal, S3 (non-nil) for TypeS3.
type Region struct {
	// Name identifies the region: [a-z0-9][a-z0-9_-]*, at most 63 bytes,
	// unique in the file.
	Name string
	// Type is TypeLocal or TypeS3.
	Type string
	// Priority orders reads: lower is preferred. Defaults to the region's
	// 1-based position in the file; ties keep file order.
	Priority int
	// Path is the absolute directory of a local region.
	Path string
	// S3 holds the settings of an s3 region (nil for other types).
	S3 *S3
	// AppendOnly says that this host may not delete in the region (its
	// credentials are denied deletes); it makes the host append-only
	// (Config.AppendOnly).
	AppendOnly bool
}

// S3 holds the settings of an s3 region.
//
// Credentials come from exactly one of: the environment variables named by
// AccessKeyEnv and SecretKeyEnv, the file CredentialsFile, or the inline
// AccessKey and SecretKey (which produce a warning). When none is set the
// region has no credentials (anonymous access, or whatever default the CLI
// applies). Use Credentials to obtain the keys.
type S3 struct {
	// Endpoint is host[:port] without a scheme (required).
	Endpoint string
	// Bucket is the bucket name (required).
	Bucket string
	// Prefix is prepended to object names, without leading or trailing "/".
	Prefix string
	// Region is the S3 region name ("" = server default).
	Region string
	// Insecure selects plain HTTP instead of TLS.
	Insecure bool
	// PathStyle forces path-style (true) or virtual-host (false) bucket
	// addressing; nil lets the client decide.
	PathStyle *bool
	// StorageClass is the storage class for new objects ("" = default).
	StorageClass string
	// AccessKeyEnv and SecretKeyEnv name environment variables holding the
	// access key id and secret key.
	AccessKeyEnv, SecretKeyEnv string
	// CredentialsFile is an absolute path to a file of lines
	// "access_key_id=..." and "secret_access_key=..." (see ParseCredentials).
	CredentialsFile string
	// AccessKey and SecretKey are inline credentials.
	AccessKey, SecretKey string
	// Timeout is the per-request timeout (default DefaultS3Timeout).
	Timeout Duration
	// OpenTimeout bounds opening the region: checking the bucket and
	// probing conditional creates (default DefaultS3OpenTimeout). A region
	// that does not answer within it is treated as down.
	OpenTimeout Duration
	// UnsafeNoConditionalCreate accepts a server whose conditional creates
	// (If-None-Match) do not work: the repository lock and init are then
	// only best effort, and two hosts may both hold the lock. Without it
	// such a region is refused by init and by every job that takes the
	// lock.
	UnsafeNoConditionalCreate bool
	// ObjectLock, when not nil, writes every content object of the region
	// with its own S3 object lock retention (nil: no object lock).
	ObjectLock *ObjectLock
}

// Object lock modes accepted by object_lock.mode.
const (
	LockCompliance = "compliance"
	LockGovernance = "governance"
)

// ObjectLock is a region's object_lock setting: every content object is
// retained in Mode until its write time plus Period, and lifeboat lock
// extend pushes what the kept snapshots need to now plus Period. The
// bucket must have object lock and versioning enabled.
type ObjectLock struct {
	// Mode is LockCompliance or LockGovernance (required).
	Mode string `yaml:"mode"`
	// Period is the retention given at each write and extension
	// (required, positive).
	Period Duration `yaml:"period"`
}

// rawRegion is the flat on-disk form of a Region.
type rawRegion struct {
	Name            string      `yaml:"name"`
	Type            string      `yaml:"type"`
	Priority        int         `yaml:"priority"`
	Path            string      `yaml:"path,omitempty"`
	Endpoint        string      `yaml:"endpoint,omitempty"`
	Bucket          string      `yaml:"bucket,omitempty"`
	Prefix          string      `yaml:"prefix,omitempty"`
	Region          string      `yaml:"region,omitempty"`
	Insecure        bool        `yaml:"insecure,omitempty"`
	PathStyle       *bool       `yaml:"path_style,omitempty"`
	StorageClass    string      `yaml:"storage_class,omitempty"`
	AccessKeyEnv    string      `yaml:"access_key_env,omitempty"`
	SecretKeyEnv    string      `yaml:"secret_key_env,omitempty"`
	CredentialsFile string      `yaml:"credentials_file,omitempty"`
	AccessKey       string      `yaml:"access_key,omitempty"`
	SecretKey       string      `yaml:"secret_key,omitempty"`
	Timeout         Duration    `yaml:"timeout,omitempty"`
	OpenTimeout     Duration    `yaml:"open_timeout,omitempty"`
	UnsafeNoCC      bool        `yaml:"unsafe_no_conditional_create,omitempty"`
	ObjectLock      *ObjectLock `yaml:"object_lock,omitempty"`
	AppendOnly      bool        `yaml:"append_only,omitempty"`
}

// regionKeys lists the keys each region type accepts besides commonKeys.
var (
	commonRegionKeys = []string{"name", "type", "priority", "append_only"}
	regionKeys       = map[string][]string{
		TypeLocal: {"path"},
		TypeS3: {"endpoint", "bucket", "prefix", "region", "insecure", "path_style",
			"storage_class", "access_key_env", "secret_key_env", "credentials_file",
			"access_key", "secret_key", "timeout", "open_timeout", "unsafe_no_conditional_create",
			"object_lock"},
	}
)

// UnmarshalYAML decodes the flat YAML form of a region.
func (r *Region) UnmarshalYAML(unmarshal func(any) error) error {
	var raw rawRegion
	if err := unmarshal(&raw); err != nil {
		return err
	}
	*r = Region{Name: raw.Name, Type: raw.Type, Priority: raw.Priority, Path: raw.Path, AppendOnly: raw.AppendOnly}
	if raw.Type == TypeS3 {
		r.Path = ""
		r.S3 = &S3{
			Endpoint: raw.Endpoint, Bucket: raw.Bucket, Prefix: raw.Prefix, Region: raw.Region,
			Insecure: raw.Insecure, PathStyle: raw.PathStyle, StorageClass: raw.StorageClass,
			AccessKeyEnv: raw.AccessKeyEnv, SecretKeyEnv: raw.SecretKeyEnv,
			CredentialsFile: raw.CredentialsFile, AccessKey: raw.AccessKey, SecretKey: raw.SecretKey,
			Timeout: raw.Timeout, OpenTimeout: raw.OpenTimeout, UnsafeNoConditionalCreate: raw.UnsafeNoCC,
			ObjectLock: raw.ObjectLock,
		}
	}
	return nil
}

// MarshalYAML encodes the region in its flat YAML form.
func (r Region) MarshalYAML() (any, error) {
	raw := rawRegion{Name: r.Name, Type: r.Type, Priority: r.Priority, Path: r.Path, AppendOnly: r.AppendOnly}
	if s := r.S3; s != nil {
		raw.Endpoint, raw.Bucket, raw.Prefix, raw.Region = s.Endpoint, s.Bucket, s.Prefix, s.Region
		raw.Insecure, raw.PathStyle, raw.StorageClass = s.Insecure, s.PathStyle, s.StorageClass
		raw.AccessKeyEnv, raw.SecretKeyEnv, raw.CredentialsFile = s.AccessKeyEnv, s.SecretKeyEnv, s.CredentialsFile
		raw.AccessKey, raw.SecretKey, raw.Timeout = s.AccessKey, s.SecretKey, s.Timeout
		raw.OpenTimeout, raw.UnsafeNoCC = s.OpenTimeout, s.UnsafeNoConditionalCreate
		raw.ObjectLock = s.ObjectLock
	}
	return raw, nil
}

// Source is a named set of paths the daemon backs up.
type Source struct {
	// Name identifies the source (same rules as region names).
	Name string `yaml:"name"`
	// Paths are the absolute paths to back up (at least one).
	Paths []string `yaml:"paths"`
	// Exclude lists glob patterns to skip.
	Exclude []string `yaml:"exclude,omitempty"`
	// ExcludeFile is an absolute path to a file of patterns, one a line.
	ExcludeFile string `yaml:"exclude_file,omitempty"`
	// OneFileSystem keeps the walk from crossing file system boundaries.
	OneFileSystem bool `yaml:"one_file_system,omitempty"`
	// Tags are attached to the snapshots taken.
	Tags []string `yaml:"tags,omitempty"`
	// Host overrides the host name recorded in snapshots.
	Host string `yaml:"host,omitempty"`
	// Schedule is a cron spec ("" = not scheduled); the scheduler
	// validates its syntax.
	Schedule string `yaml:"schedule,omitempty"`
	// Keep is the source's retention policy (nil = none): the daemon
	// forgets the snapshots it does not keep after each backup, and
	// lifeboat forget --source applies it.
	Keep *Keep `yaml:"keep,omitempty"`
}

// Keep is a retention policy in the vocabulary of lifeboat forget's
// --keep-* flags (engine/retention defines what each rule keeps). Counts
// are at least 1; durations are retention durations ("30d", "1y6m");
// each Tags entry is a comma-separated tag list. At least one rule must be
// set: an empty policy would remove everything.
type Keep struct {
	Last    int `yaml:"last,omitempty"`
	Hourly  int `yaml:"hourly,omitempty"`
	Daily   int `yaml:"daily,omitempty"`
	Weekly  int `yaml:"weekly,omitempty"`
	Monthly int `yaml:"monthly,omitempty"`
	Yearly  int `yaml:"yearly,omitempty"`

	Within        string `yaml:"within,omitempty"`
	WithinHourly  string `yaml:"within_hourly,omitempty"`
	WithinDaily   string `yaml:"within_daily,omitempty"`
	WithinWeekly  string `yaml:"within_weekly,omitempty"`
	WithinMonthly string `yaml:"within_monthly,omitempty"`
	WithinYearly  string `yaml:"within_yearly,omitempty"`

	Tags []string `yaml:"tags,omitempty"`
}

// keepField is one rule of a Keep: its YAML key, the retention rule kind
// and its value as a rule parameter ("" when unset).
type keepField struct {
	key  string
	kind string
	arg  string
}

func (k *Keep) fields() []keepField {
	n := func(v int) string {
		if v == 0 {
			return ""
		}
		return strconv.Itoa(v)
	}
	f := []keepField{
		{"last", "last", n(k.Last)}, {"hourly", "hourly", n(k.Hourly)}, {"daily", "daily", n(k.Daily)},
		{"weekly", "weekly", n(k.Weekly)}, {"monthly", "monthly", n(k.Monthly)}, {"yearly", "yearly", n(k.Yearly)},
		{"within", "within", k.Within}, {"within_hourly", "within-hourly", k.WithinHourly},
		{"within_daily", "within-daily", k.WithinDaily}, {"within_weekly", "within-weekly", k.WithinWeekly},
		{"within_monthly", "within-monthly", k.WithinMonthly}, {"within_yearly", "within-yearly", k.WithinYearly},
	}
	for i, t := range k.Tags {
		f = append(f, keepField{fmt.Sprintf("tags[%d]", i), "tag", t})
	}
	return f
}

// Rules returns the policy's rules. It fails only for a Keep that did not
// come out of a validated Config.
func (k *Keep) Rules() ([]retention.Rule, error) {
	var rules []retention.Rule
	for _, f := range k.fields() {
		if f.arg == "" {
			continue
		}
		r, err := retention.ParseRule(f.kind + " " + f.arg)
		if err != nil {
			return nil, fmt.Errorf("keep.%s: %w", f.key, err)
		}
		rules = append(rules, r)
	}
	if len(rules) == 0 {
		return nil, retention.ErrEmptyPolicy
	}
	return rules, nil
}

// Drill is a scheduled restore test.
type Drill struct {
	// Name identifies the drill (same rules as region names).
	Name string `yaml:"name"`
	// Source names a Source whose snapshots are drilled ("" = any).
	Source string `yaml:"source,omitempty"`
	// Snapshot selects the snapshot (default LatestSnapshot).
	Snapshot string `yaml:"snapshot,omitempty"`
	// Lose names regions treated as lost during the drill (never all).
	Lose []string `yaml:"lose,omitempty"`
	// Only names the regions the drill may use; mutually exclusive with
	// a non-empty Lose.
	Only []string `yaml:"only,omitempty"`
	// Sample is how much of the data to restore and verify (0 < x <= 100,
	// default 100 = full).
	Sample Percent `yaml:"sample,omitempty"`
	// RTO is the maximum acceptable restore time (0 = not checked).
	RTO Duration `yaml:"rto,omitempty"`
	// RPO is the maximum acceptable age of the snapshot (0 = not checked).
	RPO Duration `yaml:"rpo,omitempty"`
	// Schedule is a cron spec ("" = not scheduled).
	Schedule string `yaml:"schedule,omitempty"`
	// Ransomware makes it a ransomware drill (lifeboat drill
	// --ransomware): restored as of a simulated attack, from the object
	// versions the attack could not remove.
	Ransomware bool `yaml:"ransomware,omitempty"`
}

// Jobs holds the maintenance schedules; a nil job is not scheduled.
type Jobs struct {
	// Sync copies missing objects between regions.
	Sync *SyncJob `yaml:"sync,omitempty"`
	// Check verifies the repository.
	Check *CheckJob `yaml:"check,omitempty"`
	// Prune deletes the data no snapshot needs (mark, then sweep after the
	// grace period).
	Prune *PruneJob `yaml:"prune,omitempty"`
}

// Defaults of PruneJob, those of lifeboat prune.
const (
	DefaultPruneGrace      = Duration(24 * time.Hour)
	DefaultPruneMinPackAge = Duration(24 * time.Hour)
	DefaultPruneMaxUnused  = Percent(5)
)

// PruneJob schedules prune runs; each run is one step (mark, wait or
// sweep) as in lifeboat prune. Validation fills in the defaults.
type PruneJob struct {
	// Schedule is a cron spec (required).
	Schedule string `yaml:"schedule"`
	// Grace is the time between a mark and its sweep (at least 1s,
	// default DefaultPruneGrace).
	Grace Duration `yaml:"grace"`
	// MinPackAge: younger packs are never condemned (0 allowed, default
	// DefaultPruneMinPackAge).
	MinPackAge Duration `yaml:"min_pack_age"`
	// MaxUnused is the unused share above which a partly used pack is
	// repacked (default DefaultPruneMaxUnused).
	MaxUnused Percent `yaml:"max_unused"`
	// MaxRepackSize bounds the bytes of packs repacked per run (0 = no
	// limit).
	MaxRepackSize Size `yaml:"max_repack_size,omitempty"`
}

// SyncJob schedules region synchronisation.
type SyncJob struct {
	// Schedule is a cron spec (required).
	Schedule string `yaml:"schedule"`
}

// CheckJob schedules repository checks.
type CheckJob struct {
	// Schedule is a cron spec (required).
	Schedule string `yaml:"schedule"`
	// ReadDataSubset is how much pack data to read and verify
	// (0 = metadata only).
	ReadDataSubset Percent `yaml:"read_data_subset,omitempty"`
}

// Daemon holds the daemon's settings.
type Daemon struct {
	// Listen is the host:port of the HTTP status/metrics listener
	// ("" = the default 127.0.0.1:9464, "none" = no listener).
	Listen string `yaml:"listen,omitempty"`
	// LogFormat is LogText (default) or LogJSON.
	LogFormat string `yaml:"log_format,omitempty"`
	// CatchUp runs jobs missed while the daemon was down.
	CatchUp bool `yaml:"catch_up,omitempty"`
	// Jitter is the maximum random delay added to each scheduled start.
	Jitter Duration `yaml:"jitter,omitempty"`
	// JobTimeout bounds each job's run time (0 = unbounded).
	JobTimeout Duration `yaml:"job_timeout,omitempty"`
	// Webhook is notified of job results (nil = no webhook).
	Webhook *Webhook `yaml:"webhook,omitempty"`
}

// Webhook describes an HTTP endpoint notified of job results.
type Webhook struct {
	// URL is an absolute http or https URL (required).
	URL string `yaml:"url"`
	// OnSuccess also notifies successful jobs (failures always notify).
	OnSuccess bool `yaml:"on_success"`
	// Retries is how often a failed delivery is retried
	// (0..MaxWebhookRetries, default DefaultWebhookRetries).
	Retries int `yaml:"retries"`
}

// AppendOnly reports whether this host is append-only: repository
// append_only, or append_only on any region (deleting in some regions
// only would not make the commands that delete work). Such a host backs
// up, restores and checks, but issues no deletes.
func (c *Config) AppendOnly() bool {
	if c.Repository.AppendOnly {
		return true
	}
	for _, r := range c.Regions {
		if r.AppendOnly {
			return true
		}
	}
	return false
}

// Region returns the region called name, or nil.
func (c *Config) Region(name string) *Region {
	for i := range c.Regions {
		if c.Regions[i].Name == name {
			return &c.Regions[i]
		}
	}
	return nil
}

// Source returns the source called name, or nil.
func (c *Config) Source(name string) *Source {
	for i := range c.Sources {
		if c.Sources[i].Name == name {
			return &c.Sources[i]
		}
	}
	return nil
}

// Drill returns the drill called name, or nil.
func (c *Config) Drill(name string) *Drill {
	for i := range c.Drills {
		if c.Drills[i].Name == name {
			return &c.Drills[i]
		}
	}
	return nil
}

// RegionsByPriority returns the regions ordered from most to least
// preferred (ascending Priority, file order among equals).
func (c *Config) RegionsByPriority() []Region {
	out := slices.Clone(c.Regions)
	slices.SortStableFunc(out, func(a, b Region) int { return cmp.Compare(a.Priority, b.Priority) })
	return out
}

// Marshal encodes the configuration as YAML that Parse accepts and decodes
// to an equal Config (paths and defaults already resolved).
func (c *Config) Marshal() ([]byte, error) {
	b, err := yaml.MarshalWithOptions(c, yaml.IndentSequence(true))
	if err != nil {
		return nil, fmt.Errorf("marshal config: %w", err)
	}
	return b, nil
}

// LocalRepo returns the configuration equivalent to a file holding a single
// local region named "local" at path (the CLI's --repo shorthand). A leading
// "~" is expanded with os.UserHomeDir and a relative path is made absolute
// against the working directory when possible.
func LocalRepo(path string) *Config {
	if path == "~" || strings.HasPrefix(path, "~/") {
		if home, err := os.UserHomeDir(); err == nil && home != "" {
			path = filepath.Join(home, path[1:])
		}
	}
	if abs, err := filepath.Abs(path); err == nil {
		path = abs
	}
	dir, _ := os.Getwd()
	return &Config{
		Dir:     dir,
		Version: 1,
		Repository: Repository{
			WriteQuorum: 1,
			Compression: CompressionAuto,
		},
		Regions: []Region{{Name: "local", Type: TypeLocal, Priority: 1, Path: path}},
		Daemon:  Daemon{LogFormat: LogText},
	}
}
