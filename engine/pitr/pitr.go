package pitr

import (
	"bytes"
	"context"
	"crypto/sha256"
	"errors"
	"fmt"
	"io"
	"slices"
	"strings"
	"sync"
	"time"

	"golang.org/x/sync/errgroup"

	"lifeboat/storage"
)

// ErrNoVersioning reports a region that keeps no object versions: it
// cannot be recovered as of a time. It wraps storage.ErrNoVersioning.
var ErrNoVersioning = fmt.Errorf("pitr: %w", storage.ErrNoVersioning)

// skipPrefixes are never recovered: an old lock generation made current
// again would look held, and probes are not repository objects.
var skipPrefixes = []string{"locks/", "probe/"}

// Item is the plan for one name.
type Item struct {
	// Name is the object.
	Name string
	// Target is the version current at the time (nil: the name did not
	// exist then, or a delete marker hid it).
	Target *storage.VersionInfo
	// Later are the versions and delete markers written after the time,
	// newest first: what the recovery removes.
	Later []storage.VersionInfo
}

// Plan is the recovery of one region as of a time.
type Plan struct {
	// At is the time recovered to.
	At time.Time
	// Items are the names that changed after At, in the order Apply
	// handles them.
	Items []Item
	// Versions counts every version and delete marker read.
	Versions int
}

// MakePlan reads every version of st (a region's storage, with
// Capabilities().Versions) and plans its recovery as of at.
func MakePlan(ctx context.Context, st storage.Storage, at time.Time) (*Plan, error) {
	v := st.Capabilities().Versions
	if v == nil {
		return nil, ErrNoVersioning
	}
	byName := map[string][]storage.VersionInfo{}
	var order []string
	n := 0
	err := v.ListVersions(ctx, "", func(vi storage.VersionInfo) error {
		n++
		for _, p := range skipPrefixes {
			if strings.HasPrefix(vi.Name, p) {
				return nil
			}
		}
		if _, ok := byName[vi.Name]; !ok {
			order = append(order, vi.Name)
		}
		byName[vi.Name] = append(byName[vi.Name], vi)
		return nil
	})
	if err != nil {
		if errors.Is(err, storage.ErrNoVersioning) {
			return nil, fmt.Errorf("%w: %w", ErrNoVersioning, err)
		}
		return nil, fmt.Errorf("list versions: %w", err)
	}
	p := &Plan{At: at, Versions: n}
	for _, name := range order {
		vs := byName[name]
		sortNewestFirst(vs)
		it := Item{Name: name}
		for i := range vs {
			if vs[i].ModTime.After(at) {
				it.Later = append(it.Later, vs[i])
				continue
			}
			if !vs[i].DeleteMarker {
				t := vs[i]
				it.Target = &t
			}
			break
		}
		if len(it.Later) > 0 {
			p.Items = append(p.Items, it)
		}
	}
	slices.SortStableFunc(p.Items, func(a, b Item) int {
		if c := rank(a) - rank(b); c != 0 {
			return c
		}
		return strings.Compare(a.Name, b.Name)
	})
	return p, nil
}

// rank orders the plan: names to bring back, content before what refers
// to it (data/, index/, keys/, config, snapshots/, the rest); then names
// to remove, referrers before content (snapshots/, the rest, config,
// keys/, index/, data/).
func rank(it Item) int {
	kind := len(kinds)
	for i, p := range kinds {
		if strings.HasPrefix(it.Name, p) {
			kind = i
			break
		}
	}
	if it.Target != nil {
		return kind
	}
	return 10 + [...]int{5, 4, 3, 2, 0, 1}[kind]
}

// kinds are the name prefixes rank orders by.
var kinds = []string{"data/", "index/", "keys/", "config", "snapshots/"}

// sortNewestFirst orders versions by time, newest first, keeping the
// listing's order (newest first) among equal times.
func sortNewestFirst(vs []storage.VersionInfo) {
	slices.SortStableFunc(vs, func(a, b storage.VersionInfo) int { return b.ModTime.Compare(a.ModTime) })
}

// Outcome is what Apply did to one name.
type Outcome struct {
	Name string
	// Removed counts the later versions and markers removed.
	Removed int
	// Rewritten is true when the version of the time was written again as
	// the current one (a later version could not be removed); Hidden when
	// a name that did not exist then was deleted instead.
	Rewritten, Hidden bool
	// AlreadyCurrent is true when the current content already was that
	// of the time (nothing done).
	AlreadyCurrent bool
	// Kept lists the later versions that could not be removed, with why.
	Kept []string
	// Err is why the name could not be recovered (nil: it was).
	Err error
}

// Result is what Apply did.
type Result struct {
	Outcomes []Outcome
	// Failed counts the names not recovered.
	Failed int
}

// Options tune Apply.
type Options struct {
	// Concurrency bounds the names handled at once (0: 8).
	Concurrency int
	// OnOutcome, when not nil, is called after each name (from one
	// goroutine at a time).
	OnOutcome func(Outcome)
}

// Apply carries out p on st. A name that fails is reported in its
// Outcome and the others go on; phases (see the package documentation)
// run one after the other. It fails only when ctx ends.
func Apply(ctx context.Context, st storage.Storage, p *Plan, opt Options) (*Result, error) {
	v := st.Capabilities().Versions
	if v == nil {
		return nil, ErrNoVersioning
	}
	limit := opt.Concurrency
	if limit <= 0 {
		limit = 8
	}
	res := &Result{}
	var mu sync.Mutex
	record := func(o Outcome) {
		mu.Lock()
		defer mu.Unlock()
		res.Outcomes = append(res.Outcomes, o)
		if o.Err != nil {
			res.Failed++
		}
		if opt.OnOutcome != nil {
			opt.OnOutcome(o)
		}
	}
	// Phases: runs of items of equal rank.
	for i := 0; i < len(p.Items); {
		j := i
		for j < len(p.Items) && rank(p.Items[j]) == rank(p.Items[i]) {
			j++
		}
		var g errgroup.Group
		g.SetLimit(limit)
		for _, it := range p.Items[i:j] {
			g.Go(func() error {
				record(applyItem(ctx, st, v, it))
				return nil
			})
		}
		_ = g.Wait()
		if err := ctx.Err(); err != nil {
			return res, err
		}
		i = j
	}
	return res, nil
}

// refused reports a removal refused for good: retained by object lock,
// or credentials that may not delete.
func refused(err error) bool {
	return errors.Is(err, storage.ErrRetained) || errors.Is(err, storage.ErrPermission) || errors.Is(err, storage.ErrAppendOnly)
}

func applyItem(ctx context.Context, st storage.Storage, v storage.Versions, it Item) Outcome {
	o := Outcome{Name: it.Name}
	same, err := currentIsTarget(ctx, st, v, it)
	if err != nil {
		o.Err = err
		return o
	}
	if same {
		o.AlreadyCurrent = true
		return o
	}
	stuck := false
	for _, l := range it.Later {
		err := v.DeleteVersion(ctx, it.Name, l.VersionID)
		switch {
		case err == nil || errors.Is(err, storage.ErrNotExist):
			o.Removed++
		case refused(err):
			stuck = true
			o.Kept = append(o.Kept, fmt.Sprintf("%s (%s): %v", l.VersionID, l.ModTime.UTC().Format(time.RFC3339Nano), err))
		default:
			o.Err = fmt.Errorf("remove version %s: %w", l.VersionID, err)
			return o
		}
	}
	if !stuck {
		return o
	}
	// A later version stays: make the time's state current over it.
	if it.Target == nil {
		if err := st.Delete(ctx, it.Name); err != nil && !errors.Is(err, storage.ErrNotExist) {
			o.Err = fmt.Errorf("delete (it did not exist at the time): %w", err)
			return o
		}
		o.Hidden = true
		return o
	}
	data, err := readVersion(ctx, v, it.Name, it.Target.VersionID)
	if err != nil {
		o.Err = err
		return o
	}
	if err := storage.PutBytes(ctx, st, it.Name, data, storage.PutOptions{}); err != nil {
		o.Err = fmt.Errorf("write the version of the time again: %w", err)
		return o
	}
	o.Rewritten = true
	return o
}

// currentIsTarget reports whether name's current state already is that
// of the time: both absent, or the same bytes.
func currentIsTarget(ctx context.Context, st storage.Storage, v storage.Versions, it Item) (bool, error) {
	info, err := st.Stat(ctx, it.Name)
	if errors.Is(err, storage.ErrNotExist) {
		return it.Target == nil, nil
	}
	if err != nil {
		return false, fmt.Errorf("stat: %w", err)
	}
	if it.Target == nil || info.Size != it.Target.Size {
		return false, nil
	}
	cur, err := hashOf(ctx, func() (io.ReadCloser, error) { return st.Get(ctx, it.Name, 0, -1) })
	if err != nil {
		return false, fmt.Errorf("read the current version: %w", err)
	}
	old, err := hashOf(ctx, func() (io.ReadCloser, error) { return v.GetVersion(ctx, it.Name, it.Target.VersionID, 0, -1) })
	if err != nil {
		return false, fmt.Errorf("read version %s: %w", it.Target.VersionID, err)
	}
	return bytes.Equal(cur, old), nil
}

func hashOf(ctx context.Context, open func() (io.ReadCloser, error)) ([]byte, error) {
	body, err := open()
	if err != nil {
		return nil, err
	}
	defer body.Close()
	h := sha256.New()
	if _, err := io.Copy(h, body); err != nil {
		return nil, err
	}
	return h.Sum(nil), ctx.Err()
}

func readVersion(ctx context.Context, v storage.Versions, name, id string) ([]byte, error) {
	body, err := v.GetVersion(ctx, name, id, 0, -1)
	if err != nil {
		return nil, fmt.Errorf("read version %s: %w", id, err)
	}
	defer body.Close()
	data, err := io.ReadAll(body)
	if err != nil {
		return nil, fmt.Errorf("read version %s: %w", id, err)
	}
	return data, nil
}
