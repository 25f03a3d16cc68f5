package format

import (
	"bytes"
	"errors"
	"fmt"
	"reflect"
	"strings"
	"testing"
	"time"
)

func testID(b byte) ID {
	var id ID
	for i := range id {
		id[i] = b + byte(i)
	}
	return id
}

func validConfig() *Config {
	return &Config{
		Version: 1, ID: strings.Repeat("ab", 16), Created: time.Date(2026, 1, 2, 3, 4, 5, 0, time.UTC),
		Chunker:     ChunkerParam{Algorithm: ChunkerFastCDC, Min: 512 << 10, Avg: 1 << 20, Max: 8 << 20},
		Compression: Compression{Algorithm: CompressZstd, Level: "fastest"},
		Encryption:  SealAge, IDHash: IDHMACSHA256, PackSize: 16 << 20,
	}
}

func TestConfigRoundTrip(t *testing.T) {
	data, err := EncodeConfig(validConfig())
	if err != nil {
		t.Fatal(err)
	}
	got, err := DecodeConfig(data)
	if err != nil {
		t.Fatal(err)
	}
	if got.ID != validConfig().ID || got.Chunker != validConfig().Chunker {
		t.Fatalf("round trip changed config: %+v", got)
	}
}

func TestConfigRejects(t *testing.T) {
	for _, tc := range []struct {
		name string
		mod  func(c *Config)
	}{
		{"zero version", func(c *Config) { c.Version = 0 }},
		{"short id", func(c *Config) { c.ID = "ab" }},
		{"uppercase id", func(c *Config) { c.ID = strings.Repeat("AB", 16) }},
		{"chunker", func(c *Config) { c.Chunker.Algorithm = "rabin" }},
		{"avg not power of two", func(c *Config) { c.Chunker.Avg = 1000000 }},
		{"min above avg", func(c *Config) { c.Chunker.Min = 2 << 20 }},
		{"compression", func(c *Config) { c.Compression.Algorithm = "lz4" }},
		{"encryption", func(c *Config) { c.Encryption = "aes" }},
		{"id hash", func(c *Config) { c.IDHash = "md5" }},
		{"pack size", func(c *Config) { c.PackSize = 10 }},
	} {
		t.Run(tc.name, func(t *testing.T) {
			c := validConfig()
			tc.mod(c)
			if err := c.Validate(); !errors.Is(err, ErrFormat) {
				t.Fatalf("Validate = %v, want ErrFormat", err)
			}
		})
	}
	if _, err := DecodeConfig([]byte(`{"version":1,"bogus":2}`)); !errors.Is(err, ErrFormat) {
		t.Fatalf("unknown field: %v", err)
	}
	data, _ := EncodeConfig(validConfig())
	if _, err := DecodeConfig(append(data, []byte(`{}`)...)); !errors.Is(err, ErrFormat) {
		t.Fatalf("trailing data: %v", err)
	}
}

func TestTreeValidation(t *testing.T) {
	h := testID(1)
	sub := testID(2)
	file := Node{Name: "a", Type: TypeFile, Mode: 0o644, Size: 3, Content: []ID{testID(3)}, Hash: &h}
	for _, tc := range []struct {
		name  string
		nodes []Node
		ok    bool
	}{
		{"valid", []Node{file, {Name: "b", Type: TypeDir, Mode: 0o755, Subtree: &sub}, {Name: "c", Type: TypeSymlink, LinkTarget: "../x"}}, true},
		{"empty", []Node{}, true},
		{"dotdot", []Node{{Name: "..", Type: TypeDir, Subtree: &sub}}, false},
		{"dot", []Node{{Name: ".", Type: TypeDir, Subtree: &sub}}, false},
		{"slash", []Node{{Name: "a/b", Type: TypeFile, Hash: &h}}, false},
		{"nul", []Node{{Name: "a\x00", Type: TypeFile, Hash: &h}}, false},
		{"unsorted", []Node{{Name: "b", Type: TypeFile, Hash: &h}, {Name: "a", Type: TypeFile, Hash: &h}}, false},
		{"duplicate", []Node{file, file}, false},
		{"dir without subtree", []Node{{Name: "d", Type: TypeDir}}, false},
		{"file without hash", []Node{{Name: "f", Type: TypeFile}}, false},
		{"file size without content", []Node{{Name: "f", Type: TypeFile, Size: 9, Hash: &h}}, false},
		{"empty symlink", []Node{{Name: "l", Type: TypeSymlink}}, false},
		{"unknown type", []Node{{Name: "x", Type: "door"}}, false},
		{"bad mode", []Node{{Name: "f", Type: TypeFile, Hash: &h, Mode: 0o170000}}, false},
	} {
		for _, enc := range []TreeEncoding{TreeJSON, TreeBinary, TreeBinaryExt} {
			t.Run(fmt.Sprintf("%s/%d", tc.name, enc), func(t *testing.T) {
				data, err := EncodeTree(&Tree{Nodes: tc.nodes}, enc)
				if err != nil {
					if tc.ok || !errors.Is(err, ErrFormat) {
						t.Fatalf("EncodeTree: %v", err)
					}
					return // the binary form cannot express it
				}
				_, err = DecodeTree(data)
				if (err == nil) != tc.ok {
					t.Fatalf("DecodeTree = %v, want ok=%v", err, tc.ok)
				}
				if err != nil && !errors.Is(err, ErrFormat) {
					t.Fatalf("error %v does not wrap ErrFormat", err)
				}
			})
		}
	}
}

// fullTree uses every node field and type.
func fullTree() *Tree {
	h, sub := testID(1), testID(2)
	mt := time.Date(2026, 11, 26, 7, 8, 9, 123456789, time.UTC)
	return &Tree{Nodes: []Node{
		{Name: "a.txt", Type: TypeFile, Mode: 0o4755, UID: 1000, GID: 1 << 31, User: "ann", Group: "staff",
			MTime: mt, CTime: mt.Add(time.Second), Inode: 1 << 40, DeviceID: 2049, Links: 2, Size: 3 << 20,
			Content: []ID{testID(3), testID(4), testID(3)}, Hash: &h},
		{Name: "before-1970", Type: TypeFile, MTime: time.Date(1969, 7, 20, 20, 17, 0, 5, time.UTC), Hash: &h},
		{Name: "blk", Type: TypeDev, Mode: 0o660, Rdev: 0x0801},
		{Name: "chr", Type: TypeCharDev, Rdev: 0x0103},
		{Name: "d", Type: TypeDir, Mode: 0o1777, Subtree: &sub},
		{Name: "fifo", Type: TypeFIFO},
		{Name: "l", Type: TypeSymlink, LinkTarget: "../../etc/passwd"},
		{Name: "sock", Type: TypeSocket},
		{Name: "zero-times", Type: TypeFile, Hash: &h},
		{Name: "\u00e9t\u00e9 \u2603", Type: TypeFile, Size: 0, Hash: &h},
	}}
}

func TestTreeEncodingsRoundTrip(t *testing.T) {
	for _, enc := range []TreeEncoding{TreeJSON, TreeBinary, TreeBinaryExt} {
		t.Run(fmt.Sprint(enc), func(t *testing.T) {
			want := fullTree()
			data, err := EncodeTree(want, enc)
			if err != nil {
				t.Fatal(err)
			}
			if isBinary := bytes.HasPrefix(data, []byte(treeMagic)) || bytes.HasPrefix(data, []byte(treeExtMagic)); isBinary != (enc != TreeJSON) {
				t.Fatalf("encoding %d wrote %.8q", enc, data)
			}
			got, err := DecodeTree(data)
			if err != nil {
				t.Fatal(err)
			}
			if len(got.Nodes) != len(want.Nodes) {
				t.Fatalf("%d nodes, want %d", len(got.Nodes), len(want.Nodes))
			}
			for i := range want.Nodes {
				g, w := got.Nodes[i], want.Nodes[i]
				if !g.MTime.Equal(w.MTime) || !g.CTime.Equal(w.CTime) {
					t.Errorf("%s: times %v %v, want %v %v", w.Name, g.MTime, g.CTime, w.MTime, w.CTime)
				}
				g.MTime, g.CTime, w.MTime, w.CTime = time.Time{}, time.Time{}, time.Time{}, time.Time{}
				if !reflect.DeepEqual(g, w) {
					t.Errorf("node %d:\n got %+v\nwant %+v", i, g, w)
				}
			}
		})
	}
}

func TestBinaryTreeIsSmaller(t *testing.T) {
	js, _ := EncodeTree(fullTree(), TreeJSON)
	bin, _ := EncodeTree(fullTree(), TreeBinary)
	if len(bin)*2 > len(js) {
		t.Fatalf("binary tree %d bytes, JSON %d", len(bin), len(js))
	}
}

func TestBinaryTreeRejectsDamage(t *testing.T) {
	data, err := EncodeTree(fullTree(), TreeBinary)
	if err != nil {
		t.Fatal(err)
	}
	// Every truncation fails, and so does trailing data.
	for n := len(treeMagic); n < len(data); n++ {
		if _, err := DecodeTree(data[:n]); !errors.Is(err, ErrFormat) {
			t.Fatalf("truncated to %d of %d bytes: %v", n, len(data), err)
		}
	}
	if _, err := DecodeTree(append(data[:len(data):len(data)], 0)); !errors.Is(err, ErrFormat) {
		t.Fatalf("trailing byte: %v", err)
	}
	minimal := func(name string, typ byte) []byte {
		b := append([]byte(treeMagic), 1, byte(len(name)))
		b = append(b, name...)
		return append(b, typ, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0)
	}
	if tr, err := DecodeTree(minimal("ok", 6)); err != nil || len(tr.Nodes) != 1 || tr.Nodes[0].Type != TypeFIFO {
		t.Fatalf("minimal fifo: %v %+v", err, tr)
	}
	for _, tc := range []struct {
		name string
		tree []byte
	}{
		{"unknown type", minimal("a", 9)},
		{"type zero", minimal("a", 0)},
		{"unsafe name", minimal("..", 6)},
		{"unknown flags", append(minimal("a", 6)[:len(minimal("a", 6))-1], 4)},
		{"huge count", append([]byte(treeMagic), 0xff, 0xff, 0xff, 0xff, 0x0f)},
		{"nanoseconds", append([]byte(treeMagic), 1, 1, 'a', 6, 0, 0, 0, 0, 0, 0, 0x80, 0x94, 0xeb, 0xdc, 0x03)},
	} {
		t.Run(tc.name, func(t *testing.T) {
			if _, err := DecodeTree(tc.tree); !errors.Is(err, ErrFormat) {
				t.Fatalf("DecodeTree = %v", err)
			}
		})
	}
}

func samplePack() ([]Blob, int64) {
	blobs := []Blob{
		{Type: BlobData, Flags: FlagCompressed, ID: testID(10), Length: 100, RawLen: 250},
		{Type: BlobTree, ID: testID(20), Length: 7, RawLen: 7},
		{Type: BlobData, ID: testID(30), Length: 0, RawLen: 0},
	}
	var off uint32
	for i := range blobs {
		blobs[i].Offset = off
		off += blobs[i].Length
	}
	return blobs, int64(off)
}

func TestPackTrailerRoundTrip(t *testing.T) {
	blobs, end := samplePack()
	tr := EncodePackTrailer(blobs)
	got, err := DecodePackTrailer(tr, end+int64(len(tr)))
	if err != nil {
		t.Fatal(err)
	}
	if len(got) != len(blobs) {
		t.Fatalf("got %d blobs", len(got))
	}
	for i := range got {
		if got[i] != blobs[i] {
			t.Fatalf("blob %d: %+v want %+v", i, got[i], blobs[i])
		}
	}
	n, err := PackTrailerLen(tr[len(tr)-8:])
	if err != nil || n != len(tr) {
		t.Fatalf("PackTrailerLen = %d, %v", n, err)
	}
	if _, err := DecodePackTrailer(tr, end+int64(len(tr))+1); !errors.Is(err, ErrFormat) {
		t.Fatalf("size mismatch not caught: %v", err)
	}
	bad := bytes.Clone(tr)
	bad[len(bad)-1] ^= 1
	if _, err := DecodePackTrailer(bad, end+int64(len(tr))); !errors.Is(err, ErrFormat) {
		t.Fatalf("bad magic not caught: %v", err)
	}
}

func TestIndexRoundTrip(t *testing.T) {
	blobs, end := samplePack()
	packs := []IndexPack{{ID: testID(40), Size: end + 500, Blobs: blobs}, {ID: testID(50), Size: 1 << 20}}
	data := EncodeIndex(packs)
	got, err := DecodeIndex(data)
	if err != nil {
		t.Fatal(err)
	}
	if len(got) != 2 || got[0].ID != packs[0].ID || len(got[0].Blobs) != 3 || got[0].Blobs[2] != blobs[2] {
		t.Fatalf("round trip: %+v", got)
	}
	for cut := 0; cut < len(data); cut++ {
		if _, err := DecodeIndex(data[:cut]); err == nil {
			t.Fatalf("truncation at %d not caught", cut)
		}
	}
}

func TestParseName(t *testing.T) {
	id := testID(7)
	for _, tc := range []struct {
		prefix, name string
		ok           bool
	}{
		{DataPrefix, PackName(id), true},
		{IndexPrefix, IndexName(id), true},
		{SnapshotPrefix, SnapshotName(id), true},
		{DataPrefix, DataPrefix + "00/" + id.String(), false},
		{DataPrefix, DataPrefix + id.String(), false},
		{IndexPrefix, IndexPrefix + "xyz", false},
		{IndexPrefix, SnapshotName(id), false},
	} {
		got, err := ParseName(tc.prefix, tc.name)
		if (err == nil) != tc.ok || (tc.ok && got != id) {
			t.Errorf("ParseName(%q, %q) = %v, %v", tc.prefix, tc.name, got, err)
		}
	}
}

func TestFileHashInput(t *testing.T) {
	a := FileHashInput(5, []ID{testID(1)})
	b := FileHashInput(6, []ID{testID(1)})
	c := FileHashInput(5, []ID{testID(2)})
	if bytes.Equal(a, b) || bytes.Equal(a, c) {
		t.Fatal("file hash input does not depend on size and content")
	}
}
