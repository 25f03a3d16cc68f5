package tests

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"math/rand/v2"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync/atomic"
	"syscall"
	"testing"
	"time"

	"lifeboat/crypto"
	"lifeboat/engine/backup"
	"lifeboat/engine/format"
	"lifeboat/engine/repo"
	"lifeboat/storage/fault"
	"lifeboat/storage/local"
)

// lifeboat runs the binary built by TestMain and returns its exit code and
// output.
func lifeboat(t *testing.T, env []string, args ...string) (int, string, string) {
	t.Helper()
	cmd := exec.Command(filepath.Join(binDir, "lifeboat"), args...)
	cmd.Env = append(os.Environ(), env...)
	var out, errb bytes.Buffer
	cmd.Stdout, cmd.Stderr = &out, &errb
	err := cmd.Run()
	code := 0
	if ee, ok := err.(*exec.ExitError); ok {
		code = ee.ExitCode()
	} else if err != nil {
		t.Fatalf("run lifeboat: %v", err)
	}
	return code, out.String(), errb.String()
}

// countPacks counts the pack files below a local repository.
func countPacks(repo string) int {
	n := 0
	filepath.Walk(filepath.Join(repo, "data"), func(_ string, fi os.FileInfo, err error) error {
		if err == nil && fi.Mode().IsRegular() {
			n++
		}
		return nil
	})
	return n
}

// A backup killed with SIGKILL leaves a valid repository, and the next
// backup reuses the packs it had uploaded.
func TestKilledBackupResumes(t *testing.T) {
	dir := t.TempDir()
	src := filepath.Join(dir, "src")
	repo := filepath.Join(dir, "repo")
	if err := os.MkdirAll(src, 0o755); err != nil {
		t.Fatal(err)
	}
	rng := rand.New(rand.NewPCG(3, 4))
	const files, fileSize = 40, 1 << 20
	for i := 0; i < files; i++ {
		b := make([]byte, fileSize)
		for j := range b {
			b[j] = byte(rng.Uint32())
		}
		if err := os.WriteFile(filepath.Join(src, fmt.Sprintf("f%02d", i)), b, 0o644); err != nil {
			t.Fatal(err)
		}
	}
	env := []string{"LIFEBOAT_PASSPHRASE_FILE=" + filepath.Join(dir, "pass"), "LIFEBOAT_CACHE_DIR=" + filepath.Join(dir, "cache")}
	if err := os.WriteFile(filepath.Join(dir, "pass"), []byte("kill test\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	if code, _, stderr := lifeboat(t, env, "--repo", repo, "init", "--scrypt-log-n", "10", "--pack-size", "1MiB", "--chunk-avg", "64KiB"); code != 0 {
		t.Fatalf("init: %d %s", code, stderr)
	}
	cmd := exec.Command(filepath.Join(binDir, "lifeboat"), "--repo", repo, "backup", src)
	cmd.Env = append(os.Environ(), env...)
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	// Kill it once a few packs are durable (bounded wait).
	deadline := time.Now().Add(60 * time.Second)
	for countPacks(repo) < 5 && time.Now().Before(deadline) {
		time.Sleep(5 * time.Millisecond)
	}
	_ = cmd.Process.Signal(syscall.SIGKILL)
	_ = cmd.Wait()
	killedAt := countPacks(repo)
	if killedAt < 5 {
		t.Fatalf("backup wrote only %d packs before the deadline", killedAt)
	}
	if killedAt >= files {
		t.Fatalf("backup finished before it could be killed (%d packs)", killedAt)
	}
	// The repository is valid: check passes (unindexed packs are allowed).
	if code, out, stderr := lifeboat(t, env, "--repo", repo, "check", "--read-data"); code != 0 {
		t.Fatalf("check after kill: exit %d\n%s%s", code, out, stderr)
	}
	code, out, stderr := lifeboat(t, env, "--repo", repo, "--json", "backup", src)
	if code != 0 {
		t.Fatalf("backup after kill: exit %d %s", code, stderr)
	}
	var sum struct {
		DataAdded int64 `json:"data_added"`
	}
	lines := bytes.Split(bytes.TrimSpace([]byte(out)), []byte("\n"))
	if err := json.Unmarshal(lines[len(lines)-1], &sum); err != nil {
		t.Fatalf("summary: %v in %q", err, out)
	}
	if total := int64(files * fileSize); sum.DataAdded >= total {
		t.Fatalf("second backup added %d of %d bytes: the killed run's packs were not reused", sum.DataAdded, total)
	}
	if code, out, stderr := lifeboat(t, env, "--repo", repo, "check", "--read-data"); code != 0 {
		t.Fatalf("final check: exit %d\n%s%s", code, out, stderr)
	}
}

// dataBytes sums the sizes of the pack files below a local repository.
func dataBytes(repo string) int64 {
	var n int64
	filepath.Walk(filepath.Join(repo, "data"), func(_ string, fi os.FileInfo, err error) error {
		if err == nil && fi.Mode().IsRegular() {
			n += fi.Size()
		}
		return nil
	})
	return n
}

// A backup that dies between storing a pack and writing the index object
// naming it costs no space: check reports the orphan packs with the fix,
// the next backup adopts them, and the repository ends within 1% of one
// that never crashed. The crash point is injected (every index object put
// fails from the third on), so the test does not depend on kill timing.
func TestCrashBeforeIndexCostsNoSpace(t *testing.T) {
	dir := t.TempDir()
	src := filepath.Join(dir, "src")
	if err := os.MkdirAll(src, 0o755); err != nil {
		t.Fatal(err)
	}
	rng := rand.New(rand.NewPCG(5, 6))
	const files, fileSize = 16, 1 << 20
	for i := 0; i < files; i++ {
		b := make([]byte, fileSize)
		for j := range b {
			b[j] = byte(rng.Uint32())
		}
		if err := os.WriteFile(filepath.Join(src, fmt.Sprintf("f%02d", i)), b, 0o644); err != nil {
			t.Fatal(err)
		}
	}
	pass := []byte("crash test")
	if err := os.WriteFile(filepath.Join(dir, "pass"), append(pass, '\n'), 0o600); err != nil {
		t.Fatal(err)
	}
	env := []string{"LIFEBOAT_PASSPHRASE_FILE=" + filepath.Join(dir, "pass"), "LIFEBOAT_CACHE_DIR=" + filepath.Join(dir, "cache")}
	clean, crashed := filepath.Join(dir, "clean"), filepath.Join(dir, "crashed")
	for _, repo := range []string{clean, crashed} {
		if code, _, stderr := lifeboat(t, env, "--repo", repo, "init", "--scrypt-log-n", "10", "--pack-size", "1MiB", "--chunk-avg", "64KiB"); code != 0 {
			t.Fatalf("init: %d %s", code, stderr)
		}
	}
	if code, _, stderr := lifeboat(t, env, "--repo", clean, "backup", src); code != 0 {
		t.Fatalf("clean backup: %d %s", code, stderr)
	}

	// The crashed run: the packs it stores from the third on are never
	// indexed, exactly what a kill between the two puts leaves.
	ctx := context.Background()
	st, err := local.Open(crashed)
	if err != nil {
		t.Fatal(err)
	}
	fst := fault.New(st)
	var indexPuts atomic.Int64
	fst.FailOn(fault.OpPut, func(name string) bool {
		return strings.HasPrefix(name, format.IndexPrefix) && indexPuts.Add(1) > 2
	}, errors.New("killed"), -1)
	r, err := repo.Open(ctx, fst, crypto.PassphraseIdentity(pass), repo.Options{})
	if err != nil {
		t.Fatal(err)
	}
	if err := r.LoadIndex(ctx); err != nil {
		t.Fatal(err)
	}
	if _, err := backup.Run(ctx, r, backup.Options{Paths: []string{src}, Host: "h"}); err == nil {
		t.Fatal("the crashed backup succeeded")
	}
	st.Close()

	code, _, stderr := lifeboat(t, env, "--repo", crashed, "check")
	if code != 0 || !strings.Contains(stderr, "is not named by any index") || !strings.Contains(stderr, "the next `lifeboat backup` verifies and adopts it") {
		t.Fatalf("check after the crash: exit %d, want 0 with a warning naming the fix:\n%s", code, stderr)
	}
	code, out, stderr := lifeboat(t, env, "--repo", crashed, "--json", "backup", src)
	if code != 0 {
		t.Fatalf("backup after the crash: exit %d %s", code, stderr)
	}
	var sum struct {
		PacksAdopted int `json:"packs_adopted"`
	}
	lines := bytes.Split(bytes.TrimSpace([]byte(out)), []byte("\n"))
	if err := json.Unmarshal(lines[len(lines)-1], &sum); err != nil {
		t.Fatalf("summary: %v in %q", err, out)
	}
	if sum.PacksAdopted == 0 {
		t.Fatalf("the backup after the crash adopted no pack:\n%s", out)
	}
	cleanBytes, crashedBytes := dataBytes(clean), dataBytes(crashed)
	ratio := float64(crashedBytes) / float64(cleanBytes)
	t.Logf("clean %d bytes, crashed and resumed %d bytes (%.4f×), %d packs adopted", cleanBytes, crashedBytes, ratio, sum.PacksAdopted)
	if ratio > 1.01 || ratio < 0.99 {
		t.Fatalf("the repository after a crash and a backup holds %.3f× the data of a clean one (%d vs %d bytes)", ratio, crashedBytes, cleanBytes)
	}
	code, out, stderr = lifeboat(t, env, "--repo", crashed, "check", "--read-data")
	if code != 0 || strings.Contains(stderr, "warning") || strings.Contains(out, "not indexed") {
		t.Fatalf("final check: exit %d\n%s%s", code, out, stderr)
	}
}
