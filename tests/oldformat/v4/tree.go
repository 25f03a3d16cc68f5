package formatv4

import (
	"bytes"
	"encoding/json"
	"fmt"
	"strings"
	"time"
)

// Node types.
const (
	TypeFile    = "file"
	TypeDir     = "dir"
	TypeSymlink = "symlink"
	TypeDev     = "dev"     // block device
	TypeCharDev = "chardev" // character device
	TypeFIFO    = "fifo"
	TypeSocket  = "socket"
)

// Tree is one directory's listing, stored as a tree blob (binary or JSON, see
// TreeEncoding) with nodes sorted by name, no duplicates.
type Tree struct {
	Nodes []Node `json:"nodes"`
}

// Node is one directory entry.
type Node struct {
	Name  string `json:"name"`
	Type  string `json:"type"`
	Mode  uint32 `json:"mode"` // permission bits plus setuid (04000), setgid (02000), sticky (01000)
	UID   uint32 `json:"uid"`
	GID   uint32 `json:"gid"`
	User  string `json:"user,omitempty"`
	Group string `json:"group,omitempty"`
	// MTime is the modification time (nanosecond precision).
	MTime time.Time `json:"mtime"`
	// CTime, Inode and DeviceID detect unchanged files against a parent
	// snapshot and group hard links.
	CTime    time.Time `json:"ctime"`
	Inode    uint64    `json:"inode,omitempty"`
	DeviceID uint64    `json:"device_id,omitempty"`
	Links    uint64    `json:"links,omitempty"`
	// Rdev is the device number of a device node.
	Rdev uint64 `json:"rdev,omitempty"`
	// Size is the file's length in bytes.
	Size uint64 `json:"size,omitempty"`
	// LinkTarget is a symlink's target, verbatim.
	LinkTarget string `json:"link_target,omitempty"`
	// Content lists a file's data blobs in order.
	Content []ID `json:"content,omitempty"`
	// Hash is the file's whole-content hash (see FileHash).
	Hash *ID `json:"hash,omitempty"`
	// Subtree is a directory's tree blob.
	Subtree *ID `json:"subtree,omitempty"`
	// Xattrs are the entry's extended attributes (POSIX ACLs and file
	// capabilities included, as their system.* and security.* attributes),
	// sorted by name without duplicates. Stored from format version 3 on.
	Xattrs []Xattr `json:"xattrs,omitempty"`
	// Flags are the entry's inode flags (FS_IOC_GETFLAGS: immutable,
	// append-only, no-dump, …), which restore sets last. Stored from format
	// version 3 on.
	Flags uint32 `json:"flags,omitempty"`
}

// Xattr is one extended attribute: its full name, namespace included
// ("user.mime_type", "security.capability", "system.posix_acl_access"),
// and its value, verbatim.
type Xattr struct {
	Name  string `json:"name"`
	Value []byte `json:"value"`
}

// MaxNameBytes bounds an entry name.
const MaxNameBytes = 4096

// ValidName reports whether name is safe to create inside a directory: not
// empty, not "." or "..", and free of '/' and NUL. Names from a repository
// are untrusted; restore relies on this check.
func ValidName(name string) bool {
	return name != "" && name != "." && name != ".." && len(name) <= MaxNameBytes &&
		!strings.ContainsAny(name, "/\x00")
}

// EncodeTree encodes a tree in the given encoding. Nodes must already be
// sorted by name. A node the encoding cannot store unchanged (see
// TreeEncoding.CheckNode) is an error wrapping ErrNotRepresentable: nothing
// is ever dropped or altered silently.
func EncodeTree(t *Tree, enc TreeEncoding) ([]byte, error) {
	switch enc {
	case TreeJSON:
		for i := range t.Nodes {
			if err := enc.CheckNode(&t.Nodes[i]); err != nil {
				return nil, fmt.Errorf("encode tree: %w", err)
			}
		}
		if t.Nodes == nil {
			t = &Tree{Nodes: []Node{}}
		}
		return json.Marshal(t)
	case TreeBinary:
		return encodeTreeBinary(nil, t, false)
	case TreeBinaryExt:
		return encodeTreeBinary(nil, t, true)
	}
	return nil, fmt.Errorf("encode tree: unknown encoding %d", enc)
}

// DecodeTree strictly decodes and validates a tree blob in any encoding (a
// binary tree starts with "LBT2" or "LBT3", a JSON one with '{'). An LBT3
// tree with an unknown must-understand field fails with an error wrapping
// ErrNewerVersion; unknown optional fields are skipped.
func DecodeTree(data []byte) (*Tree, error) {
	if len(data) > MaxTreeSize {
		return nil, formatErr("tree", "%d bytes exceeds the %d byte limit", len(data), MaxTreeSize)
	}
	var t *Tree
	switch {
	case bytes.HasPrefix(data, []byte(treeMagic)), bytes.HasPrefix(data, []byte(treeExtMagic)):
		var err error
		if t, err = decodeTreeBinary(data, data[3] == treeExtMagic[3]); err != nil {
			return nil, err
		}
	default:
		t = new(Tree)
		if err := decodeJSON("tree", data, MaxTreeSize, t); err != nil {
			return nil, err
		}
		if t.Nodes == nil {
			return nil, formatErr("tree", "missing nodes")
		}
		for i := range t.Nodes {
			if n := &t.Nodes[i]; n.Xattrs != nil || n.Flags != 0 {
				return nil, formatErr("tree", "%q: xattrs and flags are not fields of a JSON tree", n.Name)
			}
		}
	}
	if err := t.validate(); err != nil {
		return nil, err
	}
	return t, nil
}

// validate checks the rules every decoded tree must follow.
func (t *Tree) validate() error {
	for i := range t.Nodes {
		n := &t.Nodes[i]
		if !ValidName(n.Name) {
			return formatErr("tree", "unsafe entry name %q", n.Name)
		}
		if i > 0 && t.Nodes[i-1].Name >= n.Name {
			return formatErr("tree", "entries not sorted or duplicated at %q", n.Name)
		}
		if n.Mode&^0o7777 != 0 {
			return formatErr("tree", "%q: mode %o", n.Name, n.Mode)
		}
		for j, x := range n.Xattrs {
			if x.Name == "" || len(x.Name) > MaxXattrName || strings.Contains(x.Name, "\x00") || len(x.Value) > MaxXattrValue {
				return formatErr("tree", "%q: extended attribute %q", n.Name, x.Name)
			}
			if j > 0 && n.Xattrs[j-1].Name >= x.Name {
				return formatErr("tree", "%q: extended attributes not sorted or duplicated at %q", n.Name, x.Name)
			}
		}
		switch n.Type {
		case TypeFile:
			if n.Hash == nil || n.Subtree != nil || n.LinkTarget != "" {
				return formatErr("tree", "file %q: bad fields", n.Name)
			}
			if n.Size > 0 && len(n.Content) == 0 {
				return formatErr("tree", "file %q: size %d but no content", n.Name, n.Size)
			}
		case TypeDir:
			if n.Subtree == nil || len(n.Content) > 0 || n.LinkTarget != "" {
				return formatErr("tree", "dir %q: bad fields", n.Name)
			}
		case TypeSymlink:
			if n.LinkTarget == "" || strings.Contains(n.LinkTarget, "\x00") || len(n.Content) > 0 || n.Subtree != nil {
				return formatErr("tree", "symlink %q: bad fields", n.Name)
			}
		case TypeDev, TypeCharDev, TypeFIFO, TypeSocket:
			if len(n.Content) > 0 || n.Subtree != nil || n.LinkTarget != "" {
				return formatErr("tree", "%s %q: bad fields", n.Type, n.Name)
			}
		default:
			return formatErr("tree", "%q: unknown type %q", n.Name, n.Type)
		}
	}
	return nil
}

// FileHashInput returns the bytes whose keyed hash (with the repository's
// ID hasher) is a file's whole-content hash: a domain prefix, the size as 8
// little-endian bytes, then the content blob IDs in order. Because every blob
// ID is itself a keyed hash of that blob's plaintext, the file hash commits to
// the file's exact bytes.
func FileHashInput(size uint64, content []ID) []byte {
	const prefix = "lifeboat file v1\x00"
	b := make([]byte, 0, len(prefix)+8+32*len(content))
	b = append(b, prefix...)
	for i := 0; i < 8; i++ {
		b = append(b, byte(size>>(8*i)))
	}
	for _, id := range content {
		b = append(b, id[:]...)
	}
	return b
}
