//go:build linux

package drill_test

import (
	"os"
	"path/filepath"
	"strings"
	"testing"

	"lifeboat/engine/drill"
	"lifeboat/engine/fsmeta/fsmetatest"
)

// xattrEnv backs up a tree on tmpfs whose entries have extended
// attributes.
func xattrEnv(t *testing.T) *env {
	return newEnvWith(t, func(root string) {
		fsmetatest.MountAt(t, root, "tmpfs")
		if err := os.WriteFile(filepath.Join(root, "f"), []byte("data"), 0o644); err != nil {
			t.Fatal(err)
		}
		if err := os.Symlink("f", filepath.Join(root, "l")); err != nil {
			t.Fatal(err)
		}
		fsmetatest.Setxattr(t, filepath.Join(root, "f"), "user.a", []byte("1"))
		fsmetatest.Setxattr(t, filepath.Join(root, "f"), "security.capability", fsmetatest.CapNetRaw())
		fsmetatest.Setxattr(t, filepath.Join(root, "l"), "trusted.l", []byte("2"))
		fsmetatest.Setxattr(t, root, "user.root", []byte("3"))
	})
}

// TestDrillXattrs: a drill restores and verifies extended attributes; on a
// scratch file system without them it fails, naming the attributes.
func TestDrillXattrs(t *testing.T) {
	e := xattrEnv(t)
	rep := e.drill(t, backupTime, nil, drill.Options{Target: fsmetatest.Mount(t, "tmpfs") + "/scratch", NoRecord: true})
	if !rep.Passed {
		t.Fatalf("drill onto tmpfs failed: %+v", rep.Failures)
	}
	rep = e.drill(t, backupTime, nil, drill.Options{Target: fsmetatest.Mount(t, "ramfs") + "/scratch", NoRecord: true})
	if rep.Passed {
		t.Fatal("drill onto ramfs passed without extended attributes")
	}
	got := map[string]string{}
	for _, f := range rep.Failures {
		got[f.Path] = f.Error
	}
	for p, name := range map[string]string{"/f": "user.a", "/l": "trusted.l", "": "user.root"} {
		if msg := got[e.src+p]; !strings.Contains(msg, name) {
			t.Errorf("%s: failure %q does not name %s (%v)", p, msg, name, rep.Failures)
		}
	}
}
