package format

import (
	"bytes"
	"errors"
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
		{"future version", func(c *Config) { c.Version = Version + 1 }},
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
		t.Run(tc.name, func(t *testing.T) {
			data, err := EncodeTree(&Tree{Nodes: tc.nodes})
			if err != nil {
				t.Fatal(err)
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
