package storagetest

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"sync"
	"sync/atomic"
	"testing"

	"lifeboat/storage"
)

// ErrRegionDown is the error of every call to a Region that is down.
var ErrRegionDown = errors.New("region down")

// Region wraps one region of a set under RunLagging so that the suite can
// take it down: while down, every call fails with a transient
// ErrRegionDown, as a region that does not answer; back up, it holds what
// it held before, and lacks what was written meanwhile (it lags).
type Region struct {
	inner storage.Storage
	down  atomic.Bool
}

var _ storage.Storage = (*Region)(nil)

// NewRegion wraps inner.
func NewRegion(inner storage.Storage) *Region { return &Region{inner: inner} }

// SetDown takes the region down or brings it back.
func (r *Region) SetDown(down bool) { r.down.Store(down) }

// Inner returns the wrapped storage (to look at the region's own copy).
func (r *Region) Inner() storage.Storage { return r.inner }

func (r *Region) fail() error {
	if r.down.Load() {
		return storage.MarkTransient(ErrRegionDown)
	}
	return nil
}

// Get forwards unless the region is down.
func (r *Region) Get(ctx context.Context, name string, off, length int64) (io.ReadCloser, error) {
	if err := r.fail(); err != nil {
		return nil, err
	}
	return r.inner.Get(ctx, name, off, length)
}

// Stat forwards unless the region is down.
func (r *Region) Stat(ctx context.Context, name string) (storage.Info, error) {
	if err := r.fail(); err != nil {
		return storage.Info{}, err
	}
	return r.inner.Stat(ctx, name)
}

// List forwards unless the region is down.
func (r *Region) List(ctx context.Context, prefix string, fn func(storage.Info) error) error {
	if err := r.fail(); err != nil {
		return err
	}
	return r.inner.List(ctx, prefix, fn)
}

// Put forwards unless the region is down.
func (r *Region) Put(ctx context.Context, name string, body io.ReadSeeker, size int64, opt storage.PutOptions) error {
	if err := r.fail(); err != nil {
		return err
	}
	return r.inner.Put(ctx, name, body, size, opt)
}

// Delete forwards unless the region is down.
func (r *Region) Delete(ctx context.Context, name string) error {
	if err := r.fail(); err != nil {
		return err
	}
	return r.inner.Delete(ctx, name)
}

// Capabilities are the wrapped storage's.
func (r *Region) Capabilities() storage.Capabilities { return r.inner.Capabilities() }

// Close closes the wrapped storage.
func (r *Region) Close() error { return r.inner.Close() }

// LaggingRegions is how many regions RunLagging gives newSet.
const LaggingRegions = 3

// RunLagging runs the lagging-region suite against a replicated storage
// (a region set): newSet builds it over LaggingRegions regions, given in
// preference order (the first is preferred for reads and arbitrates
// conditional creates), with a write quorum of two, so that any one region
// may be down. newRegion returns a fresh, empty storage for one region.
// Every subtest runs once with each region in turn being the one that is
// down, then back but lagging. The guarantees checked are the ones that
// hold for objects written once (every name but those of mutable records
// is written once): an object written while a region was down reads back
// whole, from every region order; a conditional create of a name that the
// lagging region misses still fails with storage.ErrExist and changes
// nothing, in any region; among concurrent conditional creates, exactly
// one succeeds with a region down or lagging; and a conditional create
// that failed for want of regions leaves nothing behind: once they are
// back, the name can be created. Listings are not checked: a set's List
// may read the lagging region and miss what it lacks.
func RunLagging(t *testing.T, newRegion func(t *testing.T) storage.Storage, newSet func(t *testing.T, regions []storage.Storage) storage.Storage) {
	t.Helper()
	tests := []struct {
		name string
		fn   func(t *testing.T, s storage.Storage, regs []*Region, k int)
	}{
		{"WrittenWhileDown", testWrittenWhileDown},
		{"CreateMissedByLaggingRegion", testCreateMissedByLagging},
		{"ConcurrentCreatesWithLaggingRegion", testConcurrentCreatesLagging},
		{"FailedCreateLeavesNothing", testFailedCreateLeavesNothing},
	}
	for _, tc := range tests {
		for k := range LaggingRegions {
			t.Run(fmt.Sprintf("%s/region%d", tc.name, k), func(t *testing.T) {
				regs := make([]*Region, LaggingRegions)
				inner := make([]storage.Storage, LaggingRegions)
				for i := range regs {
					regs[i] = NewRegion(newRegion(t))
					inner[i] = regs[i]
				}
				s := newSet(t, inner)
				t.Cleanup(func() {
					if err := s.Close(); err != nil {
						t.Errorf("close: %v", err)
					}
				})
				tc.fn(t, s, regs, k)
			})
		}
	}
}

// wantRead checks that name reads back as want, by Get and Stat.
func wantRead(t *testing.T, s storage.Storage, name string, want []byte) {
	t.Helper()
	wantContent(t, s, name, want)
	info, err := s.Stat(context.Background(), name)
	if err != nil || info.Size != int64(len(want)) {
		t.Fatalf("stat %s: %+v, %v; want size %d", name, info, err, len(want))
	}
}

func testWrittenWhileDown(t *testing.T, s storage.Storage, regs []*Region, k int) {
	before := data(10, 1000)
	put(t, s, "lag/before", before, storage.PutOptions{})
	regs[k].SetDown(true)
	wantRead(t, s, "lag/before", before)
	plain, created := data(11, 2000), data(12, 300)
	put(t, s, "lag/plain", plain, storage.PutOptions{})
	put(t, s, "lag/created", created, storage.PutOptions{IfNotExists: true})
	wantRead(t, s, "lag/plain", plain)
	wantRead(t, s, "lag/created", created)
	regs[k].SetDown(false)
	// The region is back and lacks both objects: they still read back,
	// several times (whatever the set learns about the region).
	for range 3 {
		wantRead(t, s, "lag/plain", plain)
		wantRead(t, s, "lag/created", created)
		wantRead(t, s, "lag/before", before)
	}
	if _, err := regs[k].Inner().Stat(context.Background(), "lag/plain"); !errors.Is(err, storage.ErrNotExist) {
		t.Fatalf("test bug: the region that was down has lag/plain: %v", err)
	}
}

func testCreateMissedByLagging(t *testing.T, s storage.Storage, regs []*Region, k int) {
	ctx := context.Background()
	first, second := data(20, 500), data(21, 700)
	regs[k].SetDown(true)
	put(t, s, "lag/commit", first, storage.PutOptions{IfNotExists: true})
	regs[k].SetDown(false)
	for i := range 3 {
		err := storage.PutBytes(ctx, s, "lag/commit", second, storage.PutOptions{IfNotExists: true})
		if !errors.Is(err, storage.ErrExist) {
			t.Fatalf("create %d of a name the lagging region misses: err = %v, want ErrExist", i, err)
		}
		wantRead(t, s, "lag/commit", first)
	}
	// The refused creates left no copy of theirs in any region.
	for i, r := range regs {
		b, err := storage.ReadAll(ctx, r.Inner(), "lag/commit")
		switch {
		case i == k && errors.Is(err, storage.ErrNotExist):
		case err != nil:
			t.Fatalf("region %d: %v", i, err)
		case !bytes.Equal(b, first):
			t.Fatalf("region %d holds the refused create's bytes", i)
		}
	}
}

// race runs creators concurrent conditional creates of name and returns
// the index of the only one that succeeded (-1 if none did), failing the
// test if two did or one failed otherwise than with ErrExist.
func race(t *testing.T, s storage.Storage, name string, creators int, seed uint64) int {
	t.Helper()
	start := make(chan struct{})
	errs := make([]error, creators)
	var wg sync.WaitGroup
	for g := range creators {
		wg.Add(1)
		go func() {
			defer wg.Done()
			<-start
			errs[g] = storage.PutBytes(context.Background(), s, name, data(seed+uint64(g), 100+g), storage.PutOptions{IfNotExists: true})
		}()
	}
	close(start)
	wg.Wait()
	winner := -1
	for g, err := range errs {
		switch {
		case err == nil && winner >= 0:
			t.Fatalf("%s: creators %d and %d both succeeded", name, winner, g)
		case err == nil:
			winner = g
		case !errors.Is(err, storage.ErrExist):
			t.Fatalf("%s: creator %d: err = %v, want nil or ErrExist", name, g, err)
		}
	}
	return winner
}

func testConcurrentCreatesLagging(t *testing.T, s storage.Storage, regs []*Region, k int) {
	if !s.Capabilities().ConditionalCreate {
		t.Log("no atomic conditional create; only the sequential subtests apply")
		return
	}
	const creators = 8
	check := func(name string, seed uint64) []byte {
		t.Helper()
		w := race(t, s, name, creators, seed)
		if w < 0 {
			// Safety is at most one winner. With the arbiter (the
			// first region) down, racing creators meet in the other
			// regions, where each may find another's copy and undo its
			// own, so none wins; nothing is left behind, and an
			// uncontended create then succeeds.
			if k != 0 {
				t.Fatalf("%s: no creator succeeded", name)
			}
			w = 0
			if err := storage.PutBytes(context.Background(), s, name, data(seed, 100), storage.PutOptions{IfNotExists: true}); err != nil {
				t.Fatalf("%s: no creator succeeded, and then a lone create failed: %v", name, err)
			}
		}
		want := data(seed+uint64(w), 100+w)
		wantRead(t, s, name, want)
		return want
	}
	regs[k].SetDown(true)
	var won [][]byte
	for round := range 3 {
		won = append(won, check(fmt.Sprintf("lag/down%d", round), uint64(100*round)))
	}
	regs[k].SetDown(false)
	for round := range 3 {
		// Names the lagging region misses: every creator is refused and
		// the object is unchanged.
		name := fmt.Sprintf("lag/down%d", round)
		if w := race(t, s, name, creators, 1000); w >= 0 {
			t.Fatalf("%s: creator %d re-created a name the lagging region misses", name, w)
		}
		wantRead(t, s, name, won[round])
		check(fmt.Sprintf("lag/back%d", round), uint64(2000+100*round))
	}
}

func testFailedCreateLeavesNothing(t *testing.T, s storage.Storage, regs []*Region, k int) {
	ctx := context.Background()
	other := (k + 1) % len(regs)
	regs[k].SetDown(true)
	regs[other].SetDown(true)
	err := storage.PutBytes(ctx, s, "lag/failed", data(30, 400), storage.PutOptions{IfNotExists: true})
	if err == nil || errors.Is(err, storage.ErrExist) {
		t.Fatalf("create with one region of three: err = %v, want a failure other than ErrExist", err)
	}
	regs[k].SetDown(false)
	regs[other].SetDown(false)
	want := data(31, 600)
	put(t, s, "lag/failed", want, storage.PutOptions{IfNotExists: true})
	wantRead(t, s, "lag/failed", want)
}
