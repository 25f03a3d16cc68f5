package main

import (
	"bufio"
	"context"
	"crypto/rand"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	mrand "math/rand/v2"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"time"

	"github.com/prometheus/client_golang/prometheus/promhttp"
	"github.com/spf13/cobra"
	"golang.org/x/sys/unix"

	"lifeboat/cmd/lifeboat/internal/config"
	"lifeboat/crypto"
	"lifeboat/engine/lock"
	"lifeboat/scheduler"
)

// Daemon defaults.
const (
	// defaultListen is the HTTP listener's address when neither --listen
	// nor daemon.listen sets one.
	defaultListen = "127.0.0.1:9464"
	// shutdownTimeout bounds how long the daemon waits for canceled jobs.
	shutdownTimeout = time.Minute
	// schedulerStateFile and daemonInfoFile live in the state directory.
	schedulerStateFile = "scheduler.json"
	daemonInfoFile     = "daemon.json"
	daemonLockFile     = "daemon.lock"
)

// daemon is a running `lifeboat daemon`.
type daemon struct {
	a        *app
	cfg      *config.Config
	id       *crypto.Identity
	log      *slog.Logger
	warnings io.Writer
	sched    *scheduler.Scheduler
	metrics  *daemonMetrics
	notify   *notifier
	holder   lock.Holder
	kinds    map[string]string
	started  time.Time
	rand     func() uint64
	// repoMu serialises this daemon's jobs that take the repository lock.
	repoMu chan struct{}
	// forgets holds the last forget after each source's backup.
	forgets forgetLog
	// prunes holds the last prune run.
	prunes pruneLog
}

// daemonInfo is written to the state directory while the daemon runs, so
// that `lifeboat status` finds its listener.
type daemonInfo struct {
	PID     int       `json:"pid"`
	Listen  string    `json:"listen,omitempty"`
	Started time.Time `json:"started"`
	Version string    `json:"version"`
	Config  string    `json:"config,omitempty"`
}

// daemonStatus is the JSON document served on /status.
type daemonStatus struct {
	Version string      `json:"version"`
	Host    string      `json:"host"`
	PID     int         `json:"pid"`
	Started time.Time   `json:"started"`
	Config  string      `json:"config,omitempty"`
	Jobs    []jobStatus `json:"jobs"`
	// Forgets is the last forget after each source's backup (keep:).
	Forgets []forgetStatus `json:"forgets,omitempty"`
	// Prune is the last run of jobs.prune.
	Prune *pruneStatus `json:"prune,omitempty"`
}

// jobStatus is one job in daemonStatus.
type jobStatus struct {
	scheduler.Status
	Kind string `json:"kind"`
}

// stateDir returns the daemon's state directory: flag, LIFEBOAT_STATE_DIR,
// $XDG_STATE_HOME/lifeboat, or ~/.local/state/lifeboat.
func (a *app) stateDir(flag string) (string, error) {
	for _, d := range []string{flag, a.getenv("LIFEBOAT_STATE_DIR")} {
		if d != "" {
			return filepath.Abs(d)
		}
	}
	if x := a.getenv("XDG_STATE_HOME"); filepath.IsAbs(x) {
		return filepath.Join(x, "lifeboat"), nil
	}
	home, err := os.UserHomeDir()
	if err != nil {
		return "", usageErr("no state directory: pass --state-dir or set LIFEBOAT_STATE_DIR (%v)", err)
	}
	return filepath.Join(home, ".local", "state", "lifeboat"), nil
}

func (a *app) daemonCommand() *cobra.Command {
	var o struct{ listen, stateDir string }
	cmd := &cobra.Command{
		Use:   "daemon",
		Short: "Run the configured backups, drills, syncs, checks and prunes on their schedules",
		Long: `Run the jobs the configuration schedules: a backup of every source with a
schedule, every drill with a schedule, and jobs.sync, jobs.check and
jobs.prune. Schedules are cron specs (5 fields, or 6 with seconds first),
descriptors (@daily, @every 1h) and may start with CRON_TZ=Zone. Check, sync
and prune take the repository lock, so they run on one host at a time. Each
prune run is one step of lifeboat prune with jobs.prune's settings: a mark,
a wait for the grace period, or the sweep.

The daemon serves Prometheus metrics on /metrics, its job table on /status
and /healthz on --listen (default daemon.listen, else 127.0.0.1:9464; "none"
disables it), logs to standard error (daemon.log_format), posts failures to
daemon.webhook, and keeps the last run of every job in --state-dir, so that
with daemon.catch_up a run missed while it was down is made up once at start.
SIGINT, SIGTERM or SIGHUP cancel the running jobs (an interrupted backup
leaves the repository valid) and stop the daemon, which removes daemon.json
from the state directory and exits 0.`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			return a.runDaemon(cmd.Context(), o.listen, o.stateDir)
		},
	}
	f := cmd.Flags()
	f.StringVar(&o.listen, "listen", "", "HTTP `ADDRESS` for /metrics, /status and /healthz (\"none\": no listener)")
	f.StringVar(&o.stateDir, "state-dir", "", "`DIR` for the daemon's state (env LIFEBOAT_STATE_DIR, default ~/.local/state/lifeboat)")
	return cmd
}

// listenAddress resolves the daemon's listener: flag, config, default; ""
// for none.
func listenAddress(flag string, cfg *config.Config) string {
	addr := flag
	if addr == "" && cfg != nil {
		addr = cfg.Daemon.Listen
	}
	if addr == "" {
		addr = defaultListen
	}
	if addr == "none" {
		return ""
	}
	return addr
}

func (a *app) runDaemon(ctx context.Context, listenFlag, stateFlag string) error {
	cfg, err := a.needConfig()
	if err != nil {
		return err
	}
	dir, err := a.stateDir(stateFlag)
	if err != nil {
		return err
	}
	if err := os.MkdirAll(dir, 0o700); err != nil {
		return fmt.Errorf("state directory: %w", err)
	}
	a.hostState = dir
	unlock, err := lockStateDir(dir)
	if err != nil {
		return err
	}
	defer unlock()

	log := newDaemonLogger(a.stderr, cfg.Daemon.LogFormat)
	d := &daemon{
		a: a, cfg: cfg, log: log, warnings: &logWriter{log: log},
		kinds: map[string]string{}, started: time.Now(),
		holder: lock.Holder{Host: hostname(), PID: os.Getpid(), ID: randomID()},
		rand:   mrand.Uint64, repoMu: make(chan struct{}, 1),
	}
	opts := scheduler.Options{
		StateFile: filepath.Join(dir, schedulerStateFile),
		CatchUp:   cfg.Daemon.CatchUp,
		Timeout:   cfg.Daemon.JobTimeout.Std(),
		Jitter:    cfg.Daemon.Jitter.Std(),
		Logger:    log,
		OnRunStart: func(ri scheduler.RunInfo) {
			d.metrics.runStarted(d.kinds[ri.Job], ri)
		},
		OnRunEnd: func(ri scheduler.RunInfo) {
			kind := d.kinds[ri.Job]
			d.metrics.runEnded(kind, ri)
			f := d.forgets.take(ri.Job)
			var p *pruneStatus
			if kind == kindPrune {
				p = d.prunes.take()
			}
			if d.notify != nil {
				d.notify.runEndedJob(kind, ri, f, p)
			}
		},
		OnSkip: func(job string, _ time.Time) {
			d.metrics.skipped.WithLabelValues(job, d.kinds[job]).Inc()
		},
	}
	d.sched = scheduler.New(opts)
	needKey, err := d.addJobs()
	if err != nil {
		return err
	}
	if len(d.kinds) == 0 {
		return usageErr("the configuration schedules no job: give a source or drill a schedule, or add jobs.sync, jobs.check or jobs.prune")
	}
	if needKey {
		if d.id, err = a.identity(false); err != nil {
			return err
		}
	}
	d.metrics = newDaemonMetrics(d.sched, d.kinds)
	if w := cfg.Daemon.Webhook; w != nil {
		d.notify = newNotifier(w, log)
	}

	var srv *http.Server
	info := daemonInfo{PID: os.Getpid(), Started: d.started, Version: version, Config: cfg.File}
	if addr := listenAddress(listenFlag, cfg); addr != "" {
		ln, err := net.Listen("tcp", addr)
		if err != nil {
			return fmt.Errorf("listen: %w", err)
		}
		info.Listen = ln.Addr().String()
		srv = &http.Server{Handler: d.handler(), ReadHeaderTimeout: 10 * time.Second}
		go func() {
			if err := srv.Serve(ln); err != nil && !errors.Is(err, http.ErrServerClosed) {
				log.Error("HTTP listener failed", "err", err)
			}
		}()
	}
	infoPath := filepath.Join(dir, daemonInfoFile)
	if err := writeJSONFile(infoPath, &info); err != nil {
		log.Warn("cannot write the daemon file", "err", err)
	}
	defer os.Remove(infoPath)

	d.sched.Start()
	log.Info("daemon started", "version", version, "jobs", d.sched.Names(), "listen", info.Listen, "state_dir", dir, "pid", info.PID)
	<-ctx.Done()
	log.Info("stopping: canceling the running jobs")

	stopCtx, cancel := context.WithTimeout(context.Background(), shutdownTimeout)
	defer cancel()
	stopErr := d.sched.Stop(stopCtx)
	if srv != nil {
		sctx, scancel := context.WithTimeout(context.Background(), 5*time.Second)
		_ = srv.Shutdown(sctx)
		scancel()
	}
	if d.notify != nil {
		d.notify.close(10 * time.Second)
	}
	if stopErr != nil {
		log.Error("daemon stopped with jobs still running", "err", stopErr)
		return stopErr
	}
	log.Info("daemon stopped")
	return nil
}

// addJobs registers the configured jobs; it reports whether any needs the
// repository key. Bad schedules are configuration errors naming the field
// and the job.
func (d *daemon) addJobs() (needKey bool, err error) {
	cfg := d.cfg
	var errs []error
	add := func(field, name, kind, spec string, fn func(context.Context) (jobStats, error)) {
		job := func(ctx context.Context) error {
			stats, err := fn(ctx)
			if !errors.Is(err, scheduler.ErrSkipped) {
				d.metrics.recordStats(name, kind, stats)
			}
			return err
		}
		if err := d.sched.Add(name, spec, job, scheduler.JobOptions{}); err != nil {
			errs = append(errs, fmt.Errorf("%s: %s: %w", cfg.File, field, err))
			return
		}
		d.kinds[name] = kind
	}
	for i := range cfg.Sources {
		src := &cfg.Sources[i]
		if src.Schedule == "" {
			continue
		}
		if _, err := sourceSpec(src); err != nil {
			errs = append(errs, fmt.Errorf("%s: sources[%d]: %w", cfg.File, i, err))
			continue
		}
		name := "backup/" + src.Name
		add(fmt.Sprintf("sources[%d].schedule", i), name, kindBackup, src.Schedule, d.backupJob(src, name))
		needKey = true
	}
	for i := range cfg.Drills {
		dr := &cfg.Drills[i]
		if dr.Schedule == "" {
			continue
		}
		name := "drill/" + dr.Name
		add(fmt.Sprintf("drills[%d].schedule", i), name, kindDrill, dr.Schedule, d.drillJob(dr, name))
		needKey = true
	}
	if j := cfg.Jobs.Sync; j != nil {
		add("jobs.sync.schedule", "sync", kindSync, j.Schedule, d.syncJob("sync"))
	}
	if j := cfg.Jobs.Check; j != nil {
		add("jobs.check.schedule", "check", kindCheck, j.Schedule, d.checkJob(j, "check"))
		needKey = true
	}
	if j := cfg.Jobs.Prune; j != nil {
		add("jobs.prune.schedule", "prune", kindPrune, j.Schedule, d.pruneJob(j, "prune"))
		needKey = true
	}
	if len(errs) > 0 {
		return false, withCode(ExitUsage, errors.Join(errs...))
	}
	return needKey, nil
}

// handler serves /metrics, /status and /healthz.
func (d *daemon) handler() http.Handler {
	mux := http.NewServeMux()
	mux.Handle("GET /metrics", promhttp.HandlerFor(d.metrics.reg, promhttp.HandlerOpts{}))
	mux.HandleFunc("GET /healthz", func(w http.ResponseWriter, _ *http.Request) {
		w.Header().Set("Content-Type", "text/plain; charset=utf-8")
		fmt.Fprintln(w, "ok")
	})
	mux.HandleFunc("GET /status", func(w http.ResponseWriter, _ *http.Request) {
		w.Header().Set("Content-Type", "application/json")
		_ = json.NewEncoder(w).Encode(d.status())
	})
	return mux
}

// status returns the document served on /status.
func (d *daemon) status() *daemonStatus {
	st := &daemonStatus{Version: version, Host: hostname(), PID: os.Getpid(), Started: d.started, Config: d.cfg.File}
	for _, e := range d.sched.Entries() {
		st.Jobs = append(st.Jobs, jobStatus{Status: e, Kind: d.kinds[e.Name]})
	}
	st.Forgets = d.forgets.list()
	st.Prune = d.prunes.lastRun()
	return st
}

// lockStateDir takes an exclusive lock on the state directory, so that two
// daemons never share one; the kernel drops it if the process dies.
func lockStateDir(dir string) (unlock func(), err error) {
	path := filepath.Join(dir, daemonLockFile)
	f, err := os.OpenFile(path, os.O_CREATE|os.O_RDWR, 0o600)
	if err != nil {
		return nil, fmt.Errorf("state directory: %w", err)
	}
	if err := unix.Flock(int(f.Fd()), unix.LOCK_EX|unix.LOCK_NB); err != nil {
		f.Close()
		if errors.Is(err, unix.EWOULDBLOCK) {
			return nil, fmt.Errorf("another lifeboat daemon uses the state directory %s (use --state-dir)", dir)
		}
		return nil, fmt.Errorf("lock %s: %w", path, err)
	}
	return func() { f.Close() }, nil
}

// writeJSONFile replaces path with v's JSON form.
func writeJSONFile(path string, v any) error {
	data, err := json.MarshalIndent(v, "", "  ")
	if err != nil {
		return err
	}
	tmp := path + ".tmp"
	if err := os.WriteFile(tmp, append(data, '\n'), 0o600); err != nil {
		return err
	}
	return os.Rename(tmp, path)
}

func randomID() string {
	var b [8]byte
	_, _ = rand.Read(b[:])
	return hex.EncodeToString(b[:])
}

// newDaemonLogger returns the daemon's structured logger on w.
func newDaemonLogger(w io.Writer, format string) *slog.Logger {
	opts := &slog.HandlerOptions{Level: slog.LevelInfo}
	if format == config.LogJSON {
		return slog.New(slog.NewJSONHandler(w, opts))
	}
	return slog.New(slog.NewTextHandler(w, opts))
}

// logWriter turns lines written to it (warnings of buildStorage) into
// warnings of the log.
type logWriter struct{ log *slog.Logger }

func (w *logWriter) Write(p []byte) (int, error) {
	sc := bufio.NewScanner(strings.NewReader(string(p)))
	for sc.Scan() {
		if line := strings.TrimPrefix(strings.TrimSpace(sc.Text()), "lifeboat: warning: "); line != "" {
			w.log.Warn(line)
		}
	}
	return len(p), nil
}
