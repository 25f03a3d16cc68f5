package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"strings"
	"sync"
	"time"

	"golang.org/x/sync/errgroup"

	"lifeboat/cmd/lifeboat/internal/config"
	"lifeboat/engine/repo"
	"lifeboat/storage"
	"lifeboat/storage/local"
	"lifeboat/storage/regions"
	"lifeboat/storage/retry"
	"lifeboat/storage/s3"
)

// buildStorage is the one place that picks backends and the order of their
// wrappers: each region is its backend wrapped in retry (transient errors
// only); the regions are combined in a region set with the configured write
// quorum.
//
// The regions are opened concurrently, each within its open timeout (s3:
// open_timeout), so a hung region costs that bound once, not its request
// timeout. Without create, a region that cannot be opened is down (see
// regions.Down), not fatal, unless every region is; with create (init),
// any failure is fatal. Errors that a configuration change must fix
// (storage.ErrConfig) say what to fix.
func buildStorage(ctx context.Context, cfg *config.Config, create bool, getenv func(string) string, warn io.Writer) (storage.Storage, error) {
	return buildStorageFor(ctx, cfg, openMode{create: create}, getenv, warn)
}

// openMode says what a command needs of its regions when it opens them.
type openMode struct {
	// create (init): every region must open.
	create bool
	// readOnly: the command only reads (restore, ls, snapshots, a
	// drill), so one open region is enough to start. Once one has
	// opened, the others get stragglerGrace(time it took) more instead
	// of their whole open_timeout: a region that hangs then costs about
	// a second, and is down for this run (its reads fail over). Commands
	// that write wait the full open_timeout, since a region left out is
	// behind and may cost the write quorum.
	readOnly bool
	// asOf, when not zero, opens each region as it was at that time, read
	// only, from its object versions (asof.go); a region without versions
	// is down. keepFor, when not nil, gives each region's as-of view its
	// asof.Options.Keep (an error: the region is down).
	asOf    time.Time
	keepFor func(ctx context.Context, region string, st storage.Storage) (func(context.Context, storage.VersionInfo) (bool, error), error)
}

// Bounds of the grace a read-only command gives the regions still opening
// after the first one opened.
const (
	stragglerFloor  = time.Second
	stragglerFactor = 4
)

// stragglerGrace is how much longer the regions still opening may take
// once the first opened after first.
func stragglerGrace(first time.Duration) time.Duration {
	return max(stragglerFloor, stragglerFactor*first)
}

// buildStorageFor is buildStorage with the command's needs spelled out.
func buildStorageFor(ctx context.Context, cfg *config.Config, mode openMode, getenv func(string) string, warn io.Writer) (storage.Storage, error) {
	create := mode.create
	// With other regions to fail over to, a region's transient errors are
	// retried once, not waited out, and a timeout not at all: the set
	// serves the object elsewhere and repairs the region later.
	retryOpts := retry.Options{}
	if len(cfg.Regions) > 1 {
		retryOpts.Attempts = 2
		retryOpts.NoRetryTimeouts = true
	}
	rcs := cfg.RegionsByPriority()
	appendOnly := cfg.AppendOnly()
	for i := range rcs {
		// An append-only host deletes in no region.
		rcs[i].AppendOnly = rcs[i].AppendOnly || appendOnly
	}
	sts := make([]storage.Storage, len(rcs))
	errs := make([]error, len(rcs))
	// Stragglers of a read-only open are cut short through octx.
	octx, cutStragglers := context.WithCancelCause(ctx)
	defer cutStragglers(nil)
	var once sync.Once
	var timer *time.Timer
	start := time.Now()
	var g errgroup.Group
	g.SetLimit(max(1, len(rcs)))
	for i := range rcs {
		g.Go(func() error {
			st, err := openRegionBounded(octx, &rcs[i], create, getenv)
			if err != nil && ctx.Err() == nil && octx.Err() != nil {
				// Cut short: another region opened long before.
				err = storage.MarkTransient(fmt.Errorf("%w (%w)", context.Cause(octx), err))
			}
			sts[i], errs[i] = st, err
			if err == nil && mode.readOnly && len(rcs) > 1 {
				once.Do(func() {
					grace := stragglerGrace(time.Since(start))
					timer = time.AfterFunc(grace, func() {
						cutStragglers(fmt.Errorf("%w: no answer within %v of the first region to open (reads need one region)", errStraggler, grace.Round(time.Millisecond)))
					})
				})
			}
			return nil
		})
	}
	_ = g.Wait()
	if timer != nil {
		timer.Stop()
	}
	closeAll := func() {
		for _, st := range sts {
			if st != nil {
				st.Close()
			}
		}
	}
	if err := ctx.Err(); err != nil {
		closeAll()
		return nil, err
	}
	var rs []regions.Region
	var downErrs []any
	var warnings []string
	for i, rc := range rcs {
		st, err := sts[i], errs[i]
		if err != nil {
			if create {
				closeAll()
				return nil, fmt.Errorf("region %s: %w", rc.Name, err)
			}
			// A region that cannot be opened is down, not fatal: the
			// region set serves reads from the others and counts it
			// against the write quorum (its errors get the region's name
			// from the set).
			if errors.Is(err, storage.ErrConfig) {
				warnings = append(warnings, fmt.Sprintf("lifeboat: warning: region %s is misconfigured (not written or read until fixed): %v\n", rc.Name, err))
			} else {
				warnings = append(warnings, fmt.Sprintf("lifeboat: warning: region %s: %v (treating the region as down)\n", rc.Name, err))
			}
			st = regions.Down(err)
			downErrs = append(downErrs, fmt.Errorf("region %s: %w", rc.Name, err))
		} else {
			st = retry.New(st, retryOpts)
			if v, err := asOfRegion(ctx, rc.Name, st, mode); err != nil {
				warnings = append(warnings, fmt.Sprintf("lifeboat: warning: region %s: %v (left out)\n", rc.Name, err))
				st.Close()
				sts[i] = nil // closed: not again by closeAll
				st = regions.Down(err)
				downErrs = append(downErrs, fmt.Errorf("region %s: %w", rc.Name, err))
			} else {
				st = v
			}
		}
		rs = append(rs, regions.Region{Name: rc.Name, Storage: st, Priority: i})
	}
	if len(downErrs) == len(rs) {
		closeAll()
		if len(downErrs) == 1 {
			return nil, downErrs[0].(error)
		}
		// Every region's cause, each reachable with errors.Is.
		return nil, fmt.Errorf("no region could be opened: %w"+strings.Repeat("; %w", len(downErrs)-1), downErrs...)
	}
	for _, w := range warnings {
		fmt.Fprint(warn, w)
	}
	set, err := regions.New(rs, regions.Options{WriteQuorum: cfg.Repository.WriteQuorum, AppendOnly: appendOnly})
	if err != nil {
		closeAll()
		return nil, err
	}
	return set, nil
}

// refuseAppendOnly fails a command that must delete (sync, key remove) on
// an append-only host (append_only in its configuration): its
// credentials may not delete, and its deletes are left to a trusted host.
func refuseAppendOnly(cfg *config.Config, command string) error {
	if !cfg.AppendOnly() {
		return nil
	}
	return withCode(ExitUsage, fmt.Errorf("%s is refused: this host is append-only (append_only in its configuration: %w); run it from a host whose credentials may delete", command, storage.ErrAppendOnly))
}

// errStraggler marks a region a read-only command stopped waiting for
// because another region had opened long before.
var errStraggler = errors.New("region still opening")

// openRegionBounded opens one region within its open timeout. A region
// that does not answer in time is down (a transient error), and an error
// that a configuration change must fix names the fix.
func openRegionBounded(ctx context.Context, rc *config.Region, create bool, getenv func(string) string) (storage.Storage, error) {
	octx := ctx
	var limit time.Duration
	if rc.S3 != nil && rc.S3.OpenTimeout > 0 {
		limit = rc.S3.OpenTimeout.Std()
		var cancel context.CancelFunc
		octx, cancel = context.WithTimeout(ctx, limit)
		defer cancel()
	}
	st, err := openRegion(octx, rc, create, getenv)
	if err == nil {
		return st, nil
	}
	if ctx.Err() == nil && errors.Is(octx.Err(), context.DeadlineExceeded) {
		return nil, storage.MarkTransient(fmt.Errorf("no answer within %v (open_timeout): %w", limit, err))
	}
	return nil, describeRegionErr(rc, err)
}

// describeRegionErr adds to a configuration error of region rc what to fix.
func describeRegionErr(rc *config.Region, err error) error {
	if !errors.Is(err, storage.ErrConfig) && !errors.Is(err, storage.ErrPermission) {
		return err
	}
	if !errors.Is(err, storage.ErrConfig) {
		err = fmt.Errorf("%w (%w)", storage.ErrConfig, err)
	}
	s := rc.S3
	switch {
	case s == nil:
		return fmt.Errorf("%w; fix: make %s readable and writable by this user, or fix `path:` of region %s", err, rc.Path, rc.Name)
	case errors.Is(err, s3.ErrNoObjectLock):
		return err // it names the fix
	case errors.Is(err, s3.ErrNoBucket):
		return fmt.Errorf("%w; fix: create bucket %q on %s, or fix `bucket:` of region %s", err, s.Bucket, s.Endpoint, rc.Name)
	case s.AccessKeyEnv != "":
		return fmt.Errorf("%w; fix: check the credentials in $%s and $%s (access_key_env, secret_key_env of region %s) and that they may read and write bucket %q", err, s.AccessKeyEnv, s.SecretKeyEnv, rc.Name, s.Bucket)
	case s.CredentialsFile != "":
		return fmt.Errorf("%w; fix: check the credentials in %s (credentials_file of region %s) and that they may read and write bucket %q", err, s.CredentialsFile, rc.Name, s.Bucket)
	case s.AccessKey != "":
		return fmt.Errorf("%w; fix: check access_key and secret_key of region %s and that they may read and write bucket %q", err, rc.Name, s.Bucket)
	}
	return fmt.Errorf("%w; fix: region %s has no credentials: set access_key_env and secret_key_env (or credentials_file)", err, rc.Name)
}

func openRegion(ctx context.Context, rc *config.Region, create bool, getenv func(string) string) (storage.Storage, error) {
	switch rc.Type {
	case config.TypeLocal:
		if !create {
			if _, err := os.Stat(rc.Path); errors.Is(err, os.ErrNotExist) {
				return nil, fmt.Errorf("%s does not exist: %w", rc.Path, repo.ErrNoRepository)
			}
		}
		return local.New(rc.Path)
	case config.TypeS3:
		ak, sk, err := rc.S3.Credentials(getenv, os.ReadFile)
		if err != nil {
			// Credentials missing from the environment or their file:
			// the configuration, not the server.
			return nil, fmt.Errorf("%w: %w", storage.ErrConfig, err)
		}
		lookup := s3.LookupAuto
		if rc.S3.PathStyle != nil {
			lookup = s3.LookupVirtual
			if *rc.S3.PathStyle {
				lookup = s3.LookupPath
			}
		}
		return s3.New(ctx, s3.Config{
			Endpoint:     rc.S3.Endpoint,
			Bucket:       rc.S3.Bucket,
			Prefix:       rc.S3.Prefix,
			Region:       rc.S3.Region,
			Insecure:     rc.S3.Insecure,
			Lookup:       lookup,
			AccessKey:    ak,
			SecretKey:    sk,
			StorageClass: rc.S3.StorageClass,
			Timeout:      rc.S3.Timeout.Std(),
			AppendOnly:   rc.AppendOnly,
			ObjectLock:   objectLock(rc.S3.ObjectLock),
		})
	}
	return nil, fmt.Errorf("unknown region type %q", rc.Type)
}

// objectLock converts a region's object_lock setting (nil: none).
// Retain-until dates are computed from this host's clock at each write.
func objectLock(ol *config.ObjectLock) *storage.ObjectLock {
	if ol == nil {
		return nil
	}
	return &storage.ObjectLock{Mode: ol.Mode, Period: ol.Period.Std()}
}

// errNoConditionalCreate reports regions whose conditional creates are not
// known to be atomic, refused by everything that relies on them.
var errNoConditionalCreate = errors.New("conditional creates do not work")

// conditionalCreate describes a region's conditional creates for
// lifeboat regions: "yes", "no" (the server ignores them), "untested"
// (the probe could not write), "unsafe" (not working, accepted by the
// operator), or "-" (the region could not be opened).
func conditionalCreate(rc *config.Region, st storage.Storage, down bool) string {
	c := st.Capabilities()
	switch {
	case down:
		return "-"
	case c.ConditionalCreate:
		return "yes"
	case rc != nil && rc.S3 != nil && rc.S3.UnsafeNoConditionalCreate:
		return "unsafe"
	case c.ConditionalCreateUnverified:
		return "untested"
	}
	return "no"
}

// conditionalCreateProblem explains a region's conditional-create state
// ("" when it is fine or accepted).
func conditionalCreateProblem(state string) string {
	switch state {
	case "no":
		return "the S3 server ignores conditional creates (If-None-Match): two hosts could both take the repository lock or both init it; use a server that honours them, or accept the risk with `unsafe_no_conditional_create: true` on the region"
	case "untested":
		return "conditional creates could not be tested: the probe write was refused (read-only credentials?); give the credentials write access, or accept the risk with `unsafe_no_conditional_create: true` on the region"
	}
	return ""
}

// requireConditionalCreate refuses st (a region set) when a region that
// opened lacks working conditional creates and the operator did not accept
// that for it (unsafe_no_conditional_create): init and the repository lock
// rely on them, so such a region could let two hosts both win. Regions
// that could not be opened are not judged here (writes to them fail). Use
// it in init and wherever the repository lock is taken.
func requireConditionalCreate(cfg *config.Config, st storage.Storage) error {
	set, ok := st.(*regions.Set)
	if !ok {
		if !st.Capabilities().ConditionalCreate {
			return withCode(ExitUsage, fmt.Errorf("%w in this storage", errNoConditionalCreate))
		}
		return nil
	}
	down := map[string]bool{}
	for _, d := range set.Down() {
		down[d.Region] = true
	}
	var problems []string
	for _, name := range set.Names() {
		rst, _ := set.Region(name)
		if p := conditionalCreateProblem(conditionalCreate(cfg.Region(name), rst, down[name])); p != "" {
			problems = append(problems, fmt.Sprintf("region %s: %s", name, p))
		}
	}
	if len(problems) == 0 {
		return nil
	}
	return withCode(ExitUsage, fmt.Errorf("%w: %s", errNoConditionalCreate, strings.Join(problems, "; ")))
}

// requireWriteQuorum fails, before anything is written, when fewer regions
// of st (a region set) opened than the write quorum needs, naming each
// down region's cause. Exit code 2 when a region's configuration is among
// the causes, 1 otherwise.
func requireWriteQuorum(st storage.Storage) error {
	set, ok := st.(*regions.Set)
	if !ok {
		return nil
	}
	err := set.CheckWriteQuorum()
	if err == nil {
		return nil
	}
	err = fmt.Errorf("nothing was written: %w", err)
	if errors.Is(err, storage.ErrConfig) {
		return withCode(ExitUsage, err)
	}
	return withCode(ExitError, err)
}
