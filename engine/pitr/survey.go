package pitr

import (
	"context"
	"fmt"
	"slices"
	"strings"
	"sync"
	"time"

	"golang.org/x/sync/errgroup"

	"lifeboat/storage"
)

// Survey is what an attacker holding a host's credentials could destroy
// in one region at a time: which of the versions current then survive
// an attack that removes every version it may remove.
type Survey struct {
	// At is the time surveyed (the attack's start).
	At time.Time
	// Objects counts the objects (storage.Lockable names: the repository's
	// content, not its bookkeeping) that existed at At.
	Objects int
	// Destroyable lists, sorted, those whose version at At the attacker
	// could remove.
	Destroyable []string
	// survivors maps a surviving version's name to its version ID.
	survivors map[string]string
}

// Keep is an as-of view's asof.Options.Keep for the attacked region: a
// version survives when it is the surveyed version of its name and that
// survives. Delete markers are kept (removing one destroys nothing).
func (s *Survey) Keep(_ context.Context, v storage.VersionInfo) (bool, error) {
	if v.DeleteMarker {
		return true, nil
	}
	id, ok := s.survivors[v.Name]
	return ok && id == v.VersionID, nil
}

// SurveyOptions tune MakeSurvey.
type SurveyOptions struct {
	// Retained reports whether a version is retained (object lock) beyond
	// the attack, so that these credentials cannot remove it. nil: no
	// version is (a region without object lock).
	Retained func(ctx context.Context, v storage.VersionInfo) (bool, error)
	// NoDelete is true when the credentials may not delete at all (an
	// append-only host): every version survives.
	NoDelete bool
	// Concurrency bounds the Retained calls in flight (0: 8).
	Concurrency int
}

// MakeSurvey reads st's versions (Capabilities().Versions) and finds, for
// every name current at at, whether its version then survives an attack.
func MakeSurvey(ctx context.Context, st storage.Storage, at time.Time, opt SurveyOptions) (*Survey, error) {
	v := st.Capabilities().Versions
	if v == nil {
		return nil, ErrNoVersioning
	}
	current := map[string]storage.VersionInfo{}
	err := v.ListVersions(ctx, "", func(vi storage.VersionInfo) error {
		if vi.ModTime.After(at) {
			return nil
		}
		if c, ok := current[vi.Name]; !ok || vi.ModTime.After(c.ModTime) {
			current[vi.Name] = vi
		}
		return nil
	})
	if err != nil {
		return nil, fmt.Errorf("list versions: %w", err)
	}
	s := &Survey{At: at, survivors: map[string]string{}}
	var mu sync.Mutex
	var g errgroup.Group
	limit := opt.Concurrency
	if limit <= 0 {
		limit = 8
	}
	g.SetLimit(limit)
	for name, vi := range current {
		if vi.DeleteMarker {
			continue
		}
		counted := storage.Lockable(name)
		if counted {
			s.Objects++
		}
		g.Go(func() error {
			keep := opt.NoDelete
			if !keep && opt.Retained != nil {
				var err error
				if keep, err = opt.Retained(ctx, vi); err != nil {
					return fmt.Errorf("retention of %s: %w", name, err)
				}
			}
			mu.Lock()
			defer mu.Unlock()
			if keep {
				s.survivors[name] = vi.VersionID
			} else if counted {
				s.Destroyable = append(s.Destroyable, name)
			}
			return nil
		})
	}
	if err := g.Wait(); err != nil {
		return nil, err
	}
	slices.SortFunc(s.Destroyable, strings.Compare)
	return s, nil
}
