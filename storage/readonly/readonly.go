package readonly

import (
	"context"
	"fmt"
	"io"

	"lifeboat/storage"
)

type readOnly struct {
	inner storage.Storage
}

// New wraps inner so that every mutation fails with storage.ErrReadOnly.
// The result implements storage.Unwrapper.
func New(inner storage.Storage) storage.Storage {
	return &readOnly{inner: inner}
}

// Unwrap returns the wrapped storage.
func (s *readOnly) Unwrap() storage.Storage { return s.inner }

func (s *readOnly) Get(ctx context.Context, name string, off, length int64) (io.ReadCloser, error) {
	return s.inner.Get(ctx, name, off, length)
}

func (s *readOnly) Stat(ctx context.Context, name string) (storage.Info, error) {
	return s.inner.Stat(ctx, name)
}

func (s *readOnly) List(ctx context.Context, prefix string, fn func(storage.Info) error) error {
	return s.inner.List(ctx, prefix, fn)
}

func (s *readOnly) Capabilities() storage.Capabilities {
	c := s.inner.Capabilities()
	c.ReadOnly = true
	if c.Regions != nil {
		c.Regions = regionsView{inner: c.Regions}
	}
	if c.Versions != nil {
		c.Versions = versionsView{inner: c.Versions}
	}
	return c
}

// versionsView is the read-only view of a storage's versions: they can be
// listed and read, not removed.
type versionsView struct {
	inner storage.Versions
}

func (v versionsView) ListVersions(ctx context.Context, prefix string, fn func(storage.VersionInfo) error) error {
	return v.inner.ListVersions(ctx, prefix, fn)
}

func (v versionsView) GetVersion(ctx context.Context, name, versionID string, off, length int64) (io.ReadCloser, error) {
	return v.inner.GetVersion(ctx, name, versionID, off, length)
}

func (v versionsView) DeleteVersion(_ context.Context, name, versionID string) error {
	return fmt.Errorf("delete %s version %s: %w", name, versionID, storage.ErrReadOnly)
}

func (s *readOnly) Put(_ context.Context, name string, _ io.ReadSeeker, _ int64, _ storage.PutOptions) error {
	return fmt.Errorf("put %s: %w", name, storage.ErrReadOnly)
}

func (s *readOnly) Delete(_ context.Context, name string) error {
	return fmt.Errorf("delete %s: %w", name, storage.ErrReadOnly)
}

func (s *readOnly) Close() error { return s.inner.Close() }

// regionsView is the read-only view of a region set. It is a comparable
// value: two views of the same set are equal.
type regionsView struct {
	inner storage.RegionSet
}

func (v regionsView) Names() []string { return v.inner.Names() }

// Region returns the named region's storage, wrapped read-only.
func (v regionsView) Region(name string) (storage.Storage, bool) {
	st, ok := v.inner.Region(name)
	if !ok {
		return nil, false
	}
	return New(st), true
}

func (v regionsView) Replicas() []storage.Replica { return v.inner.Replicas() }

func (v regionsView) Repair(_ context.Context, region, name string, _ []byte) error {
	return fmt.Errorf("repair %s in region %s: %w", name, region, storage.ErrReadOnly)
}

func (v regionsView) ReportBad(region, name string, err error) { v.inner.ReportBad(region, name, err) }

func (v regionsView) Lagging() []string { return v.inner.Lagging() }

func (v regionsView) WriteQuorum() int { return v.inner.WriteQuorum() }

func (v regionsView) PutOnly(_ context.Context, _ []string, name string, _ io.ReadSeeker, _ int64, _ storage.PutOptions) error {
	return fmt.Errorf("put %s: %w", name, storage.ErrReadOnly)
}

func (v regionsView) ListUnion(ctx context.Context, prefix string, fn func(storage.Info) error) error {
	return v.inner.ListUnion(ctx, prefix, fn)
}
