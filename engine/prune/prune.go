package prune

import (
	"bytes"
	"context"
	"crypto/rand"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"slices"
	"sort"
	"time"

	"lifeboat/engine/format"
	"lifeboat/engine/repo"
	"lifeboat/storage"
)

// Defaults of Options.
const (
	DefaultMaxUnused  = 0.05
	DefaultMinPackAge = 24 * time.Hour
	DefaultGrace      = 24 * time.Hour
	DefaultMaxSkew    = 5 * time.Minute
	// packsPerIndex bounds the packs of one consolidated index object.
	packsPerIndex = 20000
)

var (
	// ErrListing reports a region whose listing failed: prune aborted
	// before writing or deleting anything.
	ErrListing = errors.New("incomplete listing")
	// ErrMissingBlob reports a blob a live snapshot needs that no index
	// names (or a tree that cannot be read): prune refuses to run.
	ErrMissingBlob = errors.New("a live snapshot needs a missing blob")
	// ErrIncomplete reports a pack to rescue that a region lacks: the
	// sweep waits (nothing deleted) until sync completes the region.
	ErrIncomplete = errors.New("a region lacks a pack to keep: run lifeboat sync, then prune again")
	// ErrRaced reports a GC record generation another prune wrote first.
	ErrRaced = errors.New("another prune wrote the next gc record")
)

// Options tune a run. The zero value of a field means its default.
type Options struct {
	// MaxUnused is the unused share above which a partly used pack is
	// repacked (0.05: 5 %; negative: never repack).
	MaxUnused float64
	// MaxRepackBytes bounds the sealed bytes of the packs repacked in one
	// run (0: no bound).
	MaxRepackBytes int64
	// MinPackAge: packs whose storage time is newer than now minus this
	// are never condemned or repacked.
	MinPackAge time.Duration
	// Grace is how long after the mark the sweep may start.
	Grace time.Duration
	// MaxSkew is the largest accepted difference between storage time
	// and the local clock.
	MaxSkew time.Duration
	// DryRun computes and reports, writes nothing but the clock probe.
	DryRun bool
	// Host is recorded in the GC record and names the clock probe.
	Host string
	// Now is the local clock (time.Now).
	Now func() time.Time
	// StorageTime returns the storage's "now" (default: the repository's
	// probe write, repo.StorageTime).
	StorageTime func(ctx context.Context) (time.Time, error)
	// Rand is the source of run IDs (crypto/rand).
	Rand io.Reader
}

func (o *Options) defaults(r *repo.Repository) {
	if o.MaxUnused == 0 {
		o.MaxUnused = DefaultMaxUnused
	}
	if o.MinPackAge == 0 {
		o.MinPackAge = DefaultMinPackAge
	}
	if o.Grace == 0 {
		o.Grace = DefaultGrace
	}
	if o.MaxSkew == 0 {
		o.MaxSkew = DefaultMaxSkew
	}
	if o.Now == nil {
		o.Now = time.Now
	}
	if o.StorageTime == nil {
		host := o.Host
		o.StorageTime = func(ctx context.Context) (time.Time, error) { return r.StorageTime(ctx, host) }
	}
	if o.Rand == nil {
		o.Rand = rand.Reader
	}
}

// Action is what a run did.
type Action string

// The actions of a run.
const (
	ActionNone  Action = "none"  // nothing to condemn
	ActionMark  Action = "mark"  // condemned packs, wrote a marked record
	ActionWait  Action = "wait"  // a marked record waits for its grace
	ActionSweep Action = "sweep" // deleted (some of) a record's objects
)

// PackStat is a pack in a plan.
type PackStat struct {
	ID      format.ID `json:"id"`
	Size    int64     `json:"size"`
	Used    int64     `json:"used"` // plaintext bytes of live blobs
	Total   int64     `json:"total"`
	Regions []string  `json:"regions"`
}

// Plan is what a mark decided (or would decide, dry run).
type Plan struct {
	Snapshots  []format.ID `json:"snapshots"`
	Superseded []format.ID `json:"superseded"`
	Condemned  []PackStat  `json:"condemned"` // wholly unused
	Repack     []PackStat  `json:"repack"`    // partly used, copied then condemned
	Young      int         `json:"young"`     // packs kept for their age
	Unindexed  int         `json:"unindexed"` // packs no index names (left to adoption)
	Kept       int         `json:"kept"`
	// Reclaimable is the sealed bytes of condemned and repacked packs,
	// by region.
	Reclaimable map[string]int64 `json:"reclaimable"`
	RepackBytes int64            `json:"repack_bytes"` // plaintext bytes to copy
}

// Result is the outcome of a run.
type Result struct {
	Action     Action            `json:"action"`
	DryRun     bool              `json:"dry_run"`
	Now        time.Time         `json:"storage_time"`
	Plan       *Plan             `json:"plan,omitempty"`
	Record     *format.GCRecord  `json:"record,omitempty"` // the last record written (or read, wait)
	SweepAfter time.Time         `json:"sweep_after,omitzero"`
	Deleted    map[string]int    `json:"deleted,omitempty"` // objects deleted, by region
	Pending    []string          `json:"pending,omitempty"` // regions still to sweep
	Problems   []string          `json:"problems,omitempty"`
	Rescued    []format.ID       `json:"rescued,omitempty"`
	Evicted    int               `json:"-"`
	listing    map[string]*names `json:"-"`
}

// names is one region's complete listing.
type names struct {
	objs map[string]storage.Info
}

var prefixes = []string{format.SnapshotPrefix, format.IndexPrefix, format.DataPrefix, format.GCPrefix, format.TombstonePrefix}

// listRegions lists every prefix prune reads in every region, completely:
// any error, even in the middle of a listing, fails the run.
func listRegions(ctx context.Context, regs []repo.Region) (map[string]*names, error) {
	out := map[string]*names{}
	for _, reg := range regs {
		n := &names{objs: map[string]storage.Info{}}
		for _, p := range prefixes {
			err := reg.Storage.List(ctx, p, func(fi storage.Info) error {
				n.objs[fi.Name] = fi
				return nil
			})
			if err != nil {
				return nil, fmt.Errorf("region %q: list %s: %w: %w", reg.Name, p, ErrListing, err)
			}
		}
		out[reg.Name] = n
	}
	return out, nil
}

// union returns the IDs under prefix in any region, sorted, and for each
// name the newest storage time and the regions holding it.
func union(l map[string]*names, prefix string) ([]format.ID, map[format.ID]time.Time, map[format.ID][]string) {
	mod := map[format.ID]time.Time{}
	where := map[format.ID][]string{}
	regionNames := make([]string, 0, len(l))
	for n := range l {
		regionNames = append(regionNames, n)
	}
	sort.Strings(regionNames)
	for _, rn := range regionNames {
		for name, fi := range l[rn].objs {
			if len(name) < len(prefix) || name[:len(prefix)] != prefix {
				continue
			}
			id, err := format.ParseName(prefix, name)
			if err != nil {
				continue
			}
			if fi.ModTime.After(mod[id]) {
				mod[id] = fi.ModTime
			} else if _, ok := mod[id]; !ok {
				mod[id] = fi.ModTime
			}
			where[id] = append(where[id], rn)
		}
	}
	ids := make([]format.ID, 0, len(mod))
	for id := range mod {
		ids = append(ids, id)
	}
	sortIDs(ids)
	return ids, mod, where
}

func sortIDs(ids []format.ID) {
	slices.SortFunc(ids, func(a, b format.ID) int { return bytes.Compare(a[:], b[:]) })
}

// gcRecords reads every GC record the listing names, sorted by generation.
func gcRecords(ctx context.Context, r *repo.Repository, l map[string]*names) ([]*format.GCRecord, error) {
	seen := map[string]bool{}
	for _, n := range l {
		for name := range n.objs {
			if _, err := format.ParseGCName(name); err == nil {
				seen[name] = true
			}
		}
	}
	var out []*format.GCRecord
	for name := range seen {
		gen, _ := format.ParseGCName(name)
		g, err := r.LoadGCRecord(ctx, gen)
		if err != nil {
			return nil, fmt.Errorf("read %s: %w", name, err)
		}
		out = append(out, g)
	}
	slices.SortFunc(out, func(a, b *format.GCRecord) int {
		switch {
		case a.Generation < b.Generation:
			return -1
		case a.Generation > b.Generation:
			return 1
		}
		return 0
	})
	return out, nil
}

// Run runs one prune step (see doc.go): it sweeps the outstanding record
// when its grace has passed, waits when it has not, and marks otherwise.
// The caller holds the repository lock.
func Run(ctx context.Context, r *repo.Repository, opts Options) (*Result, error) {
	opts.defaults(r)
	regs := r.Regions()
	l, err := listRegions(ctx, regs)
	if err != nil {
		return nil, fmt.Errorf("prune (nothing written or deleted): %w", err)
	}
	now, err := opts.StorageTime(ctx)
	if err != nil {
		return nil, fmt.Errorf("prune: %w", err)
	}
	if d := now.Sub(opts.Now()); d > opts.MaxSkew || -d > opts.MaxSkew {
		return nil, fmt.Errorf("prune: storage time %s, local clock %s: %w (more than %v)", now.UTC().Format(time.RFC3339), opts.Now().UTC().Format(time.RFC3339), repo.ErrClockSkew, opts.MaxSkew)
	}
	recs, err := gcRecords(ctx, r, l)
	if err != nil {
		return nil, fmt.Errorf("prune (nothing written or deleted): %w", err)
	}
	res := &Result{DryRun: opts.DryRun, Now: now, listing: l}
	if len(recs) > 0 {
		last := recs[len(recs)-1]
		switch last.State {
		case format.GCMarked:
			res.Record = last
			res.SweepAfter = last.Marked.Add(last.Grace())
			if now.Before(res.SweepAfter) {
				res.Action = ActionWait
				return res, nil
			}
			return res, sweep(ctx, r, opts, res, last, regs, true)
		case format.GCSweeping:
			res.Record = last
			return res, sweep(ctx, r, opts, res, last, regs, false)
		}
	}
	return res, mark(ctx, r, opts, res, recs, regs)
}

func nextGeneration(recs []*format.GCRecord) uint64 {
	if len(recs) == 0 {
		return 1
	}
	return recs[len(recs)-1].Generation + 1
}

func (o *Options) runID() (string, error) {
	var b [16]byte
	if _, err := io.ReadFull(o.Rand, b[:]); err != nil {
		return "", fmt.Errorf("run id: %w", err)
	}
	return hex.EncodeToString(b[:]), nil
}
