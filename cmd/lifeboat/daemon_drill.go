package main

import (
	"context"
	"errors"
	"fmt"
	"strings"

	"lifeboat/cmd/lifeboat/internal/config"
)

// errDrillFailed marks a drill that ran but did not pass.
var errDrillFailed = errors.New("drill failed")

// drillJob runs a configured drill with the drill command's code (runDrill:
// restore from the regions the drill keeps, verify, judge RTO and RPO,
// store the record in the repository) and records its outcome.
func (d *daemon) drillJob(dr *config.Drill, job string) func(ctx context.Context) (jobStats, error) {
	return func(ctx context.Context) (jobStats, error) {
		rep, err := d.a.runDrill(ctx, dr, drillOverrides{})
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
