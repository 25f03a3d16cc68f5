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
// Track and open the repository on it. It implements storage.Replicated:
// for a region set it passes the regions through with recording readers;
// any other storage is one replica named "".
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
	_ storage.Storage    = (*Tracker)(nil)
	_ storage.Replicated = (*Tracker)(nil)
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

// Replicas returns the wrapped storage's replicas with recording readers.
func (t *Tracker) Replicas() []storage.Replica {
	var reps []storage.Replica
	if rs, ok := t.inner.(storage.Replicated); ok {
		reps = rs.Replicas()
	}
	if len(reps) == 0 {
		reps = []storage.Replica{{Region: "", Reader: t.inner}}
	}
	out := make([]storage.Replica, len(reps))
	for i, rep := range reps {
		out[i] = storage.Replica{Region: rep.Region, Reader: &recordingReader{t: t, region: rep.Region, Reader: rep.Reader}}
	}
	return out
}

// Repair forwards to the wrapped storage when it is replicated.
func (t *Tracker) Repair(ctx context.Context, region, name string, data []byte) error {
	if rs, ok := t.inner.(storage.Replicated); ok {
		return rs.Repair(ctx, region, name, data)
	}
	return fmt.Errorf("repair %s: the storage has no regions", name)
}

// ReportBad forwards to the wrapped storage when it is replicated.
func (t *Tracker) ReportBad(region, name string, err error) {
	if rs, ok := t.inner.(storage.Replicated); ok {
		rs.ReportBad(region, name, err)
	}
}

// Get reads packs region by region (recording the one that served) and
// forwards every other read.
func (t *Tracker) Get(ctx context.Context, name string, off, length int64) (io.ReadCloser, error) {
	if !strings.HasPrefix(name, format.DataPrefix) {
		return t.inner.Get(ctx, name, off, length)
	}
	reps := t.Replicas()
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

// ListUnion lists every region of a region set (List otherwise).
func (t *Tracker) ListUnion(ctx context.Context, prefix string, fn func(storage.Info) error) error {
	if ul, ok := t.inner.(interface {
		ListUnion(ctx context.Context, prefix string, fn func(storage.Info) error) error
	}); ok {
		return ul.ListUnion(ctx, prefix, fn)
	}
	return t.inner.List(ctx, prefix, fn)
}

// Put forwards.
func (t *Tracker) Put(ctx context.Context, name string, r io.ReadSeeker, size int64, opt storage.PutOptions) error {
	return t.inner.Put(ctx, name, r, size, opt)
}

// Delete forwards.
func (t *Tracker) Delete(ctx context.Context, name string) error { return t.inner.Delete(ctx, name) }

// Capabilities forwards.
func (t *Tracker) Capabilities() storage.Capabilities { return t.inner.Capabilities() }

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
	if rs, ok := t.inner.(storage.Replicated); ok {
		if reps := rs.Replicas(); len(reps) > 0 {
			return reps[0].Region
		}
	}
	return ""
}
