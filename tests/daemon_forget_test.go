package tests

import (
	"bufio"
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
)

// The daemon forgets after each backup of a source with keep: (last 2):
// after at least 4 backups exactly 2 snapshots remain (3 if the daemon was
// stopped between a backup's commit and its forget, which the log shows),
// the removals are counted in lifeboat_forget_snapshots_removed_total and
// lifeboat status shows the last forget.
func TestDaemonForgetAfterBackup(t *testing.T) {
	dir := t.TempDir()
	var hookMu sync.Mutex
	var forgets []map[string]any // the forget field of successful backups' events
	hook := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		var ev struct {
			Event  string         `json:"event"`
			Kind   string         `json:"kind"`
			Forget map[string]any `json:"forget"`
		}
		body, _ := io.ReadAll(r.Body)
		if json.Unmarshal(body, &ev) == nil && ev.Kind == "backup" && ev.Event == "job.succeeded" {
			hookMu.Lock()
			forgets = append(forgets, ev.Forget)
			hookMu.Unlock()
		}
	}))
	defer hook.Close()
	src := filepath.Join(dir, "src")
	if err := makeTree(src, 11, cliSizes[:3]); err != nil {
		t.Fatal(err)
	}
	cfg := filepath.Join(dir, "lifeboat.yaml")
	writeFile(t, filepath.Join(dir, "pass"), "daemon forget test\n")
	writeFile(t, cfg, fmt.Sprintf(`version: 1
repository:
  passphrase_file: pass
  cache_dir: cache
  retention_zone: Europe/Berlin
regions:
  - {name: one, type: local, path: region-one}
  - {name: two, type: local, path: region-two}
sources:
  - name: src
    paths: [src]
    schedule: "@every 1s"
    keep:
      last: 2
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
	var addr string
	deadline := time.Now().Add(90 * time.Second)
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
	for {
		fams, err := scrape(addr)
		if err != nil {
			t.Fatalf("scrape: %v", err)
		}
		n, _ := metricValue(fams, "lifeboat_job_runs_total", map[string]string{"job": "backup/src", "kind": "backup", "result": "success"})
		if n >= 4 {
			removed, ok := metricValue(fams, "lifeboat_forget_snapshots_removed_total", map[string]string{"source": "src"})
			if !ok || removed < 2 {
				t.Errorf("lifeboat_forget_snapshots_removed_total{source=src} = %v, %v after %v backups", removed, ok, n)
			}
			if v, ok := metricValue(fams, "lifeboat_forget_last_success", map[string]string{"source": "src"}); !ok || v != 1 {
				t.Errorf("lifeboat_forget_last_success{source=src} = %v, %v", v, ok)
			}
			if v, ok := metricValue(fams, "lifeboat_forget_last_kept_snapshots", map[string]string{"source": "src"}); !ok || v != 2 {
				t.Errorf("lifeboat_forget_last_kept_snapshots{source=src} = %v, %v", v, ok)
			}
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("fewer than 4 backups succeeded in time\n%s", logs.String())
		}
		time.Sleep(200 * time.Millisecond)
	}
	code, out, stderr := lifeboat(t, env, "status")
	if code != 0 || !strings.Contains(out, "forget src: ") || !strings.Contains(out, "kept 2") {
		t.Errorf("status does not show the last forget: exit %d\n%s%s", code, out, stderr)
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

	// From the log: backups saved, snapshots removed, and whether the last
	// saved snapshot was followed by its forget.
	saved, removed, forgotLast := 0, 0, false
	sc := bufio.NewScanner(strings.NewReader(logs.String()))
	for sc.Scan() {
		var rec struct {
			Msg     string `json:"msg"`
			Removed int    `json:"removed"`
		}
		if json.Unmarshal(sc.Bytes(), &rec) != nil {
			continue
		}
		switch rec.Msg {
		case "snapshot saved":
			saved++
			forgotLast = false
		case "snapshots forgotten":
			removed += rec.Removed
			forgotLast = true
		}
	}
	want := 2
	if !forgotLast {
		want = 3 // stopped between the last backup's commit and its forget
	}
	code, out, stderr = lifeboat(t, env, "--json", "snapshots")
	var snaps []json.RawMessage
	if code != 0 || json.Unmarshal([]byte(out), &snaps) != nil {
		t.Fatalf("snapshots: exit %d %s %s", code, out, stderr)
	}
	if len(snaps) != want || saved-removed != want || saved < 4 {
		t.Fatalf("%d snapshots remain, want %d (%d saved, %d removed)\n%s", len(snaps), want, saved, removed, logs.String())
	}
	if code, out, stderr := lifeboat(t, env, "check"); code != 0 {
		t.Fatalf("check after the daemon: exit %d\n%s%s", code, out, stderr)
	}
	// Successful backups' events carry their forget: the first two remove
	// nothing, the later ones one snapshot each, keeping 2.
	hookMu.Lock()
	defer hookMu.Unlock()
	withRemoval := 0
	for _, f := range forgets {
		if f == nil || f["source"] != "src" || f["ok"] != true {
			t.Errorf("backup event without a successful forget: %v", f)
			continue
		}
		if f["removed"] == 1.0 && f["kept"] == 2.0 {
			withRemoval++
		}
	}
	if len(forgets) < 2 || withRemoval < 1 {
		t.Errorf("backup events' forgets: %v", forgets)
	}
}
