package main

import (
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/collectors"

	"lifeboat/engine/prune"
	"lifeboat/scheduler"
	"lifeboat/storage/regions"
)

// daemonMetrics are the Prometheus metrics the daemon serves on /metrics.
type daemonMetrics struct {
	reg *prometheus.Registry

	lastRun, lastSuccess, lastDuration, lastOK *prometheus.GaugeVec
	lastBytes, lastFiles, lastErrors           *prometheus.GaugeVec
	runs, skipped                              *prometheus.CounterVec

	regionUp, regionLatency, regionBehind *prometheus.GaugeVec

	drillOK, drillRTO, drillRPO, drillTime *prometheus.GaugeVec

	forgetRemoved                    *prometheus.CounterVec
	forgetOK, forgetTime, forgetKept *prometheus.GaugeVec

	pruneDeleted, pruneReclaimed                   *prometheus.CounterVec
	pruneAction, pruneReclaimable                  *prometheus.GaugeVec
	pruneWaiting, pruneOK, pruneTime, pruneSuccess prometheus.Gauge
}

// jobLabels are the labels of the per-job metrics.
var jobLabels = []string{"job", "kind"}

func newDaemonMetrics(sched *scheduler.Scheduler, kinds map[string]string) *daemonMetrics {
	gauge := func(name, help string, labels ...string) *prometheus.GaugeVec {
		return prometheus.NewGaugeVec(prometheus.GaugeOpts{Namespace: "lifeboat", Name: name, Help: help}, labels)
	}
	m := &daemonMetrics{
		reg:          prometheus.NewRegistry(),
		lastRun:      gauge("job_last_run_timestamp_seconds", "Start of the job's last run (Unix time).", jobLabels...),
		lastSuccess:  gauge("job_last_success_timestamp_seconds", "End of the job's last successful run (Unix time).", jobLabels...),
		lastDuration: gauge("job_last_duration_seconds", "Duration of the job's last run.", jobLabels...),
		lastOK:       gauge("job_last_run_success", "1 if the job's last run succeeded, 0 if it failed or was interrupted.", jobLabels...),
		lastBytes:    gauge("job_last_bytes", "Bytes the last run processed (backup: files' bytes; sync: copied; check: read; drill: restored and verified).", jobLabels...),
		lastFiles:    gauge("job_last_files", "Files or objects the last run processed (backup, drill: files; sync: objects copied; check: packs).", jobLabels...),
		lastErrors:   gauge("job_last_errors", "Errors the last run reported (unreadable files, region errors, problems found, failed files).", jobLabels...),
		runs: prometheus.NewCounterVec(prometheus.CounterOpts{Namespace: "lifeboat", Name: "job_runs_total",
			Help: "Runs that ended, by result (success, failure, skipped, interrupted)."}, append(jobLabels, "result")),
		skipped: prometheus.NewCounterVec(prometheus.CounterOpts{Namespace: "lifeboat", Name: "job_overlaps_skipped_total",
			Help: "Activations skipped because the job's previous run was still going."}, jobLabels),
		regionUp:      gauge("region_healthy", "1 if the region answered its last requests (breaker closed), as seen by the last run.", "region"),
		regionLatency: gauge("region_latency_seconds", "Moving average of the region's request times, as seen by the last run.", "region"),
		regionBehind:  gauge("region_behind_objects", "Objects the last run could not write to the region (lag until the next sync).", "region"),
		drillOK:       gauge("drill_last_success", "1 if the drill's last run passed, 0 if it failed.", "drill"),
		drillRTO:      gauge("drill_last_rto_seconds", "Recovery time measured by the drill's last run.", "drill"),
		drillRPO:      gauge("drill_last_rpo_seconds", "Age of the drilled snapshot at the drill's last run.", "drill"),
		drillTime:     gauge("drill_last_run_timestamp_seconds", "Start of the drill's last run (Unix time).", "drill"),
		forgetRemoved: prometheus.NewCounterVec(prometheus.CounterOpts{Namespace: "lifeboat", Name: "forget_snapshots_removed_total",
			Help: "Snapshots the forget after the source's backups removed (keep: policy)."}, []string{"source"}),
		forgetOK:   gauge("forget_last_success", "1 if the last forget after the source's backup succeeded, 0 if it failed.", "source"),
		forgetTime: gauge("forget_last_run_timestamp_seconds", "Storage time of the last forget after the source's backup (Unix time).", "source"),
		forgetKept: gauge("forget_last_kept_snapshots", "Snapshots of the source the last forget kept.", "source"),
		pruneDeleted: prometheus.NewCounterVec(prometheus.CounterOpts{Namespace: "lifeboat", Name: "prune_objects_deleted_total",
			Help: "Objects (packs and replaced index objects) the prune job's sweeps deleted, by region."}, []string{"region"}),
		pruneReclaimed: prometheus.NewCounterVec(prometheus.CounterOpts{Namespace: "lifeboat", Name: "prune_bytes_reclaimed_total",
			Help: "Sealed bytes of the packs the prune job's sweeps deleted, by region (packs this daemon's mark sized)."}, []string{"region"}),
		pruneAction:      gauge("prune_last_action", "1 for the action of the prune job's last successful run (none, mark, wait, sweep), 0 for the others.", "action"),
		pruneReclaimable: gauge("prune_last_reclaimable_bytes", "Sealed bytes the prune job's last mark condemned, by region.", "region"),
		pruneWaiting:     prometheus.NewGauge(prometheus.GaugeOpts{Namespace: "lifeboat", Name: "prune_packs_waiting", Help: "Condemned packs waiting for their grace period before the sweep, as of the prune job's last run."}),
		pruneOK:          prometheus.NewGauge(prometheus.GaugeOpts{Namespace: "lifeboat", Name: "prune_last_success", Help: "1 if the prune job's last run succeeded, 0 if it failed."}),
		pruneTime:        prometheus.NewGauge(prometheus.GaugeOpts{Namespace: "lifeboat", Name: "prune_last_run_timestamp_seconds", Help: "Storage time of the prune job's last run (Unix time)."}),
		pruneSuccess:     prometheus.NewGauge(prometheus.GaugeOpts{Namespace: "lifeboat", Name: "prune_last_success_timestamp_seconds", Help: "Storage time of the prune job's last successful run (Unix time)."}),
	}
	m.reg.MustRegister(
		collectors.NewGoCollector(), collectors.NewProcessCollector(collectors.ProcessCollectorOpts{}),
		m.lastRun, m.lastSuccess, m.lastDuration, m.lastOK, m.lastBytes, m.lastFiles, m.lastErrors,
		m.runs, m.skipped, m.regionUp, m.regionLatency, m.regionBehind,
		m.drillOK, m.drillRTO, m.drillRPO, m.drillTime,
		m.forgetRemoved, m.forgetOK, m.forgetTime, m.forgetKept,
		m.pruneDeleted, m.pruneReclaimed, m.pruneAction, m.pruneReclaimable,
		m.pruneWaiting, m.pruneOK, m.pruneTime, m.pruneSuccess,
		&schedCollector{sched: sched, kinds: kinds},
	)
	build := prometheus.NewGauge(prometheus.GaugeOpts{Namespace: "lifeboat", Name: "build_info",
		Help: "Always 1; the labels name the version.", ConstLabels: prometheus.Labels{"version": version}})
	build.Set(1)
	m.reg.MustRegister(build)
	// Known history (from the state file) and zero counters, so every
	// job's series exist from the start.
	for _, e := range sched.Entries() {
		l := prometheus.Labels{"job": e.Name, "kind": kinds[e.Name]}
		for _, r := range []string{scheduler.ResultSuccess, scheduler.ResultFailure, scheduler.ResultSkipped, scheduler.ResultInterrupted} {
			m.runs.With(prometheus.Labels{"job": e.Name, "kind": kinds[e.Name], "result": r})
		}
		m.skipped.With(l)
		if !e.LastStart.IsZero() {
			m.lastRun.With(l).Set(unixSeconds(e.LastStart))
		}
		if !e.LastSuccess.IsZero() {
			m.lastSuccess.With(l).Set(unixSeconds(e.LastSuccess))
		}
		if !e.LastEnd.IsZero() && !e.LastStart.IsZero() {
			m.lastDuration.With(l).Set(e.LastEnd.Sub(e.LastStart).Seconds())
			m.lastOK.With(l).Set(boolGauge(e.LastResult == scheduler.ResultSuccess))
		}
	}
	return m
}

func unixSeconds(t time.Time) float64 { return float64(t.UnixNano()) / 1e9 }

func boolGauge(b bool) float64 {
	if b {
		return 1
	}
	return 0
}

// runStarted records the start of a run.
func (m *daemonMetrics) runStarted(kind string, ri scheduler.RunInfo) {
	m.lastRun.WithLabelValues(ri.Job, kind).Set(unixSeconds(ri.Start))
}

// runEnded records the end of a run.
// The run counter goes last, so that a scrape that sees a run counted
// also sees its gauges.
func (m *daemonMetrics) runEnded(kind string, ri scheduler.RunInfo) {
	defer m.runs.WithLabelValues(ri.Job, kind, ri.Result).Inc()
	if ri.Result == scheduler.ResultSkipped {
		return
	}
	m.lastDuration.WithLabelValues(ri.Job, kind).Set(ri.End.Sub(ri.Start).Seconds())
	m.lastOK.WithLabelValues(ri.Job, kind).Set(boolGauge(ri.Result == scheduler.ResultSuccess))
	if ri.Result == scheduler.ResultSuccess {
		m.lastSuccess.WithLabelValues(ri.Job, kind).Set(unixSeconds(ri.End))
	}
}

// recordStats records a run's figures.
func (m *daemonMetrics) recordStats(job, kind string, s jobStats) {
	m.lastBytes.WithLabelValues(job, kind).Set(float64(s.bytes))
	m.lastFiles.WithLabelValues(job, kind).Set(float64(s.files))
	m.lastErrors.WithLabelValues(job, kind).Set(float64(s.errors))
}

// observeRegions records the health a run saw in its regions.
func (m *daemonMetrics) observeRegions(set *regions.Set) {
	behind := set.Behind()
	for _, h := range set.Health() {
		m.regionUp.WithLabelValues(h.Name).Set(boolGauge(h.Healthy))
		m.regionLatency.WithLabelValues(h.Name).Set(h.LatencyEWMA.Seconds())
		lag := behind[h.Name]
		m.regionBehind.WithLabelValues(h.Name).Set(float64(int64(len(lag.Names)) + lag.Overflow))
	}
}

// recordDrill records a drill's outcome.
func (m *daemonMetrics) recordDrill(name string, passed bool, start time.Time, rto, rpo time.Duration) {
	m.drillOK.WithLabelValues(name).Set(boolGauge(passed))
	m.drillTime.WithLabelValues(name).Set(unixSeconds(start))
	m.drillRTO.WithLabelValues(name).Set(rto.Seconds())
	m.drillRPO.WithLabelValues(name).Set(rpo.Seconds())
}

// schedCollector reports the scheduler's live state at every scrape.
type schedCollector struct {
	sched *scheduler.Scheduler
	kinds map[string]string
}

var (
	nextRunDesc = prometheus.NewDesc("lifeboat_job_next_run_timestamp_seconds",
		"Next scheduled run of the job (Unix time).", jobLabels, nil)
	runningDesc = prometheus.NewDesc("lifeboat_job_running",
		"1 while a run of the job is pending or in progress.", jobLabels, nil)
)

// Describe implements prometheus.Collector.
func (c *schedCollector) Describe(ch chan<- *prometheus.Desc) {
	ch <- nextRunDesc
	ch <- runningDesc
}

// Collect implements prometheus.Collector.
func (c *schedCollector) Collect(ch chan<- prometheus.Metric) {
	for _, e := range c.sched.Entries() {
		kind := c.kinds[e.Name]
		if !e.Next.IsZero() {
			ch <- prometheus.MustNewConstMetric(nextRunDesc, prometheus.GaugeValue, unixSeconds(e.Next), e.Name, kind)
		}
		ch <- prometheus.MustNewConstMetric(runningDesc, prometheus.GaugeValue, boolGauge(e.Running), e.Name, kind)
	}
}

// recordForget records the outcome of a forget after a source's backup.
func (m *daemonMetrics) recordForget(f forgetStatus) {
	m.forgetRemoved.WithLabelValues(f.Source).Add(float64(f.Removed))
	m.forgetOK.WithLabelValues(f.Source).Set(boolGauge(f.OK))
	m.forgetTime.WithLabelValues(f.Source).Set(unixSeconds(f.Time))
	if f.OK {
		m.forgetKept.WithLabelValues(f.Source).Set(float64(f.Kept))
	}
}

// pruneActions are the values of lifeboat_prune_last_action's label.
var pruneActions = []prune.Action{prune.ActionNone, prune.ActionMark, prune.ActionWait, prune.ActionSweep}

// recordPrune records the outcome of a prune job's run.
func (m *daemonMetrics) recordPrune(s pruneStatus) {
	m.pruneOK.Set(boolGauge(s.OK))
	m.pruneTime.Set(unixSeconds(s.Time))
	for rn, n := range s.Deleted {
		m.pruneDeleted.WithLabelValues(rn).Add(float64(n))
	}
	for rn, b := range s.BytesReclaimed {
		m.pruneReclaimed.WithLabelValues(rn).Add(float64(b))
	}
	if !s.OK {
		return
	}
	m.pruneSuccess.Set(unixSeconds(s.Time))
	for _, a := range pruneActions {
		m.pruneAction.WithLabelValues(string(a)).Set(boolGauge(string(a) == s.Action))
	}
	switch prune.Action(s.Action) {
	case prune.ActionMark, prune.ActionWait:
		m.pruneWaiting.Set(float64(s.Condemned))
	default:
		m.pruneWaiting.Set(0)
	}
	if prune.Action(s.Action) == prune.ActionMark {
		m.pruneReclaimable.Reset()
		for rn, b := range s.Reclaimable {
			m.pruneReclaimable.WithLabelValues(rn).Set(float64(b))
		}
	}
}
