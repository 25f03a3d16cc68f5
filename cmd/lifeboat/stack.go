package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"os"

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
func buildStorage(ctx context.Context, cfg *config.Config, create bool, getenv func(string) string, warn io.Writer) (storage.Storage, error) {
	var rs []regions.Region
	closeAll := func() {
		for _, r := range rs {
			r.Storage.Close()
		}
	}
	// With other regions to fail over to, a region's transient errors are
	// retried once, not waited out, and a timeout not at all: the set
	// serves the object elsewhere and repairs the region later.
	retryOpts := retry.Options{}
	if len(cfg.Regions) > 1 {
		retryOpts.Attempts = 2
		retryOpts.NoRetryTimeouts = true
	}
	var firstErr error
	var warnings []string
	down := 0
	for i, rc := range cfg.RegionsByPriority() {
		st, err := openRegion(ctx, &rc, create, getenv)
		if err != nil {
			if create {
				closeAll()
				return nil, fmt.Errorf("region %s: %w", rc.Name, err)
			}
			// A region that cannot be reached is down, not fatal: the
			// region set serves reads from the others and counts it
			// against the write quorum (its errors get the region's name
			// from the set).
			warnings = append(warnings, fmt.Sprintf("lifeboat: warning: region %s: %v (treating the region as down)\n", rc.Name, err))
			st = &unavailable{err: err}
			down++
			if firstErr == nil {
				firstErr = fmt.Errorf("region %s: %w", rc.Name, err)
			}
		} else {
			st = retry.New(st, retryOpts)
		}
		rs = append(rs, regions.Region{Name: rc.Name, Storage: st, Priority: i})
	}
	if down == len(rs) {
		closeAll()
		return nil, firstErr
	}
	for _, w := range warnings {
		fmt.Fprint(warn, w)
	}
	set, err := regions.New(rs, regions.Options{WriteQuorum: cfg.Repository.WriteQuorum})
	if err != nil {
		closeAll()
		return nil, err
	}
	return set, nil
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
			return nil, err
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
		})
	}
	return nil, fmt.Errorf("unknown region type %q", rc.Type)
}

// unavailable is a region that could not be opened: every operation fails
// with the reason, marked transient so that it counts as a failure of the
// region (not of the object).
type unavailable struct{ err error }

func (u *unavailable) fail() error { return storage.MarkTransient(u.err) }

func (u *unavailable) Get(context.Context, string, int64, int64) (io.ReadCloser, error) {
	return nil, u.fail()
}
func (u *unavailable) Stat(context.Context, string) (storage.Info, error) {
	return storage.Info{}, u.fail()
}
func (u *unavailable) List(context.Context, string, func(storage.Info) error) error { return u.fail() }
func (u *unavailable) Put(context.Context, string, io.ReadSeeker, int64, storage.PutOptions) error {
	return u.fail()
}
func (u *unavailable) Delete(context.Context, string) error { return u.fail() }
func (u *unavailable) Capabilities() storage.Capabilities {
	return storage.Capabilities{ConditionalCreate: true}
}
func (u *unavailable) Close() error { return nil }
