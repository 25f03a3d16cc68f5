package formatv4

import (
	"encoding/binary"
	"errors"
	"fmt"
	"time"
	"unicode/utf8"
)

// ErrNotRepresentable reports a value that a tree encoding (and so a
// repository of an older format version) cannot store unchanged.
var ErrNotRepresentable = errors.New("not representable")

// TreeEncoding selects how tree blobs are written. Readers decode every
// encoding, whatever the repository's version.
type TreeEncoding uint8

// Tree encodings.
const (
	// TreeJSON is format version 1's tree encoding.
	TreeJSON TreeEncoding = 1
	// TreeBinary is format version 2's: about half the stored size of
	// TreeJSON (IDs as bytes, not hex) and several times faster to code.
	TreeBinary TreeEncoding = 2
	// TreeBinaryExt is format version 3's: TreeBinary plus an extension
	// area after every node and after the node list (FORMAT.md §7), which
	// holds extended attributes and inode flags, and lets later fields be
	// added without a new encoding.
	TreeBinaryExt TreeEncoding = 3
)

// TreeEncodingFor returns the tree encoding writers use in a repository of
// format version v: each version keeps the encoding its releases read, so
// that they can still read everything (JSON in version 1, LBT2 in version 2,
// LBT3 from version 3 on).
func TreeEncodingFor(v int) TreeEncoding {
	switch {
	case v < 2:
		return TreeJSON
	case v == 2:
		return TreeBinary
	}
	return TreeBinaryExt
}

// StoresExtensions reports whether the encoding stores the fields of the
// extension area: Node.Xattrs and Node.Flags.
func (e TreeEncoding) StoresExtensions() bool { return e >= TreeBinaryExt }

// StoresBytes reports whether the encoding stores names, symlink targets and
// owner names as arbitrary bytes. JSON text holds valid UTF-8 only.
func (e TreeEncoding) StoresBytes() bool { return e != TreeJSON }

// CheckNode reports, with an error wrapping ErrNotRepresentable, the first
// field of n that encoding e cannot store unchanged: extended attributes and
// inode flags before TreeBinaryExt, and in TreeJSON a name, symlink target,
// user or group that is not valid UTF-8 (JSON would replace the invalid
// bytes with U+FFFD).
func (e TreeEncoding) CheckNode(n *Node) error {
	if !e.StoresExtensions() {
		if len(n.Xattrs) > 0 {
			return fmt.Errorf("%q: extended attributes: %w in tree encoding %d", n.Name, ErrNotRepresentable, e)
		}
		if n.Flags != 0 {
			return fmt.Errorf("%q: inode flags: %w in tree encoding %d", n.Name, ErrNotRepresentable, e)
		}
	}
	if !e.StoresBytes() {
		for _, f := range [...]struct{ what, s string }{{"name", n.Name}, {"symlink target", n.LinkTarget}, {"user", n.User}, {"group", n.Group}} {
			if !utf8.ValidString(f.s) {
				return fmt.Errorf("%q: %s is not valid UTF-8: %w in tree encoding %d (JSON)", n.Name, f.what, ErrNotRepresentable, e)
			}
		}
	}
	return nil
}

// Binary tree magics (a JSON tree starts with '{').
const (
	treeMagic    = "LBT2"
	treeExtMagic = "LBT3"
)

// Binary node type codes. Values are stored; never reuse one.
var nodeTypeCodes = [...]string{1: TypeFile, 2: TypeDir, 3: TypeSymlink, 4: TypeDev, 5: TypeCharDev, 6: TypeFIFO, 7: TypeSocket}

// Binary node field-presence flags.
const (
	nodeHasHash    = 1 << 0
	nodeHasSubtree = 1 << 1
)

func nodeTypeCode(t string) (byte, bool) {
	for c, name := range nodeTypeCodes {
		if name != "" && name == t {
			return byte(c), true
		}
	}
	return 0, false
}

// Extension fields (FORMAT.md §7): tag = number << 1 | must-understand.
// Numbers are stored; never reuse one.
const (
	extMustUnderstand = 1
	extXattrs         = 1 // node: extended attributes
	extFlags          = 2 // node: inode flags
)

// Limits on extended attributes (Linux's XATTR_NAME_MAX; a value limit well
// above Linux's 64 KiB).
const (
	MaxXattrName  = 255
	MaxXattrValue = 1 << 20
)

// encodeTreeBinary appends the binary form (FORMAT.md §7) of t to dst, as
// LBT3 when ext is set and LBT2 otherwise:
//
//	tree = magic ‖ uvarint n ‖ n × node ‖ [LBT3: ext]
//	node = str name ‖ u8 type ‖ uvarint mode ‖ uvarint uid ‖ uvarint gid ‖
//	       str user ‖ str group ‖ time mtime ‖ time ctime ‖ uvarint inode ‖
//	       uvarint device_id ‖ uvarint links ‖ uvarint rdev ‖ uvarint size ‖
//	       str link_target ‖ uvarint len(content) ‖ content × id[32] ‖
//	       u8 flags (1: hash, 2: subtree) ‖ [hash id[32]] ‖ [subtree id[32]] ‖
//	       [LBT3: ext]
//	ext  = uvarint len ‖ fields, each uvarint tag ‖ uvarint len ‖ bytes
//	str  = uvarint len ‖ bytes
//	time = varint unix seconds ‖ uvarint nanoseconds (< 1e9)
//
// LBT2 cannot store Xattrs or Flags: a node that has them is an error
// wrapping ErrNotRepresentable.
func encodeTreeBinary(dst []byte, t *Tree, ext bool) ([]byte, error) {
	enc := TreeBinary
	if ext {
		enc = TreeBinaryExt
		dst = append(dst, treeExtMagic...)
	} else {
		dst = append(dst, treeMagic...)
	}
	dst = binary.AppendUvarint(dst, uint64(len(t.Nodes)))
	var area []byte
	for i := range t.Nodes {
		n := &t.Nodes[i]
		code, ok := nodeTypeCode(n.Type)
		if !ok {
			return nil, formatErr("tree", "%q: unknown type %q", n.Name, n.Type)
		}
		if err := enc.CheckNode(n); err != nil {
			return nil, fmt.Errorf("encode tree: %w", err)
		}
		dst = appendString(dst, n.Name)
		dst = append(dst, code)
		dst = binary.AppendUvarint(dst, uint64(n.Mode))
		dst = binary.AppendUvarint(dst, uint64(n.UID))
		dst = binary.AppendUvarint(dst, uint64(n.GID))
		dst = appendString(dst, n.User)
		dst = appendString(dst, n.Group)
		dst = appendTime(dst, n.MTime)
		dst = appendTime(dst, n.CTime)
		for _, v := range [...]uint64{n.Inode, n.DeviceID, n.Links, n.Rdev, n.Size} {
			dst = binary.AppendUvarint(dst, v)
		}
		dst = appendString(dst, n.LinkTarget)
		dst = binary.AppendUvarint(dst, uint64(len(n.Content)))
		for _, id := range n.Content {
			dst = append(dst, id[:]...)
		}
		var flags byte
		if n.Hash != nil {
			flags |= nodeHasHash
		}
		if n.Subtree != nil {
			flags |= nodeHasSubtree
		}
		dst = append(dst, flags)
		if n.Hash != nil {
			dst = append(dst, n.Hash[:]...)
		}
		if n.Subtree != nil {
			dst = append(dst, n.Subtree[:]...)
		}
		if ext {
			area = appendNodeExt(area[:0], n)
			dst = binary.AppendUvarint(dst, uint64(len(area)))
			dst = append(dst, area...)
		}
	}
	if ext {
		dst = append(dst, 0) // the tree's extension area: no fields yet
	}
	return dst, nil
}

// appendNodeExt appends the fields of n's extension area (without its
// length) in ascending field number; empty fields are left out.
func appendNodeExt(dst []byte, n *Node) []byte {
	if len(n.Xattrs) > 0 {
		var val []byte
		val = binary.AppendUvarint(val, uint64(len(n.Xattrs)))
		for _, x := range n.Xattrs {
			val = appendString(val, x.Name)
			val = appendString(val, string(x.Value))
		}
		dst = appendExtField(dst, extXattrs, val)
	}
	if n.Flags != 0 {
		dst = appendExtField(dst, extFlags, binary.AppendUvarint(nil, uint64(n.Flags)))
	}
	return dst
}

func appendExtField(dst []byte, num uint64, val []byte) []byte {
	dst = binary.AppendUvarint(dst, num<<1)
	dst = binary.AppendUvarint(dst, uint64(len(val)))
	return append(dst, val...)
}

// extArea decodes an extension area: its length, then its fields, which
// must come in strictly ascending field number. known decodes a field this
// code knows (returning false for an unknown number); an unknown field is
// skipped, unless its must-understand bit is set: then the tree is refused
// with an error wrapping ErrNewerVersion, since a newer writer said that
// reading it without the field would be wrong.
func (d *decoder) extArea(where string, known func(num uint64, fd *decoder) bool) {
	size := d.uvarint(uint64(len(d.b)))
	if d.err == nil && size > uint64(len(d.b)) {
		d.fail("%s: extension area truncated", where)
	}
	if d.err != nil {
		return
	}
	a := &decoder{what: d.what, b: d.b[:size]}
	d.b = d.b[size:]
	var last uint64
	for len(a.b) > 0 && a.err == nil {
		tag := a.uvarint(1<<63 - 1)
		vlen := a.uvarint(uint64(len(a.b)))
		if a.err == nil && vlen > uint64(len(a.b)) {
			a.fail("%s: extension field truncated", where)
		}
		if a.err != nil {
			break
		}
		num := tag >> 1
		if num == 0 || num <= last {
			a.fail("%s: extension field %d out of order", where, num)
			break
		}
		last = num
		fd := &decoder{what: d.what, b: a.b[:vlen]}
		a.b = a.b[vlen:]
		if !known(num, fd) {
			if tag&extMustUnderstand != 0 {
				a.err = fmt.Errorf("decode %s: %s: extension field %d must be understood to read it, and this lifeboat does not know it: %w", d.what, where, num, ErrNewerVersion)
			}
			continue
		}
		if fd.err == nil && len(fd.b) != 0 {
			fd.fail("%s: extension field %d: %d trailing bytes", where, num, len(fd.b))
		}
		if fd.err != nil {
			a.err = fd.err
		}
	}
	if a.err != nil && d.err == nil {
		d.err = a.err
	}
}

// nodeExt decodes the known fields of a node's extension area into n.
func nodeExt(n *Node) func(uint64, *decoder) bool {
	return func(num uint64, fd *decoder) bool {
		switch num {
		case extXattrs:
			count := fd.uvarint(uint64(len(fd.b) / 2))
			n.Xattrs = make([]Xattr, 0, count)
			for i := uint64(0); i < count && fd.err == nil; i++ {
				name := fd.str(MaxXattrName)
				value := fd.str(MaxXattrValue)
				n.Xattrs = append(n.Xattrs, Xattr{Name: name, Value: []byte(value)})
			}
		case extFlags:
			n.Flags = uint32(fd.uvarint(1<<32 - 1))
		default:
			return false
		}
		return true
	}
}

func appendString(dst []byte, s string) []byte {
	dst = binary.AppendUvarint(dst, uint64(len(s)))
	return append(dst, s...)
}

func appendTime(dst []byte, t time.Time) []byte {
	dst = binary.AppendVarint(dst, t.Unix())
	return binary.AppendUvarint(dst, uint64(t.Nanosecond()))
}

// minBinaryNode is the smallest encoding of a node: a one-byte name and
// every other field at its shortest.
const minBinaryNode = 2 + 1 + 3 + 2 + 2*2 + 5 + 1 + 1 + 1

// decodeTreeBinary decodes a binary tree blob (magic included), LBT3 when
// ext is set and LBT2 otherwise. Validation beyond the encoding is
// DecodeTree's.
func decodeTreeBinary(data []byte, ext bool) (*Tree, error) {
	d := &decoder{what: "tree", b: data[len(treeMagic):]}
	count := d.uvarint(uint64(len(d.b) / minBinaryNode))
	t := &Tree{Nodes: make([]Node, 0, count)}
	for i := uint64(0); i < count && d.err == nil; i++ {
		var n Node
		n.Name = d.str(MaxNameBytes)
		code := d.byte()
		if int(code) >= len(nodeTypeCodes) || nodeTypeCodes[code] == "" {
			d.fail("%q: unknown type code %d", n.Name, code)
			break
		}
		n.Type = nodeTypeCodes[code]
		n.Mode = uint32(d.uvarint(0o7777))
		n.UID = uint32(d.uvarint(1<<32 - 1))
		n.GID = uint32(d.uvarint(1<<32 - 1))
		n.User = d.str(MaxNameBytes)
		n.Group = d.str(MaxNameBytes)
		n.MTime = d.time()
		n.CTime = d.time()
		n.Inode = d.uvarint(1<<64 - 1)
		n.DeviceID = d.uvarint(1<<64 - 1)
		n.Links = d.uvarint(1<<64 - 1)
		n.Rdev = d.uvarint(1<<64 - 1)
		n.Size = d.uvarint(1<<63 - 1)
		n.LinkTarget = d.str(MaxTreeSize)
		if nc := d.uvarint(uint64(len(d.b) / 32)); nc > 0 {
			n.Content = make([]ID, nc)
			for j := range n.Content {
				n.Content[j] = d.id()
			}
		}
		flags := d.byte()
		if flags&^(nodeHasHash|nodeHasSubtree) != 0 {
			d.fail("%q: unknown flags %#x", n.Name, flags)
		}
		if flags&nodeHasHash != 0 {
			id := d.id()
			n.Hash = &id
		}
		if flags&nodeHasSubtree != 0 {
			id := d.id()
			n.Subtree = &id
		}
		if ext {
			d.extArea(fmt.Sprintf("%q", n.Name), nodeExt(&n))
		}
		t.Nodes = append(t.Nodes, n)
	}
	if ext {
		d.extArea("tree", func(uint64, *decoder) bool { return false })
	}
	if d.err != nil {
		return nil, d.err
	}
	if len(d.b) != 0 {
		return nil, formatErr("tree", "%d trailing bytes", len(d.b))
	}
	return t, nil
}

// str decodes a length-prefixed string of at most max bytes.
func (d *decoder) str(max uint64) string {
	n := d.uvarint(max)
	if d.err != nil {
		return ""
	}
	if uint64(len(d.b)) < n {
		d.fail("truncated")
		return ""
	}
	s := string(d.b[:n])
	d.b = d.b[n:]
	return s
}

// time decodes a varint of Unix seconds and a uvarint of nanoseconds, as UTC.
func (d *decoder) time() time.Time {
	if d.err != nil {
		return time.Time{}
	}
	sec, n := binary.Varint(d.b)
	if n <= 0 {
		d.fail("bad varint")
		return time.Time{}
	}
	d.b = d.b[n:]
	nsec := d.uvarint(999_999_999)
	return time.Unix(sec, int64(nsec)).UTC()
}
