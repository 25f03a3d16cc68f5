//go:build linux

package tests

import (
	"bytes"
	"encoding/json"
	"errors"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strings"
	"testing"

	"golang.org/x/sys/unix"

	"lifeboat/engine/fsmeta"
	"lifeboat/engine/fsmeta/fsmetatest"
)

// xattrCLI runs lifeboat with the identity and repository in dir.
func xattrCLI(t *testing.T, dir string, args ...string) (string, string, int) {
	t.Helper()
	cmd := exec.Command(filepath.Join(binDir, "lifeboat"), append([]string{"--repo", filepath.Join(dir, "repo"), "--no-cache"}, args...)...)
	cmd.Env = []string{"HOME=" + dir, "PATH=" + os.Getenv("PATH"), "LIFEBOAT_IDENTITY=" + filepath.Join(dir, "id.txt")}
	var stdout, stderr bytes.Buffer
	cmd.Stdout, cmd.Stderr = &stdout, &stderr
	err := cmd.Run()
	code := 0
	var ee *exec.ExitError
	if errors.As(err, &ee) {
		code = ee.ExitCode()
	} else if err != nil {
		t.Fatal(err)
	}
	return stdout.String(), stderr.String(), code
}

func mustCLI(t *testing.T, dir string, args ...string) string {
	t.Helper()
	out, errOut, code := xattrCLI(t, dir, args...)
	if code != 0 {
		t.Fatalf("lifeboat %v: exit %d\n%s%s", args, code, out, errOut)
	}
	return out
}

// TestXattrCLI: backup, ls -l --xattrs, an attribute-only change, restore
// onto tmpfs (everything back, immutable flag last), onto ramfs (no
// extended attributes: partial, exit 3, naming the attributes), and the
// --no-xattrs / --no-flags flags. As root, on file systems the test mounts.
func TestXattrCLI(t *testing.T) {
	dir := t.TempDir()
	mustCLI(t, dir, "key", "generate", "-o", filepath.Join(dir, "id.txt"))
	mustCLI(t, dir, "init", "--pack-size", "1MiB")

	src := filepath.Join(fsmetatest.Mount(t, "tmpfs"), "src")
	if err := os.Mkdir(src, 0o755); err != nil {
		t.Fatal(err)
	}
	for _, f := range []string{"ping", "acl", "locked"} {
		if err := os.WriteFile(filepath.Join(src, f), []byte(f), 0o755); err != nil {
			t.Fatal(err)
		}
	}
	if err := os.Symlink("ping", filepath.Join(src, "link")); err != nil {
		t.Fatal(err)
	}
	if err := unix.Mknod(filepath.Join(src, "null"), unix.S_IFCHR|0o666, int(unix.Mkdev(1, 3))); err != nil {
		t.Fatal(err)
	}
	if err := unix.Mknod(filepath.Join(src, "loop"), unix.S_IFBLK|0o660, int(unix.Mkdev(7, 200))); err != nil {
		t.Fatal(err)
	}
	fsmetatest.Setxattr(t, filepath.Join(src, "ping"), "security.capability", fsmetatest.CapNetRaw())
	fsmetatest.Setxattr(t, filepath.Join(src, "ping"), "user.comment", []byte("first"))
	fsmetatest.Setxattr(t, filepath.Join(src, "acl"), "system.posix_acl_access", fsmetatest.ACL(1000))
	fsmetatest.Setxattr(t, filepath.Join(src, "link"), "trusted.t", []byte("x"))
	fsmetatest.SetFlags(t, filepath.Join(src, "locked"), fsmeta.FlagImmutable)

	mustCLI(t, dir, "backup", src)
	out := mustCLI(t, dir, "ls", "-l", "--xattrs", "latest", src)
	for _, re := range []string{
		`(?m)^c[rwx-]{9} .*/src/null$`,
		`(?m)^b[rwx-]{9} .*/src/loop$`,
		`(?m)/src/ping\n    xattr security.capability \(20 bytes\)\n    xattr user.comment \(5 bytes\)$`,
		`(?m)/src/acl\n    xattr system.posix_acl_access \(44 bytes\)$`,
		`(?m)/src/locked\n    flags i$`,
		`(?m)/src/link -> ping\n    xattr trusted.t \(1 bytes\)$`,
	} {
		if !regexp.MustCompile(re).MatchString(out) {
			t.Errorf("ls -l --xattrs: no match for %s in\n%s", re, out)
		}
	}
	out = mustCLI(t, dir, "--json", "ls", "latest", filepath.Join(src, "ping"))
	var entry struct {
		Xattrs []struct {
			Name string
			Size int
		}
	}
	if err := json.Unmarshal([]byte(strings.TrimSpace(out)), &entry); err != nil || len(entry.Xattrs) != 2 || entry.Xattrs[1].Name != "user.comment" || entry.Xattrs[1].Size != 5 {
		t.Errorf("ls --json: %v %+v\n%s", err, entry, out)
	}

	// An attribute-only change is in the next snapshot.
	fsmetatest.Setxattr(t, filepath.Join(src, "ping"), "user.comment", []byte("second"))
	mustCLI(t, dir, "backup", src)

	target := filepath.Join(fsmetatest.Mount(t, "tmpfs"), "out")
	mustCLI(t, dir, "restore", "latest", "--target", target)
	got := target + src
	if v := fsmetatest.Getxattr(t, filepath.Join(got, "ping"), "user.comment"); string(v) != "second" {
		t.Errorf("restored user.comment %q, want the changed value", v)
	}
	if v := fsmetatest.Getxattr(t, filepath.Join(got, "ping"), "security.capability"); !bytes.Equal(v, fsmetatest.CapNetRaw()) {
		t.Errorf("restored capability %x", v)
	}
	if v := fsmetatest.Getxattr(t, filepath.Join(got, "acl"), "system.posix_acl_access"); !bytes.Equal(v, fsmetatest.ACL(1000)) {
		t.Errorf("restored ACL %x", v)
	}
	if v := fsmetatest.Getxattr(t, filepath.Join(got, "link"), "trusted.t"); string(v) != "x" {
		t.Errorf("restored symlink attribute %q", v)
	}
	if f := fsmetatest.Flags(t, filepath.Join(got, "locked")); f&fsmeta.FlagImmutable == 0 {
		t.Errorf("restored flags %#x, want immutable", f)
	}

	// A file system without extended attributes: partial, every missing
	// attribute named.
	bare := filepath.Join(fsmetatest.Mount(t, "ramfs"), "out")
	out, errOut, code := xattrCLI(t, dir, "restore", "latest", "--target", bare)
	if code != 3 {
		t.Errorf("restore onto ramfs: exit %d, want 3\n%s%s", code, out, errOut)
	}
	for _, want := range []string{"/src/ping: extended attributes or inode flags not restored: security.capability, user.comment", "system.posix_acl_access", "trusted.t", "/src/locked: ", "set inode flags i", "error: 4 failures to set extended attributes or inode flags"} {
		if !strings.Contains(errOut, want) {
			t.Errorf("restore onto ramfs: stderr does not name %q:\n%s", want, errOut)
		}
	}
	if b, err := os.ReadFile(filepath.Join(bare+src, "ping")); err != nil || string(b) != "ping" {
		t.Errorf("restore onto ramfs: ping %q, %v", b, err)
	}
	bare2 := filepath.Join(fsmetatest.Mount(t, "ramfs"), "out")
	mustCLI(t, dir, "restore", "latest", "--target", bare2, "--no-xattrs", "--no-flags")

	// backup --no-xattrs stores none.
	mustCLI(t, dir, "backup", "--no-xattrs", src)
	out = mustCLI(t, dir, "--json", "ls", "latest", filepath.Join(src, "ping"))
	if strings.Contains(out, "xattrs") {
		t.Errorf("backup --no-xattrs stored attributes: %s", out)
	}
}
