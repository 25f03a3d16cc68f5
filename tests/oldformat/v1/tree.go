package formatv1

import (
	"encoding/json"
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

// Tree is one directory's listing, stored as a tree blob: JSON with nodes
// sorted by name, no duplicates.
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

// EncodeTree encodes a tree. Nodes must already be sorted by name.
func EncodeTree(t *Tree) ([]byte, error) {
	if t.Nodes == nil {
		t = &Tree{Nodes: []Node{}}
	}
	return json.Marshal(t)
}

// DecodeTree strictly decodes and validates a tree blob.
func DecodeTree(data []byte) (*Tree, error) {
	var t Tree
	if err := decodeJSON("tree", data, MaxTreeSize, &t); err != nil {
		return nil, err
	}
	if t.Nodes == nil {
		return nil, formatErr("tree", "missing nodes")
	}
	for i := range t.Nodes {
		n := &t.Nodes[i]
		if !ValidName(n.Name) {
			return nil, formatErr("tree", "unsafe entry name %q", n.Name)
		}
		if i > 0 && t.Nodes[i-1].Name >= n.Name {
			return nil, formatErr("tree", "entries not sorted or duplicated at %q", n.Name)
		}
		if n.Mode&^0o7777 != 0 {
			return nil, formatErr("tree", "%q: mode %o", n.Name, n.Mode)
		}
		switch n.Type {
		case TypeFile:
			if n.Hash == nil || n.Subtree != nil || n.LinkTarget != "" {
				return nil, formatErr("tree", "file %q: bad fields", n.Name)
			}
			if n.Size > 0 && len(n.Content) == 0 {
				return nil, formatErr("tree", "file %q: size %d but no content", n.Name, n.Size)
			}
		case TypeDir:
			if n.Subtree == nil || len(n.Content) > 0 || n.LinkTarget != "" {
				return nil, formatErr("tree", "dir %q: bad fields", n.Name)
			}
		case TypeSymlink:
			if n.LinkTarget == "" || strings.Contains(n.LinkTarget, "\x00") || len(n.Content) > 0 || n.Subtree != nil {
				return nil, formatErr("tree", "symlink %q: bad fields", n.Name)
			}
		case TypeDev, TypeCharDev, TypeFIFO, TypeSocket:
			if len(n.Content) > 0 || n.Subtree != nil || n.LinkTarget != "" {
				return nil, formatErr("tree", "%s %q: bad fields", n.Type, n.Name)
			}
		default:
			return nil, formatErr("tree", "%q: unknown type %q", n.Name, n.Type)
		}
	}
	return &t, nil
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
