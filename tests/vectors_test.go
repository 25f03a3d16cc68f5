package tests

import (
	"bytes"
	"context"
	"crypto/hkdf"
	"crypto/sha256"
	"encoding/binary"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"path/filepath"
	"reflect"
	"runtime"
	"slices"
	"sort"
	"strings"
	"testing"
	"time"

	"github.com/zeebo/blake3"

	"lifeboat/crypto"
	"lifeboat/engine/check"
	"lifeboat/engine/chunker"
	"lifeboat/engine/drill"
	"lifeboat/engine/format"
	"lifeboat/engine/fsmeta"
	"lifeboat/engine/repo"
	"lifeboat/engine/restore"
	"lifeboat/engine/syncer"
	"lifeboat/storage"
	"lifeboat/storage/local"
)

// The format test vectors (FORMAT.md, "Test vectors"): tiny repositories
// in testdata/vectors (repo-v1, format version 1 with JSON trees; repo,
// format version 2; repo-v3, format version 3, with extended attributes
// and inode flags), checked in as fixed bytes
// (sealing is randomized, so they cannot be regenerated identically), and
// beside each its vectors file (vectors-v1.json, vectors.json,
// vectors-v3.json), the
// expected plaintext of each of its objects. TestFormatVectors decrypts
// and decodes every object with the repository's real code, and again with
// the independent readers of vectors_age_test.go and vectors_tree_test.go,
// and compares both with the vectors file.
//
// LIFEBOAT_WRITE_VECTORS=v3 (or v2) writes a new repository of that
// version and its vectors file (every sealed byte changes; only do it when
// that version's format changes; 1 writes both); LIFEBOAT_WRITE_VECTORS=json
// (or v2json, v3json) rewrites only the vectors files from the checked-in
// repositories (when what they list changes).
const vectorDir = "testdata/vectors"

// The documented inputs of the vector repository (README.md beside it).
const (
	vectorPassphrase = "lifeboat test vectors"
	vectorScryptLogN = 10 // the smallest work factor `lifeboat init` accepts
)

var (
	vectorTime    = time.Date(2026, 12, 1, 12, 0, 0, 0, time.UTC)
	vectorChunker = chunker.Params{Min: 64, Avg: 256, Max: 1024}
)

// The extension-area content of the version 3 vector repository
// (README.md beside it).
var (
	vectorToolText   = []byte("#!/bin/sh\necho lifeboat\n")
	vectorNodumpText = []byte("not for dump(8)\n")
	// vectorNodumpFlags is FS_NODUMP_FL, which a file's owner may set.
	vectorNodumpFlags uint32 = 0x40
	vectorToolXattrs         = []format.Xattr{
		// A version 2 file capability (struct vfs_cap_data): magic_etc
		// 0x02000000 (no effective bit), permitted CAP_NET_BIND_SERVICE
		// (bit 10), no inheritable bits, little-endian.
		{Name: "security.capability", Value: []byte{0, 0, 0, 2, 0, 4, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0}},
		{Name: "user.comment", Value: []byte("vector file")},
		{Name: "user.mime_type", Value: []byte("text/x-shellscript")},
	}
	vectorSubXattrs = []format.Xattr{
		// A default POSIX ACL in the kernel's xattr form: version 2, then
		// (tag u16, perm u16, id u32) entries, little-endian: user::rwx,
		// group::r-x, other::r-x.
		{Name: "system.posix_acl_default", Value: []byte{2, 0, 0, 0,
			1, 0, 7, 0, 0xff, 0xff, 0xff, 0xff,
			4, 0, 5, 0, 0xff, 0xff, 0xff, 0xff,
			0x20, 0, 5, 0, 0xff, 0xff, 0xff, 0xff}},
	}
)

// vectorStream returns n bytes of the documented test stream: the
// concatenation of SHA-256(label ‖ uint64le(i)) for i = 0, 1, 2, …
func vectorStream(label string, n int) []byte {
	out := make([]byte, 0, n+32)
	for i := uint64(0); len(out) < n; i++ {
		h := sha256.New()
		h.Write([]byte(label))
		h.Write(binary.LittleEndian.AppendUint64(nil, i))
		out = h.Sum(out)
	}
	return out[:n]
}

// vectorRand is the Options.Rand of the vector repository's init: the
// master secret, then the repository ID.
func vectorRand() io.Reader {
	var b []byte
	b = append(b, vectorStream("lifeboat vectors master secret", 32)...)
	b = append(b, vectorStream("lifeboat vectors repository id", 16)...)
	return bytes.NewReader(b)
}

// Vectors is the content of vectors.json.
type Vectors struct {
	Comment       string        `json:"comment"`
	FormatVersion int           `json:"format_version"`
	Passphrase    string        `json:"passphrase"`
	ScryptLogN    int           `json:"scrypt_log_n"`
	MasterSecret  string        `json:"master_secret"`
	Derived       VectorDerived `json:"derived"`
	Files         []VectorFile  `json:"files"`
	Objects       []VectorObj   `json:"objects"`
}

// VectorDerived lists the keys derived from the master secret (§2, §9).
type VectorDerived struct {
	DataKey         string   `json:"data_key"`
	DataKeyID       string   `json:"data_key_id"`
	IDKey           string   `json:"id_key"`
	ChunkerGearSeed string   `json:"chunker_gear_seed"`
	GearTable       []string `json:"gear_table"` // 256 entries, hex of the uint64
}

// VectorFile is one file of the snapshot with its chunks (§5, §7, §9).
type VectorFile struct {
	Path      string        `json:"path"`
	Size      int           `json:"size"`
	Content   string        `json:"content_hex"`
	Chunks    []VectorChunk `json:"chunks"`
	HashInput string        `json:"hash_input_hex"`
	Hash      string        `json:"hash"`
}

// VectorChunk is one chunk of a file.
type VectorChunk struct {
	Offset int    `json:"offset"`
	Length int    `json:"length"`
	ID     string `json:"id"`
}

// VectorObj is one stored object.
type VectorObj struct {
	Name   string `json:"name"`
	Kind   string `json:"kind"`
	Size   int    `json:"size"`
	SHA256 string `json:"sha256"`
	// Content is the stored object itself, for plaintext objects.
	Content string `json:"content,omitempty"`
	// WrappedPlaintext is the plaintext of a key object's age file.
	WrappedPlaintext string `json:"wrapped_plaintext_hex,omitempty"`
	// Sealed describes the age header of a sealed object.
	Sealed *VectorSeal `json:"sealed,omitempty"`
	// Plaintext (JSON objects) or PlaintextHex (binary objects) is the
	// plaintext of a sealed object.
	Plaintext    string        `json:"plaintext,omitempty"`
	PlaintextHex string        `json:"plaintext_hex,omitempty"`
	Index        []VectorPack  `json:"index,omitempty"`
	Pack         *VectorLayout `json:"pack,omitempty"`
}

// VectorSeal is the header of a sealed object (§3).
type VectorSeal struct {
	KeyID       string `json:"key_id"`
	StanzaNonce string `json:"stanza_nonce"`
	FileKey     string `json:"file_key"`
	StreamNonce string `json:"stream_nonce"`
	HeaderSize  int    `json:"header_size"`
	PlainSize   int    `json:"plain_size"`
}

// VectorPack is one pack of an index object (§6).
type VectorPack struct {
	Pack       string       `json:"pack"`
	SealedSize int64        `json:"sealed_size"`
	Blobs      []VectorBlob `json:"blobs"`
}

// VectorBlob is one blob of a pack or index object (§5, §6).
type VectorBlob struct {
	Type      uint8  `json:"type"`
	Flags     uint8  `json:"flags"`
	ID        string `json:"id"`
	Offset    uint32 `json:"offset"`
	StoredLen uint32 `json:"stored_len"`
	RawLen    uint32 `json:"raw_len"`
	StoredHex string `json:"stored_hex,omitempty"` // the bytes in the pack
	RawHex    string `json:"raw_hex,omitempty"`    // the blob's plaintext
	// TreeJSON is a tree blob's tree in the JSON encoding (§7), when that
	// encoding can hold it (not with extended attributes or flags).
	TreeJSON string `json:"tree_json,omitempty"`
	// Tree is an LBT3 tree blob decoded field by field, its extension
	// areas included (§7).
	Tree *VectorTree `json:"tree,omitempty"`
}

// VectorLayout is a pack's plaintext layout (§5).
type VectorLayout struct {
	Blobs         []VectorBlob `json:"blobs"`
	TrailerOffset int          `json:"trailer_offset"`
	TrailerHex    string       `json:"trailer_hex"`
}

// vectorSet is one vector repository and its vectors file.
type vectorSet struct {
	// Version is the repository's format version.
	Version int
	// Repo and JSON are the repository directory and the vectors file,
	// under vectorDir.
	Repo, JSON string
}

// vectorSets are the vector repositories (README.md beside them): the
// version 1 one (JSON trees), the version 2 one, and the version 3 one, which adds extended attributes and
// inode flags (LBT3 trees, FORMAT.md §7).
var vectorSets = []vectorSet{
	{Version: 1, Repo: "repo-v1", JSON: "vectors-v1.json"},
	{Version: 2, Repo: "repo", JSON: "vectors.json"},
	{Version: 3, Repo: "repo-v3", JSON: "vectors-v3.json"},
}

// vectorWrite reports what LIFEBOAT_WRITE_VECTORS asks for set s: a new
// repository and vectors file ("1": every set; "v1", "v2", "v3": that set only),
// or only the vectors file from the checked-in repository ("json": every
// set; "v1json", "v2json", "v3json": that set only).
func vectorWrite(s vectorSet) (repo, json bool) {
	tag := fmt.Sprintf("v%d", s.Version)
	switch os.Getenv("LIFEBOAT_WRITE_VECTORS") {
	case "1", tag:
		return true, true
	case "json", tag + "json":
		return false, true
	}
	return false, false
}

func TestFormatVectors(t *testing.T) {
	for _, s := range vectorSets {
		t.Run(fmt.Sprintf("v%d", s.Version), func(t *testing.T) { testVectorSet(t, s) })
	}
}

func testVectorSet(t *testing.T, s vectorSet) {
	dir := filepath.Join(vectorDir, s.Repo)
	if wr, wj := vectorWrite(s); wr || wj {
		if wr {
			writeVectorRepo(t, dir, s.Version)
		}
		v := describeVectors(t, dir)
		data, err := json.MarshalIndent(v, "", "  ")
		if err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(filepath.Join(vectorDir, s.JSON), append(data, '\n'), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	data, err := os.ReadFile(filepath.Join(vectorDir, s.JSON))
	if err != nil {
		t.Fatal(err)
	}
	var want Vectors
	dec := json.NewDecoder(bytes.NewReader(data))
	dec.DisallowUnknownFields()
	if err := dec.Decode(&want); err != nil {
		t.Fatal(err)
	}
	got := describeVectors(t, dir)
	if !reflect.DeepEqual(got.Derived, want.Derived) {
		t.Errorf("derived keys differ:\n got %+v\nwant %+v", got.Derived, want.Derived)
	}
	if !reflect.DeepEqual(got.Files, want.Files) {
		t.Errorf("files differ:\n got %+v\nwant %+v", got.Files, want.Files)
	}
	if len(got.Objects) != len(want.Objects) {
		t.Errorf("%d objects in the repository, %s lists %d", len(got.Objects), s.JSON, len(want.Objects))
	}
	for i := range min(len(got.Objects), len(want.Objects)) {
		if g, w := got.Objects[i], want.Objects[i]; !reflect.DeepEqual(g, w) {
			gj, _ := json.Marshal(g)
			wj, _ := json.Marshal(w)
			t.Errorf("object %s:\n got %s\nwant %s", w.Name, gj, wj)
		}
	}
	got.Objects, got.Files, want.Objects, want.Files = nil, nil, nil, nil
	if !reflect.DeepEqual(*got, want) {
		t.Errorf("vectors differ:\n got %+v\nwant %+v", got, want)
	}
	if want.FormatVersion != s.Version {
		t.Errorf("the vector repository %s is of version %d; README.md says %d", s.Repo, want.FormatVersion, s.Version)
	}
	restoreVectorRepo(t, dir, want)
}

// writeVectorRepo writes a vector repository of format version version:
// one snapshot of /srv/data with the documented files (from version 3 on,
// with extended attributes and inode flags), built through the
// repository's own API so that every plaintext but the pack names is
// reproducible.
func writeVectorRepo(t *testing.T, dir string, version int) {
	t.Helper()
	// One pack slot per blob type, so the data blobs share one pack.
	defer runtime.GOMAXPROCS(runtime.GOMAXPROCS(1))
	if err := os.RemoveAll(dir); err != nil {
		t.Fatal(err)
	}
	st, err := local.New(dir)
	if err != nil {
		t.Fatal(err)
	}
	rc, err := crypto.PassphraseRecipient([]byte(vectorPassphrase), vectorScryptLogN)
	if err != nil {
		t.Fatal(err)
	}
	ctx := context.Background()
	now := func() time.Time { return vectorTime }
	r, err := repo.Init(ctx, st, repo.InitOptions{
		Options:   repo.Options{Now: now, Rand: vectorRand()},
		Recipient: rc, KeyLabel: "vectors", Host: "vectors-host", Username: "user",
		Chunker: vectorChunker, PackSize: 1 << 20,
		FormatVersion: version,
	})
	if err != nil {
		t.Fatal(err)
	}
	mtime := time.Date(2026, 11, 30, 8, 30, 0, 123456789, time.UTC)
	ctime := time.Date(2026, 11, 30, 8, 31, 0, 987654321, time.UTC)
	var text []byte
	for i := 1; len(text) < 2000; i++ {
		text = fmt.Appendf(text, "line %d: the quick brown fox jumps over the lazy dog\n", i)
	}
	saveFile := func(name string, data []byte, inode, links uint64) format.Node {
		t.Helper()
		var content []format.ID
		for rest := data; len(rest) > 0; {
			n := chunker.Cut(rest, r.ChunkerParams(), r.Gear())
			id := r.Hash(rest[:n])
			if _, err := r.SaveBlob(ctx, format.BlobData, id, rest[:n]); err != nil {
				t.Fatal(err)
			}
			content = append(content, id)
			rest = rest[n:]
		}
		h := r.FileHash(uint64(len(data)), content)
		return format.Node{Name: name, Type: format.TypeFile, Mode: 0o644, UID: 1000, GID: 1000,
			User: "user", Group: "user", MTime: mtime, CTime: ctime, Inode: inode, DeviceID: 2049,
			Links: links, Size: uint64(len(data)), Content: content, Hash: &h}
	}
	dirNode := func(name string, sub format.ID, uid uint32, user string) format.Node {
		return format.Node{Name: name, Type: format.TypeDir, Mode: 0o755, UID: uid, GID: uid,
			User: user, Group: user, MTime: mtime, CTime: ctime, DeviceID: 2049, Subtree: &sub}
	}
	saveTree := func(nodes ...format.Node) format.ID {
		t.Helper()
		id, err := r.SaveTree(ctx, &format.Tree{Nodes: nodes})
		if err != nil {
			t.Fatal(err)
		}
		return id
	}
	hello := []byte("Hello, Lifeboat!\n")
	sub := saveTree(saveFile("hardlink.txt", hello, 12, 2))
	nodes := []format.Node{
		saveFile("empty", nil, 10, 1),
		saveFile("hello.txt", hello, 12, 2),
		format.Node{Name: "link", Type: format.TypeSymlink, Mode: 0o777, UID: 1000, GID: 1000,
			User: "user", Group: "user", MTime: mtime, CTime: ctime, DeviceID: 2049, LinkTarget: "hello.txt"},
		saveFile("notes.txt", text, 13, 1),
		format.Node{Name: "pipe", Type: format.TypeFIFO, Mode: 0o600, UID: 1000, GID: 1000,
			User: "user", Group: "user", MTime: mtime, CTime: ctime, DeviceID: 2049},
		saveFile("random.bin", vectorStream("lifeboat vectors random.bin", 3000), 14, 1),
		dirNode("sub", sub, 1000, "user"),
	}
	files, fileBytes := 5, 2*len(hello)+len(text)+3000
	if version >= 3 {
		// The extension area (FORMAT.md §7): a file with two user.*
		// attributes and a file capability, a directory with a default
		// ACL, a file with the no-dump inode flag.
		nodump, tool := saveFile("nodump.txt", vectorNodumpText, 15, 1), saveFile("tool", vectorToolText, 16, 1)
		nodump.Flags = vectorNodumpFlags
		tool.Mode = 0o755
		tool.Xattrs = vectorToolXattrs
		nodes[6].Xattrs = vectorSubXattrs
		nodes = append(nodes, nodump, tool)
		slices.SortFunc(nodes, func(a, b format.Node) int { return strings.Compare(a.Name, b.Name) })
		files, fileBytes = files+2, fileBytes+len(vectorNodumpText)+len(vectorToolText)
	}
	data := saveTree(nodes...)
	srv := saveTree(dirNode("data", data, 1000, "user"))
	root := saveTree(dirNode("srv", srv, 0, "root"))
	stats, err := r.Flush(ctx)
	if err != nil {
		t.Fatal(err)
	}
	snap := &format.Snapshot{
		Version: version, Time: vectorTime, Host: "vectors-host", Username: "user",
		Paths: []string{"/srv/data"}, Tags: []string{"vectors"}, Tree: root, Program: "lifeboat format vectors",
		Summary: &format.Summary{Start: vectorTime, End: vectorTime.Add(2 * time.Second),
			FilesNew: int64(files), Dirs: 4, TotalFiles: int64(files), TotalBytes: int64(fileBytes),
			BytesRead:  int64(fileBytes),
			BlobsAdded: stats.Blobs, BytesAdded: stats.BytesAdded, BytesStored: stats.BytesStored, PacksAdded: stats.Packs},
	}
	if _, err := r.SaveSnapshot(ctx, snap); err != nil {
		t.Fatal(err)
	}
	if err := r.LoadIndex(ctx); err != nil {
		t.Fatal(err)
	}
	var packs []format.ID
	for _, p := range r.Index().Packs() {
		packs = append(packs, p.ID)
	}
	slices.SortFunc(packs, func(a, b format.ID) int { return bytes.Compare(a[:], b[:]) })
	rec := &drill.Record{Version: drill.RecordVersion, Kind: drill.KindCheck, Time: vectorTime.Add(time.Hour),
		Host: "vectors-host", Packs: len(packs), Coverage: map[string][]format.ID{"": packs}}
	if _, err := drill.SaveRecord(ctx, r, rec); err != nil {
		t.Fatal(err)
	}
	state, err := syncer.EncodeState(&syncer.State{Version: syncer.StateVersion, Region: "eu",
		Time: vectorTime.Add(30 * time.Minute), Host: "vectors-host"})
	if err != nil {
		t.Fatal(err)
	}
	if err := storage.PutBytes(ctx, st, syncer.StateName("eu"), state, storage.PutOptions{}); err != nil {
		t.Fatal(err)
	}
}

// describeVectors reads every object of the vector repository and returns
// what vectors.json says about it, failing the test when the real code and
// the independent reader disagree, or when an object breaks a rule of
// FORMAT.md that this test can check without the real code.
func describeVectors(t *testing.T, dir string) *Vectors {
	t.Helper()
	ctx := context.Background()
	v := &Vectors{
		Comment: "Expected content of every object of " + filepath.Base(dir) + "/ (see README.md and FORMAT.md, Test vectors). " +
			"Hex is lowercase; IDs are hex; sizes in bytes. Generated by tests/vectors_test.go.",
		Passphrase: vectorPassphrase,
	}
	st, err := local.Open(dir)
	if err != nil {
		t.Fatal(err)
	}
	r, err := repo.Open(ctx, st, crypto.PassphraseIdentity([]byte(vectorPassphrase)), repo.Options{})
	if err != nil {
		t.Fatal(err)
	}
	if err := r.LoadIndex(ctx); err != nil {
		t.Fatal(err)
	}
	v.FormatVersion = r.Config().Version

	// The objects, sorted by name.
	var names []string
	err = filepath.WalkDir(dir, func(p string, d fs.DirEntry, err error) error {
		if err != nil || d.IsDir() {
			return err
		}
		rel, _ := filepath.Rel(dir, p)
		names = append(names, filepath.ToSlash(rel))
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	sort.Strings(names)
	raw := map[string][]byte{}
	for _, name := range names {
		if raw[name], err = os.ReadFile(filepath.Join(dir, filepath.FromSlash(name))); err != nil {
			t.Fatal(err)
		}
	}

	// §2: the key object and the master secret inside it.
	var master *crypto.MasterKey
	var secret []byte
	for _, name := range names {
		if !strings.HasPrefix(name, format.KeysPrefix) {
			continue
		}
		k, err := format.DecodeKey(raw[name])
		if err != nil {
			t.Fatal(err)
		}
		if master, err = crypto.UnwrapMasterKey(k.Wrapped, crypto.PassphraseIdentity([]byte(vectorPassphrase))); err != nil {
			t.Fatal(err)
		}
		f, err := parseAge(k.Wrapped)
		if err != nil {
			t.Fatalf("%s: wrapped: %v", name, err)
		}
		fk, logN, err := unwrapScryptStanza(f, []byte(vectorPassphrase))
		if err != nil {
			t.Fatalf("%s: %v", name, err)
		}
		plain, err := openAgePayload(f, fk)
		if err != nil {
			t.Fatalf("%s: %v", name, err)
		}
		const magic = "lifeboat master key v1\n"
		if len(plain) != 55 || !strings.HasPrefix(string(plain), magic) {
			t.Fatalf("%s: wrapped plaintext %x is not the magic and a 32-byte secret", name, plain)
		}
		secret = plain[len(magic):]
		v.ScryptLogN = logN
	}
	if master == nil {
		t.Fatal("no key object")
	}
	v.MasterSecret = hex.EncodeToString(secret)
	hk := func(info string, n int) []byte {
		b, err := hkdf.Key(sha256.New, secret, nil, info, n)
		if err != nil {
			t.Fatal(err)
		}
		return b
	}
	dataKey, dataKeyID := hk("lifeboat/v1 data key", 32), hk("lifeboat/v1 data key id", 8)
	idKey, gearSeed := hk("lifeboat/v1 id key", 32), hk("lifeboat/v1 derived: chunker gear", 32)
	v.Derived = VectorDerived{DataKey: hex.EncodeToString(dataKey), DataKeyID: hex.EncodeToString(dataKeyID),
		IDKey: hex.EncodeToString(idKey), ChunkerGearSeed: hex.EncodeToString(gearSeed)}
	if g := chunker.NewGear(gearSeed); *g != *r.Gear() {
		t.Fatal("the repository's gear table is not NewGear(HKDF(master, \"lifeboat/v1 derived: chunker gear\"))")
	}
	for _, e := range r.Gear() {
		v.Derived.GearTable = append(v.Derived.GearTable, fmt.Sprintf("%016x", e))
	}
	keyedID := func(data []byte) format.ID {
		h, err := blake3.NewKeyed(idKey)
		if err != nil {
			t.Fatal(err)
		}
		h.Write(data)
		var id format.ID
		h.Sum(id[:0])
		if id != r.Hash(data) {
			t.Fatalf("keyed BLAKE3 under the derived id key differs from the repository's hash")
		}
		return id
	}
	dk := master.DataKey()

	for _, name := range names {
		data := raw[name]
		sum := sha256.Sum256(data)
		o := VectorObj{Name: name, Size: len(data), SHA256: hex.EncodeToString(sum[:])}
		sealed := true
		switch {
		case name == format.ConfigName:
			o.Kind = "config"
		case strings.HasPrefix(name, format.KeysPrefix):
			o.Kind, sealed = "key", false
		case strings.HasPrefix(name, format.DataPrefix):
			o.Kind = "pack"
		case strings.HasPrefix(name, format.IndexPrefix):
			o.Kind = "index"
		case strings.HasPrefix(name, format.SnapshotPrefix):
			o.Kind = "snapshot"
		case strings.HasPrefix(name, repo.DrillPrefix):
			o.Kind = "drill"
		case strings.HasPrefix(name, syncer.StatePrefix):
			o.Kind, sealed = "state", false
		default:
			t.Fatalf("unexpected object %s", name)
		}
		if o.Kind != "config" && o.Kind != "state" {
			prefix := name[:strings.IndexByte(name, '/')+1]
			id, err := format.ParseName(prefix, name)
			if err != nil || id != format.ID(sum) {
				t.Fatalf("%s is not named by the SHA-256 of its bytes (%x)", name, sum)
			}
		}
		if !sealed {
			o.Content = string(data)
			if o.Kind == "key" {
				k, _ := format.DecodeKey(data)
				f, _ := parseAge(k.Wrapped)
				fk, _, _ := unwrapScryptStanza(f, []byte(vectorPassphrase))
				plain, _ := openAgePayload(f, fk)
				o.WrappedPlaintext = hex.EncodeToString(plain)
			} else if _, err := syncer.DecodeState(data); err != nil {
				t.Fatalf("%s: %v", name, err)
			}
			v.Objects = append(v.Objects, o)
			continue
		}
		plain, err := dk.Open(data)
		if err != nil {
			t.Fatalf("%s: %v", name, err)
		}
		f, err := parseAge(data)
		if err != nil {
			t.Fatalf("%s: %v", name, err)
		}
		fk, err := unwrapDataKeyStanza(f, dataKey, dataKeyID)
		if err != nil {
			t.Fatalf("%s: %v", name, err)
		}
		indep, err := openAgePayload(f, fk)
		if err != nil {
			t.Fatalf("%s: %v", name, err)
		}
		if !bytes.Equal(indep, plain) {
			t.Fatalf("%s: the independent reader's plaintext differs from the real code's", name)
		}
		if want := crypto.SealedSize(int64(len(plain))); f.HeaderLen+16 != crypto.HeaderSize || int64(len(data)) != want {
			t.Fatalf("%s: header %d bytes, sealed size %d, want %d and %d", name, f.HeaderLen+16, len(data), crypto.HeaderSize, want)
		}
		stanzaNonce, _ := ageB64.DecodeString(f.Stanzas[0].Args[1])
		o.Sealed = &VectorSeal{KeyID: hex.EncodeToString(dataKeyID), StanzaNonce: hex.EncodeToString(stanzaNonce),
			FileKey: hex.EncodeToString(fk), StreamNonce: hex.EncodeToString(f.StreamNonce),
			HeaderSize: crypto.HeaderSize, PlainSize: len(plain)}
		switch o.Kind {
		case "config":
			o.Plaintext = string(plain)
			if _, err := format.DecodeConfig(plain); err != nil {
				t.Fatal(err)
			}
		case "snapshot":
			o.Plaintext = string(plain)
			if _, err := r.LoadSnapshot(ctx, format.ID(sum)); err != nil {
				t.Fatal(err)
			}
		case "drill":
			o.Plaintext = string(plain)
			if _, err := drill.DecodeRecord(plain); err != nil {
				t.Fatal(err)
			}
		case "index":
			o.PlaintextHex = hex.EncodeToString(plain)
			packs, err := format.DecodeIndex(plain)
			if err != nil {
				t.Fatal(err)
			}
			indep := parseIndexIndependently(t, plain)
			for _, p := range packs {
				vp := VectorPack{Pack: p.ID.String(), SealedSize: p.Size}
				for _, b := range p.Blobs {
					vp.Blobs = append(vp.Blobs, VectorBlob{Type: uint8(b.Type), Flags: b.Flags, ID: b.ID.String(),
						Offset: b.Offset, StoredLen: b.Length, RawLen: b.RawLen})
				}
				o.Index = append(o.Index, vp)
			}
			if !reflect.DeepEqual(indep, o.Index) {
				t.Fatalf("%s: the independent index parse differs:\n%+v\n%+v", name, indep, o.Index)
			}
		case "pack":
			o.PlaintextHex = hex.EncodeToString(plain)
			o.Pack = describePack(t, r, name, plain, keyedID)
		}
		v.Objects = append(v.Objects, o)
	}

	// The snapshot's files, walked with the real code.
	snaps, err := r.Snapshots(ctx)
	if err != nil || len(snaps) != 1 {
		t.Fatalf("snapshots: %v, %d", err, len(snaps))
	}
	var walk func(id format.ID, path string)
	walk = func(id format.ID, path string) {
		tree, err := r.LoadTree(ctx, id)
		if err != nil {
			t.Fatal(err)
		}
		for _, n := range tree.Nodes {
			p := path + "/" + n.Name
			switch n.Type {
			case format.TypeDir:
				walk(*n.Subtree, p)
			case format.TypeFile:
				vf := VectorFile{Path: p, Size: int(n.Size)}
				var content []byte
				for _, cid := range n.Content {
					b, err := r.LoadBlob(ctx, cid)
					if err != nil {
						t.Fatal(err)
					}
					if keyedID(b) != cid {
						t.Fatalf("%s: chunk %s is not named by its keyed hash", p, cid)
					}
					vf.Chunks = append(vf.Chunks, VectorChunk{Offset: len(content), Length: len(b), ID: cid.String()})
					content = append(content, b...)
				}
				if len(content) != int(n.Size) {
					t.Fatalf("%s: %d bytes of content, size %d", p, len(content), n.Size)
				}
				for i, c := range vf.Chunks {
					if cut := chunker.Cut(content[c.Offset:], r.ChunkerParams(), r.Gear()); cut != c.Length {
						t.Fatalf("%s: chunk %d has %d bytes, the chunker cuts %d", p, i, c.Length, cut)
					}
				}
				input := []byte("lifeboat file v1\x00")
				input = binary.LittleEndian.AppendUint64(input, n.Size)
				for _, cid := range n.Content {
					input = append(input, cid[:]...)
				}
				if keyedID(input) != *n.Hash {
					t.Fatalf("%s: hash is not the keyed hash of the documented input", p)
				}
				vf.Content, vf.HashInput, vf.Hash = hex.EncodeToString(content), hex.EncodeToString(input), n.Hash.String()
				v.Files = append(v.Files, vf)
			}
		}
	}
	walk(snaps[0].Tree, "")

	res, err := check.Run(ctx, r, check.Options{ReadData: true})
	if err != nil || res.Problems != 0 || res.Warnings != 0 {
		t.Fatalf("check: %v %+v", err, res)
	}
	return v
}

// describePack lays out a pack plaintext: its blobs, checked against the
// trailer as FORMAT.md §5 describes it (parsed here independently), and
// against the real decoder.
func describePack(t *testing.T, r *repo.Repository, name string, plain []byte, keyedID func([]byte) format.ID) *VectorLayout {
	t.Helper()
	n := len(plain)
	if n < 8 || string(plain[n-4:]) != "LBP1" {
		t.Fatalf("%s: no LBP1 magic", name)
	}
	tlen := int(binary.LittleEndian.Uint32(plain[n-8:]))
	start := n - 8 - tlen
	tr := plain[start : n-8]
	if tr[0] != 1 {
		t.Fatalf("%s: trailer version %d", name, tr[0])
	}
	count, k := binary.Uvarint(tr[1:])
	rest := tr[1+k:]
	l := &VectorLayout{TrailerOffset: start, TrailerHex: hex.EncodeToString(plain[start:])}
	off := 0
	for range count {
		var b VectorBlob
		b.Type, b.Flags = rest[0], rest[1]
		id := format.ID(rest[2:34])
		b.ID = id.String()
		rest = rest[34:]
		sl, k1 := binary.Uvarint(rest)
		rl, k2 := binary.Uvarint(rest[k1:])
		rest = rest[k1+k2:]
		b.Offset, b.StoredLen, b.RawLen = uint32(off), uint32(sl), uint32(rl)
		stored := plain[off : off+int(sl)]
		off += int(sl)
		b.StoredHex = hex.EncodeToString(stored)
		blob, err := r.LoadBlob(context.Background(), id)
		if err != nil {
			t.Fatal(err)
		}
		if b.Flags&1 == 0 && !bytes.Equal(blob, stored) || len(blob) != int(rl) || keyedID(blob) != id {
			t.Fatalf("%s: blob %s does not match its trailer entry", name, id)
		}
		b.RawHex = hex.EncodeToString(blob)
		if b.Type == uint8(format.BlobTree) {
			tree, err := format.DecodeTree(blob)
			if err != nil {
				t.Fatal(err)
			}
			if bytes.HasPrefix(blob, []byte("{")) {
				// A JSON tree (version 1): the encoding is deterministic,
				// so encoding the decoded tree gives the stored bytes.
				if js, err := format.EncodeTree(tree, format.TreeJSON); err != nil || !bytes.Equal(js, blob) {
					t.Fatalf("%s: JSON tree %s does not encode back to its bytes: %v", name, id, err)
				}
			} else {
				// The independent reader of §7 (vectors_tree_test.go)
				// must read the tree the real code reads.
				vt, err := parseTreeIndependently(blob)
				if err != nil {
					t.Fatalf("%s: tree %s: independent reader: %v", name, id, err)
				}
				if got, want := vt.withoutAreas(), vectorTreeOf(tree); !reflect.DeepEqual(got, want) {
					t.Fatalf("%s: tree %s: the independent reader differs:\n%+v\n%+v", name, id, got, want)
				}
				if vt.Magic == "LBT3" {
					b.Tree = vt
				}
			}
			// JSON (version 1) cannot hold extended attributes or flags.
			js, err := format.EncodeTree(tree, format.TreeJSON)
			switch {
			case errors.Is(err, format.ErrNotRepresentable):
			case err != nil:
				t.Fatal(err)
			default:
				if back, err := format.DecodeTree(js); err != nil || !reflect.DeepEqual(back, tree) {
					t.Fatalf("%s: tree %s does not round-trip through JSON: %v", name, id, err)
				}
				b.TreeJSON = string(js)
			}
		}
		l.Blobs = append(l.Blobs, b)
	}
	if len(rest) != 0 || off != start {
		t.Fatalf("%s: trailer has %d bytes left, blobs end at %d, trailer at %d", name, len(rest), off, start)
	}
	blobs, err := format.DecodePackTrailer(plain[start:], int64(n))
	if err != nil || len(blobs) != len(l.Blobs) {
		t.Fatalf("%s: real trailer decode: %v", name, err)
	}
	return l
}

// parseIndexIndependently parses an index object plaintext as FORMAT.md §6
// describes it.
func parseIndexIndependently(t *testing.T, b []byte) []VectorPack {
	t.Helper()
	if !bytes.HasPrefix(b, []byte("LBI1")) {
		t.Fatal("index without LBI1 magic")
	}
	b = b[4:]
	uv := func() uint64 {
		v, k := binary.Uvarint(b)
		if k <= 0 {
			t.Fatal("bad uvarint in index")
		}
		b = b[k:]
		return v
	}
	var out []VectorPack
	for range uv() {
		p := VectorPack{Pack: hex.EncodeToString(b[:32])}
		b = b[32:]
		p.SealedSize = int64(uv())
		for range uv() {
			vb := VectorBlob{Type: b[0], Flags: b[1], ID: hex.EncodeToString(b[2:34])}
			b = b[34:]
			vb.Offset, vb.StoredLen, vb.RawLen = uint32(uv()), uint32(uv()), uint32(uv())
			p.Blobs = append(p.Blobs, vb)
		}
		out = append(out, p)
	}
	if len(b) != 0 {
		t.Fatalf("index: %d trailing bytes", len(b))
	}
	return out
}

// restoreVectorRepo restores the vector snapshot of the repository in dir
// and compares the files with its vectors; from version 3 on, on Linux,
// the extended attributes and inode flags too (as a non-owner restore:
// security.capability goes with ownership and is left out).
func restoreVectorRepo(t *testing.T, dir string, v Vectors) {
	t.Helper()
	ctx := context.Background()
	st, err := local.Open(dir)
	if err != nil {
		t.Fatal(err)
	}
	r, err := repo.Open(ctx, st, crypto.PassphraseIdentity([]byte(v.Passphrase)), repo.Options{})
	if err != nil {
		t.Fatal(err)
	}
	if err := r.LoadIndex(ctx); err != nil {
		t.Fatal(err)
	}
	snap, err := r.FindSnapshot(ctx, "latest", repo.Filter{})
	if err != nil {
		t.Fatal(err)
	}
	target := t.TempDir()
	owner := false
	ext := v.FormatVersion >= 3 && runtime.GOOS == "linux"
	res, err := restore.Run(ctx, r, snap.Snapshot, restore.Options{Target: target, Owner: &owner,
		NoXattrs: !ext, NoFlags: !ext,
		OnError: func(p string, err error) { t.Errorf("restore %s: %v", p, err) }})
	if err != nil || res.Errors > 0 || res.XattrErrors > 0 {
		t.Fatalf("restore: %v %+v", err, res)
	}
	for _, f := range v.Files {
		got, err := os.ReadFile(filepath.Join(target, filepath.FromSlash(f.Path)))
		if err != nil {
			t.Fatal(err)
		}
		if hex.EncodeToString(got) != f.Content {
			t.Errorf("%s: restored %d bytes that differ from the vectors", f.Path, len(got))
		}
	}
	if lt, err := os.Readlink(filepath.Join(target, "srv", "data", "link")); err != nil || lt != "hello.txt" {
		t.Errorf("link: %q, %v", lt, err)
	}
	a, errA := os.Stat(filepath.Join(target, "srv", "data", "hello.txt"))
	b, errB := os.Stat(filepath.Join(target, "srv", "data", "sub", "hardlink.txt"))
	if err := errors.Join(errA, errB); err != nil || !os.SameFile(a, b) {
		t.Errorf("hello.txt and sub/hardlink.txt are not one hard-linked file: %v", err)
	}
	if ext {
		checkVectorExtensions(t, filepath.Join(target, "srv", "data"))
	}
}

// checkVectorExtensions checks the extended attributes and the inode flags
// restored from the version 3 vector repository into dir (/srv/data).
func checkVectorExtensions(t *testing.T, dir string) {
	t.Helper()
	want := map[string][]format.Xattr{"tool": vectorToolXattrs[1:], "sub": vectorSubXattrs}
	for name, xs := range want {
		for _, x := range xs {
			got, err := fsmeta.GetXattr(filepath.Join(dir, name), x.Name)
			if err != nil || !bytes.Equal(got, x.Value) {
				t.Errorf("%s: %s restored as %x (%v), want %x", name, x.Name, got, err, x.Value)
			}
		}
	}
	if _, err := fsmeta.GetXattr(filepath.Join(dir, "tool"), "security.capability"); err == nil {
		t.Error("tool: security.capability restored without ownership")
	}
	f, err := os.Open(filepath.Join(dir, "nodump.txt"))
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	if fl, err := fsmeta.Flags(int(f.Fd())); err != nil || fl&vectorNodumpFlags == 0 {
		t.Errorf("nodump.txt: inode flags %#x (%v), want %#x set", fl, err, vectorNodumpFlags)
	}
}
