package main

import (
	"context"
	"slices"
	"sync"
	"time"

	"lifeboat/cmd/lifeboat/internal/config"
	"lifeboat/engine/format"
	"lifeboat/engine/prune"
	"lifeboat/engine/repo"
	"lifeboat/storage/regions"
)

// pruneStatus is the outcome of the daemon's last prune run, shown by
// /status and lifeboat status and sent with the prune job's webhook event.
type pruneStatus struct {
	Time   time.Time `json:"time"`
	OK     bool      `json:"ok"`
	Action string    `json:"action,omitempty"` // none, mark, wait, sweep
	// Generation is the GC record the run wrote (or waited for).
	Generation uint64 `json:"generation,omitempty"`
	// Condemned counts the packs the record condemned (mark, wait), or
	// the packs the sweep deleted or is deleting (sweep: less the rescued).
	Condemned int `json:"condemned"`
	// Rescued counts the condemned packs the sweep kept for new snapshots.
	Rescued int `json:"rescued,omitempty"`
	// Reclaimable is the mark's sealed bytes to reclaim, by region.
	Reclaimable map[string]int64 `json:"reclaimable,omitempty"`
	// Deleted counts the objects the sweep deleted, by region.
	Deleted map[string]int `json:"deleted,omitempty"`
	// BytesReclaimed is the sealed bytes of the packs the sweep deleted,
	// by region, as far as this daemon's mark reported their sizes.
	BytesReclaimed map[string]int64 `json:"bytes_reclaimed,omitempty"`
	// SweepAfter is when the marked record's sweep may start.
	SweepAfter time.Time `json:"sweep_after,omitzero"`
	// Pending names the regions still to sweep.
	Pending  []string `json:"pending,omitempty"`
	Problems []string `json:"problems,omitempty"`
	Error    string   `json:"error,omitempty"`
}

// pruneLog holds the last prune run, the one of the current run until it
// ends (for its webhook event), and the pack sizes of the last mark this
// daemon made (for the bytes a later sweep reclaims).
type pruneLog struct {
	mu      sync.Mutex
	last    *pruneStatus
	current *pruneStatus
	marked  map[format.ID]prune.PackStat
}

func (l *pruneLog) record(s pruneStatus) {
	l.mu.Lock()
	defer l.mu.Unlock()
	l.last, l.current = &s, &s
}

// take returns and forgets the current run's status (nil: none).
func (l *pruneLog) take() *pruneStatus {
	l.mu.Lock()
	defer l.mu.Unlock()
	s := l.current
	l.current = nil
	return s
}

// lastRun returns the last run's status (nil: none yet).
func (l *pruneLog) lastRun() *pruneStatus {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.last
}

// remember keeps the packs a mark condemned (repacked ones included).
func (l *pruneLog) remember(p *prune.Plan) {
	l.mu.Lock()
	defer l.mu.Unlock()
	l.marked = map[format.ID]prune.PackStat{}
	for _, list := range [][]prune.PackStat{p.Condemned, p.Repack} {
		for _, ps := range list {
			l.marked[ps.ID] = ps
		}
	}
}

// reclaimed returns the sealed bytes deleted by a sweep of g in the
// regions swept to the end (deleted, not pending), from the sizes the
// remembered mark reported; packs it does not know count nothing.
func (l *pruneLog) reclaimed(g *format.GCRecord, deleted map[string]int, pending []string) map[string]int64 {
	l.mu.Lock()
	defer l.mu.Unlock()
	out := map[string]int64{}
	for rn := range deleted {
		if slices.Contains(pending, rn) {
			continue
		}
		out[rn] = 0
		for _, id := range g.Condemned {
			ps, ok := l.marked[id]
			if ok && !slices.Contains(g.Rescued, id) && slices.Contains(ps.Regions, rn) {
				out[rn] += ps.Size
			}
		}
	}
	return out
}

// statusOf summarises a run's result (and remembers a mark's packs).
func (l *pruneLog) statusOf(res *prune.Result) pruneStatus {
	s := pruneStatus{Action: string(res.Action), SweepAfter: res.SweepAfter, Pending: res.Pending, Problems: res.Problems}
	if g := res.Record; g != nil {
		s.Generation = g.Generation
		s.Condemned = len(g.Condemned)
	}
	switch res.Action {
	case prune.ActionMark:
		if res.Plan != nil {
			s.Reclaimable = res.Plan.Reclaimable
			if !res.DryRun {
				l.remember(res.Plan)
			}
		}
	case prune.ActionSweep:
		if g := res.Record; g != nil {
			s.Condemned = len(g.Condemned) - len(g.Rescued)
			s.Rescued = len(g.Rescued)
			s.BytesReclaimed = l.reclaimed(g, res.Deleted, res.Pending)
		}
		s.Deleted = res.Deleted
	}
	return s
}

// pruneJob runs one prune step (mark, wait or sweep) with jobs.prune's
// settings, holding the repository lock: the code path of lifeboat prune.
func (d *daemon) pruneJob(pj *config.PruneJob, job string) func(ctx context.Context) (jobStats, error) {
	return func(ctx context.Context) (jobStats, error) {
		return d.withSet(ctx, func(set *regions.Set) (jobStats, error) {
			r, err := repo.Open(ctx, set, d.id, d.a.repoOptions())
			if err != nil {
				return jobStats{}, err
			}
			return d.withLock(ctx, set, job, func(ctx context.Context) (jobStats, error) {
				start := time.Now()
				res, err := runPrune(ctx, r, pruneSettings{
					maxUnused: pj.MaxUnused.Fraction(), maxRepackBytes: int64(pj.MaxRepackSize),
					minPackAge: pj.MinPackAge.Std(), grace: pj.Grace.Std(),
				})
				var s pruneStatus
				var stats jobStats
				if res != nil {
					s = d.prunes.statusOf(res)
					stats.errors = int64(len(res.Problems))
					for _, n := range res.Deleted {
						stats.files += int64(n)
					}
					for _, b := range s.BytesReclaimed {
						stats.bytes += b
					}
					if !res.Now.IsZero() {
						start = res.Now
					}
				}
				s.Time, s.OK = start, err == nil
				if err != nil {
					s.Error = err.Error()
				}
				d.prunes.record(s)
				d.metrics.recordPrune(s)
				for _, p := range s.Problems {
					d.log.Warn("prune", "job", job, "problem", p)
				}
				if err == nil {
					d.log.Info("prune finished", "job", job, "action", s.Action, "generation", s.Generation,
						"condemned", s.Condemned, "deleted", s.Deleted, "bytes_reclaimed", s.BytesReclaimed,
						"reclaimable", s.Reclaimable, "sweep_after", s.SweepAfter, "pending", s.Pending)
				}
				return stats, err
			})
		})
	}
}
