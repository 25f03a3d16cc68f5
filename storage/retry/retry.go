package retry

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"math/rand/v2"
	"net"
	"os"
	"time"

	"lifeboat/storage"
)

// Defaults for zero Options fields.
const (
	DefaultAttempts = 4
	DefaultBase     = 100 * time.Millisecond
	DefaultMax      = 5 * time.Second
)

// Options configure the retry wrapper. The zero value gives the defaults.
type Options struct {
	// Attempts is the total number of calls per operation, the first
	// included (<= 0: DefaultAttempts; 1 disables retries).
	Attempts int
	// Base is the backoff cap before the first retry; it doubles for each
	// further retry (<= 0: DefaultBase).
	Base time.Duration
	// Max bounds the backoff cap (<= 0: DefaultMax).
	Max time.Duration
	// Sleep waits d or until ctx ends, returning ctx's error in that case
	// (nil: a real timer).
	Sleep func(ctx context.Context, d time.Duration) error
	// Rand returns a number in [0, 1) for the jitter; it must be safe for
	// concurrent use (nil: math/rand/v2.Float64).
	Rand func() float64
	// OnRetry, if set, is called before each backoff with the operation
	// ("get", "stat", "list", "put", "delete"), the object name (the prefix
	// for list), the 1-based number of the attempt that failed and its
	// error.
	OnRetry func(op, name string, attempt int, err error)
	// NoRetryTimeouts returns an attempt that timed out (the server made
	// no progress: see IsTimeout) at once instead of retrying it. A region
	// of a region set sets it: the set serves the object from another
	// region, rather than waiting for the hung one a second time.
	NoRetryTimeouts bool
}

type retryStorage struct {
	inner storage.Storage
	opt   Options
}

// New wraps inner so that transient failures are retried according to opt.
// The result implements storage.Unwrapper.
func New(inner storage.Storage, opt Options) storage.Storage {
	if opt.Attempts <= 0 {
		opt.Attempts = DefaultAttempts
	}
	if opt.Base <= 0 {
		opt.Base = DefaultBase
	}
	if opt.Max <= 0 {
		opt.Max = DefaultMax
	}
	if opt.Sleep == nil {
		opt.Sleep = sleep
	}
	if opt.Rand == nil {
		opt.Rand = rand.Float64
	}
	return &retryStorage{inner: inner, opt: opt}
}

func sleep(ctx context.Context, d time.Duration) error {
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-t.C:
		return nil
	case <-ctx.Done():
		return ctx.Err()
	}
}

// Unwrap returns the wrapped storage.
func (s *retryStorage) Unwrap() storage.Storage { return s.inner }

// backoff returns the jittered wait before retry number n (1-based).
func (s *retryStorage) backoff(n int) time.Duration {
	limit := s.opt.Base
	for i := 1; i < n && limit < s.opt.Max; i++ {
		limit *= 2
	}
	limit = min(limit, s.opt.Max)
	j := s.opt.Rand()
	if j < 0 || j > 1 {
		j = 1
	}
	return time.Duration(j * float64(limit))
}

// do calls call until it succeeds, fails non-transiently, runs out of
// attempts or ctx ends.
func (s *retryStorage) do(ctx context.Context, op, name string, call func(attempt int) error) error {
	for attempt := 1; ; attempt++ {
		err := call(attempt)
		if err == nil || !storage.IsTransient(err) {
			return err
		}
		if s.opt.NoRetryTimeouts && IsTimeout(err) && ctx.Err() == nil {
			return err
		}
		if cerr := ctx.Err(); cerr != nil {
			if errors.Is(err, cerr) {
				return err
			}
			return fmt.Errorf("retry %s %s: %w (after: %w)", op, name, cerr, err)
		}
		if attempt >= s.opt.Attempts {
			return fmt.Errorf("retry %s %s: gave up after %d attempts: %w", op, name, attempt, err)
		}
		if s.opt.OnRetry != nil {
			s.opt.OnRetry(op, name, attempt, err)
		}
		if serr := s.opt.Sleep(ctx, s.backoff(attempt)); serr != nil {
			return fmt.Errorf("retry %s %s: %w (after: %w)", op, name, serr, err)
		}
	}
}

// IsTimeout reports whether err says a request timed out: it wraps
// os.ErrDeadlineExceeded (a backend's no-progress watchdog, a connection
// deadline) or a net.Error whose Timeout holds (context.DeadlineExceeded
// among them: a per-request deadline). The wrapper applies it only while
// the caller's context is alive, so the caller's own deadline never counts.
func IsTimeout(err error) bool {
	if errors.Is(err, os.ErrDeadlineExceeded) {
		return true
	}
	var ne net.Error
	return errors.As(err, &ne) && ne.Timeout()
}

func (s *retryStorage) Get(ctx context.Context, name string, off, length int64) (io.ReadCloser, error) {
	var body io.ReadCloser
	err := s.do(ctx, "get", name, func(int) error {
		var err error
		body, err = s.inner.Get(ctx, name, off, length)
		return err
	})
	if err != nil {
		return nil, err
	}
	return body, nil
}

func (s *retryStorage) Stat(ctx context.Context, name string) (storage.Info, error) {
	var info storage.Info
	err := s.do(ctx, "stat", name, func(int) error {
		var err error
		info, err = s.inner.Stat(ctx, name)
		return err
	})
	return info, err
}

// errCallback marks a listing stopped by its callback.
var errCallback = errors.New("stopped by the callback")

func (s *retryStorage) List(ctx context.Context, prefix string, fn func(storage.Info) error) error {
	seen := map[string]struct{}{}
	var fnErr error
	err := s.do(ctx, "list", prefix, func(int) error {
		err := s.inner.List(ctx, prefix, func(info storage.Info) error {
			if _, dup := seen[info.Name]; dup {
				return nil
			}
			seen[info.Name] = struct{}{}
			if err := fn(info); err != nil {
				fnErr = err
				return errCallback
			}
			return nil
		})
		if fnErr != nil {
			return errCallback
		}
		return err
	})
	if fnErr != nil {
		return fnErr
	}
	return err
}

func (s *retryStorage) Put(ctx context.Context, name string, r io.ReadSeeker, size int64, opt storage.PutOptions) error {
	lostReply := false
	return s.do(ctx, "put", name, func(attempt int) error {
		if attempt > 1 {
			if _, err := r.Seek(0, io.SeekStart); err != nil {
				return fmt.Errorf("retry put %s: rewind body: %w", name, err)
			}
		}
		err := s.inner.Put(ctx, name, r, size, opt)
		if opt.IfNotExists && lostReply && errors.Is(err, storage.ErrExist) {
			if s.holds(ctx, name, r, size) {
				return nil
			}
		}
		if storage.IsTransient(err) {
			lostReply = true
		}
		return err
	})
}

// holds reports whether object name holds exactly the size bytes of r
// (read from its start), reading it with retries. Any failure to check
// reports false.
func (s *retryStorage) holds(ctx context.Context, name string, r io.ReadSeeker, size int64) bool {
	if _, err := r.Seek(0, io.SeekStart); err != nil {
		return false
	}
	body, err := s.Get(ctx, name, 0, -1)
	if err != nil {
		return false
	}
	defer body.Close()
	const chunk = 64 << 10
	want := make([]byte, chunk)
	got := make([]byte, chunk)
	for left := size; left > 0; {
		n := min(left, chunk)
		if _, err := io.ReadFull(r, want[:n]); err != nil {
			return false
		}
		if _, err := io.ReadFull(body, got[:n]); err != nil {
			return false
		}
		if !bytes.Equal(want[:n], got[:n]) {
			return false
		}
		left -= n
	}
	// The stored object must end here too.
	var one [1]byte
	n, _ := io.ReadFull(body, one[:])
	return n == 0
}

func (s *retryStorage) Delete(ctx context.Context, name string) error {
	return s.do(ctx, "delete", name, func(int) error {
		return s.inner.Delete(ctx, name)
	})
}

// Capabilities are the inner storage's, with its versions (if any)
// retried like the other operations.
func (s *retryStorage) Capabilities() storage.Capabilities {
	c := s.inner.Capabilities()
	if c.Versions != nil {
		c.Versions = retryVersions{s: s, inner: c.Versions}
	}
	return c
}

// retryVersions retries a storage's version operations (a comparable
// value, like the capabilities holding it).
type retryVersions struct {
	s     *retryStorage
	inner storage.Versions
}

// ListVersions retries like List, reporting each version once.
func (v retryVersions) ListVersions(ctx context.Context, prefix string, fn func(storage.VersionInfo) error) error {
	type key struct{ name, id string }
	seen := map[key]struct{}{}
	var fnErr error
	err := v.s.do(ctx, "list versions", prefix, func(int) error {
		err := v.inner.ListVersions(ctx, prefix, func(vi storage.VersionInfo) error {
			k := key{vi.Name, vi.VersionID}
			if _, dup := seen[k]; dup {
				return nil
			}
			seen[k] = struct{}{}
			if err := fn(vi); err != nil {
				fnErr = err
				return errCallback
			}
			return nil
		})
		if fnErr != nil {
			return errCallback
		}
		return err
	})
	if fnErr != nil {
		return fnErr
	}
	return err
}

// GetVersion retries the opening of the body, like Get.
func (v retryVersions) GetVersion(ctx context.Context, name, versionID string, off, length int64) (io.ReadCloser, error) {
	var body io.ReadCloser
	err := v.s.do(ctx, "get version", name, func(int) error {
		var err error
		body, err = v.inner.GetVersion(ctx, name, versionID, off, length)
		return err
	})
	if err != nil {
		return nil, err
	}
	return body, nil
}

// DeleteVersion is retried as is (removing a version twice is harmless).
func (v retryVersions) DeleteVersion(ctx context.Context, name, versionID string) error {
	return v.s.do(ctx, "delete version", name, func(int) error {
		return v.inner.DeleteVersion(ctx, name, versionID)
	})
}

func (s *retryStorage) Close() error { return s.inner.Close() }
