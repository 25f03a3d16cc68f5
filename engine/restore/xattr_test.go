//go:build linux

package restore_test

import (
	"bytes"
	"context"
	"errors"
	"os"
	"strings"
	"testing"

	"golang.org/x/sys/unix"

	"lifeboat/engine/backup"
	"lifeboat/engine/enginetest"
	"lifeboat/engine/format"
	"lifeboat/engine/fsmeta"
	"lifeboat/engine/fsmeta/fsmetatest"
	"lifeboat/engine/repo"
	"lifeboat/engine/restore"
	"lifeboat/storage/mem"
)

// xattrSnapshot backs up a tree on tmpfs whose entries carry user,
// security (a file capability), trusted and ACL attributes and inode
// flags.
func xattrSnapshot(t *testing.T) (*repo.Repository, string, *format.Snapshot) {
	t.Helper()
	src := fsmetatest.Mount(t, "tmpfs") + "/src"
	for _, d := range []string{src, src + "/dir"} {
		if err := os.Mkdir(d, 0o750); err != nil {
			t.Fatal(err)
		}
	}
	for _, f := range []string{"/ping", "/plain", "/dir/acl", "/locked", "/fifo"} {
		if f == "/fifo" {
			if err := unix.Mkfifo(src+f, 0o640); err != nil {
				t.Fatal(err)
			}
			continue
		}
		if err := os.WriteFile(src+f, []byte("content of "+f), 0o755); err != nil {
			t.Fatal(err)
		}
	}
	if err := os.Symlink("ping", src+"/link"); err != nil {
		t.Fatal(err)
	}
	fsmetatest.Setxattr(t, src+"/ping", "security.capability", fsmetatest.CapNetRaw())
	fsmetatest.Setxattr(t, src+"/ping", "user.mime_type", []byte("application/x-executable"))
	fsmetatest.Setxattr(t, src+"/dir/acl", "system.posix_acl_access", fsmetatest.ACL(1000))
	fsmetatest.Setxattr(t, src+"/dir", "system.posix_acl_default", fsmetatest.ACL(1000))
	fsmetatest.Setxattr(t, src+"/dir", "user.dir", []byte{0, 1, 2})
	fsmetatest.Setxattr(t, src+"/link", "trusted.link", []byte("on a symlink"))
	fsmetatest.Setxattr(t, src+"/fifo", "trusted.fifo", []byte("on a fifo"))
	fsmetatest.SetFlags(t, src+"/locked", fsmeta.FlagImmutable)
	fsmetatest.SetFlags(t, src+"/dir", fsmeta.FlagNoDump)
	r, _ := enginetest.NewRepo(t, mem.New())
	res, err := backup.Run(context.Background(), r, backup.Options{Paths: []string{src}, Host: "test"})
	if err != nil {
		t.Fatal(err)
	}
	if res.Warnings != 0 {
		t.Fatalf("backup warnings: %d", res.Warnings)
	}
	return r, src, res.Snapshot
}

// xattrWant lists the attributes xattrSnapshot sets, by path below src.
func xattrWant() map[string]map[string][]byte {
	return map[string]map[string][]byte{
		"/ping":    {"security.capability": fsmetatest.CapNetRaw(), "user.mime_type": []byte("application/x-executable")},
		"/dir/acl": {"system.posix_acl_access": fsmetatest.ACL(1000)},
		"/dir":     {"system.posix_acl_default": fsmetatest.ACL(1000), "user.dir": {0, 1, 2}},
		"/link":    {"trusted.link": []byte("on a symlink")},
		"/fifo":    {"trusted.fifo": []byte("on a fifo")},
		"/plain":   {},
		"/locked":  {},
	}
}

func listXattrs(t *testing.T, p string) map[string][]byte {
	t.Helper()
	names, err := fsmeta.ListXattrs(p, nil)
	if err != nil {
		t.Fatal(err)
	}
	out := map[string][]byte{}
	for _, n := range names {
		out[n] = fsmetatest.Getxattr(t, p, n)
	}
	return out
}

func checkXattrs(t *testing.T, root string) {
	t.Helper()
	for p, want := range xattrWant() {
		got := listXattrs(t, root+p)
		if len(got) != len(want) {
			t.Errorf("%s: xattrs %q, want %q", p, got, want)
			continue
		}
		for k, v := range want {
			if !bytes.Equal(got[k], v) {
				t.Errorf("%s: %s = %q, want %q", p, k, got[k], v)
			}
		}
	}
}

// TestXattrRoundTrip restores every attribute and flag onto tmpfs (as
// root): flags last, so the immutable file is in place with its times.
func TestXattrRoundTrip(t *testing.T) {
	r, src, snap := xattrSnapshot(t)
	target := fsmetatest.Mount(t, "tmpfs") + "/target"
	_, log := restoreTo(t, r, snap, restore.Options{Target: target})
	if len(log.errs) > 0 {
		t.Fatalf("restore errors: %v", log.errs)
	}
	root := target + src
	checkXattrs(t, root)
	if f := fsmetatest.Flags(t, root+"/locked") & fsmeta.FlagMask; f != fsmeta.FlagImmutable {
		t.Errorf("/locked: flags %#x", f)
	}
	if f := fsmetatest.Flags(t, root+"/dir") & fsmeta.FlagMask; f != fsmeta.FlagNoDump {
		t.Errorf("/dir: flags %#x", f)
	}
	a, b := mustStat(t, src+"/locked"), mustStat(t, root+"/locked")
	if !a.ModTime().Equal(b.ModTime()) {
		t.Errorf("/locked: mtime %v, want %v", b.ModTime(), a.ModTime())
	}
	// The ACL's mask is the group bits of the mode.
	if m := mustStat(t, root+"/dir/acl").Mode().Perm(); m != mustStat(t, src+"/dir/acl").Mode().Perm() {
		t.Errorf("/dir/acl: mode %v", m)
	}

	// Restoring again over the immutable file is a conflict, not an
	// obscure failure.
	res, log := restoreTo(t, r, snap, restore.Options{Target: target})
	err := log.errs[src+"/locked"]
	if !errors.Is(err, restore.ErrConflict) || !strings.Contains(err.Error(), "immutable") {
		t.Errorf("restore over an immutable file: %v", err)
	}
	if res.Conflicts != 1 {
		t.Errorf("%d conflicts, want 1 (%v)", res.Conflicts, log.errs)
	}

	// Without attributes and flags.
	plain := fsmetatest.Mount(t, "tmpfs") + "/plain"
	_, log = restoreTo(t, r, snap, restore.Options{Target: plain, NoXattrs: true, NoFlags: true})
	if len(log.errs) > 0 {
		t.Fatalf("restore errors: %v", log.errs)
	}
	for p := range xattrWant() {
		if got := listXattrs(t, plain+src+p); len(got) != 0 {
			t.Errorf("NoXattrs: %s has %q", p, got)
		}
	}
	if f := fsmetatest.Flags(t, plain+src+"/locked") & fsmeta.FlagMask; f != 0 {
		t.Errorf("NoFlags: flags %#x", f)
	}
}

// TestXattrIfChanged re-restores with OverwriteIfChanged files whose
// content is right but whose attributes are not: the attributes are set
// again, the files kept.
func TestXattrIfChanged(t *testing.T) {
	r, src, snap := xattrSnapshot(t)
	target := fsmetatest.Mount(t, "tmpfs") + "/target"
	restoreTo(t, r, snap, restore.Options{Target: target, NoFlags: true})
	root := target + src
	fsmetatest.Setxattr(t, root+"/ping", "user.mime_type", []byte("wrong"))
	fsmetatest.Setxattr(t, root+"/plain", "user.extra", []byte("not in the snapshot"))
	if err := unix.Removexattr(root+"/dir", "user.dir"); err != nil {
		t.Fatal(err)
	}
	res, log := restoreTo(t, r, snap, restore.Options{Target: target, Overwrite: restore.OverwriteIfChanged, NoFlags: true})
	if len(log.errs) > 0 {
		t.Fatalf("restore errors: %v", log.errs)
	}
	if res.Files != 0 || res.Skipped != 6 {
		t.Errorf("files %d, skipped %d: want every entry kept", res.Files, res.Skipped)
	}
	checkXattrs(t, root)
}

// TestXattrUnsupportedTarget restores onto ramfs, which has no extended
// attributes or inode flags: every entry is restored, and each attribute
// or flag that could not be set is reported by name (the restore is
// partial), never dropped silently.
func TestXattrUnsupportedTarget(t *testing.T) {
	r, src, snap := xattrSnapshot(t)
	target := fsmetatest.Mount(t, "ramfs") + "/target"
	res, log := restoreTo(t, r, snap, restore.Options{Target: target})
	for p, names := range map[string][]string{
		"/ping":    {"user.mime_type"},
		"/dir/acl": {"system.posix_acl_access"},
		"/dir":     {"inode flags d"}, // reported after its attributes
		"/link":    {"trusted.link"},
		"/fifo":    {"trusted.fifo"},
		"/locked":  {"inode flags i"},
	} {
		err := log.errs[src+p]
		if !errors.Is(err, restore.ErrXattrs) {
			t.Errorf("%s: %v, want ErrXattrs", p, err)
			continue
		}
		for _, n := range names {
			if !strings.Contains(err.Error(), n) {
				t.Errorf("%s: %q does not name %s", p, err, n)
			}
		}
	}
	if _, ok := log.errs[src+"/plain"]; ok {
		t.Errorf("/plain: %v", log.errs[src+"/plain"])
	}
	if res.Errors < 6 {
		t.Errorf("%d errors counted, want at least 6", res.Errors)
	}
	for _, p := range []string{"/ping", "/plain", "/dir/acl", "/locked"} {
		b, err := os.ReadFile(target + src + p)
		if err != nil || string(b) != "content of "+p {
			t.Errorf("%s: %q, %v", p, b, err)
		}
	}
}

// TestPrivilegedXattrsFollowOwner: without owners (a restore as non-root),
// the security.* and trusted.* attributes are left out like uid and gid,
// not reported one error per file; user attributes and ACLs still restore.
func TestPrivilegedXattrsFollowOwner(t *testing.T) {
	r, src, snap := xattrSnapshot(t)
	target := fsmetatest.Mount(t, "tmpfs") + "/target"
	no := false
	res, log := restoreTo(t, r, snap, restore.Options{Target: target, Owner: &no})
	if len(log.errs) > 0 || res.XattrErrors != 0 {
		t.Fatalf("restore errors: %v (%d attribute errors)", log.errs, res.XattrErrors)
	}
	for p, want := range xattrWant() {
		got := listXattrs(t, target+src+p)
		for name, v := range want {
			priv := strings.HasPrefix(name, "security.") || strings.HasPrefix(name, "trusted.")
			if g, ok := got[name]; priv == ok || (ok && !bytes.Equal(g, v)) {
				t.Errorf("%s: %s = %q (present %v), privileged %v", p, name, g, ok, priv)
			}
		}
	}
}
