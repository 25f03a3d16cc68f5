package main

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus/testutil"

	"lifeboat/cmd/lifeboat/internal/config"
	"lifeboat/scheduler"
)

// hookServer is a webhook endpoint on 127.0.0.1 that answers with the
// given status codes in turn (the last one repeats) and records bodies.
type hookServer struct {
	*httptest.Server
	mu     sync.Mutex
	codes  []int
	bodies [][]byte
}

func newHookServer(t *testing.T, codes ...int) *hookServer {
	t.Helper()
	h := &hookServer{codes: codes}
	h.Server = httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		body, _ := io.ReadAll(r.Body)
		h.mu.Lock()
		i := min(len(h.bodies), len(h.codes)-1)
		h.bodies = append(h.bodies, body)
		code := h.codes[i]
		h.mu.Unlock()
		if r.Header.Get("Content-Type") != "application/json" {
			code = http.StatusUnsupportedMediaType
		}
		w.WriteHeader(code)
	}))
	t.Cleanup(h.Close)
	return h
}

func (h *hookServer) calls() [][]byte {
	h.mu.Lock()
	defer h.mu.Unlock()
	return append([][]byte(nil), h.bodies...)
}

func testNotifier(url string, retries int, onSuccess bool) *notifier {
	n := newNotifier(&config.Webhook{URL: url, Retries: retries, OnSuccess: onSuccess}, slog.New(slog.DiscardHandler))
	n.backoff = time.Millisecond
	return n
}

func TestWebhookRetries(t *testing.T) {
	tests := []struct {
		name      string
		codes     []int
		retries   int
		wantCalls int
		wantErr   bool
	}{
		{"first attempt", []int{200}, 3, 1, false},
		{"server errors then success", []int{500, 503, 204}, 3, 3, false},
		{"throttled then success", []int{429, 200}, 3, 2, false},
		{"retries exhausted", []int{500}, 2, 3, true},
		{"no retries", []int{500}, 0, 1, true},
		{"client error is not retried", []int{400, 200}, 3, 1, true},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			srv := newHookServer(t, tc.codes...)
			n := testNotifier(srv.URL, tc.retries, false)
			err := n.deliver(n.ctx, []byte(`{"event":"job.failed"}`))
			if (err != nil) != tc.wantErr {
				t.Fatalf("deliver: %v", err)
			}
			if got := len(srv.calls()); got != tc.wantCalls {
				t.Fatalf("%d calls, want %d", got, tc.wantCalls)
			}
		})
	}
}

func TestWebhookEvents(t *testing.T) {
	start := time.Date(2024, 1, 2, 3, 4, 5, 0, time.UTC)
	run := func(result string, err error) scheduler.RunInfo {
		return scheduler.RunInfo{Job: "backup/home", Scheduled: start, Start: start, End: start.Add(90 * time.Second), Result: result, Err: err}
	}
	tests := []struct {
		name      string
		onSuccess bool
		run       scheduler.RunInfo
		want      string // event, "" for none
	}{
		{"failure", false, run(scheduler.ResultFailure, errors.New("disk full")), "job.failed"},
		{"interrupted", false, run(scheduler.ResultInterrupted, errors.New("canceled")), "job.interrupted"},
		{"success not wanted", false, run(scheduler.ResultSuccess, nil), ""},
		{"success wanted", true, run(scheduler.ResultSuccess, nil), "job.succeeded"},
		{"skipped", true, run(scheduler.ResultSkipped, errors.New("locked")), ""},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			srv := newHookServer(t, 200)
			n := testNotifier(srv.URL, 0, tc.onSuccess)
			n.runEnded(kindBackup, tc.run)
			n.close(20 * time.Second)
			calls := srv.calls()
			if tc.want == "" {
				if len(calls) != 0 {
					t.Fatalf("unexpected notification %s", calls[0])
				}
				return
			}
			if len(calls) != 1 {
				t.Fatalf("%d notifications", len(calls))
			}
			var ev webhookEvent
			if err := json.Unmarshal(calls[0], &ev); err != nil {
				t.Fatal(err)
			}
			if ev.Event != tc.want || ev.Job != "backup/home" || ev.Kind != kindBackup || ev.Result != tc.run.Result ||
				ev.Duration != 90 || !ev.Start.Equal(start) || ev.Version != version {
				t.Fatalf("event %+v", ev)
			}
			if tc.run.Err != nil && ev.Error != tc.run.Err.Error() {
				t.Fatalf("error %q", ev.Error)
			}
		})
	}
}

func TestMetricsFollowRuns(t *testing.T) {
	s := scheduler.New(scheduler.Options{})
	for _, name := range []string{"backup/home", "sync"} {
		if err := s.Add(name, "@daily", func(context.Context) error { return nil }, scheduler.JobOptions{}); err != nil {
			t.Fatal(err)
		}
	}
	kinds := map[string]string{"backup/home": kindBackup, "sync": kindSync}
	m := newDaemonMetrics(s, kinds)
	start := time.Unix(1700000000, 0)
	ri := scheduler.RunInfo{Job: "backup/home", Start: start}
	m.runStarted(kindBackup, ri)
	m.recordStats("backup/home", kindBackup, jobStats{bytes: 1000, files: 10, errors: 1})
	ri.End, ri.Result = start.Add(5*time.Second), scheduler.ResultSuccess
	m.runEnded(kindBackup, ri)
	m.recordDrill("weekly", true, start, 3*time.Second, time.Hour)

	want := `
# HELP lifeboat_job_last_duration_seconds Duration of the job's last run.
# TYPE lifeboat_job_last_duration_seconds gauge
lifeboat_job_last_duration_seconds{job="backup/home",kind="backup"} 5
# HELP lifeboat_job_last_files Files or objects the last run processed (backup, drill: files; sync: objects copied; check: packs).
# TYPE lifeboat_job_last_files gauge
lifeboat_job_last_files{job="backup/home",kind="backup"} 10
# HELP lifeboat_job_last_success_timestamp_seconds End of the job's last successful run (Unix time).
# TYPE lifeboat_job_last_success_timestamp_seconds gauge
lifeboat_job_last_success_timestamp_seconds{job="backup/home",kind="backup"} 1.700000005e+09
# HELP lifeboat_drill_last_rto_seconds Recovery time measured by the drill's last run.
# TYPE lifeboat_drill_last_rto_seconds gauge
lifeboat_drill_last_rto_seconds{drill="weekly"} 3
`
	if err := testutil.GatherAndCompare(m.reg, strings.NewReader(want),
		"lifeboat_job_last_duration_seconds", "lifeboat_job_last_files", "lifeboat_job_last_success_timestamp_seconds", "lifeboat_drill_last_rto_seconds"); err != nil {
		t.Fatal(err)
	}
	if n := testutil.ToFloat64(m.runs.WithLabelValues("backup/home", kindBackup, scheduler.ResultSuccess)); n != 1 {
		t.Fatalf("success runs %v", n)
	}
	// Every job has its counters and next run from the start.
	if n, err := testutil.GatherAndCount(m.reg, "lifeboat_job_runs_total"); err != nil || n != 8 {
		t.Fatalf("%d runs_total series, %v", n, err)
	}
	if n, err := testutil.GatherAndCount(m.reg, "lifeboat_job_next_run_timestamp_seconds"); err != nil || n != 2 {
		t.Fatalf("%d next-run series, %v", n, err)
	}
}

func TestStateDirLock(t *testing.T) {
	dir := t.TempDir()
	unlock, err := lockStateDir(dir)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := lockStateDir(dir); err == nil {
		t.Fatal("two daemons share a state directory")
	}
	unlock()
	unlock2, err := lockStateDir(dir)
	if err != nil {
		t.Fatalf("after unlock: %v", err)
	}
	unlock2()
}

func TestLogWriter(t *testing.T) {
	var buf bytes.Buffer
	w := &logWriter{log: slog.New(slog.NewJSONHandler(&buf, nil))}
	if _, err := io.WriteString(w, "lifeboat: warning: region eu: down (treating the region as down)\n\n"); err != nil {
		t.Fatal(err)
	}
	var rec map[string]any
	if err := json.Unmarshal(buf.Bytes(), &rec); err != nil {
		t.Fatalf("%v in %q", err, buf.String())
	}
	if rec["level"] != "WARN" || rec["msg"] != "region eu: down (treating the region as down)" {
		t.Fatalf("record %v", rec)
	}
}

func TestListenAddress(t *testing.T) {
	cfg := &config.Config{Daemon: config.Daemon{Listen: "127.0.0.1:1234"}}
	for _, tc := range []struct {
		flag string
		cfg  *config.Config
		want string
	}{
		{"", nil, defaultListen},
		{"", &config.Config{}, defaultListen},
		{"", cfg, "127.0.0.1:1234"},
		{"127.0.0.1:5", cfg, "127.0.0.1:5"},
		{"none", cfg, ""},
	} {
		if got := listenAddress(tc.flag, tc.cfg); got != tc.want {
			t.Fatalf("listenAddress(%q, %+v) = %q, want %q", tc.flag, tc.cfg, got, tc.want)
		}
	}
}
