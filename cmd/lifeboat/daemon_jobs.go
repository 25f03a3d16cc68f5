package main

import (
	"context"
	"errors"
	"fmt"
	"path/filepath"
	"sync/atomic"
	"time"

	"lifeboat/cmd/lifeboat/internal/config"
	"lifeboat/engine/backup"
	"lifeboat/engine/check"
	"lifeboat/engine/lock"
	"lifeboat/engine/repo"
	"lifeboat/engine/syncer"
	"lifeboat/scheduler"
	"lifeboat/storage"
	"lifeboat/storage/regions"
)

// backupSpec is what one backup needs, from the backup command's flags or
// from a configured source; the command and the daemon share it.
type backupSpec struct {
	paths   []string // absolute
	exclude *backup.Matcher
	oneFS   bool
	tags    []string
	host    string
}

// newBackupSpec reads the exclude pattern files, compiles the patterns and
// makes the paths absolute; its errors are usage errors. An empty host is
// this machine's name.
func newBackupSpec(paths, excludes, excludeFiles []string, oneFS bool, tags []string, host string) (*backupSpec, error) {
	patterns := append([]string(nil), excludes...)
	for _, f := range excludeFiles {
		p, err := backup.ReadPatternFile(f)
		if err != nil {
			return nil, usageErr("%v", err)
		}
		patterns = append(patterns, p...)
	}
	m, err := backup.NewMatcher(patterns)
	if err != nil {
		return nil, usageErr("%v", err)
	}
	abs := make([]string, len(paths))
	for i, p := range paths {
		if abs[i], err = filepath.Abs(p); err != nil {
			return nil, usageErr("%v", err)
		}
	}
	if host == "" {
		host = hostname()
	}
	return &backupSpec{paths: abs, exclude: m, oneFS: oneFS, tags: tags, host: host}, nil
}

// findParent returns the parent snapshot: the one sel names, or ("") the
// latest with the same host and paths; nil when force is set or there is
// no such snapshot.
func (s *backupSpec) findParent(ctx context.Context, r *repo.Repository, sel string, force bool) (*repo.SnapshotRef, error) {
	if force {
		return nil, nil
	}
	p, err := r.FindSnapshot(ctx, sel, repo.Filter{Host: s.host, Paths: s.paths})
	switch {
	case err == nil:
		return &p, nil
	case sel != "" || !errors.Is(err, repo.ErrSnapshotNotFound):
		return nil, err
	}
	return nil, nil
}

// options returns the engine's options for the backup.
func (s *backupSpec) options(parent *repo.SnapshotRef, prog *backup.Progress, onWarning func(path string, err error)) backup.Options {
	return backup.Options{
		Paths: s.paths, Exclude: s.exclude, OneFileSystem: s.oneFS, Tags: s.tags,
		Host: s.host, Username: username(), Parent: parent, Progress: prog,
		Program:   "lifeboat " + version,
		OnWarning: onWarning,
	}
}

// sourceSpec returns the backup spec of a configured source.
func sourceSpec(src *config.Source) (*backupSpec, error) {
	var files []string
	if src.ExcludeFile != "" {
		files = []string{src.ExcludeFile}
	}
	s, err := newBackupSpec(src.Paths, src.Exclude, files, src.OneFileSystem, src.Tags, src.Host)
	if err != nil {
		return nil, fmt.Errorf("source %s: %w", src.Name, err)
	}
	return s, nil
}

// Job kinds, the "kind" label of the metrics.
const (
	kindBackup = "backup"
	kindDrill  = "drill"
	kindSync   = "sync"
	kindCheck  = "check"
	kindPrune  = "prune"
)

// repositoryLock is the lock taken by jobs that must not overlap on one
// repository, from any host (check, sync and prune).
const repositoryLock = "repository"

// Repository lock timing: a crashed daemon blocks the others' maintenance
// jobs for at most lockLease; a job waits up to lockWait for another host's
// lock, polling every lockPoll.
const (
	lockLease = 2 * time.Minute
	lockWait  = 15 * time.Minute
	lockPoll  = 10 * time.Second
)

// errPartial marks a backup that saved a snapshot without some files.
var errPartial = errors.New("partial backup")

// jobStats are the figures a run reports for the metrics.
type jobStats struct {
	bytes, files, errors int64
}

// openSet opens the configured regions for one run.
func (d *daemon) openSet(ctx context.Context) (*regions.Set, error) {
	st, err := buildStorage(ctx, d.cfg, false, d.a.getenv, d.warnings)
	if err != nil {
		return nil, err
	}
	set, ok := st.(*regions.Set)
	if !ok {
		st.Close()
		return nil, fmt.Errorf("internal error: the storage is a %T, not a region set", st)
	}
	return set, nil
}

// openRepo opens the repository on set and loads its index.
func (d *daemon) openRepo(ctx context.Context, set storage.Storage) (*repo.Repository, error) {
	r, err := repo.Open(ctx, set, d.id, d.a.repoOptions())
	if err != nil {
		return nil, err
	}
	if err := r.LoadIndex(ctx); err != nil {
		return nil, fmt.Errorf("load index: %w", err)
	}
	return r, nil
}

// withSet runs fn on freshly opened regions and records their health in
// the metrics afterwards.
func (d *daemon) withSet(ctx context.Context, fn func(set *regions.Set) (jobStats, error)) (jobStats, error) {
	set, err := d.openSet(ctx)
	if err != nil {
		return jobStats{}, err
	}
	defer set.Close()
	defer d.metrics.observeRegions(set)
	return fn(set)
}

// withLock runs fn holding the repository lock. Jobs of this daemon wait
// for each other; while another host holds the lock, the job waits up to
// lockWait, polling, and is then skipped (scheduler.ErrSkipped). fn's
// context is canceled if the lock is lost.
func (d *daemon) withLock(ctx context.Context, st storage.Storage, job string, fn func(ctx context.Context) (jobStats, error)) (jobStats, error) {
	if err := requireConditionalCreate(d.cfg, st); err != nil {
		return jobStats{}, fmt.Errorf("repository lock: %w", err)
	}
	select {
	case d.repoMu <- struct{}{}:
		defer func() { <-d.repoMu }()
	case <-ctx.Done():
		return jobStats{}, ctx.Err()
	}
	logged := false
	l, err := lock.AcquireWait(ctx, st, repositoryLock, d.holder, lockLease, nil, lock.WaitOptions{
		Wait: lockWait, Poll: lockPoll,
		OnWait: func(err error) {
			if !logged {
				d.log.Info("waiting for the repository lock", "job", job, "err", err)
			}
			logged = true
		},
	})
	switch {
	case errors.Is(err, lock.ErrLocked):
		return jobStats{}, fmt.Errorf("%w; run %w", err, scheduler.ErrSkipped)
	case err != nil:
		return jobStats{}, fmt.Errorf("repository lock: %w", err)
	}
	lctx, cancel := l.Context(ctx)
	defer cancel()
	stats, err := fn(lctx)
	if cause := context.Cause(lctx); errors.Is(cause, lock.ErrLost) && err != nil {
		err = fmt.Errorf("%w: %w", cause, err)
	}
	rctx, rcancel := context.WithTimeout(context.WithoutCancel(ctx), 30*time.Second)
	defer rcancel()
	if rerr := l.Release(rctx); rerr != nil {
		d.log.Warn("cannot release the repository lock", "job", job, "err", rerr)
	}
	return stats, err
}

// backupJob backs up a configured source.
func (d *daemon) backupJob(src *config.Source, job string) func(ctx context.Context) (jobStats, error) {
	return func(ctx context.Context) (jobStats, error) {
		spec, err := sourceSpec(src)
		if err != nil {
			return jobStats{}, err
		}
		return d.withSet(ctx, func(set *regions.Set) (jobStats, error) {
			if err := requireWriteQuorum(set); err != nil {
				return jobStats{}, err
			}
			r, err := d.openRepo(ctx, set)
			if err != nil {
				return jobStats{}, err
			}
			parent, err := spec.findParent(ctx, r, "", false)
			if err != nil {
				return jobStats{}, err
			}
			var logged atomic.Int64
			opts := spec.options(parent, nil, func(path string, err error) {
				if logged.Add(1) <= 100 {
					d.log.Warn("cannot back up", "job", job, "path", path, "err", err)
				}
			})
			opts.OnNotice = func(err error) { d.log.Warn("repository housekeeping", "job", job, "err", err) }
			res, err := backup.Run(ctx, r, opts)
			if err != nil {
				return jobStats{}, err
			}
			s := res.Snapshot.Summary
			stats := jobStats{bytes: s.TotalBytes, files: s.TotalFiles, errors: res.Warnings}
			d.log.Info("snapshot saved", "job", job, "snapshot", res.ID.String(), "files", s.TotalFiles,
				"bytes", s.TotalBytes, "bytes_added", s.BytesAdded, "bytes_stored", s.BytesStored,
				"files_new", s.FilesNew, "files_changed", s.FilesChanged, "files_unmodified", s.FilesUnchanged)
			for _, l := range regionsBehind(set, res.ID) {
				d.log.Warn("region is behind", "job", job, "region", l.Region, "objects", l.Objects, "snapshot_missing", l.Snapshot)
			}
			if res.Warnings > 0 {
				return stats, fmt.Errorf("%w: %d files or directories could not be read (snapshot %s saved)", errPartial, res.Warnings, res.ID.Short())
			}
			if src.Keep != nil {
				if err := d.forgetAfterBackup(ctx, set, r, src, job); err != nil {
					return stats, fmt.Errorf("snapshot %s saved, but %w", res.ID.Short(), err)
				}
			}
			return stats, nil
		})
	}
}

// syncJob brings every region up to date, holding the repository lock.
func (d *daemon) syncJob(job string) func(ctx context.Context) (jobStats, error) {
	return func(ctx context.Context) (jobStats, error) {
		return d.withSet(ctx, func(set *regions.Set) (jobStats, error) {
			return d.withLock(ctx, set, job, func(ctx context.Context) (jobStats, error) {
				rep, err := syncer.Sync(ctx, set.Capabilities().Regions, syncer.Options{Host: hostname()})
				var stats jobStats
				if rep != nil {
					for _, r := range rep.Regions {
						stats.files += r.Copied
						stats.bytes += r.Bytes
						stats.errors += int64(len(r.Errors))
						if len(r.Errors) > 0 || r.Foreign {
							d.log.Warn("region not brought up to date", "job", job, "region", r.Region,
								"foreign_repository", r.Foreign, "errors", r.Errors)
						}
					}
					stats.errors += int64(len(rep.Lost))
					for _, name := range rep.Lost {
						d.log.Error("object lost: no good copy in any region", "job", job, "object", name)
					}
					d.log.Info("sync finished", "job", job, "objects", rep.Objects, "copied", stats.files, "bytes", stats.bytes)
				}
				return stats, err
			})
		})
	}
}

// checkJob verifies the repository (and a share of its data), holding the
// repository lock.
func (d *daemon) checkJob(cj *config.CheckJob, job string) func(ctx context.Context) (jobStats, error) {
	return func(ctx context.Context) (jobStats, error) {
		return d.withSet(ctx, func(set *regions.Set) (jobStats, error) {
			return d.withLock(ctx, set, job, func(ctx context.Context) (jobStats, error) {
				pct := float64(cj.ReadDataSubset)
				other := 0
				opts := check.Options{
					// Every region's copy of each pack (Regions nil).
					SubsetPercent: pct, ReadData: pct >= 100, Seed: d.rand(),
					OnProblem: func(p check.Problem) {
						if p.Region == "" {
							other++
						}
						d.log.Error("check found a problem", "job", job, "region", p.Region, "object", p.Object, "problem", p.String())
					},
				}
				res, err := runCheck(ctx, set, d.id, repo.Options{CacheDir: d.a.cacheDir(), StateDir: d.a.hostStateDir()}, hostname(), opts, func(err error) {
					d.log.Warn("coverage records", "job", job, "err", err)
				})
				var stats jobStats
				if errors.Is(err, check.ErrProblems) {
					for _, l := range repairAdvice(res, other) {
						d.log.Error("check: repair", "job", job, "advice", l)
					}
				}
				if res != nil {
					d.retainRecords(ctx, job)
					stats = jobStats{bytes: res.BytesRead, files: res.Packs, errors: res.Problems}
					d.log.Info("check finished", "job", job, "snapshots", res.Snapshots, "trees", res.Trees, "packs", res.Packs,
						"packs_read", res.PacksRead, "bytes_read", res.BytesRead, "problems", res.Problems)
				}
				return stats, err
			})
		})
	}
}
