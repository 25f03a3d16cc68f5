//go:build linux

package fsmeta_test

import (
	"bytes"
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"testing"

	"golang.org/x/sys/unix"

	"lifeboat/engine/fsmeta"
	"lifeboat/engine/fsmeta/fsmetatest"
)

// TestXattrsGrow lists more names, and reads a longer value, than the
// first buffer holds.
func TestXattrsGrow(t *testing.T) {
	p := filepath.Join(fsmetatest.Mount(t, "tmpfs"), "f")
	if err := os.WriteFile(p, nil, 0o644); err != nil {
		t.Fatal(err)
	}
	var want []string
	for i := range 60 {
		name := fmt.Sprintf("user.attribute-with-a-long-name-%04d", i)
		want = append(want, name)
		fsmetatest.Setxattr(t, p, name, []byte{byte(i)})
	}
	big := bytes.Repeat([]byte("0123456789"), 1000)
	if err := fsmeta.SetXattr(p, "user.big", big); err != nil {
		t.Fatal(err)
	}
	want = append(want, "user.big")
	names, err := fsmeta.ListXattrs(p, make([]byte, 16))
	if err != nil {
		t.Fatal(err)
	}
	slices.Sort(names)
	slices.Sort(want)
	if !slices.Equal(names, want) {
		t.Fatalf("names %q, want %q", names, want)
	}
	if v, err := fsmeta.GetXattr(p, "user.big"); err != nil || !bytes.Equal(v, big) {
		t.Fatalf("user.big: %d bytes, %v", len(v), err)
	}
	if err := fsmeta.RemoveXattr(p, "user.big"); err != nil {
		t.Fatal(err)
	}
	if _, err := fsmeta.GetXattr(p, "user.big"); err == nil {
		t.Fatal("removed attribute still there")
	}
}

// TestFlags sets and reads inode flags on tmpfs; ramfs has neither flags
// nor attributes, which reads as none and fails to write as unsupported.
func TestFlags(t *testing.T) {
	for _, fstype := range []string{"tmpfs", "ramfs"} {
		p := filepath.Join(fsmetatest.Mount(t, fstype), "f")
		if err := os.WriteFile(p, nil, 0o644); err != nil {
			t.Fatal(err)
		}
		fd, err := unix.Open(p, unix.O_RDONLY, 0)
		if err != nil {
			t.Fatal(err)
		}
		defer unix.Close(fd)
		err = fsmeta.SetFlags(fd, fsmeta.FlagNoDump|fsmeta.FlagAppend)
		got, gerr := fsmeta.Flags(fd)
		switch fstype {
		case "tmpfs":
			if err != nil || gerr != nil || got != fsmeta.FlagNoDump|fsmeta.FlagAppend {
				t.Errorf("tmpfs: flags %#x (%v, %v)", got, err, gerr)
			}
			if err := fsmeta.SetFlags(fd, 0); err != nil {
				t.Fatal(err)
			}
		case "ramfs":
			if !fsmeta.IsUnsupported(err) || gerr != nil || got != 0 {
				t.Errorf("ramfs: flags %#x (%v, %v)", got, err, gerr)
			}
			if err := fsmeta.SetFlags(fd, 0); err != nil {
				t.Errorf("ramfs: clearing no flags: %v", err)
			}
			if err := fsmeta.SetXattr(p, "user.a", nil); !fsmeta.IsUnsupported(err) {
				t.Errorf("ramfs: setxattr: %v", err)
			}
			if names, err := fsmeta.ListXattrs(p, nil); err != nil || len(names) != 0 {
				t.Errorf("ramfs: listxattr %q, %v", names, err)
			}
		}
	}
}

func TestFlagString(t *testing.T) {
	for flags, want := range map[uint32]string{
		0: "", fsmeta.FlagImmutable: "i", fsmeta.FlagImmutable | fsmeta.FlagAppend | fsmeta.FlagNoDump: "iad",
		fsmeta.FlagNoAtime | 0x80000: "A+0x80000",
	} {
		if got := fsmeta.FlagString(flags); got != want {
			t.Errorf("FlagString(%#x) = %q, want %q", flags, got, want)
		}
	}
}
