package tests

import (
	"bytes"
	"encoding/binary"
	"encoding/hex"
	"errors"
	"fmt"
	"reflect"
	"slices"
	"strings"
	"testing"
	"time"

	"lifeboat/engine/format"
)

// This file is a second, independent reader of binary tree blobs (LBT2 and
// LBT3, FORMAT.md §7), written from the text of §7 alone with no use of
// the format package's decoder. describePack runs it on every tree blob of
// the vector repositories next to the real decoder and requires the same
// tree; for LBT3 blobs, what it read (extension areas included) is in the
// vectors file.

// VectorTree is a binary tree blob decoded field by field.
type VectorTree struct {
	Magic string       `json:"magic"`
	Nodes []VectorNode `json:"nodes"`
	// AreaHex is the tree's own extension area (LBT3), its length
	// included: "00" for an area without fields.
	AreaHex string `json:"area_hex,omitempty"`
	// Fields are the fields of the tree's extension area.
	Fields []VectorField `json:"area_fields,omitempty"`
}

// VectorNode is one node of a tree blob.
type VectorNode struct {
	Name       string   `json:"name"`
	Type       string   `json:"type"`
	Mode       uint64   `json:"mode"`
	UID        uint64   `json:"uid"`
	GID        uint64   `json:"gid"`
	User       string   `json:"user"`
	Group      string   `json:"group"`
	MTime      string   `json:"mtime"`
	CTime      string   `json:"ctime"`
	Inode      uint64   `json:"inode"`
	DeviceID   uint64   `json:"device_id"`
	Links      uint64   `json:"links"`
	Rdev       uint64   `json:"rdev"`
	Size       uint64   `json:"size"`
	LinkTarget string   `json:"link_target"`
	Content    []string `json:"content"`
	Hash       string   `json:"hash,omitempty"`
	Subtree    string   `json:"subtree,omitempty"`
	// AreaHex is the node's extension area (LBT3), its length included.
	AreaHex string `json:"area_hex,omitempty"`
	// Fields are the fields of the node's extension area, as stored.
	Fields []VectorField `json:"area_fields,omitempty"`
	// Xattrs and Flags are the decoded known fields (1 and 2).
	Xattrs []VectorXattr `json:"xattrs,omitempty"`
	Flags  uint64        `json:"flags,omitempty"`
}

// VectorField is one field of an extension area.
type VectorField struct {
	Tag            uint64 `json:"tag"`
	Number         uint64 `json:"number"`
	MustUnderstand bool   `json:"must_understand"`
	ValueHex       string `json:"value_hex"`
}

// VectorXattr is one extended attribute.
type VectorXattr struct {
	Name     string `json:"name"`
	ValueHex string `json:"value_hex"`
}

// withoutAreas returns t without what only the binary encoding shows (the
// magic and the raw extension areas), to compare with vectorTreeOf.
func (t *VectorTree) withoutAreas() *VectorTree {
	out := &VectorTree{Nodes: make([]VectorNode, len(t.Nodes))}
	for i, n := range t.Nodes {
		n.AreaHex, n.Fields = "", nil
		out.Nodes[i] = n
	}
	return out
}

// vectorTreeOf returns the tree the real decoder read, in the form of
// parseTreeIndependently (without the areas).
func vectorTreeOf(t *format.Tree) *VectorTree {
	out := &VectorTree{Nodes: make([]VectorNode, 0, len(t.Nodes))}
	for _, n := range t.Nodes {
		vn := VectorNode{Name: n.Name, Type: n.Type, Mode: uint64(n.Mode), UID: uint64(n.UID), GID: uint64(n.GID),
			User: n.User, Group: n.Group, MTime: vectorTime3339(n.MTime), CTime: vectorTime3339(n.CTime),
			Inode: n.Inode, DeviceID: n.DeviceID, Links: n.Links, Rdev: n.Rdev, Size: n.Size,
			LinkTarget: n.LinkTarget, Content: []string{}, Flags: uint64(n.Flags)}
		for _, id := range n.Content {
			vn.Content = append(vn.Content, id.String())
		}
		if n.Hash != nil {
			vn.Hash = n.Hash.String()
		}
		if n.Subtree != nil {
			vn.Subtree = n.Subtree.String()
		}
		for _, x := range n.Xattrs {
			vn.Xattrs = append(vn.Xattrs, VectorXattr{Name: x.Name, ValueHex: hex.EncodeToString(x.Value)})
		}
		out.Nodes = append(out.Nodes, vn)
	}
	return out
}

func vectorTime3339(t time.Time) string { return t.UTC().Format(time.RFC3339Nano) }

// errMustUnderstand reports an unknown extension field whose
// must_understand bit is set.
var errMustUnderstand = errors.New("unknown must-understand extension field")

// treeReader reads the primitives of §7.
type treeReader struct {
	b   []byte
	err error
}

func (r *treeReader) fail(format string, args ...any) {
	if r.err == nil {
		r.err = fmt.Errorf(format, args...)
	}
	r.b = nil
}

func (r *treeReader) uvarint() uint64 {
	if r.err != nil {
		return 0
	}
	v, k := binary.Uvarint(r.b)
	if k <= 0 {
		r.fail("bad uvarint")
		return 0
	}
	r.b = r.b[k:]
	return v
}

func (r *treeReader) bytes(n uint64) []byte {
	if r.err != nil {
		return nil
	}
	if n > uint64(len(r.b)) {
		r.fail("truncated: %d bytes wanted, %d left", n, len(r.b))
		return nil
	}
	out := r.b[:n]
	r.b = r.b[n:]
	return out
}

func (r *treeReader) u8() byte {
	if b := r.bytes(1); b != nil {
		return b[0]
	}
	return 0
}

// str is "uvarint length ‖ bytes".
func (r *treeReader) str() string { return string(r.bytes(r.uvarint())) }

// time is "varint Unix seconds (zigzag) ‖ uvarint nanoseconds (< 10^9)".
func (r *treeReader) time() string {
	if r.err != nil {
		return ""
	}
	sec, k := binary.Varint(r.b)
	if k <= 0 {
		r.fail("bad varint")
		return ""
	}
	r.b = r.b[k:]
	ns := r.uvarint()
	if ns >= 1e9 {
		r.fail("nanoseconds %d", ns)
	}
	return vectorTime3339(time.Unix(sec, int64(ns)))
}

// area reads an extension area: "uvarint len ‖ len bytes of fields", each
// field "uvarint tag ‖ uvarint vlen ‖ vlen bytes", tag = number << 1 |
// must_understand, numbers ≥ 1 and strictly ascending, filling the area
// exactly. known decodes the value of a field whose number it knows
// (returning false for an unknown number) and must consume it exactly.
func (r *treeReader) area(known func(num uint64, v *treeReader) bool) (string, []VectorField) {
	start := r.b
	a := &treeReader{b: r.bytes(r.uvarint())}
	if r.err != nil {
		return "", nil
	}
	raw := hex.EncodeToString(start[:len(start)-len(r.b)])
	var fields []VectorField
	var last uint64
	for len(a.b) > 0 && a.err == nil {
		tag := a.uvarint()
		val := a.bytes(a.uvarint())
		if a.err != nil {
			break
		}
		num := tag >> 1
		if num == 0 || num <= last {
			a.fail("extension field %d after %d", num, last)
			break
		}
		last = num
		fields = append(fields, VectorField{Tag: tag, Number: num, MustUnderstand: tag&1 == 1, ValueHex: hex.EncodeToString(val)})
		v := &treeReader{b: val}
		if !known(num, v) {
			if tag&1 == 1 {
				a.fail("field %d: %w", num, errMustUnderstand)
			}
			continue
		}
		if v.err != nil {
			a.fail("field %d: %v", num, v.err)
		} else if len(v.b) != 0 {
			a.fail("field %d: %d bytes not consumed", num, len(v.b))
		}
	}
	if a.err != nil {
		r.fail("extension area: %w", a.err)
	}
	return raw, fields
}

// nodeField decodes the node fields of §7's table into n.
func nodeField(n *VectorNode) func(uint64, *treeReader) bool {
	return func(num uint64, v *treeReader) bool {
		switch num {
		case 1: // xattrs: uvarint count ‖ count × (str name ‖ str value)
			count := v.uvarint()
			for i := uint64(0); i < count && v.err == nil; i++ {
				name, value := v.str(), v.str()
				switch {
				case name == "" || len(name) > 255 || strings.Contains(name, "\x00"):
					v.fail("xattr name %q", name)
				case len(value) > 1<<20:
					v.fail("xattr %q: %d bytes", name, len(value))
				case len(n.Xattrs) > 0 && n.Xattrs[len(n.Xattrs)-1].Name >= name:
					v.fail("xattr %q out of order", name)
				}
				n.Xattrs = append(n.Xattrs, VectorXattr{Name: name, ValueHex: hex.EncodeToString([]byte(value))})
			}
		case 2: // flags: uvarint, at most 2^32 − 1
			if n.Flags = v.uvarint(); n.Flags > 1<<32-1 {
				v.fail("flags %#x", n.Flags)
			}
		default:
			return false
		}
		return true
	}
}

// treeTypes are the type codes of §7.
var treeTypes = map[byte]string{1: "file", 2: "dir", 3: "symlink", 4: "dev", 5: "chardev", 6: "fifo", 7: "socket"}

// parseTreeIndependently decodes an LBT2 or LBT3 tree blob as FORMAT.md §7
// describes it.
func parseTreeIndependently(blob []byte) (*VectorTree, error) {
	if len(blob) < 4 || (string(blob[:4]) != "LBT2" && string(blob[:4]) != "LBT3") {
		return nil, errors.New("no LBT2 or LBT3 magic")
	}
	t := &VectorTree{Magic: string(blob[:4]), Nodes: []VectorNode{}}
	ext := t.Magic == "LBT3"
	r := &treeReader{b: blob[4:]}
	count := r.uvarint()
	for i := uint64(0); i < count && r.err == nil; i++ {
		var n VectorNode
		n.Name = r.str()
		code := r.u8()
		n.Type = treeTypes[code]
		if n.Type == "" && r.err == nil {
			r.fail("%q: type code %d", n.Name, code)
		}
		n.Mode, n.UID, n.GID = r.uvarint(), r.uvarint(), r.uvarint()
		if n.Mode > 0o7777 || n.UID > 1<<32-1 || n.GID > 1<<32-1 {
			r.fail("%q: mode %o, uid %d, gid %d", n.Name, n.Mode, n.UID, n.GID)
		}
		n.User, n.Group = r.str(), r.str()
		if len(n.Name) > 4096 || len(n.User) > 4096 || len(n.Group) > 4096 {
			r.fail("%q: name, user or group above 4096 bytes", n.Name)
		}
		n.MTime, n.CTime = r.time(), r.time()
		n.Inode, n.DeviceID, n.Links, n.Rdev, n.Size = r.uvarint(), r.uvarint(), r.uvarint(), r.uvarint(), r.uvarint()
		if n.Size > 1<<63-1 {
			r.fail("%q: size %d", n.Name, n.Size)
		}
		n.LinkTarget = r.str()
		n.Content = []string{}
		for range r.uvarint() {
			if id := r.bytes(32); id != nil {
				n.Content = append(n.Content, hex.EncodeToString(id))
			}
		}
		flags := r.u8()
		if flags&^3 != 0 {
			r.fail("%q: node flags %#x", n.Name, flags)
		}
		if flags&1 != 0 {
			n.Hash = hex.EncodeToString(r.bytes(32))
		}
		if flags&2 != 0 {
			n.Subtree = hex.EncodeToString(r.bytes(32))
		}
		if ext {
			n.AreaHex, n.Fields = r.area(nodeField(&n))
		}
		if r.err != nil {
			return nil, fmt.Errorf("node %d: %w", i, r.err)
		}
		if len(t.Nodes) > 0 && t.Nodes[len(t.Nodes)-1].Name >= n.Name {
			return nil, fmt.Errorf("node %q after %q", n.Name, t.Nodes[len(t.Nodes)-1].Name)
		}
		t.Nodes = append(t.Nodes, n)
	}
	if ext {
		t.AreaHex, t.Fields = r.area(func(uint64, *treeReader) bool { return false })
	}
	if r.err != nil {
		return nil, r.err
	}
	if len(r.b) != 0 {
		return nil, fmt.Errorf("%d bytes after the tree", len(r.b))
	}
	return t, nil
}

// TestTreeReaderRules checks the independent reader against the real
// decoder on LBT3 trees that break, or use, the extension-area rules of
// §7: both must accept the same trees (and read the same nodes) and refuse
// the same ones, a tree with an unknown must-understand field as written by
// a newer version.
func TestTreeReaderRules(t *testing.T) {
	h := format.ID{1}
	base := &format.Tree{Nodes: []format.Node{{Name: "f", Type: format.TypeFile, Mode: 0o644, Hash: &h, Flags: 0x40}}}
	enc, err := format.EncodeTree(base, format.TreeBinaryExt)
	if err != nil {
		t.Fatal(err)
	}
	// enc ends with the node's area (03 04 01 40: field 2, flags 0x40)
	// and the tree's empty area (00).
	if !bytes.HasSuffix(enc, []byte{3, 4, 1, 0x40, 0}) {
		t.Fatalf("unexpected encoding %x", enc)
	}
	prefix := enc[:len(enc)-5]
	xattrs := func(names ...string) []byte {
		v := binary.AppendUvarint(nil, uint64(len(names)))
		for _, n := range names {
			v = append(binary.AppendUvarint(v, uint64(len(n))), n...)
			v = append(v, 1, 'x')
		}
		f := append(binary.AppendUvarint([]byte{2}, uint64(len(v))), v...)
		return append(binary.AppendUvarint(nil, uint64(len(f))), f...)
	}
	for _, tc := range []struct {
		name       string
		area, tree []byte
		ok, newer  bool
	}{
		{name: "as written", area: []byte{3, 4, 1, 0x40}, tree: []byte{0}, ok: true},
		{name: "empty areas", area: []byte{0}, tree: []byte{0}, ok: true},
		{name: "unknown optional node field", area: []byte{6, 4, 1, 0x40, 10, 1, 0xff}, tree: []byte{0}, ok: true},
		{name: "unknown optional tree field", area: []byte{3, 4, 1, 0x40}, tree: []byte{3, 10, 1, 0xff}, ok: true},
		{name: "unknown must-understand node field", area: []byte{6, 4, 1, 0x40, 11, 1, 0xff}, tree: []byte{0}, newer: true},
		{name: "unknown must-understand tree field", area: []byte{0}, tree: []byte{3, 11, 1, 0xff}, newer: true},
		{name: "known field with must-understand bit", area: []byte{3, 5, 1, 0x40}, tree: []byte{0}, ok: true},
		{name: "fields out of order", area: []byte{6, 10, 1, 0xff, 4, 1, 0x40}, tree: []byte{0}},
		{name: "number repeated with the other bit", area: []byte{6, 4, 1, 0x40, 5, 1, 0x40}, tree: []byte{0}},
		{name: "field number 0", area: []byte{3, 0, 1, 0xff}, tree: []byte{0}},
		{name: "known value not consumed", area: []byte{4, 4, 2, 0x40, 0}, tree: []byte{0}},
		{name: "value past the area", area: []byte{3, 4, 2, 0x40}, tree: []byte{0}},
		{name: "area past the tree", area: []byte{9, 4, 1, 0x40}, tree: []byte{0}},
		{name: "bytes after the tree area", area: []byte{0}, tree: []byte{0, 0}},
		{name: "no tree area", area: []byte{0}},
		{name: "flags above 2^32-1", area: []byte{7, 4, 5, 0x80, 0x80, 0x80, 0x80, 0x10}, tree: []byte{0}},
		{name: "xattrs sorted", area: xattrs("user.a", "user.b"), tree: []byte{0}, ok: true},
		{name: "xattrs unsorted", area: xattrs("user.b", "user.a"), tree: []byte{0}},
		{name: "xattr name repeated", area: xattrs("user.a", "user.a"), tree: []byte{0}},
		{name: "xattr name empty", area: xattrs(""), tree: []byte{0}},
		{name: "xattr name with NUL", area: xattrs("user.\x00"), tree: []byte{0}},
		{name: "xattr name of 256 bytes", area: xattrs("user." + strings.Repeat("n", 251)), tree: []byte{0}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			blob := append(append(slices.Clone(prefix), tc.area...), tc.tree...)
			real, rerr := format.DecodeTree(blob)
			indep, ierr := parseTreeIndependently(blob)
			if (rerr == nil) != tc.ok || (ierr == nil) != tc.ok {
				t.Fatalf("real decoder: %v; independent reader: %v; want ok %v", rerr, ierr, tc.ok)
			}
			if tc.newer && (!errors.Is(rerr, format.ErrNewerVersion) || !errors.Is(ierr, errMustUnderstand)) {
				t.Fatalf("not refused as newer: real %v, independent %v", rerr, ierr)
			}
			if !tc.newer && !tc.ok && (errors.Is(rerr, format.ErrNewerVersion) || errors.Is(ierr, errMustUnderstand)) {
				t.Fatalf("damaged tree refused as newer: real %v, independent %v", rerr, ierr)
			}
			if tc.ok {
				if got, want := indep.withoutAreas(), vectorTreeOf(real); !reflect.DeepEqual(got, want) {
					t.Fatalf("the readers differ:\n%+v\n%+v", got, want)
				}
			}
		})
	}

	// The bounds of the LBT2 part of a node: uid and gid fit in 32 bits,
	// user and group names in 4096 bytes.
	wide := &format.Tree{Nodes: []format.Node{{Name: "p", Type: format.TypeFIFO, UID: 1<<32 - 1, User: strings.Repeat("u", 4096)}}}
	enc, err = format.EncodeTree(wide, format.TreeBinaryExt)
	if err != nil {
		t.Fatal(err)
	}
	for _, tc := range []struct{ name, from, to string }{
		{"uid of 2^32-1", "\xff\xff\xff\xff\x0f", "\xff\xff\xff\xff\x0f"},
		{"uid of 2^32", "\xff\xff\xff\xff\x0f", "\x80\x80\x80\x80\x10"},
		{"user of 4097 bytes", "\x80\x20u", "\x81\x20uu"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			if bytes.Count(enc, []byte(tc.from)) != 1 {
				t.Fatalf("%q is not once in %x", tc.from, enc)
			}
			blob := bytes.Replace(enc, []byte(tc.from), []byte(tc.to), 1)
			_, rerr := format.DecodeTree(blob)
			_, ierr := parseTreeIndependently(blob)
			if ok := tc.from == tc.to; (rerr == nil) != ok || (ierr == nil) != ok {
				t.Fatalf("real decoder: %v; independent reader: %v; want ok %v", rerr, ierr, ok)
			}
		})
	}
}
