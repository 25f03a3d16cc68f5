package formatv4

import (
	"encoding/binary"
	"fmt"
)

// BlobType says what a blob holds.
type BlobType uint8

// Blob types. Values are stored; never reuse one.
const (
	BlobData BlobType = 1
	BlobTree BlobType = 2
)

func (t BlobType) String() string {
	switch t {
	case BlobData:
		return "data"
	case BlobTree:
		return "tree"
	}
	return fmt.Sprintf("blobtype(%d)", uint8(t))
}

// Blob flags.
const (
	// FlagCompressed marks a blob stored zstd-compressed.
	FlagCompressed uint8 = 1
)

// Blob describes one blob inside a pack's plaintext.
type Blob struct {
	Type   BlobType
	Flags  uint8
	ID     ID
	Offset uint32 // within the pack plaintext
	Length uint32 // stored (possibly compressed) length
	RawLen uint32 // plaintext length after decompression
}

// Compressed reports whether the blob is stored compressed.
func (b *Blob) Compressed() bool { return b.Flags&FlagCompressed != 0 }

type decoder struct {
	what string
	b    []byte
	err  error
}

func (d *decoder) fail(msg string, args ...any) {
	if d.err == nil {
		d.err = formatErr(d.what, msg, args...)
	}
}

func (d *decoder) byte() uint8 {
	if d.err != nil || len(d.b) < 1 {
		d.fail("truncated")
		return 0
	}
	v := d.b[0]
	d.b = d.b[1:]
	return v
}

func (d *decoder) id() ID {
	var id ID
	if d.err != nil || len(d.b) < 32 {
		d.fail("truncated")
		return id
	}
	copy(id[:], d.b)
	d.b = d.b[32:]
	return id
}

func (d *decoder) uvarint(max uint64) uint64 {
	if d.err != nil {
		return 0
	}
	v, n := binary.Uvarint(d.b)
	if n <= 0 {
		d.fail("bad varint")
		return 0
	}
	if v > max {
		d.fail("value %d above %d", v, max)
		return 0
	}
	d.b = d.b[n:]
	return v
}

// blob decodes type, flags, id, [offset], length, rawlen.
func (d *decoder) blob(withOffset bool) Blob {
	var b Blob
	b.Type = BlobType(d.byte())
	b.Flags = d.byte()
	b.ID = d.id()
	if withOffset {
		b.Offset = uint32(d.uvarint(MaxPackSize))
	}
	b.Length = uint32(d.uvarint(MaxChunkSize + 1<<16))
	b.RawLen = uint32(d.uvarint(MaxTreeSize))
	if d.err != nil {
		return b
	}
	if b.Type != BlobData && b.Type != BlobTree {
		d.fail("unknown blob type %d", b.Type)
	}
	if b.Flags&^FlagCompressed != 0 {
		d.fail("unknown blob flags %#x", b.Flags)
	}
	if !b.Compressed() && b.Length != b.RawLen {
		d.fail("uncompressed blob %s: length %d != raw length %d", b.ID.Short(), b.Length, b.RawLen)
	}
	return b
}

func appendBlob(dst []byte, b *Blob, withOffset bool) []byte {
	dst = append(dst, byte(b.Type), b.Flags)
	dst = append(dst, b.ID[:]...)
	if withOffset {
		dst = binary.AppendUvarint(dst, uint64(b.Offset))
	}
	dst = binary.AppendUvarint(dst, uint64(b.Length))
	return binary.AppendUvarint(dst, uint64(b.RawLen))
}

// Pack trailer: the pack plaintext is the concatenation of its blobs, then
// the trailer (version byte 1, uvarint blob count, then per blob: type,
// flags, 32-byte ID, uvarint stored length, uvarint raw length), then the
// trailer's length as 4 little-endian bytes, then the magic "LBP1". Blob
// offsets are implicit: each blob follows the previous one, from offset 0.
const (
	packMagic       = "LBP1"
	packTrailerTail = 8
)

// EncodePackTrailer returns the trailer to append after the blobs, including
// the length and magic.
func EncodePackTrailer(blobs []Blob) []byte {
	b := []byte{1}
	b = binary.AppendUvarint(b, uint64(len(blobs)))
	for i := range blobs {
		b = appendBlob(b, &blobs[i], false)
	}
	n := len(b)
	b = binary.LittleEndian.AppendUint32(b, uint32(n))
	return append(b, packMagic...)
}

// PackTrailerLen reads the trailer length from a pack plaintext's last 8
// bytes, returning the full number of bytes (trailer plus 8) to read from the
// end.
func PackTrailerLen(tail []byte) (int, error) {
	if len(tail) != packTrailerTail || string(tail[4:]) != packMagic {
		return 0, formatErr("pack trailer", "bad magic")
	}
	n := int(binary.LittleEndian.Uint32(tail))
	if n < 2 || n > MaxPackSize/32 {
		return 0, formatErr("pack trailer", "length %d", n)
	}
	return n + packTrailerTail, nil
}

// DecodePackTrailer decodes a trailer (as returned by EncodePackTrailer) of a
// pack whose plaintext is plainSize bytes, computing each blob's offset and
// checking the blobs exactly fill the space before the trailer.
func DecodePackTrailer(trailer []byte, plainSize int64) ([]Blob, error) {
	n, err := PackTrailerLen(trailer[max(0, len(trailer)-packTrailerTail):])
	if err != nil {
		return nil, err
	}
	if n != len(trailer) {
		return nil, formatErr("pack trailer", "length %d, have %d bytes", n, len(trailer))
	}
	d := &decoder{what: "pack trailer", b: trailer[:len(trailer)-packTrailerTail]}
	if v := d.byte(); v != 1 && d.err == nil {
		d.fail("version %d", v)
	}
	count := d.uvarint(uint64(len(d.b) / 34))
	blobs := make([]Blob, 0, count)
	var off int64
	for i := uint64(0); i < count && d.err == nil; i++ {
		b := d.blob(false)
		b.Offset = uint32(off)
		off += int64(b.Length)
		blobs = append(blobs, b)
	}
	if d.err != nil {
		return nil, d.err
	}
	if len(d.b) != 0 {
		return nil, formatErr("pack trailer", "%d trailing bytes", len(d.b))
	}
	if off+int64(len(trailer)) != plainSize {
		return nil, formatErr("pack trailer", "blobs end at %d, trailer starts at %d", off, plainSize-int64(len(trailer)))
	}
	return blobs, nil
}

// IndexPack lists one pack's blobs in an index object.
type IndexPack struct {
	ID    ID     // pack ID (SHA-256 of the sealed pack)
	Size  int64  // sealed size
	Blobs []Blob // with offsets
}

// Index object plaintext: magic "LBI1", uvarint pack count, then per pack:
// 32-byte pack ID, uvarint sealed size, uvarint blob count, then per blob:
// type, flags, 32-byte ID, uvarint offset, uvarint stored length, uvarint raw
// length.
const indexMagic = "LBI1"

// EncodeIndex encodes an index object's plaintext.
func EncodeIndex(packs []IndexPack) []byte {
	n := len(indexMagic) + 10
	for i := range packs {
		n += 48 + len(packs[i].Blobs)*48
	}
	b := make([]byte, 0, n)
	b = append(b, indexMagic...)
	b = binary.AppendUvarint(b, uint64(len(packs)))
	for i := range packs {
		p := &packs[i]
		b = append(b, p.ID[:]...)
		b = binary.AppendUvarint(b, uint64(p.Size))
		b = binary.AppendUvarint(b, uint64(len(p.Blobs)))
		for j := range p.Blobs {
			b = appendBlob(b, &p.Blobs[j], true)
		}
	}
	return b
}

// DecodeIndex decodes an index object's plaintext.
func DecodeIndex(data []byte) ([]IndexPack, error) {
	if len(data) > MaxIndexSize {
		return nil, formatErr("index", "%d bytes", len(data))
	}
	if len(data) < len(indexMagic) || string(data[:len(indexMagic)]) != indexMagic {
		return nil, formatErr("index", "bad magic")
	}
	d := &decoder{what: "index", b: data[len(indexMagic):]}
	count := d.uvarint(uint64(len(d.b) / 34))
	packs := make([]IndexPack, 0, count)
	for i := uint64(0); i < count && d.err == nil; i++ {
		var p IndexPack
		p.ID = d.id()
		p.Size = int64(d.uvarint(MaxPackSize + 1<<20))
		nb := d.uvarint(uint64(len(d.b) / 36))
		p.Blobs = make([]Blob, 0, nb)
		for j := uint64(0); j < nb && d.err == nil; j++ {
			b := d.blob(true)
			if d.err == nil && int64(b.Offset)+int64(b.Length) > p.Size {
				d.fail("blob %s beyond pack %s", b.ID.Short(), p.ID.Short())
			}
			p.Blobs = append(p.Blobs, b)
		}
		packs = append(packs, p)
	}
	if d.err != nil {
		return nil, d.err
	}
	if len(d.b) != 0 {
		return nil, formatErr("index", "%d trailing bytes", len(d.b))
	}
	return packs, nil
}
