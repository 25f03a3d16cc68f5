package asof

import (
	"context"
	"fmt"
	"io"
	"sync"
	"time"

	"lifeboat/storage"
)

// Options tune New.
type Options struct {
	// Keep, when not nil, decides whether a version survives: versions
	// for which it returns false are treated as permanently removed. It
	// is called for versions written at or before the view's time only,
	// newest first, until one survives.
	Keep func(ctx context.Context, v storage.VersionInfo) (bool, error)
}

// View is the storage as of a time.
type View struct {
	inner storage.Storage
	v     storage.Versions
	at    time.Time
	opt   Options

	mu       sync.Mutex
	resolved map[string]resolution
}

// resolution is the version of a name the view reads (ok false: the name
// did not exist at the time).
type resolution struct {
	v  storage.VersionInfo
	ok bool
}

// New returns the view of inner as of at. inner must keep versions
// (Capabilities().Versions), or New fails with storage.ErrNoVersioning.
func New(inner storage.Storage, at time.Time, opt Options) (*View, error) {
	v := inner.Capabilities().Versions
	if v == nil {
		return nil, fmt.Errorf("as of %s: %w", at.UTC().Format(time.RFC3339), storage.ErrNoVersioning)
	}
	return &View{inner: inner, v: v, at: at, opt: opt, resolved: map[string]resolution{}}, nil
}

// Time is the view's point in time.
func (s *View) Time() time.Time { return s.at }

// pick chooses, among one name's versions (in listing order: newest
// first), the one the view reads: the newest written at or before the
// view's time that Keep keeps. A delete marker there means the name did
// not exist.
func (s *View) pick(ctx context.Context, vs []storage.VersionInfo) (resolution, error) {
	var cands []storage.VersionInfo
	for _, v := range vs {
		if !v.ModTime.After(s.at) {
			cands = append(cands, v)
		}
	}
	sortNewestFirst(cands)
	for _, c := range cands {
		if s.opt.Keep != nil {
			keep, err := s.opt.Keep(ctx, c)
			if err != nil {
				return resolution{}, err
			}
			if !keep {
				continue
			}
		}
		if c.DeleteMarker {
			return resolution{}, nil
		}
		return resolution{v: c, ok: true}, nil
	}
	return resolution{}, nil
}

// sortNewestFirst orders versions by time, newest first, keeping the
// given order among equal times (stable insertion sort: a name has few
// versions).
func sortNewestFirst(vs []storage.VersionInfo) {
	for i := 1; i < len(vs); i++ {
		for j := i; j > 0 && vs[j].ModTime.After(vs[j-1].ModTime); j-- {
			vs[j], vs[j-1] = vs[j-1], vs[j]
		}
	}
}

// resolve returns the version of name the view reads.
func (s *View) resolve(ctx context.Context, name string) (resolution, error) {
	s.mu.Lock()
	r, ok := s.resolved[name]
	s.mu.Unlock()
	if ok {
		return r, nil
	}
	var vs []storage.VersionInfo
	err := s.v.ListVersions(ctx, name, func(v storage.VersionInfo) error {
		if v.Name == name {
			vs = append(vs, v)
		}
		return nil
	})
	if err != nil {
		return resolution{}, err
	}
	r, err = s.pick(ctx, vs)
	if err != nil {
		return resolution{}, err
	}
	s.remember(name, r)
	return r, nil
}

func (s *View) remember(name string, r resolution) {
	s.mu.Lock()
	s.resolved[name] = r
	s.mu.Unlock()
}

// Get reads name's version as of the view's time.
func (s *View) Get(ctx context.Context, name string, off, length int64) (io.ReadCloser, error) {
	if err := storage.CheckName(name); err != nil {
		return nil, fmt.Errorf("as-of get: %w", err)
	}
	r, err := s.resolve(ctx, name)
	if err != nil {
		return nil, fmt.Errorf("as-of get %s: %w", name, err)
	}
	if !r.ok {
		return nil, fmt.Errorf("as-of get %s: %w", name, storage.ErrNotExist)
	}
	return s.v.GetVersion(ctx, name, r.v.VersionID, off, length)
}

// Stat describes name's version as of the view's time.
func (s *View) Stat(ctx context.Context, name string) (storage.Info, error) {
	if err := storage.CheckName(name); err != nil {
		return storage.Info{}, fmt.Errorf("as-of stat: %w", err)
	}
	r, err := s.resolve(ctx, name)
	if err != nil {
		return storage.Info{}, fmt.Errorf("as-of stat %s: %w", name, err)
	}
	if !r.ok {
		return storage.Info{}, fmt.Errorf("as-of stat %s: %w", name, storage.ErrNotExist)
	}
	return storage.Info{Name: name, Size: r.v.Size, ModTime: r.v.ModTime}, nil
}

// List calls fn for every name under prefix that existed at the view's
// time, with the size and time of its version then.
func (s *View) List(ctx context.Context, prefix string, fn func(storage.Info) error) error {
	if !storage.ValidPrefix(prefix) {
		return fmt.Errorf("as-of list %q: %w", prefix, storage.ErrInvalidName)
	}
	var cur []storage.VersionInfo
	flush := func() error {
		if len(cur) == 0 {
			return nil
		}
		name := cur[0].Name
		r, err := s.pick(ctx, cur)
		cur = cur[:0]
		if err != nil {
			return err
		}
		s.remember(name, r)
		if !r.ok {
			return nil
		}
		return fn(storage.Info{Name: name, Size: r.v.Size, ModTime: r.v.ModTime})
	}
	// Versions come grouped by name.
	err := s.v.ListVersions(ctx, prefix, func(v storage.VersionInfo) error {
		if len(cur) > 0 && cur[0].Name != v.Name {
			if err := flush(); err != nil {
				return err
			}
		}
		cur = append(cur, v)
		return nil
	})
	if err != nil {
		return err
	}
	return flush()
}

// Capabilities are the inner storage's, read-only, without versions of
// their own or a conditional create.
func (s *View) Capabilities() storage.Capabilities {
	c := s.inner.Capabilities()
	c.ReadOnly = true
	c.ConditionalCreate = false
	c.AppendOnly = false
	c.Versions = nil
	c.Regions = nil
	c.ObjectLock = nil
	return c
}

// Put fails: the past cannot be written.
func (s *View) Put(_ context.Context, name string, _ io.ReadSeeker, _ int64, _ storage.PutOptions) error {
	return fmt.Errorf("put %s as of %s: %w", name, s.at.UTC().Format(time.RFC3339), storage.ErrReadOnly)
}

// Delete fails: the past cannot be changed.
func (s *View) Delete(_ context.Context, name string) error {
	return fmt.Errorf("delete %s as of %s: %w", name, s.at.UTC().Format(time.RFC3339), storage.ErrReadOnly)
}

// Close closes the inner storage.
func (s *View) Close() error { return s.inner.Close() }
