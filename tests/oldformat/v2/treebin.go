package formatv2

import (
	"encoding/binary"
	"time"
)

// TreeEncoding selects how tree blobs are written. Readers decode both,
// whatever the repository's version.
type TreeEncoding uint8

// Tree encodings.
const (
	// TreeJSON is format version 1's tree encoding.
	TreeJSON TreeEncoding = 1
	// TreeBinary is format version 2's: about half the stored size of
	// TreeJSON (IDs as bytes, not hex) and several times faster to code.
	TreeBinary TreeEncoding = 2
)

// TreeEncodingFor returns the tree encoding writers use in a repository of
// format version v: version 1 repositories keep JSON trees, so that the
// releases that wrote them can still read everything.
func TreeEncodingFor(v int) TreeEncoding {
	if v < 2 {
		return TreeJSON
	}
	return TreeBinary
}

// treeMagic starts a binary tree blob (a JSON tree starts with '{').
const treeMagic = "LBT2"

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

// encodeTreeBinary appends the binary form (FORMAT.md §7) of t to dst:
//
//	"LBT2" ‖ uvarint n ‖ n × node
//	node = str name ‖ u8 type ‖ uvarint mode ‖ uvarint uid ‖ uvarint gid ‖
//	       str user ‖ str group ‖ time mtime ‖ time ctime ‖ uvarint inode ‖
//	       uvarint device_id ‖ uvarint links ‖ uvarint rdev ‖ uvarint size ‖
//	       str link_target ‖ uvarint len(content) ‖ content × id[32] ‖
//	       u8 flags (1: hash, 2: subtree) ‖ [hash id[32]] ‖ [subtree id[32]]
//	str  = uvarint len ‖ bytes
//	time = varint unix seconds ‖ uvarint nanoseconds (< 1e9)
func encodeTreeBinary(dst []byte, t *Tree) ([]byte, error) {
	dst = append(dst, treeMagic...)
	dst = binary.AppendUvarint(dst, uint64(len(t.Nodes)))
	for i := range t.Nodes {
		n := &t.Nodes[i]
		code, ok := nodeTypeCode(n.Type)
		if !ok {
			return nil, formatErr("tree", "%q: unknown type %q", n.Name, n.Type)
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
	}
	return dst, nil
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

// decodeTreeBinary decodes a binary tree blob (magic included). Validation
// beyond the encoding is DecodeTree's.
func decodeTreeBinary(data []byte) (*Tree, error) {
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
		t.Nodes = append(t.Nodes, n)
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
