package main

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"time"

	"lifeboat/cmd/lifeboat/internal/config"
	"lifeboat/engine/drill"
	"lifeboat/engine/format"
	"lifeboat/engine/repo"
	"lifeboat/storage/regions"
)

// errDrillFailed marks a drill that ran but did not pass.
var errDrillFailed = errors.New("drill failed")

// drillJob runs a configured drill with the drill command's code (runDrill:
// restore from the regions the drill keeps, verify, judge RTO and RPO,
// store the record in the repository) and records its outcome.
func (d *daemon) drillJob(dr *config.Drill, job string) func(ctx context.Context) (jobStats, error) {
	return func(ctx context.Context) (jobStats, error) {
		rep, err := d.a.runDrill(ctx, dr, drillOverrides{})
		if rep != nil && rep.Record != "" {
			d.retainRecords(ctx, job)
		}
		if rep == nil {
			return jobStats{}, err
		}
		stats := jobStats{bytes: rep.Bytes, files: rep.Files, errors: rep.FailureCount}
		d.metrics.recordDrill(dr.Name, rep.Passed, rep.Start, rep.RTO, rep.RPO)
		var why []string
		for _, r := range rep.Reasons {
			why = append(why, fmt.Sprintf("%s: %s", r.Code, r.Message))
		}
		d.log.Info("drill finished", "job", job, "snapshot", rep.Snapshot, "passed", rep.Passed,
			"rto", rep.RTO, "rpo", rep.RPO, "files", rep.Files, "bytes", rep.Bytes,
			"regions", rep.Regions, "record", rep.Record, "reasons", why)
		if rep.RecordError != "" {
			d.log.Warn("drill record not stored", "job", job, "err", rep.RecordError)
		}
		switch {
		case err != nil:
			return stats, err
		case !rep.Passed:
			return stats, fmt.Errorf("%w: %s", errDrillFailed, strings.Join(why, "; "))
		}
		return stats, nil
	}
}

// retainRecords deletes the drill and check records the record retention
// rule does not keep (drill.ExpiredRecords with
// drill.DefaultRecordRetention: records of the last 90 days, and always
// the newest of each drill and the newest check record). Failures are
// logged, not returned: records are evidence, not data, and the next drill
// or check tries again.
func (d *daemon) retainRecords(ctx context.Context, job string) {
	_, err := d.withSet(ctx, func(set *regions.Set) (jobStats, error) {
		r, err := repo.Open(ctx, set, d.id, d.a.repoOptions())
		if err != nil {
			return jobStats{}, err
		}
		n, err := deleteExpiredRecords(ctx, r, set, r.Now())
		if n > 0 {
			d.log.Info("old drill and check records deleted", "job", job, "records", n)
		}
		return jobStats{}, err
	})
	if err != nil && ctx.Err() == nil {
		d.log.Warn("old drill and check records not deleted", "job", job, "err", err)
	}
}

// deleteExpiredRecords deletes the records of r that the record retention
// rule does not keep at now, from every region of st, and returns how
// many it deleted. Unreadable records are left alone (check reports
// them).
func deleteExpiredRecords(ctx context.Context, r *repo.Repository, st drill.Deleter, now time.Time) (int, error) {
	recs, _, err := drill.LoadRecords(ctx, r)
	if err != nil {
		return 0, fmt.Errorf("list drill records: %w", err)
	}
	var ids []format.ID
	for _, rec := range drill.ExpiredRecords(recs, now, drill.DefaultRecordRetention) {
		ids = append(ids, rec.ID)
	}
	return drill.DeleteRecords(ctx, st, ids)
}
