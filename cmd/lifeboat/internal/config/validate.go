package config

import (
	"fmt"
	"net"
	"net/url"
	"path"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"time"

	"lifeboat/engine/retention"
)

// validator checks a decoded Config, fills in defaults and resolves paths,
// collecting every problem with its line.
type validator struct {
	file  string
	dir   string
	idx   *index
	home  func() (string, error)
	cfg   *Config
	errs  ErrorList
	warns []string
}

func (v *validator) errorf(field, format string, args ...any) {
	v.errs = append(v.errs, &Error{File: v.file, Line: v.idx.line(field), Field: field, Msg: fmt.Sprintf(format, args...)})
}

func (v *validator) warnf(field, format string, args ...any) {
	e := &Error{File: v.file, Line: v.idx.line(field), Field: field, Msg: fmt.Sprintf(format, args...)}
	v.warns = append(v.warns, e.Error())
}

func (v *validator) validate() {
	c := v.cfg
	switch {
	case !v.idx.has("version"):
		v.errorf("version", "required (set version: 1)")
	case c.Version != 1:
		v.errorf("version", "unsupported version %d (only 1 is supported)", c.Version)
	}
	v.regions()
	v.repository()
	v.sources()
	v.drills()
	v.jobs()
	v.daemon()
	normalize(c)
}

// normalize replaces empty lists by nil, so that a Config compares equal
// whether a list was written as [] or left out.
func normalize(c *Config) {
	c.Regions, c.Sources, c.Drills = nilIfEmpty(c.Regions), nilIfEmpty(c.Sources), nilIfEmpty(c.Drills)
	for i := range c.Sources {
		s := &c.Sources[i]
		s.Paths, s.Exclude, s.Tags = nilIfEmpty(s.Paths), nilIfEmpty(s.Exclude), nilIfEmpty(s.Tags)
	}
	for i := range c.Drills {
		d := &c.Drills[i]
		d.Lose, d.Only = nilIfEmpty(d.Lose), nilIfEmpty(d.Only)
	}
}

func nilIfEmpty[T any](s []T) []T {
	if len(s) == 0 {
		return nil
	}
	return s
}

// path expands a leading "~", resolves a relative path against the
// configuration file's directory and cleans the result. "" stays "".
func (v *validator) path(field, p string) string {
	switch {
	case p == "":
		return ""
	case strings.ContainsRune(p, 0):
		v.errorf(field, "path contains a NUL byte")
		return p
	case p == "~" || strings.HasPrefix(p, "~/"):
		home, err := v.home()
		if err != nil {
			v.errorf(field, "cannot expand ~: %v", err)
			return p
		}
		if !filepath.IsAbs(home) {
			v.errorf(field, "cannot expand ~: home directory %q is not absolute", home)
			return p
		}
		p = filepath.Join(home, p[1:])
	case strings.HasPrefix(p, "~"):
		v.errorf(field, "cannot expand %q: only ~ and ~/ are supported", p)
		return p
	}
	if !filepath.IsAbs(p) {
		p = filepath.Join(v.dir, p)
	}
	return filepath.Clean(p)
}

// name checks a region, source or drill name.
func (v *validator) name(field, name string) {
	if name == "" {
		v.errorf(field, "required")
		return
	}
	if !validName(name) {
		v.errorf(field, "invalid name %q (want at most 63 of a-z, 0-9, _ and -, starting with a letter or digit)", name)
	}
}

func validName(s string) bool {
	if len(s) == 0 || len(s) > 63 {
		return false
	}
	for i := 0; i < len(s); i++ {
		c := s[i]
		alnum := c >= 'a' && c <= 'z' || c >= '0' && c <= '9'
		if !alnum && (i == 0 || c != '_' && c != '-') {
			return false
		}
	}
	return true
}

// unique reports a duplicate name; seen maps names to their first index.
func (v *validator) unique(field, kind, name string, i int, seen map[string]int) {
	if name == "" {
		return
	}
	if j, dup := seen[name]; dup {
		v.errorf(field, "duplicate %s name %q (first used by %ss[%d])", kind, name, kind, j)
		return
	}
	seen[name] = i
}

// schedule checks an optional cron spec: when the key is present its value
// must not be empty. The scheduler checks the syntax.
func (v *validator) schedule(field, spec string) {
	if v.idx.present(field) && strings.TrimSpace(spec) == "" {
		v.errorf(field, "must not be empty (remove the key to disable the schedule)")
	}
}

func (v *validator) regions() {
	c := v.cfg
	if len(c.Regions) == 0 {
		v.errorf("regions", "at least one region is required")
		return
	}
	seen := map[string]int{}
	for i := range c.Regions {
		r := &c.Regions[i]
		f := fmt.Sprintf("regions[%d]", i)
		if e, ok := v.idx.entries[f]; ok && e.null {
			v.errorf(f, "expected a mapping, got null")
			continue
		}
		v.name(f+".name", r.Name)
		v.unique(f+".name", "region", r.Name, i, seen)
		if v.idx.has(f + ".priority") {
			if r.Priority < 0 {
				v.errorf(f+".priority", "must not be negative")
			}
		} else {
			r.Priority = i + 1
		}
		allowed, known := regionKeys[r.Type]
		switch {
		case r.Type == "":
			v.errorf(f+".type", "required (local or s3)")
			continue
		case !known:
			v.errorf(f+".type", "unknown region type %q (want local or s3)", r.Type)
			continue
		}
		for _, k := range v.idx.keys[f] {
			if strings.HasPrefix(k, ignoredKeyPrefix) || slices.Contains(commonRegionKeys, k) || slices.Contains(allowed, k) {
				continue
			}
			v.errorf(f+"."+k, "not valid for a %s region", r.Type)
		}
		switch r.Type {
		case TypeLocal:
			if r.Path == "" {
				v.errorf(f+".path", "required for a local region")
			} else {
				r.Path = v.path(f+".path", r.Path)
			}
		case TypeS3:
			if r.S3 == nil {
				r.S3 = &S3{}
			}
			v.s3(f, r.S3)
		}
	}
}

func (v *validator) s3(f string, s *S3) {
	if s.Endpoint == "" {
		v.errorf(f+".endpoint", "required for an s3 region (host[:port])")
	} else if msg := checkEndpoint(s.Endpoint); msg != "" {
		v.errorf(f+".endpoint", "%s", msg)
	}
	if s.Bucket == "" {
		v.errorf(f+".bucket", "required for an s3 region")
	} else if !validBucket(s.Bucket) {
		v.errorf(f+".bucket", "invalid bucket name %q (want 3 to 63 of a-z, 0-9, . and -, starting and ending with a letter or digit)", s.Bucket)
	}
	if s.Prefix != "" {
		p := strings.Trim(s.Prefix, "/")
		if msg := checkPrefix(p); msg != "" {
			v.errorf(f+".prefix", "invalid prefix %q: %s", s.Prefix, msg)
		}
		s.Prefix = p
	}
	if s.StorageClass != "" && !validStorageClass(s.StorageClass) {
		v.errorf(f+".storage_class", "invalid storage class %q (want upper-case letters, digits and _, e.g. STANDARD)", s.StorageClass)
	}
	if v.idx.has(f + ".timeout") {
		if s.Timeout <= 0 {
			v.errorf(f+".timeout", "must be positive")
		}
	} else {
		s.Timeout = DefaultS3Timeout
	}
	if v.idx.has(f + ".open_timeout") {
		if s.OpenTimeout <= 0 {
			v.errorf(f+".open_timeout", "must be positive")
		}
	} else {
		s.OpenTimeout = DefaultS3OpenTimeout
	}
	v.objectLock(f+".object_lock", s)

	// Credentials: at most one source, pairs complete.
	var groups []string
	if s.AccessKeyEnv != "" || s.SecretKeyEnv != "" {
		groups = append(groups, "access_key_env")
		v.pair(f, "access_key_env", s.AccessKeyEnv, "secret_key_env", s.SecretKeyEnv)
		for _, k := range []struct{ key, val string }{{"access_key_env", s.AccessKeyEnv}, {"secret_key_env", s.SecretKeyEnv}} {
			if k.val != "" && !validEnvName(k.val) {
				// The value is not echoed: it may be a secret put here by mistake.
				v.errorf(f+"."+k.key, "invalid environment variable name (want letters, digits and _; give the variable's name, not its value)")
			}
		}
	}
	if s.CredentialsFile != "" {
		groups = append(groups, "credentials_file")
		s.CredentialsFile = v.path(f+".credentials_file", s.CredentialsFile)
	}
	if s.AccessKey != "" || s.SecretKey != "" {
		groups = append(groups, "access_key")
		v.pair(f, "access_key", s.AccessKey, "secret_key", s.SecretKey)
		for _, k := range []struct{ key, val string }{{"access_key", s.AccessKey}, {"secret_key", s.SecretKey}} {
			if k.val != "" {
				v.warnf(f+"."+k.key, "secret stored in the configuration file; prefer access_key_env/secret_key_env or credentials_file")
			}
		}
	}
	if len(groups) > 1 {
		field := f + "." + groups[1]
		if groups[1] == "access_key" && s.AccessKey == "" {
			field = f + ".secret_key"
		}
		v.errorf(field, "only one of access_key_env/secret_key_env, credentials_file or access_key/secret_key may be set")
	}
}

// objectLock validates an s3 region's object_lock.
func (v *validator) objectLock(f string, s *S3) {
	if e, ok := v.idx.entries[f]; ok && e.null {
		v.errorf(f, "expected a mapping (mode, period), got null")
		return
	}
	ol := s.ObjectLock
	if ol == nil {
		return
	}
	switch m := strings.ToLower(ol.Mode); m {
	case LockCompliance, LockGovernance:
		ol.Mode = m
	case "":
		v.errorf(f+".mode", "required (compliance or governance)")
	default:
		v.errorf(f+".mode", "unknown object lock mode %q (want compliance or governance)", ol.Mode)
	}
	if ol.Period <= 0 {
		v.errorf(f+".period", "required, a positive duration (e.g. 14d)")
	}
}

// pair reports the missing half of a key pair.
func (v *validator) pair(f, k1, v1, k2, v2 string) {
	switch {
	case v1 == "" && v2 != "":
		v.errorf(f+"."+k1, "required when %s is set", k2)
	case v1 != "" && v2 == "":
		v.errorf(f+"."+k2, "required when %s is set", k1)
	}
}

// checkEndpoint returns why ep is not a valid host[:port], or "".
func checkEndpoint(ep string) string {
	if strings.Contains(ep, "://") {
		return fmt.Sprintf("invalid endpoint %q: give host[:port] without a scheme (set insecure: true for plain HTTP)", ep)
	}
	if strings.ContainsAny(ep, "/?#@ \t\r\n") {
		return fmt.Sprintf("invalid endpoint %q: want host[:port]", ep)
	}
	host := ep
	if strings.Contains(ep, ":") {
		h, port, err := net.SplitHostPort(ep)
		if err != nil {
			return fmt.Sprintf("invalid endpoint %q: want host[:port] (IPv6 addresses in brackets)", ep)
		}
		if n, err := strconv.Atoi(port); err != nil || n < 1 || n > 65535 {
			return fmt.Sprintf("invalid endpoint %q: bad port %q", ep, port)
		}
		host = h
	}
	if host == "" {
		return fmt.Sprintf("invalid endpoint %q: missing host", ep)
	}
	return ""
}

// checkPrefix returns why the slash-trimmed prefix p is invalid, or "".
func checkPrefix(p string) string {
	if p == "" {
		return "empty"
	}
	for _, seg := range strings.Split(p, "/") {
		if seg == "" || seg == "." || seg == ".." {
			return "empty, \".\" or \"..\" component"
		}
	}
	for _, r := range p {
		if r < 0x20 || r == 0x7f || r == '\\' {
			return "control character or backslash"
		}
	}
	return ""
}

func validBucket(b string) bool {
	if len(b) < 3 || len(b) > 63 || strings.Contains(b, "..") {
		return false
	}
	for i := 0; i < len(b); i++ {
		c := b[i]
		alnum := c >= 'a' && c <= 'z' || c >= '0' && c <= '9'
		if !alnum && (i == 0 || i == len(b)-1 || c != '.' && c != '-') {
			return false
		}
	}
	return true
}

func validStorageClass(s string) bool {
	for i := 0; i < len(s); i++ {
		c := s[i]
		if !(c >= 'A' && c <= 'Z' || i > 0 && (c >= '0' && c <= '9' || c == '_')) {
			return false
		}
	}
	return s != ""
}

func validEnvName(s string) bool {
	for i := 0; i < len(s); i++ {
		c := s[i]
		if !(c >= 'A' && c <= 'Z' || c >= 'a' && c <= 'z' || c == '_' || i > 0 && c >= '0' && c <= '9') {
			return false
		}
	}
	return s != ""
}

func (v *validator) repository() {
	c := v.cfg
	r := &c.Repository
	r.Identity = v.path("repository.identity", r.Identity)
	r.PassphraseFile = v.path("repository.passphrase_file", r.PassphraseFile)
	r.CacheDir = v.path("repository.cache_dir", r.CacheDir)
	n := len(c.Regions)
	if v.idx.has("repository.write_quorum") {
		if n > 0 && (r.WriteQuorum < 1 || r.WriteQuorum > n) {
			v.errorf("repository.write_quorum", "%d is out of range 1..%d (the number of regions)", r.WriteQuorum, n)
		}
	} else {
		r.WriteQuorum = n
	}
	switch r.Compression {
	case "":
		r.Compression = CompressionAuto
	case CompressionFastest, CompressionDefault, CompressionBetter, CompressionBest, CompressionAuto:
	default:
		v.errorf("repository.compression", "unknown compression %q (want fastest, default, better, best or auto)", r.Compression)
	}
	if v.idx.has("repository.pack_size") && (r.PackSize < MinPackSize || r.PackSize > MaxPackSize) {
		v.errorf("repository.pack_size", "%s is out of range %s..%s", r.PackSize, MinPackSize, MaxPackSize)
	}
	switch z := r.RetentionZone; {
	case z == "" && v.idx.present("repository.retention_zone"):
		v.errorf("repository.retention_zone", "must not be empty (leave it out for UTC)")
	case z == "":
	case z == "Local" || strings.HasPrefix(z, "/") || strings.Contains(z, ".."):
		v.errorf("repository.retention_zone", "%q is not an IANA time zone name (such as Europe/Berlin)", z)
	default:
		if _, err := time.LoadLocation(z); err != nil {
			v.errorf("repository.retention_zone", "unknown time zone %q (want an IANA name such as Europe/Berlin)", z)
		}
	}
}

func (v *validator) sources() {
	seen := map[string]int{}
	for i := range v.cfg.Sources {
		s := &v.cfg.Sources[i]
		f := fmt.Sprintf("sources[%d]", i)
		v.name(f+".name", s.Name)
		v.unique(f+".name", "source", s.Name, i, seen)
		if len(s.Paths) == 0 {
			v.errorf(f+".paths", "at least one path is required")
		}
		for j, p := range s.Paths {
			pf := fmt.Sprintf("%s.paths[%d]", f, j)
			if p == "" {
				v.errorf(pf, "must not be empty")
				continue
			}
			s.Paths[j] = v.path(pf, p)
		}
		for j, pat := range s.Exclude {
			pf := fmt.Sprintf("%s.exclude[%d]", f, j)
			if strings.TrimSpace(pat) == "" {
				v.errorf(pf, "must not be empty")
			} else if _, err := path.Match(pat, ""); err != nil {
				v.errorf(pf, "invalid pattern %q: %v", pat, err)
			}
		}
		s.ExcludeFile = v.path(f+".exclude_file", s.ExcludeFile)
		for j, t := range s.Tags {
			if t == "" || strings.ContainsAny(t, ", \t\r\n") {
				v.errorf(fmt.Sprintf("%s.tags[%d]", f, j), "invalid tag %q (must be non-empty without spaces or commas)", t)
			}
		}
		if strings.ContainsAny(s.Host, " \t\r\n") {
			v.errorf(f+".host", "invalid host name %q", s.Host)
		}
		v.schedule(f+".schedule", s.Schedule)
		v.keep(f+".keep", s.Keep)
		if s.Keep != nil && v.cfg.AppendOnly() {
			v.errorf(f+".keep", "not on an append-only host (append_only): forget is the job of a host whose credentials may delete")
		}
	}
}

// keep checks a source's retention policy: every rule valid, at least one.
func (v *validator) keep(f string, k *Keep) {
	if !v.idx.has(f) {
		if v.idx.present(f) {
			v.errorf(f, "must not be empty: an empty policy would remove everything (set last, daily, within, ...)")
		}
		return
	}
	rules, errs := 0, len(v.errs)
	for _, kf := range k.fields() {
		if kf.arg == "" {
			if strings.HasPrefix(kf.key, "tags[") {
				v.errorf(f+"."+kf.key, "must not be empty")
			} else if v.idx.present(f + "." + kf.key) {
				v.errorf(f+"."+kf.key, "must not be zero or empty (leave it out instead)")
			}
			continue
		}
		if _, err := retention.ParseRule(kf.kind + " " + kf.arg); err != nil {
			v.errorf(f+"."+kf.key, "%v", err)
			continue
		}
		rules++
	}
	if rules == 0 && len(v.errs) == errs {
		v.errorf(f, "no rule set: an empty policy would remove everything (set last, daily, within, ...)")
	}
}

func (v *validator) drills() {
	c := v.cfg
	seen := map[string]int{}
	for i := range c.Drills {
		d := &c.Drills[i]
		f := fmt.Sprintf("drills[%d]", i)
		v.name(f+".name", d.Name)
		v.unique(f+".name", "drill", d.Name, i, seen)
		if d.Source != "" && c.Source(d.Source) == nil {
			v.errorf(f+".source", "unknown source %q", d.Source)
		}
		switch {
		case d.Snapshot == "":
			d.Snapshot = LatestSnapshot
		case strings.ContainsAny(d.Snapshot, " \t\r\n"):
			v.errorf(f+".snapshot", "invalid snapshot %q", d.Snapshot)
		}
		lost := v.regionList(f+".lose", d.Lose)
		if len(c.Regions) > 0 && lost >= len(c.Regions) {
			v.errorf(f+".lose", "cannot lose every region")
		}
		v.regionList(f+".only", d.Only)
		if len(d.Lose) > 0 && len(d.Only) > 0 {
			v.errorf(f+".only", "cannot be combined with lose")
		}
		if v.idx.has(f + ".sample") {
			if d.Sample <= 0 {
				v.errorf(f+".sample", "must be greater than 0%% (or \"full\")")
			}
		} else {
			d.Sample = 100
		}
		v.schedule(f+".schedule", d.Schedule)
	}
}

// regionList checks a list of region names and returns how many distinct
// existing regions it names.
func (v *validator) regionList(field string, names []string) int {
	seen := map[string]bool{}
	for j, n := range names {
		ef := fmt.Sprintf("%s[%d]", field, j)
		switch {
		case v.cfg.Region(n) == nil:
			v.errorf(ef, "unknown region %q", n)
		case seen[n]:
			v.errorf(ef, "region %q listed twice", n)
		default:
			seen[n] = true
		}
	}
	return len(seen)
}

func (v *validator) jobs() {
	j := &v.cfg.Jobs
	if j.Sync != nil {
		v.requiredSchedule("jobs.sync.schedule", j.Sync.Schedule)
		if v.cfg.AppendOnly() {
			v.errorf("jobs.sync", "not on an append-only host (append_only): sync is the job of a host whose credentials may delete")
		}
	}
	if j.Check != nil {
		v.requiredSchedule("jobs.check.schedule", j.Check.Schedule)
	}
	if p := j.Prune; p != nil {
		v.requiredSchedule("jobs.prune.schedule", p.Schedule)
		if v.cfg.AppendOnly() {
			v.errorf("jobs.prune", "not on an append-only host (append_only): prune is the job of a host whose credentials may delete")
		}
		if !v.idx.has("jobs.prune.grace") {
			p.Grace = DefaultPruneGrace
		} else if p.Grace < Duration(time.Second) {
			v.errorf("jobs.prune.grace", "must be at least 1s (the sweep's safety margin for backups in flight)")
		}
		if !v.idx.has("jobs.prune.min_pack_age") {
			p.MinPackAge = DefaultPruneMinPackAge
		}
		if !v.idx.has("jobs.prune.max_unused") {
			p.MaxUnused = DefaultPruneMaxUnused
		}
	}
}

func (v *validator) requiredSchedule(field, spec string) {
	if strings.TrimSpace(spec) == "" {
		v.errorf(field, "required")
	}
}

func (v *validator) daemon() {
	d := &v.cfg.Daemon
	if d.Listen != "" && d.Listen != "none" {
		_, port, err := net.SplitHostPort(d.Listen)
		if err != nil {
			v.errorf("daemon.listen", "invalid address %q: want host:port", d.Listen)
		} else if n, err := strconv.Atoi(port); err != nil || n < 0 || n > 65535 {
			v.errorf("daemon.listen", "invalid address %q: bad port %q", d.Listen, port)
		}
	}
	switch d.LogFormat {
	case "":
		d.LogFormat = LogText
	case LogText, LogJSON:
	default:
		v.errorf("daemon.log_format", "unknown log format %q (want json or text)", d.LogFormat)
	}
	if w := d.Webhook; w != nil {
		if w.URL == "" {
			v.errorf("daemon.webhook.url", "required")
		} else if u, err := url.Parse(w.URL); err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" {
			v.errorf("daemon.webhook.url", "invalid URL %q (want http:// or https:// with a host)", w.URL)
		}
		if v.idx.has("daemon.webhook.retries") {
			if w.Retries < 0 || w.Retries > MaxWebhookRetries {
				v.errorf("daemon.webhook.retries", "%d is out of range 0..%d", w.Retries, MaxWebhookRetries)
			}
		} else {
			w.Retries = DefaultWebhookRetries
		}
	}
}
