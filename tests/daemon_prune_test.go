package tests

import (
	"encoding/json"
	"fmt"
	"io"
	"math/rand/v2"
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
)

// The daemon's jobs.prune (every second, grace 1s, min_pack_age 0) prunes
// what a source with keep: {last: 1}, backed up every second while its
// content changes, leaves behind: the webhook reports a mark and a sweep,
// the metrics count deleted objects and reclaimed bytes, lifeboat status
// shows the last prune, and afterwards check --read-data is clean and the
// latest snapshot restores identically.
func TestDaemonPruneJob(t *testing.T) {
	dir := t.TempDir()
	var hookMu sync.Mutex
	actions := map[string]int{} // the prune field's action of successful prune events
	hook := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		var ev struct {
			Event string `json:"event"`
			Kind  string `json:"kind"`
			Prune *struct {
				Action  string         `json:"action"`
				OK      bool           `json:"ok"`
				Deleted map[string]int `json:"deleted"`
			} `json:"prune"`
		}
		body, _ := io.ReadAll(r.Body)
		if json.Unmarshal(body, &ev) == nil && ev.Kind == "prune" && ev.Event == "job.succeeded" && ev.Prune != nil && ev.Prune.OK {
			hookMu.Lock()
			actions[ev.Prune.Action]++
			hookMu.Unlock()
		}
	}))
	defer hook.Close()
	src := filepath.Join(dir, "src")
	if err := makeTree(src, 12, cliSizes[:4]); err != nil {
		t.Fatal(err)
	}
	cfg := filepath.Join(dir, "lifeboat.yaml")
	writeFile(t, filepath.Join(dir, "pass"), "daemon prune test\n")
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
    keep: {last: 1}
jobs:
  prune: {schedule: "@every 1s", grace: 1s, min_pack_age: 0s, max_unused: 0%%}
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

	// The changing content: a new file's data every 300 ms, so that every
	// backup leaves packs the next forget makes unused.
	stopMut, mutDone := make(chan struct{}), make(chan struct{})
	go func() {
		defer close(mutDone)
		rng := rand.New(rand.NewPCG(7, 7))
		buf := make([]byte, 96<<10)
		for i := 0; i < 2000; i++ { // bounded: 10 minutes at most
			for j := range buf {
				buf[j] = byte(rng.Uint32())
			}
			if err := os.WriteFile(filepath.Join(src, "changing.bin"), buf, 0o644); err != nil {
				return
			}
			select {
			case <-stopMut:
				return
			case <-time.After(300 * time.Millisecond):
			}
		}
	}()
	mutStopped := false
	stopMutation := func() {
		if !mutStopped {
			close(stopMut)
			<-mutDone
			mutStopped = true
		}
	}
	defer stopMutation()

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
	var addr string
	deadline := time.Now().Add(120 * time.Second)
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
	backups := func() float64 {
		t.Helper()
		fams, err := scrape(addr)
		if err != nil {
			t.Fatalf("scrape: %v", err)
		}
		n, _ := metricValue(fams, "lifeboat_job_runs_total", map[string]string{"job": "backup/src", "kind": "backup", "result": "success"})
		return n
	}
	// Until a sweep deleted packs in both regions.
	for {
		fams, err := scrape(addr)
		if err != nil {
			t.Fatalf("scrape: %v", err)
		}
		done := true
		for _, rn := range []string{"one", "two"} {
			del, _ := metricValue(fams, "lifeboat_prune_objects_deleted_total", map[string]string{"region": rn})
			rec, _ := metricValue(fams, "lifeboat_prune_bytes_reclaimed_total", map[string]string{"region": rn})
			done = done && del > 0 && rec > 0
		}
		if done {
			if v, ok := metricValue(fams, "lifeboat_prune_last_success", nil); !ok || v != 1 {
				t.Errorf("lifeboat_prune_last_success = %v, %v", v, ok)
			}
			if v, ok := metricValue(fams, "lifeboat_prune_last_success_timestamp_seconds", nil); !ok || v <= 0 {
				t.Errorf("lifeboat_prune_last_success_timestamp_seconds = %v, %v", v, ok)
			}
			set := 0.0
			for _, a := range []string{"none", "mark", "wait", "sweep"} {
				v, _ := metricValue(fams, "lifeboat_prune_last_action", map[string]string{"action": a})
				set += v
			}
			if set != 1 {
				t.Errorf("lifeboat_prune_last_action: %v actions set, want 1", set)
			}
			if n, _ := metricValue(fams, "lifeboat_job_runs_total", map[string]string{"job": "prune", "kind": "prune", "result": "success"}); n < 2 {
				t.Errorf("lifeboat_job_runs_total{job=prune,result=success} = %v", n)
			}
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("no sweep deleted packs in both regions in time\n%s", logs.String())
		}
		time.Sleep(200 * time.Millisecond)
	}
	code, out, stderr := lifeboat(t, env, "status")
	if code != 0 || !strings.Contains(out, "prune: ") {
		t.Errorf("status does not show the last prune: exit %d\n%s%s", code, out, stderr)
	}

	// Stop changing the source; two more backups make the latest
	// snapshot one of the final content.
	stopMutation()
	n0 := backups()
	for backups() < n0+2 {
		if time.Now().After(deadline) {
			t.Fatalf("no backups after the source stopped changing\n%s", logs.String())
		}
		time.Sleep(200 * time.Millisecond)
	}
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

	hookMu.Lock()
	if actions["mark"] < 1 || actions["sweep"] < 1 {
		t.Errorf("prune events' actions: %v, want a mark and a sweep", actions)
	}
	hookMu.Unlock()
	if code, out, stderr := lifeboat(t, env, "check", "--read-data"); code != 0 {
		t.Fatalf("check --read-data after the daemon's prunes: exit %d\n%s%s\n%s", code, out, stderr, logs.String())
	}
	target := filepath.Join(dir, "restore")
	if code, out, stderr := lifeboat(t, env, "restore", "latest", "--target", target); code != 0 {
		t.Fatalf("restore latest: exit %d\n%s%s", code, out, stderr)
	}
	// The source was backed up under its absolute path.
	requireSameTree(t, src, filepath.Join(target, src))
}
