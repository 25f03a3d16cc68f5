// Package tests holds the end-to-end tests of Lifeboat: scripts that drive
// the lifeboat binary (cli_test.go, testdata/script) and a test that damages
// every stored object of a repository and checks that the engine notices
// (integrity_test.go).
package tests

import (
	"crypto/sha256"
	"errors"
	"fmt"
	"io/fs"
	"math/rand/v2"
	"os"
	"path/filepath"
	"sort"
	"strings"
	"time"

	"golang.org/x/sys/unix"
)

// treeMTime is the modification time makeTree gives every entry.
var treeMTime = time.Date(2024, 3, 4, 5, 6, 7, 891011121, time.UTC)

// cliSizes are the file sizes of the tree the scripts back up: with the
// scripts' 64 KiB average chunks (32 KiB min, 512 KiB max), from files far
// below one chunk to files spanning many, about 2.4 MiB in all.
var cliSizes = []int{1, 100, 4 << 10, 33 << 10, 70 << 10, 200 << 10, 520 << 10, 900 << 10}

// makeTree writes a deterministic tree under root (which must not exist or be
// empty): for every size in sizes a text file and a random file, duplicates
// of some, an empty file, odd names, modes 0600/0755/02755, symlinks
// (relative, absolute, dangling, to a directory), a hard link pair, a nested
// empty directory, and the same fixed mtime on every entry.
func makeTree(root string, seed uint64, sizes []int) error {
	rng := rand.New(rand.NewPCG(seed, 0x6c6966))
	write := func(rel string, data []byte, mode fs.FileMode) error {
		p := filepath.Join(root, rel)
		if err := os.MkdirAll(filepath.Dir(p), 0o755); err != nil {
			return err
		}
		if err := os.WriteFile(p, data, mode); err != nil {
			return err
		}
		return os.Chmod(p, mode)
	}
	random := func(n int) []byte {
		b := make([]byte, n)
		for i := range b {
			b[i] = byte(rng.Uint32())
		}
		return b
	}
	words := strings.Fields("lifeboat region backup restore drill snapshot chunk pack index tree age zstd quorum")
	text := func(n int) []byte {
		b := make([]byte, 0, n+64)
		for len(b) < n {
			b = fmt.Appendf(b, "%d %s %s %d\n", rng.IntN(1e6), words[rng.IntN(len(words))], words[rng.IntN(len(words))], rng.IntN(1000))
		}
		return b[:n]
	}
	for i, n := range sizes {
		t := text(n)
		if err := write(filepath.Join("text", fmt.Sprintf("t%d", i%3), fmt.Sprintf("text-%07d.txt", n)), t, 0o644); err != nil {
			return err
		}
		r := random(n)
		if err := write(filepath.Join("bin", fmt.Sprintf("random-%07d.bin", n)), r, 0o640); err != nil {
			return err
		}
		if i%3 == 1 {
			if err := write(filepath.Join("dups", fmt.Sprintf("dup-%07d.bin", n)), r, 0o600); err != nil {
				return err
			}
		}
	}
	specials := []struct {
		name string
		data string
		mode fs.FileMode
	}{
		{"empty", "", 0o644},
		{"with space & ünïcode.txt", "odd name\n", 0o604},
		{"-leading-dash", "dash\n", 0o644},
		{"#hash%percent'quote\"", "punctuation\n", 0o644},
		{strings.Repeat("long", 60), "long name\n", 0o644},
		{"private", "secret\n", 0o600},
		{"script.sh", "#!/bin/sh\necho hi\n", 0o755},
		{"setgid-exec", "#!/bin/sh\n", 0o2755},
	}
	for _, s := range specials {
		if err := write(filepath.Join("special", s.name), []byte(s.data), s.mode); err != nil {
			return err
		}
	}
	links := []struct{ name, target string }{
		{"link-rel", "with space & ünïcode.txt"},
		{"link-abs", "/etc/hostname"},
		{"link-dangling", "nowhere/at/all"},
		{"link-dir", "../text"},
	}
	for _, l := range links {
		if err := os.Symlink(l.target, filepath.Join(root, "special", l.name)); err != nil {
			return err
		}
	}
	if err := os.Link(filepath.Join(root, "special", "script.sh"), filepath.Join(root, "special", "hardlink.sh")); err != nil {
		return err
	}
	if err := os.MkdirAll(filepath.Join(root, "empty", "nested", "deeper"), 0o755); err != nil {
		return err
	}
	if err := os.Chmod(filepath.Join(root, "empty", "nested"), 0o700); err != nil {
		return err
	}
	return setTimes(root)
}

// setTimes gives every entry below root, root included, treeMTime without
// following symlinks; directories last, deepest first.
func setTimes(root string) error {
	var dirs []string
	err := filepath.WalkDir(root, func(p string, d fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		if d.IsDir() {
			dirs = append(dirs, p)
			return nil
		}
		ts := []unix.Timespec{unix.NsecToTimespec(treeMTime.UnixNano()), unix.NsecToTimespec(treeMTime.UnixNano())}
		return unix.UtimesNanoAt(unix.AT_FDCWD, p, ts, unix.AT_SYMLINK_NOFOLLOW)
	})
	if err != nil {
		return err
	}
	for i := len(dirs) - 1; i >= 0; i-- {
		if err := os.Chtimes(dirs[i], treeMTime, treeMTime); err != nil {
			return err
		}
	}
	return nil
}

// dirState describes every entry below root, one line each, sorted: path,
// type and mode, size and the SHA-256 of regular files, targets of
// symlinks. Two equal states mean byte-identical trees.
func dirState(root string) (string, error) {
	var lines []string
	err := filepath.WalkDir(root, func(p string, d fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		rel, err := filepath.Rel(root, p)
		if err != nil {
			return err
		}
		fi, err := d.Info()
		if err != nil {
			return err
		}
		line := fmt.Sprintf("%s %v %d", filepath.ToSlash(rel), fi.Mode(), fi.Size())
		switch {
		case fi.Mode().IsRegular():
			data, err := os.ReadFile(p)
			if err != nil {
				return err
			}
			line += fmt.Sprintf(" %x", sha256.Sum256(data))
		case fi.Mode()&fs.ModeSymlink != 0:
			t, err := os.Readlink(p)
			if err != nil {
				return err
			}
			line += " -> " + t
		case fi.IsDir():
			line = fmt.Sprintf("%s %v", filepath.ToSlash(rel), fi.Mode())
		}
		lines = append(lines, line)
		return nil
	})
	if err != nil {
		return "", err
	}
	sort.Strings(lines)
	return strings.Join(lines, "\n") + "\n", nil
}

// flipByte XORs the byte at off of the file at path with 0xff; a negative
// off counts from the end (-1 is the last byte).
func flipByte(path string, off int64) error {
	f, err := os.OpenFile(path, os.O_RDWR, 0)
	if err != nil {
		return err
	}
	defer f.Close()
	fi, err := f.Stat()
	if err != nil {
		return err
	}
	if off < 0 {
		off += fi.Size()
	}
	if off < 0 || off >= fi.Size() {
		return fmt.Errorf("flip %s: offset %d outside 0..%d", path, off, fi.Size()-1)
	}
	b := make([]byte, 1)
	if _, err := f.ReadAt(b, off); err != nil {
		return err
	}
	b[0] ^= 0xff
	if _, err := f.WriteAt(b, off); err != nil {
		return err
	}
	return f.Close()
}

// largestFile returns the largest regular file below dir.
func largestFile(dir string) (string, error) {
	best, size := "", int64(-1)
	err := filepath.WalkDir(dir, func(p string, d fs.DirEntry, err error) error {
		if err != nil || !d.Type().IsRegular() {
			return err
		}
		fi, err := d.Info()
		if err != nil {
			return err
		}
		if fi.Size() > size {
			best, size = p, fi.Size()
		}
		return nil
	})
	if err != nil {
		return "", err
	}
	if best == "" {
		return "", errors.New("no files")
	}
	return best, nil
}

// restoreReport is what restoredState found.
type restoreReport struct {
	// Files counts the regular files of the source.
	Files int
	// Missing lists the source's regular files absent from the restore
	// (slash-separated, relative to the source), sorted.
	Missing []string
	// Problems lists files restored with the wrong content, unreadable, or
	// present in the restore but not in the source.
	Problems []string
}

// restoredState compares a restore with its source: every regular file of
// src must be in dst with the same content or be absent from it, and dst
// must hold no regular file that src lacks.
func restoredState(src, dst string) (*restoreReport, error) {
	var missing, problems []string
	want := map[string]bool{}
	err := filepath.WalkDir(src, func(p string, d fs.DirEntry, err error) error {
		if err != nil || !d.Type().IsRegular() {
			return err
		}
		rel, err := filepath.Rel(src, p)
		if err != nil {
			return err
		}
		want[rel] = true
		got, err := os.ReadFile(filepath.Join(dst, rel))
		if errors.Is(err, fs.ErrNotExist) {
			missing = append(missing, filepath.ToSlash(rel))
			return nil
		}
		if err != nil {
			problems = append(problems, fmt.Sprintf("%s: %v", rel, err))
			return nil
		}
		exp, err := os.ReadFile(p)
		if err != nil {
			return err
		}
		if string(got) != string(exp) {
			problems = append(problems, fmt.Sprintf("%s: restored under its real name with wrong content (%d bytes, want %d)", rel, len(got), len(exp)))
		}
		return nil
	})
	if err != nil {
		return nil, err
	}
	err = filepath.WalkDir(dst, func(p string, d fs.DirEntry, err error) error {
		if errors.Is(err, fs.ErrNotExist) && p == dst {
			return filepath.SkipAll
		}
		if err != nil || !d.Type().IsRegular() {
			return err
		}
		rel, err := filepath.Rel(dst, p)
		if err != nil {
			return err
		}
		if !want[rel] {
			problems = append(problems, fmt.Sprintf("%s: left in the target but not in the source", rel))
		}
		return nil
	})
	if err != nil {
		return nil, err
	}
	sort.Strings(missing)
	return &restoreReport{Files: len(want), Missing: missing, Problems: problems}, nil
}
