package tests

import (
	"bytes"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	dto "github.com/prometheus/client_model/go"
	"github.com/prometheus/common/expfmt"
	"github.com/prometheus/common/model"
)

// scrape fetches and parses the daemon's metrics.
func scrape(addr string) (map[string]*dto.MetricFamily, error) {
	resp, err := http.Get("http://" + addr + "/metrics")
	if err != nil {
		return nil, err
	}
	defer resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		return nil, fmt.Errorf("GET /metrics: %s", resp.Status)
	}
	p := expfmt.NewTextParser(model.UTF8Validation)
	return p.TextToMetricFamilies(resp.Body)
}

// metricValue returns the value of the family's series with the given
// labels (gauge or counter), and whether it exists.
func metricValue(fams map[string]*dto.MetricFamily, name string, labels map[string]string) (float64, bool) {
	f := fams[name]
	if f == nil {
		return 0, false
	}
next:
	for _, m := range f.GetMetric() {
		have := map[string]string{}
		for _, lp := range m.GetLabel() {
			have[lp.GetName()] = lp.GetValue()
		}
		for k, v := range labels {
			if have[k] != v {
				continue next
			}
		}
		switch {
		case m.GetGauge() != nil:
			return m.GetGauge().GetValue(), true
		case m.GetCounter() != nil:
			return m.GetCounter().GetValue(), true
		}
	}
	return 0, false
}

// syncBuffer is a bytes.Buffer safe for the daemon's output goroutine.
type syncBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (s *syncBuffer) Write(p []byte) (int, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.Write(p)
}

func (s *syncBuffer) String() string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.String()
}

// The daemon runs backup, sync, check and drill jobs every second against
// two local regions, serves metrics, its status and webhook notifications,
// and stops cleanly on SIGTERM, leaving a valid repository.
func TestDaemon(t *testing.T) {
	dir := t.TempDir()
	src := filepath.Join(dir, "src")
	if err := makeTree(src, 7, cliSizes); err != nil {
		t.Fatal(err)
	}
	var hookMu sync.Mutex
	var events []map[string]any
	hook := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		var ev map[string]any
		body, _ := io.ReadAll(r.Body)
		if json.Unmarshal(body, &ev) == nil {
			hookMu.Lock()
			events = append(events, ev)
			hookMu.Unlock()
		}
	}))
	defer hook.Close()

	cfg := filepath.Join(dir, "lifeboat.yaml")
	writeFile(t, filepath.Join(dir, "pass"), "daemon test\n")
	writeFile(t, cfg, fmt.Sprintf(`version: 1
repository:
  passphrase_file: pass
  cache_dir: cache
regions:
  - {name: one, type: local, path: region-one}
  - {name: two, type: local, path: region-two}
sources:
  - name: src
    paths: [src]
    schedule: "@every 1s"
drills:
  - name: quick
    source: src
    lose: [one]
    schedule: "@every 1s"
jobs:
  sync: {schedule: "@every 1s"}
  check: {schedule: "@every 1s", read_data_subset: 100%%}
daemon:
  listen: 127.0.0.1:0
  log_format: json
  webhook: {url: %q, on_success: true, retries: 1}
`, hook.URL))
	env := []string{"LIFEBOAT_CONFIG=" + cfg, "LIFEBOAT_PASSPHRASE_FILE=", "LIFEBOAT_IDENTITY=", "LIFEBOAT_CACHE_DIR=",
		"HOME=" + dir, "LIFEBOAT_STATE_DIR=" + filepath.Join(dir, "state")}
	if code, _, stderr := lifeboat(t, env, "init", "--scrypt-log-n", "10", "--pack-size", "1MiB", "--chunk-avg", "64KiB"); code != 0 {
		t.Fatalf("init: %d %s", code, stderr)
	}

	cmd := exec.Command(filepath.Join(binDir, "lifeboat"), "daemon")
	cmd.Env = append(os.Environ(), env...)
	var logs syncBuffer
	cmd.Stdout, cmd.Stderr = &logs, &logs
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	exited := make(chan error, 1)
	go func() { exited <- cmd.Wait() }()
	stopped := false
	defer func() {
		if !stopped {
			_ = cmd.Process.Kill()
			<-exited
		}
	}()

	// The daemon records its listener's address in the state directory.
	var addr string
	deadline := time.Now().Add(60 * time.Second)
	for addr == "" && time.Now().Before(deadline) {
		var info struct{ Listen string }
		if data, err := os.ReadFile(filepath.Join(dir, "state", "daemon.json")); err == nil && json.Unmarshal(data, &info) == nil {
			addr = info.Listen
		}
		select {
		case err := <-exited:
			t.Fatalf("daemon exited: %v\n%s", err, logs.String())
		case <-time.After(20 * time.Millisecond):
		}
	}
	if addr == "" {
		t.Fatalf("no listener address\n%s", logs.String())
	}

	// Wait (bounded) until every job has succeeded at least once.
	jobs := map[string]string{"backup/src": "backup", "sync": "sync", "check": "check", "drill/quick": "drill"}
	var fams map[string]*dto.MetricFamily
	for {
		var err error
		fams, err = scrape(addr)
		if err != nil {
			t.Fatalf("scrape: %v", err)
		}
		done := true
		for job, kind := range jobs {
			if n, _ := metricValue(fams, "lifeboat_job_runs_total", map[string]string{"job": job, "kind": kind, "result": "success"}); n < 1 {
				done = false
			}
		}
		if done {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("not every job succeeded in time\n%s", logs.String())
		}
		time.Sleep(200 * time.Millisecond)
	}
	for job, kind := range jobs {
		l := map[string]string{"job": job, "kind": kind}
		for _, name := range []string{"lifeboat_job_last_run_timestamp_seconds", "lifeboat_job_last_success_timestamp_seconds", "lifeboat_job_next_run_timestamp_seconds"} {
			if v, ok := metricValue(fams, name, l); !ok || v < 1.6e9 {
				t.Errorf("%s{job=%q} = %v, %v", name, job, v, ok)
			}
		}
		if _, ok := metricValue(fams, "lifeboat_job_last_duration_seconds", l); !ok {
			t.Errorf("no duration for %s", job)
		}
	}
	if v, _ := metricValue(fams, "lifeboat_job_last_files", map[string]string{"job": "backup/src"}); v < 10 {
		t.Errorf("backup files = %v\n%s", v, logs.String())
	}
	if v, _ := metricValue(fams, "lifeboat_job_last_bytes", map[string]string{"job": "backup/src"}); v < 1e6 {
		t.Errorf("backup bytes = %v", v)
	}
	for _, region := range []string{"one", "two"} {
		if v, ok := metricValue(fams, "lifeboat_region_healthy", map[string]string{"region": region}); !ok || v != 1 {
			t.Errorf("region %s healthy = %v, %v", region, v, ok)
		}
		if _, ok := metricValue(fams, "lifeboat_region_latency_seconds", map[string]string{"region": region}); !ok {
			t.Errorf("no latency for region %s", region)
		}
	}
	if v, ok := metricValue(fams, "lifeboat_drill_last_success", map[string]string{"drill": "quick"}); !ok || v != 1 {
		t.Errorf("drill success = %v, %v", v, ok)
	}
	if v, ok := metricValue(fams, "lifeboat_drill_last_rto_seconds", map[string]string{"drill": "quick"}); !ok || v <= 0 {
		t.Errorf("drill RTO = %v, %v", v, ok)
	}

	// /healthz, /status and `lifeboat status`.
	resp, err := http.Get("http://" + addr + "/healthz")
	if err != nil || resp.StatusCode != http.StatusOK {
		t.Fatalf("healthz: %v %v", resp, err)
	}
	resp.Body.Close()
	code, out, stderr := lifeboat(t, env, "status")
	if code != 0 {
		t.Fatalf("status: exit %d\n%s%s", code, out, stderr)
	}
	for job := range jobs {
		if !strings.Contains(out, job) {
			t.Errorf("status does not show %s:\n%s", job, out)
		}
	}
	code, out, _ = lifeboat(t, env, "--json", "status")
	var st struct {
		Jobs []struct {
			Name       string    `json:"name"`
			Kind       string    `json:"kind"`
			LastResult string    `json:"last_result"`
			Next       time.Time `json:"next"`
		}
	}
	if code != 0 || json.Unmarshal([]byte(out), &st) != nil || len(st.Jobs) != len(jobs) {
		t.Fatalf("status --json: exit %d\n%s", code, out)
	}
	for _, j := range st.Jobs {
		if jobs[j.Name] != j.Kind || j.Next.IsZero() || j.LastResult == "" {
			t.Errorf("status --json job %+v", j)
		}
	}

	// SIGTERM: the running jobs are canceled and the daemon exits cleanly.
	if err := cmd.Process.Signal(syscall.SIGTERM); err != nil {
		t.Fatal(err)
	}
	select {
	case err := <-exited:
		stopped = true
		if err != nil {
			t.Fatalf("daemon exit: %v\n%s", err, logs.String())
		}
	case <-time.After(60 * time.Second):
		t.Fatalf("daemon did not stop\n%s", logs.String())
	}
	if !strings.Contains(logs.String(), `"msg":"daemon stopped"`) {
		t.Errorf("no structured stop message in the log:\n%s", logs.String())
	}

	// The repository is valid, holds snapshots and drill records.
	if code, out, stderr := lifeboat(t, env, "check", "--read-data"); code != 0 {
		t.Fatalf("check after the daemon: exit %d\n%s%s", code, out, stderr)
	}
	code, out, stderr = lifeboat(t, env, "--json", "snapshots")
	var snaps []json.RawMessage
	if code != 0 || json.Unmarshal([]byte(out), &snaps) != nil || len(snaps) == 0 {
		t.Fatalf("snapshots: exit %d %s %s", code, out, stderr)
	}
	code, out, stderr = lifeboat(t, env, "drill", "history", "--json")
	var drills []struct {
		Name   string `json:"name"`
		Passed bool   `json:"passed"`
	}
	if code != 0 || json.Unmarshal([]byte(out), &drills) != nil || len(drills) == 0 || drills[0].Name != "quick" {
		t.Fatalf("drill history: exit %d %s %s", code, out, stderr)
	}

	// Webhook notifications arrived for successful runs.
	hookMu.Lock()
	n := len(events)
	var kinds []string
	for _, ev := range events {
		if ev["event"] == "job.succeeded" {
			kinds = append(kinds, fmt.Sprint(ev["kind"]))
		}
	}
	hookMu.Unlock()
	if n == 0 || len(kinds) == 0 {
		t.Errorf("webhook events: %d, succeeded kinds %v", n, kinds)
	}

	// Stopped, `lifeboat status` shows the recorded runs and exits 1.
	code, out, stderr = lifeboat(t, env, "status")
	if code != 1 || !strings.Contains(stderr, "does not answer") || !strings.Contains(out, "backup/src") {
		t.Fatalf("status of a stopped daemon: exit %d\n%s%s", code, out, stderr)
	}
}

// A malformed schedule is a configuration error naming the job, not a
// crash.
func TestDaemonBadSchedule(t *testing.T) {
	dir := t.TempDir()
	cfg := filepath.Join(dir, "lifeboat.yaml")
	writeFile(t, cfg, `version: 1
regions:
  - {name: one, type: local, path: region}
jobs:
  sync: {schedule: "TZ=0"}
`)
	code, _, stderr := lifeboat(t, []string{"LIFEBOAT_STATE_DIR=" + filepath.Join(dir, "state")}, "--config", cfg, "daemon")
	if code != 2 || !strings.Contains(stderr, "jobs.sync.schedule") || !strings.Contains(stderr, "job sync") {
		t.Fatalf("exit %d: %s", code, stderr)
	}
}

func writeFile(t *testing.T, path, data string) {
	t.Helper()
	if err := os.WriteFile(path, []byte(data), 0o600); err != nil {
		t.Fatal(err)
	}
}
