//go:build linux

package tests

import (
	"os"
	"path/filepath"
	"strings"
	"testing"

	"golang.org/x/sys/unix"
)

// A region whose disk is full fails the backup with exit code 1 and the
// cause named, not 130 ("interrupted"): the uploads the backup cancels
// after the failure leave a context.Canceled in the error, but nothing
// interrupted the process. The full disk is a 2 MiB tmpfs the test mounts
// (as root), below a write quorum of both regions.
func TestBackupFullRegionIsNotInterrupt(t *testing.T) {
	dir := t.TempDir()
	small := filepath.Join(dir, "small")
	if err := os.Mkdir(small, 0o700); err != nil {
		t.Fatal(err)
	}
	if err := unix.Mount("tmpfs", small, "tmpfs", 0, "size=2m"); err != nil {
		t.Fatalf("mount a 2 MiB tmpfs on %s (the test needs root): %v", small, err)
	}
	t.Cleanup(func() {
		if err := unix.Unmount(small, 0); err != nil {
			t.Errorf("unmount %s: %v", small, err)
		}
	})
	src := filepath.Join(dir, "src")
	randomFiles(t, src, 17, 8, 1<<20)
	cfg := filepath.Join(dir, "lifeboat.yaml")
	writeFile(t, cfg, `version: 1
repository:
  write_quorum: 2
regions:
  - {name: big, type: local, path: big}
  - {name: small, type: local, path: small/region}
`)
	writeFile(t, filepath.Join(dir, "pass"), "no space test\n")
	env := []string{"LIFEBOAT_CONFIG=" + cfg, "LIFEBOAT_PASSPHRASE_FILE=" + filepath.Join(dir, "pass"), "LIFEBOAT_CACHE_DIR=", "LIFEBOAT_IDENTITY="}
	if code, _, stderr := lifeboat(t, env, "init", "--scrypt-log-n", "10", "--pack-size", "1MiB", "--chunk-avg", "64KiB"); code != 0 {
		t.Fatalf("init: %d %s", code, stderr)
	}
	// Which upload fails first, and what else is canceled then, varies
	// from run to run; every run must report the full disk.
	for run := range 3 {
		code, _, stderr := lifeboat(t, env, "--no-cache", "-q", "backup", src)
		if code != 1 || !strings.Contains(stderr, "region small") || !strings.Contains(stderr, "no space left") {
			t.Fatalf("backup %d onto a full region: exit %d, want 1 naming the region and the full disk\n%s", run, code, stderr)
		}
	}
}
