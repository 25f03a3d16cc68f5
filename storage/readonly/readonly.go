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
	return c
}

func (s *readOnly) Put(_ context.Context, name string, _ io.ReadSeeker, _ int64, _ storage.PutOptions) error {
	return fmt.Errorf("put %s: %w", name, storage.ErrReadOnly)
}

func (s *readOnly) Delete(_ context.Context, name string) error {
	return fmt.Errorf("delete %s: %w", name, storage.ErrReadOnly)
}

func (s *readOnly) Close() error { return s.inner.Close() }
