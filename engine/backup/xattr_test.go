//go:build linux

package backup_test

import (
	"context"
	"os"
	"path/filepath"
	"slices"
	"testing"

	"lifeboat/engine/backup"
	"lifeboat/engine/enginetest"
	"lifeboat/engine/format"
	"lifeboat/engine/fsmeta"
	"lifeboat/engine/fsmeta/fsmetatest"
	"lifeboat/engine/repo"
	"lifeboat/storage/mem"
)

// nodesOf returns the snapshot's nodes by path below src.
func nodesOf(t *testing.T, r *repo.Repository, snap *format.Snapshot, src string) map[string]format.Node {
	t.Helper()
	out := map[string]format.Node{}
	var walk func(id format.ID, dir string)
	walk = func(id format.ID, dir string) {
		tr, err := r.LoadTree(context.Background(), id)
		if err != nil {
			t.Fatal(err)
		}
		for _, n := range tr.Nodes {
			p := dir + "/" + n.Name
			out[p] = n
			if n.Type == format.TypeDir {
				walk(*n.Subtree, p)
			}
		}
	}
	walk(subtreeOf(t, r, snap.Tree, src), "")
	return out
}

func xattrTree(t *testing.T) string {
	t.Helper()
	src := filepath.Join(fsmetatest.Mount(t, "tmpfs"), "src")
	for _, d := range []string{src, src + "/dir"} {
		if err := os.Mkdir(d, 0o755); err != nil {
			t.Fatal(err)
		}
	}
	for _, f := range []string{"/ping", "/plain", "/dir/acl", "/locked"} {
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
	fsmetatest.SetFlags(t, src+"/locked", fsmeta.FlagImmutable)
	fsmetatest.SetFlags(t, src+"/dir", fsmeta.FlagNoDump)
	return src
}

func wantXattrs(kv ...string) []format.Xattr {
	var out []format.Xattr
	for i := 0; i < len(kv); i += 2 {
		out = append(out, format.Xattr{Name: kv[i], Value: []byte(kv[i+1])})
	}
	return out
}

func sameXattrs(a, b []format.Xattr) bool {
	return slices.EqualFunc(a, b, func(x, y format.Xattr) bool { return x.Name == y.Name && string(x.Value) == string(y.Value) })
}

// TestXattrsAndFlagsBackedUp backs up user, security (a file capability),
// trusted and ACL attributes of files, a directory and a symlink, and the
// inode flags of a file and a directory.
func TestXattrsAndFlagsBackedUp(t *testing.T) {
	src := xattrTree(t)
	r, _ := enginetest.NewRepo(t, mem.New())
	res := run(t, r, backup.Options{Paths: []string{src}, Host: "h"})
	if res.Warnings != 0 {
		t.Fatalf("%d warnings", res.Warnings)
	}
	nodes := nodesOf(t, r, res.Snapshot, src)
	for p, want := range map[string][]format.Xattr{
		"/ping":    wantXattrs("security.capability", string(fsmetatest.CapNetRaw()), "user.mime_type", "application/x-executable"),
		"/dir":     wantXattrs("system.posix_acl_default", string(fsmetatest.ACL(1000)), "user.dir", "\x00\x01\x02"),
		"/dir/acl": wantXattrs("system.posix_acl_access", string(fsmetatest.ACL(1000))),
		"/link":    wantXattrs("trusted.link", "on a symlink"),
		"/plain":   nil,
	} {
		if got := nodes[p].Xattrs; !sameXattrs(got, want) {
			t.Errorf("%s: xattrs %q, want %q", p, got, want)
		}
	}
	for p, want := range map[string]uint32{"/locked": fsmeta.FlagImmutable, "/dir": fsmeta.FlagNoDump, "/plain": 0} {
		if got := nodes[p].Flags; got != want {
			t.Errorf("%s: flags %#x, want %#x", p, got, want)
		}
	}

	// --no-xattrs leaves the attributes out, not the flags.
	res = run(t, r, backup.Options{Paths: []string{src}, Host: "h", NoXattrs: true})
	for p, n := range nodesOf(t, r, res.Snapshot, src) {
		if len(n.Xattrs) != 0 {
			t.Errorf("NoXattrs: %s has xattrs %q", p, n.Xattrs)
		}
	}
	if got := nodesOf(t, r, res.Snapshot, src)["/locked"].Flags; got != fsmeta.FlagImmutable {
		t.Errorf("NoXattrs: flags %#x", got)
	}
}

// TestAttributeOnlyChange changes only attributes and inode flags of
// entries (same size and mtime; the ctime changes): the next backup stores
// the new values.
func TestAttributeOnlyChange(t *testing.T) {
	src := xattrTree(t)
	r, _ := enginetest.NewRepo(t, mem.New())
	first := run(t, r, backup.Options{Paths: []string{src}, Host: "h"})
	fsmetatest.Setxattr(t, src+"/ping", "user.mime_type", []byte("text/plain"))
	fsmetatest.Setxattr(t, src+"/plain", "user.new", []byte("1"))
	fsmetatest.Setxattr(t, src+"/dir", "user.dir", []byte("changed"))
	fsmetatest.SetFlags(t, src+"/plain", fsmeta.FlagAppend)
	fsmetatest.SetFlags(t, src+"/locked", 0)
	second := run(t, r, backup.Options{Paths: []string{src}, Host: "h", Parent: &repo.SnapshotRef{ID: first.ID, Snapshot: first.Snapshot}})
	nodes := nodesOf(t, r, second.Snapshot, src)
	if got := nodes["/ping"].Xattrs; !sameXattrs(got, wantXattrs("security.capability", string(fsmetatest.CapNetRaw()), "user.mime_type", "text/plain")) {
		t.Errorf("/ping: %q", got)
	}
	if got := nodes["/plain"].Xattrs; !sameXattrs(got, wantXattrs("user.new", "1")) {
		t.Errorf("/plain: %q", got)
	}
	if got := nodes["/dir"].Xattrs; !sameXattrs(got, wantXattrs("system.posix_acl_default", string(fsmetatest.ACL(1000)), "user.dir", "changed")) {
		t.Errorf("/dir: %q", got)
	}
	if nodes["/plain"].Flags != fsmeta.FlagAppend || nodes["/locked"].Flags != 0 {
		t.Errorf("flags: plain %#x, locked %#x", nodes["/plain"].Flags, nodes["/locked"].Flags)
	}
	fsmetatest.SetFlags(t, src+"/plain", 0)
	// Unchanged since: the third backup keeps every value.
	third := run(t, r, backup.Options{Paths: []string{src}, Host: "h", Parent: &repo.SnapshotRef{ID: second.ID, Snapshot: second.Snapshot}})
	if n := nodesOf(t, r, third.Snapshot, src)["/ping"]; !sameXattrs(n.Xattrs, nodes["/ping"].Xattrs) {
		t.Errorf("third backup: /ping %q", n.Xattrs)
	}
}
