package format

import (
	"bytes"
	"encoding/json"
	"errors"
	"testing"
	"time"
)

func FuzzDecodeConfig(f *testing.F) {
	data, _ := EncodeConfig(validConfig())
	f.Add(data)
	f.Add([]byte(`{}`))
	for _, v := range []int{2, 3, 4, 1 << 40} {
		c := validConfig()
		c.Version = v
		data, _ := json.Marshal(c)
		f.Add(data)
	}
	f.Fuzz(func(t *testing.T, data []byte) {
		c, err := DecodeConfig(data)
		if err == nil {
			if err := c.Validate(); err != nil {
				t.Fatalf("decoded config does not validate: %v", err)
			}
			if c.Version < 1 || c.Version > Version {
				t.Fatalf("decoded config of version %d", c.Version)
			}
		}
		if errors.Is(err, ErrNewerVersion) && errors.Is(err, ErrFormat) {
			t.Fatalf("error is both newer and malformed: %v", err)
		}
	})
}

func FuzzDecodeKey(f *testing.F) {
	data, _ := EncodeKey(&Key{Version: 1, Kind: "x25519", Recipient: "age1xyz", Wrapped: []byte("w"), Created: time.Unix(0, 0)})
	f.Add(data)
	f.Fuzz(func(t *testing.T, data []byte) { _, _ = DecodeKey(data) })
}

func FuzzDecodeSnapshot(f *testing.F) {
	for _, v := range []int{1, 2, 3, 4} {
		data, _ := EncodeSnapshot(&Snapshot{Version: v, Host: "h", Paths: []string{"/x"}, Tree: testID(1), Summary: &Summary{}})
		f.Add(data)
	}
	f.Fuzz(func(t *testing.T, data []byte) {
		s, err := DecodeSnapshot(data)
		if err == nil && (s.Version < 1 || s.Version > Version) {
			t.Fatalf("decoded snapshot of version %d", s.Version)
		}
	})
}

func FuzzDecodeTree(f *testing.F) {
	h, sub := testID(1), testID(2)
	ext, _ := EncodeTree(extTree(), TreeBinaryExt)
	f.Add(ext)
	f.Add(ext[:len(ext)/2])
	f.Add(lbt3("a", cat(field(extFlags<<1, []byte{0x10}), field(9<<1, []byte("optional"))), nil))
	f.Add(lbt3("a", field(9<<1|1, []byte("must")), nil))
	f.Add(lbt3("a", nil, field(7<<1|1, nil)))
	f.Add(lbt3("a", field(extXattrs<<1, []byte{1, 6, 'u', 's', 'e', 'r', '.', 'a', 1, 'v'}), nil))
	for _, enc := range []TreeEncoding{TreeJSON, TreeBinary, TreeBinaryExt} {
		data, _ := EncodeTree(&Tree{Nodes: []Node{
			{Name: "a", Type: TypeFile, Size: 1, Content: []ID{testID(3)}, Hash: &h},
			{Name: "b", Type: TypeDir, Subtree: &sub},
			{Name: "c", Type: TypeSymlink, LinkTarget: "/etc/passwd"},
		}}, enc)
		f.Add(data)
		full, _ := EncodeTree(fullTree(), enc)
		f.Add(full)
	}
	f.Fuzz(func(t *testing.T, data []byte) {
		tr, err := DecodeTree(data)
		if err != nil {
			return
		}
		for _, n := range tr.Nodes {
			if !ValidName(n.Name) {
				t.Fatalf("decoded unsafe name %q", n.Name)
			}
		}
		// What decodes re-encodes as LBT3 and decodes to the same tree
		// (unknown optional fields aside, which are not kept).
		again, err := EncodeTree(tr, TreeBinaryExt)
		if err != nil {
			t.Fatalf("re-encode: %v", err)
		}
		tr2, err := DecodeTree(again)
		if err != nil {
			t.Fatalf("decode re-encoded: %v", err)
		}
		if len(tr2.Nodes) != len(tr.Nodes) {
			t.Fatalf("re-encoded tree has %d nodes, want %d", len(tr2.Nodes), len(tr.Nodes))
		}
		for i := range tr.Nodes {
			a, b := tr.Nodes[i], tr2.Nodes[i]
			if a.Name != b.Name || a.Flags != b.Flags || len(a.Xattrs) != len(b.Xattrs) || a.LinkTarget != b.LinkTarget {
				t.Fatalf("node %d changed on re-encoding: %+v -> %+v", i, a, b)
			}
			for j := range a.Xattrs {
				if a.Xattrs[j].Name != b.Xattrs[j].Name || !bytes.Equal(a.Xattrs[j].Value, b.Xattrs[j].Value) {
					t.Fatalf("node %d xattr %d changed on re-encoding", i, j)
				}
			}
		}
	})
}

func FuzzDecodePackTrailer(f *testing.F) {
	blobs, end := samplePack()
	tr := EncodePackTrailer(blobs)
	f.Add(tr, end+int64(len(tr)))
	f.Fuzz(func(t *testing.T, data []byte, size int64) {
		blobs, err := DecodePackTrailer(data, size)
		if err != nil {
			return
		}
		var off int64
		for _, b := range blobs {
			if int64(b.Offset) != off {
				t.Fatalf("offset %d, want %d", b.Offset, off)
			}
			off += int64(b.Length)
		}
		if off+int64(len(data)) != size {
			t.Fatal("blobs do not fill the pack")
		}
	})
}

func FuzzDecodeIndex(f *testing.F) {
	blobs, end := samplePack()
	f.Add(EncodeIndex([]IndexPack{{ID: testID(4), Size: end + 300, Blobs: blobs}}))
	f.Fuzz(func(t *testing.T, data []byte) {
		packs, err := DecodeIndex(data)
		if err != nil {
			return
		}
		for _, p := range packs {
			for _, b := range p.Blobs {
				if int64(b.Offset)+int64(b.Length) > p.Size {
					t.Fatal("blob beyond pack")
				}
			}
		}
	})
}

func FuzzDecodeGCRecord(f *testing.F) {
	data, _ := EncodeGCRecord(&GCRecord{Version: GCRecordVersion, Generation: 3, RunID: "r", State: GCSweeping,
		Marked: time.Unix(1700000000, 0).UTC(), GraceSeconds: 60, Condemned: []ID{testID(1), testID(2)}, Pending: []string{"eu"}})
	f.Add(data)
	f.Add([]byte(`{"version":1}`))
	f.Fuzz(func(t *testing.T, data []byte) {
		g, err := DecodeGCRecord(data)
		if err != nil {
			return
		}
		again, err := EncodeGCRecord(g)
		if err != nil {
			t.Fatal(err)
		}
		if _, err := DecodeGCRecord(again); err != nil {
			t.Fatalf("re-encoded record does not decode: %v", err)
		}
	})
}
