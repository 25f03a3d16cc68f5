package tests

import (
	"errors"
	"fmt"
	"math/rand/v2"
	"os"
	"os/exec"
	"path/filepath"
	"syscall"
	"testing"
	"time"
)

// randomFiles writes n files of size random bytes (seeded) into dir.
func randomFiles(t *testing.T, dir string, seed uint64, n, size int) {
	t.Helper()
	if err := os.MkdirAll(dir, 0o755); err != nil {
		t.Fatal(err)
	}
	rng := rand.New(rand.NewPCG(seed, 1))
	b := make([]byte, size)
	for i := range n {
		for j := range b {
			b[j] = byte(rng.Uint32())
		}
		if err := os.WriteFile(filepath.Join(dir, fmt.Sprintf("f%02d", i)), b, 0o644); err != nil {
			t.Fatal(err)
		}
	}
}

// waitExit waits (bounded) for cmd, started, to exit and returns its exit
// code; a process killed by a signal fails the test.
func waitExit(t *testing.T, cmd *exec.Cmd, exited <-chan error, logs fmt.Stringer) int {
	t.Helper()
	select {
	case err := <-exited:
		var ee *exec.ExitError
		switch {
		case err == nil:
			return 0
		case errors.As(err, &ee) && ee.ExitCode() >= 0:
			return ee.ExitCode()
		}
		t.Fatalf("lifeboat did not exit by itself: %v\n%s", err, logs)
	case <-time.After(2 * time.Minute):
		_ = cmd.Process.Kill()
		<-exited
		t.Fatalf("lifeboat did not stop\n%s", logs)
	}
	return -1
}

// SIGHUP (a closed terminal or SSH session) interrupts a full drill like
// SIGTERM: the drill removes its scratch directory of decrypted data and
// exits 130.
func TestDrillHangupRemovesScratch(t *testing.T) {
	dir := t.TempDir()
	src := filepath.Join(dir, "src")
	repo := filepath.Join(dir, "repo")
	randomFiles(t, src, 13, 64, 1<<20)
	writeFile(t, filepath.Join(dir, "pass"), "hangup test\n")
	env := []string{"LIFEBOAT_PASSPHRASE_FILE=" + filepath.Join(dir, "pass"), "LIFEBOAT_CACHE_DIR=", "LIFEBOAT_IDENTITY=", "LIFEBOAT_CONFIG="}
	if code, _, stderr := lifeboat(t, env, "--repo", repo, "init", "--scrypt-log-n", "10", "--pack-size", "1MiB", "--chunk-avg", "64KiB"); code != 0 {
		t.Fatalf("init: %d %s", code, stderr)
	}
	if code, _, stderr := lifeboat(t, env, "--repo", repo, "--no-cache", "-q", "backup", src); code != 0 {
		t.Fatalf("backup: %d %s", code, stderr)
	}

	// The drill's temporary directory goes to a TMPDIR of its own.
	tmp := filepath.Join(dir, "tmp")
	if err := os.Mkdir(tmp, 0o700); err != nil {
		t.Fatal(err)
	}
	cmd := exec.Command(filepath.Join(binDir, "lifeboat"), "--repo", repo, "--no-cache", "drill", "--full")
	cmd.Env = append(append(os.Environ(), env...), "TMPDIR="+tmp)
	var logs syncBuffer
	cmd.Stdout, cmd.Stderr = &logs, &logs
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	exited := make(chan error, 1)
	go func() { exited <- cmd.Wait() }()

	// Hang up once the drill has made its scratch directory (bounded wait).
	started := false
	for deadline := time.Now().Add(time.Minute); !started && time.Now().Before(deadline); {
		entries, err := os.ReadDir(tmp)
		if err != nil {
			t.Fatal(err)
		}
		started = len(entries) > 0
		if !started {
			time.Sleep(time.Millisecond)
		}
	}
	if !started {
		_ = cmd.Process.Kill()
		<-exited
		t.Fatalf("the drill made no scratch directory in %s\n%s", tmp, logs.String())
	}
	if err := cmd.Process.Signal(syscall.SIGHUP); err != nil {
		t.Fatal(err)
	}
	if code := waitExit(t, cmd, exited, &logs); code != 130 {
		t.Fatalf("drill after SIGHUP: exit %d, want 130 (interrupted)\n%s", code, logs.String())
	}
	entries, err := os.ReadDir(tmp)
	if err != nil {
		t.Fatal(err)
	}
	for _, e := range entries {
		t.Errorf("left behind in TMPDIR: %s", e.Name())
	}
}

// SIGHUP stops the daemon as SIGTERM does: it exits 0 and removes its
// daemon.json.
func TestDaemonHangup(t *testing.T) {
	dir := t.TempDir()
	cfg := filepath.Join(dir, "lifeboat.yaml")
	writeFile(t, cfg, `version: 1
regions:
  - {name: one, type: local, path: region-one}
jobs:
  sync: {schedule: "@every 1h"}
daemon:
  listen: 127.0.0.1:0
`)
	state := filepath.Join(dir, "state")
	cmd := exec.Command(filepath.Join(binDir, "lifeboat"), "--config", cfg, "daemon")
	cmd.Env = append(os.Environ(), "LIFEBOAT_STATE_DIR="+state, "LIFEBOAT_CONFIG=", "HOME="+dir)
	var logs syncBuffer
	cmd.Stdout, cmd.Stderr = &logs, &logs
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	exited := make(chan error, 1)
	go func() { exited <- cmd.Wait() }()

	info := filepath.Join(state, "daemon.json")
	running := false
	for deadline := time.Now().Add(time.Minute); !running && time.Now().Before(deadline); {
		_, err := os.Stat(info)
		running = err == nil
		if !running {
			select {
			case err := <-exited:
				t.Fatalf("daemon exited: %v\n%s", err, logs.String())
			case <-time.After(10 * time.Millisecond):
			}
		}
	}
	if !running {
		_ = cmd.Process.Kill()
		<-exited
		t.Fatalf("no %s\n%s", info, logs.String())
	}
	if err := cmd.Process.Signal(syscall.SIGHUP); err != nil {
		t.Fatal(err)
	}
	if code := waitExit(t, cmd, exited, &logs); code != 0 {
		t.Fatalf("daemon after SIGHUP: exit %d, want 0\n%s", code, logs.String())
	}
	if _, err := os.Stat(info); !errors.Is(err, os.ErrNotExist) {
		t.Fatalf("%s after SIGHUP: %v, want it removed\n%s", info, err, logs.String())
	}
}
