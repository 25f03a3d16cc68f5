package format

import (
	"testing"
	"time"
)

func FuzzDecodeConfig(f *testing.F) {
	data, _ := EncodeConfig(validConfig())
	f.Add(data)
	f.Add([]byte(`{}`))
	f.Fuzz(func(t *testing.T, data []byte) {
		c, err := DecodeConfig(data)
		if err == nil {
			if err := c.Validate(); err != nil {
				t.Fatalf("decoded config does not validate: %v", err)
			}
		}
	})
}

func FuzzDecodeKey(f *testing.F) {
	data, _ := EncodeKey(&Key{Version: 1, Kind: "x25519", Recipient: "age1xyz", Wrapped: []byte("w"), Created: time.Unix(0, 0)})
	f.Add(data)
	f.Fuzz(func(t *testing.T, data []byte) { _, _ = DecodeKey(data) })
}

func FuzzDecodeSnapshot(f *testing.F) {
	data, _ := EncodeSnapshot(&Snapshot{Version: 1, Host: "h", Paths: []string{"/x"}, Tree: testID(1), Summary: &Summary{}})
	f.Add(data)
	f.Fuzz(func(t *testing.T, data []byte) { _, _ = DecodeSnapshot(data) })
}

func FuzzDecodeTree(f *testing.F) {
	h, sub := testID(1), testID(2)
	for _, enc := range []TreeEncoding{TreeJSON, TreeBinary} {
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
