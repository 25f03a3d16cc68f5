package drill

import (
	"context"
	"errors"
	"fmt"
	"io"
	"slices"
	"strings"
	"sync"

	"lifeboat/engine/format"
	"lifeboat/storage"
)

// Tracker wraps a storage and records which region served each pack read
// through it, so that a drill's coverage names the region that really
// served every pack (reads fail over between regions). Create it with
// Track and open the repository on it. For a region set its
// Capabilities().Regions is the set's with recording readers in Replicas
// (everything else passes through); for any other storage it is nil, and
// Get records the packs it serves under region "".
//
// Reads of packs (data/…) through Get go to the regions one at a time in
// preference order, so that the region serving them is known too. Every
// other call is forwarded unchanged. (The data check does not use it: it
// reads every region's copy itself.)
type Tracker struct {
	inner storage.Storage

	mu     sync.Mutex
	served map[string]map[string]struct{} // region -> pack object names
}

var (
	_ storage.Storage   = (*Tracker)(nil)
	_ storage.RegionSet = trackedRegions{}
)

// Track wraps st.
func Track(st storage.Storage) *Tracker {
	return &Tracker{inner: st, served: map[string]map[string]struct{}{}}
}

// Unwrap returns the wrapped storage.
func (t *Tracker) Unwrap() storage.Storage { return t.inner }

// Reset forgets every recorded read.
func (t *Tracker) Reset() {
	t.mu.Lock()
	defer t.mu.Unlock()
	t.served = map[string]map[string]struct{}{}
}

func (t *Tracker) record(region, name string) {
	if !strings.HasPrefix(name, format.DataPrefix) {
		return
	}
	t.mu.Lock()
	defer t.mu.Unlock()
	m := t.served[region]
	if m == nil {
		m = map[string]struct{}{}
		t.served[region] = m
	}
	m[name] = struct{}{}
}

// Served returns, per region, the packs a region served at least once
// since Track or Reset (a read that returned data; whether the data was
// good is for the caller to judge).
func (t *Tracker) Served() map[string][]format.ID {
	t.mu.Lock()
	defer t.mu.Unlock()
	out := make(map[string][]format.ID, len(t.served))
	for region, names := range t.served {
		ids := make([]format.ID, 0, len(names))
		for n := range names {
			if id, err := format.ParseName(format.DataPrefix, n); err == nil {
				ids = append(ids, id)
			}
		}
		slices.SortFunc(ids, cmpID)
		out[region] = ids
	}
	return out
}

// ServedBy returns the regions that served the object name, sorted.
func (t *Tracker) ServedBy(name string) []string {
	t.mu.Lock()
	defer t.mu.Unlock()
	var out []string
	for region, names := range t.served {
		if _, ok := names[name]; ok {
			out = append(out, region)
		}
	}
	slices.Sort(out)
	return out
}

// Replicas returns the wrapped storage's replicas with recording readers
// (one replica named "" for a storage that is not a region set).
func (t *Tracker) Replicas() []storage.Replica {
	var reps []storage.Replica
	if rs := t.inner.Capabilities().Regions; rs != nil {
		reps = rs.Replicas()
	}
	if len(reps) == 0 {
		reps = []storage.Replica{{Region: "", Reader: t.inner}}
	}
	return t.recording(reps)
}

// recording wraps the readers of reps so that they record what they serve.
func (t *Tracker) recording(reps []storage.Replica) []storage.Replica {
	out := make([]storage.Replica, len(reps))
	for i, rep := range reps {
		out[i] = storage.Replica{Region: rep.Region, Reader: &recordingReader{t: t, region: rep.Region, Reader: rep.Reader}}
	}
	return out
}

// Get reads packs region by region (recording the one that served) and
// forwards every other read. A storage that is not a region set serves
// packs itself, recorded under region "".
func (t *Tracker) Get(ctx context.Context, name string, off, length int64) (io.ReadCloser, error) {
	if !strings.HasPrefix(name, format.DataPrefix) {
		return t.inner.Get(ctx, name, off, length)
	}
	reps := t.Replicas()
	if t.inner.Capabilities().Regions == nil {
		return reps[0].Reader.Get(ctx, name, off, length)
	}
	var fails []string
	missing := 0
	for _, rep := range reps {
		body, err := rep.Reader.Get(ctx, name, off, length)
		if err == nil {
			return body, nil
		}
		if errors.Is(err, storage.ErrInvalidRange) || ctx.Err() != nil {
			return nil, err
		}
		if errors.Is(err, storage.ErrNotExist) {
			missing++
		}
		fails = append(fails, err.Error())
	}
	if missing == len(reps) {
		return nil, fmt.Errorf("get %s: %w", name, storage.ErrNotExist)
	}
	return nil, fmt.Errorf("get %s: %w: %s", name, storage.ErrUnavailable, strings.Join(fails, "; "))
}

// Stat forwards.
func (t *Tracker) Stat(ctx context.Context, name string) (storage.Info, error) {
	return t.inner.Stat(ctx, name)
}

// List forwards.
func (t *Tracker) List(ctx context.Context, prefix string, fn func(storage.Info) error) error {
	return t.inner.List(ctx, prefix, fn)
}

// Put forwards.
func (t *Tracker) Put(ctx context.Context, name string, r io.ReadSeeker, size int64, opt storage.PutOptions) error {
	return t.inner.Put(ctx, name, r, size, opt)
}

// Delete forwards.
func (t *Tracker) Delete(ctx context.Context, name string) error { return t.inner.Delete(ctx, name) }

// Capabilities are the wrapped storage's; a region set's Regions is
// wrapped so that its Replicas record what they serve.
func (t *Tracker) Capabilities() storage.Capabilities {
	c := t.inner.Capabilities()
	if c.Regions != nil {
		c.Regions = trackedRegions{RegionSet: c.Regions, t: t}
	}
	return c
}

// trackedRegions is a region set whose Replicas record the packs they
// serve; every other method is the set's.
type trackedRegions struct {
	storage.RegionSet
	t *Tracker
}

func (r trackedRegions) Replicas() []storage.Replica { return r.t.recording(r.RegionSet.Replicas()) }

// Close closes the wrapped storage.
func (t *Tracker) Close() error { return t.inner.Close() }

// recordingReader notes the packs its region served.
type recordingReader struct {
	storage.Reader
	t      *Tracker
	region string
}

func (r *recordingReader) Get(ctx context.Context, name string, off, length int64) (io.ReadCloser, error) {
	body, err := r.Reader.Get(ctx, name, off, length)
	if err == nil {
		r.t.record(r.region, name)
	}
	return body, err
}

func cmpID(a, b format.ID) int { return strings.Compare(string(a[:]), string(b[:])) }

// Preferred returns the region that reads go to first: the first of the
// wrapped storage's replicas in preference order ("" for a storage without
// regions).
func (t *Tracker) Preferred() string {
	if rs := t.inner.Capabilities().Regions; rs != nil {
		if reps := rs.Replicas(); len(reps) > 0 {
			return reps[0].Region
		}
	}
	return ""
}
