package drill

import (
	"context"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path"
	"path/filepath"
	"strings"
	"time"

	"golang.org/x/sys/unix"

	"lifeboat/engine/format"
	"lifeboat/engine/repo"
	"lifeboat/engine/restore"
)

// drift compares the live tree at Options.Against with the snapshot, which
// the verified restore equals: entries deleted, new or changed since. The
// content of regular files is compared (at the snapshot's blob boundaries)
// for a full drill and for the files a sampled drill picked; other files
// by type, mode, size and mtime. Directory mtimes are ignored (they change
// with every new or deleted entry, which are reported themselves).
func (d *drill) drift(ctx context.Context, snap repo.SnapshotRef) *Drift {
	live := filepath.Clean(d.opts.Against)
	dr := &Drift{Path: live}
	sp := filepath.ToSlash(live)
	node, err := d.findNode(ctx, snap.Tree, sp)
	if err != nil {
		dr.Error = err.Error()
		return dr
	}
	c := &drifter{d: d, dr: dr}
	if err := c.compare(ctx, live, sp, node); err != nil {
		dr.Error = err.Error()
	}
	return dr
}

// findNode returns the node at snapshot path sp ("/" is the root tree,
// returned as a directory node).
func (d *drill) findNode(ctx context.Context, root format.ID, sp string) (*format.Node, error) {
	dir := &format.Node{Type: format.TypeDir, Subtree: &root}
	cur := dir
	for _, name := range strings.Split(strings.Trim(sp, "/"), "/") {
		if name == "" {
			continue
		}
		if cur.Type != format.TypeDir || cur.Subtree == nil {
			return nil, fmt.Errorf("%s is not in the snapshot", sp)
		}
		t, err := d.r.LoadTree(ctx, *cur.Subtree)
		if err != nil {
			return nil, fmt.Errorf("read the snapshot's tree: %w", err)
		}
		var next *format.Node
		for i := range t.Nodes {
			if t.Nodes[i].Name == name {
				next = &t.Nodes[i]
				break
			}
		}
		if next == nil {
			return nil, fmt.Errorf("%s is not in the snapshot (its paths: %s)", sp, strings.Join(d.rep.Paths, ", "))
		}
		cur = next
	}
	return cur, nil
}

type drifter struct {
	d   *drill
	dr  *Drift
	buf []byte
}

func (c *drifter) changed(sp string, what []string) {
	c.dr.ChangedCount++
	if len(c.dr.Changed) < c.d.maxList {
		c.dr.Changed = append(c.dr.Changed, DriftEntry{Path: sp, Change: strings.Join(what, ",")})
	}
}

func (c *drifter) added(sp string) {
	c.dr.NewCount++
	if len(c.dr.New) < c.d.maxList {
		c.dr.New = append(c.dr.New, sp)
	}
}

func (c *drifter) deleted(sp string) {
	c.dr.DeletedCount++
	if len(c.dr.Deleted) < c.d.maxList {
		c.dr.Deleted = append(c.dr.Deleted, sp)
	}
}

// compare compares the live entry at live with node n at snapshot path sp.
func (c *drifter) compare(ctx context.Context, live, sp string, n *format.Node) error {
	if err := ctx.Err(); err != nil {
		return err
	}
	var st unix.Stat_t
	if err := unix.Lstat(live, &st); err != nil {
		if errors.Is(err, unix.ENOENT) {
			c.deleted(sp)
			return nil
		}
		return fmt.Errorf("lstat %s: %w", live, err)
	}
	if uint32(st.Mode)&unix.S_IFMT != restore.FileType(n.Type) {
		c.changed(sp, []string{"type"})
		return nil
	}
	var what []string
	if n.Type != format.TypeSymlink && n.Name != "" && uint32(st.Mode)&0o7777 != n.Mode&0o7777 {
		what = append(what, "mode")
	}
	switch n.Type {
	case format.TypeFile:
		if uint64(st.Size) != n.Size {
			what = append(what, "size")
		} else if c.d.picked == nil || c.d.picked[sp] {
			err := c.d.verifier.content(live, n, nil, &c.buf)
			var mm *mismatchError
			switch {
			case errors.As(err, &mm):
				what = append(what, "content")
			case err != nil:
				what = append(what, "unreadable")
			}
		}
		if mt := time.Unix(st.Mtim.Sec, st.Mtim.Nsec); !mt.Equal(n.MTime) {
			what = append(what, "mtime")
		}
	case format.TypeSymlink:
		if target, err := os.Readlink(live); err != nil || target != n.LinkTarget {
			what = append(what, "link-target")
		}
	case format.TypeDir:
		if len(what) > 0 {
			c.changed(sp, what)
		}
		return c.dir(ctx, live, sp, n)
	}
	if len(what) > 0 {
		c.changed(sp, what)
	}
	return nil
}

// dir compares the entries of a live directory with the snapshot's.
func (c *drifter) dir(ctx context.Context, live, sp string, n *format.Node) error {
	if n.Subtree == nil {
		return nil
	}
	t, err := c.d.r.LoadTree(ctx, *n.Subtree)
	if err != nil {
		return fmt.Errorf("read the snapshot's tree of %s: %w", sp, err)
	}
	entries, err := os.ReadDir(live)
	if err != nil && !errors.Is(err, fs.ErrNotExist) {
		return fmt.Errorf("read %s: %w", live, err)
	}
	inLive := make(map[string]bool, len(entries))
	for _, e := range entries {
		inLive[e.Name()] = true
	}
	inSnap := make(map[string]bool, len(t.Nodes))
	for i := range t.Nodes {
		inSnap[t.Nodes[i].Name] = true
	}
	for _, e := range entries {
		if !inSnap[e.Name()] {
			c.added(path.Join(sp, e.Name()))
		}
	}
	for i := range t.Nodes {
		m := &t.Nodes[i]
		if !format.ValidName(m.Name) {
			continue
		}
		csp := path.Join(sp, m.Name)
		if !inLive[m.Name] {
			c.deleted(csp)
			continue
		}
		if err := c.compare(ctx, filepath.Join(live, m.Name), csp, m); err != nil {
			return err
		}
	}
	return nil
}
