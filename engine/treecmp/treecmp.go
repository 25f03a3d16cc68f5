package treecmp

import (
	"bytes"
	"crypto/sha256"
	"fmt"
	"io"
	"io/fs"
	"os"
	"path/filepath"
	"sort"
)

// Kind classifies a difference.
type Kind string

// Difference kinds.
const (
	OnlyInA Kind = "only-in-a" // deleted from b's point of view
	OnlyInB Kind = "only-in-b" // new
	Type    Kind = "type"
	Mode    Kind = "mode"
	Content Kind = "content"
	MTime   Kind = "mtime"
	Target  Kind = "link-target"
)

// Difference is one mismatch at a path relative to the tree roots.
type Difference struct {
	Path   string
	Kind   Kind
	Detail string
}

func (d Difference) String() string {
	if d.Detail == "" {
		return fmt.Sprintf("%s: %s", d.Path, d.Kind)
	}
	return fmt.Sprintf("%s: %s (%s)", d.Path, d.Kind, d.Detail)
}

// Options tune a comparison.
type Options struct {
	// IgnoreDirMTime skips directory mtimes (they change when entries are
	// added).
	IgnoreDirMTime bool
	// IgnoreRootMetadata skips mode and mtime of the two roots themselves.
	IgnoreRootMetadata bool
	// Limit stops after this many differences (0: no limit).
	Limit int
}

// Compare walks a and b and returns their differences, sorted by path.
func Compare(a, b string, opt Options) ([]Difference, error) {
	c := &comparer{opt: opt}
	if err := c.dir(a, b, "."); err != nil {
		return nil, err
	}
	sort.SliceStable(c.diffs, func(i, j int) bool { return c.diffs[i].Path < c.diffs[j].Path })
	return c.diffs, nil
}

type comparer struct {
	opt   Options
	diffs []Difference
}

func (c *comparer) full() bool { return c.opt.Limit > 0 && len(c.diffs) >= c.opt.Limit }

func (c *comparer) add(p string, k Kind, format string, args ...any) {
	if !c.full() {
		c.diffs = append(c.diffs, Difference{Path: p, Kind: k, Detail: fmt.Sprintf(format, args...)})
	}
}

func names(dir string) (map[string]bool, error) {
	f, err := os.Open(dir)
	if err != nil {
		return nil, err
	}
	defer f.Close()
	list, err := f.Readdirnames(-1)
	if err != nil {
		return nil, err
	}
	m := make(map[string]bool, len(list))
	for _, n := range list {
		m[n] = true
	}
	return m, nil
}

func (c *comparer) dir(a, b, rel string) error {
	fa, err := os.Lstat(a)
	if err != nil {
		return fmt.Errorf("compare: %w", err)
	}
	fb, err := os.Lstat(b)
	if err != nil {
		return fmt.Errorf("compare: %w", err)
	}
	if rel != "." || !c.opt.IgnoreRootMetadata {
		if !c.entry(a, b, rel, fa, fb) {
			return nil
		}
	}
	if !fa.IsDir() || !fb.IsDir() {
		return nil
	}
	na, err := names(a)
	if err != nil {
		return fmt.Errorf("compare: %w", err)
	}
	nb, err := names(b)
	if err != nil {
		return fmt.Errorf("compare: %w", err)
	}
	all := make([]string, 0, len(na)+len(nb))
	for n := range na {
		all = append(all, n)
	}
	for n := range nb {
		if !na[n] {
			all = append(all, n)
		}
	}
	sort.Strings(all)
	for _, n := range all {
		if c.full() {
			return nil
		}
		p := filepath.Join(rel, n)
		switch {
		case !nb[n]:
			c.add(p, OnlyInA, "")
		case !na[n]:
			c.add(p, OnlyInB, "")
		default:
			if err := c.dir(filepath.Join(a, n), filepath.Join(b, n), p); err != nil {
				return err
			}
		}
	}
	return nil
}

// entry compares one entry's metadata and content; it returns whether both
// are directories of the same type (so the walk should descend).
func (c *comparer) entry(a, b, rel string, fa, fb fs.FileInfo) bool {
	if fa.Mode().Type() != fb.Mode().Type() {
		c.add(rel, Type, "%v vs %v", fa.Mode().Type(), fb.Mode().Type())
		return false
	}
	isLink := fa.Mode()&fs.ModeSymlink != 0
	if !isLink && fa.Mode() != fb.Mode() {
		c.add(rel, Mode, "%v vs %v", fa.Mode(), fb.Mode())
	}
	if !isLink && !(fa.IsDir() && c.opt.IgnoreDirMTime) && !fa.ModTime().Equal(fb.ModTime()) {
		c.add(rel, MTime, "%v vs %v", fa.ModTime().UTC(), fb.ModTime().UTC())
	}
	switch {
	case isLink:
		ta, erra := os.Readlink(a)
		tb, errb := os.Readlink(b)
		if erra != nil || errb != nil || ta != tb {
			c.add(rel, Target, "%q vs %q", ta, tb)
		}
	case fa.Mode().IsRegular():
		if fa.Size() != fb.Size() {
			c.add(rel, Content, "size %d vs %d", fa.Size(), fb.Size())
		} else if same, err := sameContent(a, b); err != nil {
			c.add(rel, Content, "%v", err)
		} else if !same {
			c.add(rel, Content, "bytes differ")
		}
	}
	return fa.IsDir()
}

func sameContent(a, b string) (bool, error) {
	ha, err := FileSHA256(a)
	if err != nil {
		return false, err
	}
	hb, err := FileSHA256(b)
	if err != nil {
		return false, err
	}
	return bytes.Equal(ha[:], hb[:]), nil
}

// FileSHA256 hashes a file's content.
func FileSHA256(p string) ([32]byte, error) {
	var sum [32]byte
	f, err := os.Open(p)
	if err != nil {
		return sum, err
	}
	defer f.Close()
	h := sha256.New()
	if _, err := io.Copy(h, f); err != nil {
		return sum, err
	}
	copy(sum[:], h.Sum(nil))
	return sum, nil
}
