package main

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"strings"
	"sync"
	"time"

	"lifeboat/cmd/lifeboat/internal/config"
	"lifeboat/engine/lock"
	"lifeboat/engine/repo"
	"lifeboat/storage"
)

// forgetStatus is the outcome of the daemon's last forget of a source,
// shown by /status and lifeboat status.
type forgetStatus struct {
	Source  string    `json:"source"`
	Time    time.Time `json:"time"`
	OK      bool      `json:"ok"`
	Removed int       `json:"removed"`
	Kept    int       `json:"kept"`
	Pending int       `json:"pending,omitempty"`
	Error   string    `json:"error,omitempty"`
}

// forgetLog holds the last forgetStatus of each source, and the forget of
// each job's current run until the run ends (for its webhook event).
type forgetLog struct {
	mu    sync.Mutex
	last  map[string]forgetStatus
	byJob map[string]forgetStatus
}

func (l *forgetLog) record(job string, s forgetStatus) {
	l.mu.Lock()
	defer l.mu.Unlock()
	if l.last == nil {
		l.last, l.byJob = map[string]forgetStatus{}, map[string]forgetStatus{}
	}
	l.last[s.Source] = s
	l.byJob[job] = s
}

// take returns and forgets the forget recorded by job's run (nil when it
// ran none). A job's runs never overlap, so the run that ends owns it.
func (l *forgetLog) take(job string) *forgetStatus {
	l.mu.Lock()
	defer l.mu.Unlock()
	s, ok := l.byJob[job]
	if !ok {
		return nil
	}
	delete(l.byJob, job)
	return &s
}

// list returns the last forgets, by source name.
func (l *forgetLog) list() []forgetStatus {
	l.mu.Lock()
	defer l.mu.Unlock()
	out := make([]forgetStatus, 0, len(l.last))
	for _, s := range l.last {
		out = append(out, s)
	}
	slices.SortFunc(out, func(a, b forgetStatus) int { return strings.Compare(a.Source, b.Source) })
	return out
}

// forgetAfterBackup applies the keep: policy of src to the snapshots of
// its host and paths, holding the repository lock, with the code path of
// lifeboat forget --source. When another host holds the lock the forget
// is left to the next backup (logged, not an error).
func (d *daemon) forgetAfterBackup(ctx context.Context, st storage.Storage, r *repo.Repository, src *config.Source, job string) error {
	plan, err := sourcePolicy(src)
	if err != nil {
		return err
	}
	plan.zone = d.cfg.Repository.Zone()
	fs := forgetStatus{Source: src.Name, Time: r.Now()}
	_, err = d.withLock(ctx, st, job, func(ctx context.Context) (jobStats, error) {
		now, err := storageNow(ctx, st, r.Now())
		if err != nil {
			return jobStats{}, err
		}
		fs.Time = now
		run, err := applyPolicy(ctx, r, plan, now, false)
		if run != nil {
			fs.Removed, fs.Kept = len(run.removed), len(run.result.Kept())
			if run.deletion != nil {
				fs.Pending = len(run.deletion.Pending)
			}
		}
		return jobStats{}, err
	})
	if errors.Is(err, lock.ErrLocked) {
		d.log.Info("forget left to the next backup: the repository is locked", "job", job, "source", src.Name, "err", err)
		return nil
	}
	fs.OK = err == nil
	if err != nil {
		fs.Error = err.Error()
	}
	d.forgets.record(job, fs)
	d.metrics.recordForget(fs)
	if err != nil {
		return fmt.Errorf("forget (keep: of source %s): %w", src.Name, err)
	}
	d.log.Info("snapshots forgotten", "job", job, "source", src.Name, "removed", fs.Removed, "kept", fs.Kept, "pending", fs.Pending)
	return nil
}
