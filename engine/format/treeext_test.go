package format

import (
	"bytes"
	"encoding/binary"
	"encoding/json"
	"errors"
	"reflect"
	"strings"
	"testing"
)

func TestTreeEncodingFor(t *testing.T) {
	for v, want := range map[int]TreeEncoding{1: TreeJSON, 2: TreeBinary, 3: TreeBinaryExt, 4: TreeBinaryExt, 5: TreeBinaryExt} {
		if got := TreeEncodingFor(v); got != want {
			t.Errorf("TreeEncodingFor(%d) = %d, want %d", v, got, want)
		}
	}
	if Version != 5 {
		t.Fatalf("format version %d, want 5", Version)
	}
}

// extTree has extended attributes, inode flags and names that are not UTF-8.
func extTree() *Tree {
	h := testID(1)
	return &Tree{Nodes: []Node{
		{Name: "a", Type: TypeFile, Hash: &h, Flags: 0x10, // FS_APPEND_FL
			Xattrs: []Xattr{{Name: "security.capability", Value: []byte{1, 0, 0, 2, 0xff}}, {Name: "user.empty", Value: []byte{}}, {Name: "user.mime", Value: []byte("text/plain")}}},
		{Name: "b\xff\xfe", Type: TypeSymlink, LinkTarget: "t\xff"},
		{Name: "c", Type: TypeFIFO, Flags: 0x40},
	}}
}

func TestTreeExtRoundTrip(t *testing.T) {
	want := extTree()
	data, err := EncodeTree(want, TreeBinaryExt)
	if err != nil {
		t.Fatal(err)
	}
	if !bytes.HasPrefix(data, []byte("LBT3")) {
		t.Fatalf("LBT3 tree starts %.4q", data)
	}
	got, err := DecodeTree(data)
	if err != nil {
		t.Fatal(err)
	}
	if !reflect.DeepEqual(got, want) {
		t.Fatalf("round trip:\n got %+v\nwant %+v", got, want)
	}
	// LBT2 keeps names and targets as bytes too, but has no extension area.
	noExt := extTree()
	for i := range noExt.Nodes {
		noExt.Nodes[i].Xattrs, noExt.Nodes[i].Flags = nil, 0
	}
	data, err = EncodeTree(noExt, TreeBinary)
	if err != nil {
		t.Fatal(err)
	}
	if got, err := DecodeTree(data); err != nil || !reflect.DeepEqual(got, noExt) {
		t.Fatalf("LBT2 round trip: %v\n got %+v\nwant %+v", err, got, noExt)
	}
}

func TestTreeEncodingsRefuseWhatTheyCannotStore(t *testing.T) {
	h := testID(1)
	for _, tc := range []struct {
		name string
		node Node
		encs []TreeEncoding
	}{
		{"xattrs", Node{Name: "a", Type: TypeFile, Hash: &h, Xattrs: []Xattr{{Name: "user.x", Value: []byte("1")}}}, []TreeEncoding{TreeJSON, TreeBinary}},
		{"flags", Node{Name: "a", Type: TypeFile, Hash: &h, Flags: 0x10}, []TreeEncoding{TreeJSON, TreeBinary}},
		{"name not UTF-8", Node{Name: "caf\xe9", Type: TypeFile, Hash: &h}, []TreeEncoding{TreeJSON}},
		{"symlink target not UTF-8", Node{Name: "l", Type: TypeSymlink, LinkTarget: "caf\xe9"}, []TreeEncoding{TreeJSON}},
		{"user not UTF-8", Node{Name: "a", Type: TypeFile, Hash: &h, User: "\xe9"}, []TreeEncoding{TreeJSON}},
	} {
		for _, enc := range tc.encs {
			if _, err := EncodeTree(&Tree{Nodes: []Node{tc.node}}, enc); !errors.Is(err, ErrNotRepresentable) {
				t.Errorf("%s in encoding %d: %v, want ErrNotRepresentable", tc.name, enc, err)
			}
			if err := enc.CheckNode(&tc.node); !errors.Is(err, ErrNotRepresentable) {
				t.Errorf("%s: CheckNode(%d) = %v", tc.name, enc, err)
			}
		}
		if _, err := EncodeTree(&Tree{Nodes: []Node{tc.node}}, TreeBinaryExt); err != nil {
			t.Errorf("%s in LBT3: %v", tc.name, err)
		}
	}
	if _, err := DecodeTree([]byte(`{"nodes":[{"name":"a","type":"fifo","mode":0,"uid":0,"gid":0,"mtime":"0001-01-01T00:00:00Z","ctime":"0001-01-01T00:00:00Z","flags":16}]}`)); !errors.Is(err, ErrFormat) {
		t.Fatalf("JSON tree with flags: %v", err)
	}
}

// lbt3 builds an LBT3 tree of one minimal fifo named name, with the given
// node extension fields and tree extension fields (each already encoded).
func lbt3(name string, nodeExt, treeExt []byte) []byte {
	b := append([]byte("LBT3"), 1, byte(len(name)))
	b = append(b, name...)
	b = append(b, 6, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0)
	b = binary.AppendUvarint(b, uint64(len(nodeExt)))
	b = append(b, nodeExt...)
	b = binary.AppendUvarint(b, uint64(len(treeExt)))
	return append(b, treeExt...)
}

func field(tag uint64, val []byte) []byte {
	b := binary.AppendUvarint(nil, tag)
	b = binary.AppendUvarint(b, uint64(len(val)))
	return append(b, val...)
}

func cat(parts ...[]byte) []byte { return bytes.Join(parts, nil) }

func TestTreeExtFields(t *testing.T) {
	flags := field(extFlags<<1, []byte{0x10})
	unknownOpt := field(9<<1, []byte("from the future"))
	unknownMust := field(9<<1|1, []byte("from the future"))
	ok := []struct {
		name string
		tree []byte
	}{
		{"no fields", lbt3("a", nil, nil)},
		{"flags", lbt3("a", flags, nil)},
		{"known field with must-understand bit", lbt3("a", field(extFlags<<1|1, []byte{0x10}), nil)},
		{"unknown optional node field", lbt3("a", cat(flags, unknownOpt), nil)},
		{"unknown optional tree field", lbt3("a", flags, unknownOpt)},
		{"empty unknown field", lbt3("a", cat(flags, field(100<<1, nil)), nil)},
	}
	for _, tc := range ok {
		tr, err := DecodeTree(tc.tree)
		if err != nil {
			t.Errorf("%s: %v", tc.name, err)
			continue
		}
		if want := strings.Contains(tc.name, "flags") || strings.Contains(tc.name, "unknown"); want && tr.Nodes[0].Flags != 0x10 && tc.name != "empty unknown field" {
			t.Errorf("%s: flags %#x", tc.name, tr.Nodes[0].Flags)
		}
	}
	for _, tc := range []struct {
		name string
		tree []byte
	}{
		{"unknown must-understand node field", lbt3("a", cat(flags, unknownMust), nil)},
		{"unknown must-understand tree field", lbt3("a", nil, unknownMust)},
	} {
		_, err := DecodeTree(tc.tree)
		if !errors.Is(err, ErrNewerVersion) || errors.Is(err, ErrFormat) {
			t.Errorf("%s: %v, want ErrNewerVersion (not ErrFormat)", tc.name, err)
		} else if !strings.Contains(err.Error(), "field 9") || !strings.Contains(err.Error(), "upgrade lifeboat") {
			t.Errorf("%s: message %q does not name the field and the remedy", tc.name, err)
		}
	}
	xattr := func(pairs ...string) []byte {
		v := binary.AppendUvarint(nil, uint64(len(pairs)/2))
		for _, p := range pairs {
			v = appendString(v, p)
		}
		return field(extXattrs<<1, v)
	}
	for _, tc := range []struct {
		name string
		tree []byte
	}{
		{"fields out of order", lbt3("a", cat(flags, xattr("user.a", "1")), nil)},
		{"field repeated", lbt3("a", cat(flags, flags), nil)},
		{"same number twice, once must-understand", lbt3("a", cat(flags, field(extFlags<<1|1, []byte{1})), nil)},
		{"field number zero", lbt3("a", field(1, nil), nil)},
		{"trailing bytes in a known field", lbt3("a", field(extFlags<<1, []byte{0x10, 0}), nil)},
		{"flags above 32 bits", lbt3("a", field(extFlags<<1, binary.AppendUvarint(nil, 1<<32)), nil)},
		{"xattrs unsorted", lbt3("a", xattr("user.b", "1", "user.a", "2"), nil)},
		{"xattrs duplicated", lbt3("a", xattr("user.a", "1", "user.a", "2"), nil)},
		{"xattr without name", lbt3("a", xattr("", "1"), nil)},
		{"xattr name with NUL", lbt3("a", xattr("user.\x00", "1"), nil)},
		{"xattr name too long", lbt3("a", xattr(strings.Repeat("n", MaxXattrName+1), "1"), nil)},
		{"xattr count beyond field", lbt3("a", field(extXattrs<<1, []byte{5, 1, 'a', 0}), nil)},
		{"area longer than the tree", append(lbt3("a", nil, nil)[:len(lbt3("a", nil, nil))-2], 9, 0)},
		{"field longer than the area", lbt3("a", []byte{extFlags << 1, 5, 1}, nil)},
		{"missing tree area", lbt3("a", nil, nil)[:len(lbt3("a", nil, nil))-1]},
	} {
		if _, err := DecodeTree(tc.tree); !errors.Is(err, ErrFormat) {
			t.Errorf("%s: %v, want ErrFormat", tc.name, err)
		}
	}
}

func TestTreeExtRejectsTruncation(t *testing.T) {
	data, err := EncodeTree(extTree(), TreeBinaryExt)
	if err != nil {
		t.Fatal(err)
	}
	for n := len(treeExtMagic); n < len(data); n++ {
		if _, err := DecodeTree(data[:n]); !errors.Is(err, ErrFormat) {
			t.Fatalf("truncated to %d of %d bytes: %v", n, len(data), err)
		}
	}
	if _, err := DecodeTree(append(data[:len(data):len(data)], 0)); !errors.Is(err, ErrFormat) {
		t.Fatalf("trailing byte: %v", err)
	}
}

func TestNewerVersionsAreNotMalformed(t *testing.T) {
	c := validConfig()
	c.Version = Version + 1
	data, _ := jsonMarshal(c)
	_, err := DecodeConfig(data)
	var ve *VersionError
	if !errors.Is(err, ErrNewerVersion) || errors.Is(err, ErrFormat) || !errors.As(err, &ve) || ve.Version != Version+1 {
		t.Fatalf("config of version %d: %v", Version+1, err)
	}
	if msg := err.Error(); !strings.Contains(msg, "format version 6 is newer") || !strings.Contains(msg, "upgrade lifeboat") {
		t.Fatalf("message %q", msg)
	}
	snap, _ := EncodeSnapshot(&Snapshot{Version: Version + 1, Host: "h", Paths: []string{"/x"}, Tree: testID(1)})
	if _, err := DecodeSnapshot(snap); !errors.Is(err, ErrNewerVersion) || errors.Is(err, ErrFormat) {
		t.Fatalf("snapshot of version %d: %v", Version+1, err)
	}
	for v := 1; v <= Version; v++ {
		snap, _ := EncodeSnapshot(&Snapshot{Version: v, Host: "h", Paths: []string{"/x"}, Tree: testID(1)})
		if _, err := DecodeSnapshot(snap); err != nil {
			t.Fatalf("snapshot of version %d: %v", v, err)
		}
	}
}

func jsonMarshal(v any) ([]byte, error) { return json.Marshal(v) }
