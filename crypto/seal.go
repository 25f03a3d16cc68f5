package crypto

import (
	"bytes"
	"crypto/cipher"
	"crypto/rand"
	"crypto/subtle"
	"encoding/base64"
	"errors"
	"fmt"
	"io"

	"filippo.io/age"
	"golang.org/x/crypto/chacha20poly1305"
)

// Sealed objects are age files (age-encryption.org/v1) with exactly one
// recipient stanza of the custom type "lifeboat-dk":
//
//	-> lifeboat-dk <key id: 8 bytes> <nonce: 24 bytes>
//	<XChaCha20-Poly1305(data key, nonce, file key, ad="lifeboat-dk"): 32 bytes>
//
// (arguments and body in unpadded standard base64, as age requires). No
// public-key operation is involved. The key id is derived from the master
// key; it only tells "sealed with another key" ([ErrWrongKey]) apart from
// "tampered" ([ErrCorrupt]) and is covered by the header MAC.
//
// Because every part of that stanza has a fixed size, the header has a fixed
// length, [HeaderSize], and a sealed object of n plaintext bytes has exactly
// [SealedSize](n) bytes:
//
//	SealedSize(n) = HeaderSize + n + 16*max(1, ceil(n/65536))
//	             = 190 + n + 16 per started 64 KiB STREAM chunk
//
// that is an overhead of 206 bytes for any object up to 64 KiB (an empty one
// included) plus 16 bytes per further 64 KiB (0.024%).
const (
	dkStanzaType  = "lifeboat-dk"
	dataKeySize   = chacha20poly1305.KeySize
	dataKeyIDSize = 8
	fileKeySize   = 16 // age's file key
	macSize       = 32 // age's header HMAC-SHA-256
	nonceSize     = 16 // age's STREAM nonce, following the header

	chunkSize    = 64 << 10 // age STREAM plaintext chunk
	tagSize      = chacha20poly1305.Overhead
	encChunkSize = chunkSize + tagSize

	// The lengths below are untyped constants so that HeaderSize is one too.
	introLen = 22 // "age-encryption.org/v1\n"
	// "-> lifeboat-dk <id> <nonce>\n": "-> lifeboat-dk " is 15 bytes.
	stanzaLineLen = 15 + (dataKeyIDSize*8+5)/6 + 1 + (chacha20poly1305.NonceSizeX*8+5)/6 + 1
	// The 32-byte body encodes to 43 characters: one short line.
	stanzaBodyLen = ((fileKeySize+tagSize)*8+5)/6 + 1
	// "--- <mac>\n"
	macLineLen = 4 + (macSize*8+5)/6 + 1
)

// HeaderSize is the number of bytes before the first payload chunk of every
// DataKey seal: the age header (intro, the lifeboat-dk stanza, the MAC line)
// plus the 16-byte STREAM nonce. It is 190.
const HeaderSize = introLen + stanzaLineLen + stanzaBodyLen + macLineLen + nonceSize

var b64 = base64.RawStdEncoding.Strict()

// DataKey seals and opens stored objects. It is safe for concurrent use.
type DataKey struct {
	aead cipher.AEAD // XChaCha20-Poly1305 under the data key
	id   [dataKeyIDSize]byte
}

func newDataKey(key, id []byte) (*DataKey, error) {
	aead, err := chacha20poly1305.NewX(key)
	if err != nil {
		return nil, fmt.Errorf("data key: %w", err)
	}
	if len(id) != dataKeyIDSize {
		return nil, errors.New("data key id: wrong length")
	}
	k := &DataKey{aead: aead}
	copy(k.id[:], id)
	return k, nil
}

// dkRecipient wraps age file keys under the data key.
type dkRecipient struct{ k *DataKey }

func (r dkRecipient) Wrap(fileKey []byte) ([]*age.Stanza, error) {
	if len(fileKey) != fileKeySize {
		return nil, fmt.Errorf("unexpected file key length %d", len(fileKey))
	}
	nonce := make([]byte, chacha20poly1305.NonceSizeX)
	if _, err := rand.Read(nonce); err != nil {
		return nil, fmt.Errorf("read random nonce: %w", err)
	}
	body := r.k.aead.Seal(nil, nonce, fileKey, []byte(dkStanzaType))
	return []*age.Stanza{{
		Type: dkStanzaType,
		Args: []string{b64.EncodeToString(r.k.id[:]), b64.EncodeToString(nonce)},
		Body: body,
	}}, nil
}

// dkIdentity unwraps file keys sealed by dkRecipient. Anything that is not
// exactly one well-formed lifeboat-dk stanza is corrupt; a stanza that does
// not authenticate is corrupt when it names our key id and belongs to
// another key (age.ErrIncorrectIdentity) otherwise.
type dkIdentity struct{ k *DataKey }

func (i dkIdentity) Unwrap(stanzas []*age.Stanza) ([]byte, error) {
	if len(stanzas) != 1 {
		return nil, fmt.Errorf("%w: %d recipient stanzas, want 1", ErrCorrupt, len(stanzas))
	}
	s := stanzas[0]
	if s.Type != dkStanzaType || len(s.Args) != 2 {
		return nil, fmt.Errorf("%w: not a data-key stanza", ErrCorrupt)
	}
	id, err := b64.DecodeString(s.Args[0])
	if err != nil || len(id) != dataKeyIDSize {
		return nil, fmt.Errorf("%w: malformed data-key id", ErrCorrupt)
	}
	nonce, err := b64.DecodeString(s.Args[1])
	if err != nil || len(nonce) != chacha20poly1305.NonceSizeX {
		return nil, fmt.Errorf("%w: malformed data-key nonce", ErrCorrupt)
	}
	if len(s.Body) != fileKeySize+tagSize {
		return nil, fmt.Errorf("%w: malformed data-key stanza body", ErrCorrupt)
	}
	fileKey, err := i.k.aead.Open(nil, nonce, s.Body, []byte(dkStanzaType))
	if err == nil {
		return fileKey, nil
	}
	if subtle.ConstantTimeCompare(id, i.k.id[:]) == 1 {
		return nil, fmt.Errorf("%w: data-key stanza does not authenticate", ErrCorrupt)
	}
	return nil, fmt.Errorf("%w: sealed with another data key", age.ErrIncorrectIdentity)
}

// Seal encrypts plaintext into a complete age file of SealedSize(len) bytes.
func (k *DataKey) Seal(plaintext []byte) ([]byte, error) {
	return k.AppendSeal(nil, plaintext)
}

// AppendSeal appends the seal of plaintext (SealedSize(len) bytes) to dst and
// returns the extended slice, growing dst at most once; on error dst is
// returned unchanged. It lets a caller build a file of several sealed
// objects without copying them.
func (k *DataKey) AppendSeal(dst, plaintext []byte) ([]byte, error) {
	want := SealedSize(int64(len(plaintext)))
	buf := dst
	if int64(cap(dst)-len(dst)) < want {
		// Not slices.Grow: its explicit clearing of the new capacity is
		// not preemptible and made Seal of 16 MiB about 5x slower in
		// BenchmarkSeal, while make clears large objects in preemptible steps.
		buf = make([]byte, len(dst), int64(len(dst))+want)
		copy(buf, dst)
	}
	aw := &appendWriter{b: buf}
	w, err := age.Encrypt(aw, dkRecipient{k})
	if err != nil {
		return dst, fmt.Errorf("seal: %w", err)
	}
	if _, err := w.Write(plaintext); err != nil {
		return dst, fmt.Errorf("seal: %w", err)
	}
	if err := w.Close(); err != nil {
		return dst, fmt.Errorf("seal: %w", err)
	}
	if got := int64(len(aw.b) - len(dst)); got != want {
		return dst, fmt.Errorf("seal: internal error: sealed %d bytes, want %d", got, want)
	}
	return aw.b, nil
}

// appendWriter appends everything written to b.
type appendWriter struct{ b []byte }

func (a *appendWriter) Write(p []byte) (int, error) {
	a.b = append(a.b, p...)
	return len(p), nil
}

// SealWriter returns a writer that seals everything written to it into dst.
// Close writes the final chunk; it does not close dst. The header and nonce
// reach dst in a single Write, every full chunk in one Write of 65552 bytes.
func (k *DataKey) SealWriter(dst io.Writer) (io.WriteCloser, error) {
	hb := &headerBuffer{dst: dst, buf: make([]byte, 0, HeaderSize)}
	w, err := age.Encrypt(hb, dkRecipient{k})
	if err != nil {
		return nil, fmt.Errorf("seal: %w", err)
	}
	return &sealWriter{w: w, hb: hb}, nil
}

type sealWriter struct {
	w  io.WriteCloser
	hb *headerBuffer
}

func (s *sealWriter) Write(p []byte) (int, error) {
	n, err := s.w.Write(p)
	if err != nil {
		return n, fmt.Errorf("seal: %w", err)
	}
	return n, nil
}

func (s *sealWriter) Close() error {
	if err := s.w.Close(); err != nil {
		return fmt.Errorf("seal: %w", err)
	}
	if err := s.hb.flush(); err != nil {
		return fmt.Errorf("seal: %w", err)
	}
	return nil
}

// headerBuffer collects age's many small header writes and hands them to
// dst in one Write once HeaderSize bytes are there; afterwards it passes
// writes through.
type headerBuffer struct {
	dst     io.Writer
	buf     []byte
	flushed bool
}

func (h *headerBuffer) Write(p []byte) (int, error) {
	if h.flushed {
		return h.dst.Write(p)
	}
	h.buf = append(h.buf, p...)
	if len(h.buf) >= HeaderSize {
		if err := h.flush(); err != nil {
			return 0, err
		}
	}
	return len(p), nil
}

func (h *headerBuffer) flush() error {
	if h.flushed {
		return nil
	}
	h.flushed = true
	_, err := h.dst.Write(h.buf)
	h.buf = nil
	return err
}

// Open decrypts a complete sealed object. Any modification yields an error
// wrapping ErrCorrupt; a seal made with another data key yields one wrapping
// ErrWrongKey.
func (k *DataKey) Open(sealed []byte) ([]byte, error) {
	r, size, err := k.OpenReaderAt(bytes.NewReader(sealed), int64(len(sealed)))
	if err != nil {
		return nil, err
	}
	out := make([]byte, size)
	n, err := r.ReadAt(out, 0)
	if n == len(out) && (err == nil || err == io.EOF) {
		return out, nil
	}
	if err == nil || err == io.EOF {
		err = fmt.Errorf("%w: short plaintext", ErrCorrupt)
	}
	return nil, err
}

// OpenReaderAt opens the sealed object of sealedSize bytes in src and returns
// its plaintext as an io.ReaderAt (safe for concurrent ReadAt) and the
// plaintext size, using age.DecryptReaderAt.
//
// OpenReaderAt itself reads exactly the header, src[0:HeaderSize), and the
// final STREAM chunk, FinalChunkRange, which age authenticates up front to
// prove the size. Afterwards, ReadAt(p, off) reads exactly the sealed range
// SealedRange(off, len(p), size) (one chunk's plaintext is cached). So a
// caller that can only fetch parts of the object needs those three ranges.
//
// Authentication failures wrap ErrCorrupt, both here and from ReadAt; errors
// of src other than io.EOF and io.ErrUnexpectedEOF (which mean truncation)
// are returned wrapped, without ErrCorrupt.
func (k *DataKey) OpenReaderAt(src io.ReaderAt, sealedSize int64) (io.ReaderAt, int64, error) {
	if sealedSize < HeaderSize+tagSize {
		return nil, 0, fmt.Errorf("%w: sealed object of %d bytes is truncated", ErrCorrupt, sealedSize)
	}
	hdr := make([]byte, HeaderSize)
	if err := readFullAt(src, hdr, 0); err != nil {
		return nil, 0, openError("read sealed header", err)
	}
	sra := &sealedReaderAt{hdr: hdr, src: src}
	r, size, err := age.DecryptReaderAt(sra, sealedSize, dkIdentity{k})
	if err != nil {
		return nil, 0, openError("open sealed object", err)
	}
	return &plainReaderAt{r: r, size: size}, size, nil
}

// openError classifies an error from age or from the source.
func openError(op string, err error) error {
	var se *sourceError
	var nm *age.NoIdentityMatchError
	switch {
	case errors.As(err, &se):
		return fmt.Errorf("%s: %w", op, se.err)
	case errors.Is(err, ErrCorrupt):
		return fmt.Errorf("%s: %w", op, err)
	case errors.As(err, &nm):
		return fmt.Errorf("%s: %w: %v", op, ErrWrongKey, err)
	default:
		return fmt.Errorf("%s: %w: %v", op, ErrCorrupt, err)
	}
}

// sourceError marks an error of the caller's ReaderAt, to pass it through
// age and back out unchanged.
type sourceError struct{ err error }

func (e *sourceError) Error() string { return e.err.Error() }
func (e *sourceError) Unwrap() error { return e.err }

// readFullAt fills p from src at off; a short source is io.ErrUnexpectedEOF,
// and other errors of src are marked as sourceError.
func readFullAt(src io.ReaderAt, p []byte, off int64) error {
	n, err := src.ReadAt(p, off)
	if n == len(p) {
		return nil
	}
	if err == nil || errors.Is(err, io.EOF) || errors.Is(err, io.ErrUnexpectedEOF) {
		return io.ErrUnexpectedEOF
	}
	return &sourceError{err}
}

// sealedReaderAt serves the header bytes OpenReaderAt already read, so that
// age's buffered header parser does not read past them, and the rest from
// src with its errors marked.
type sealedReaderAt struct {
	hdr []byte
	src io.ReaderAt
}

// errHeaderOverrun stops age's header parser at HeaderSize: a DataKey header
// never needs more.
var errHeaderOverrun = errors.New("header longer than a data-key header")

func (s *sealedReaderAt) ReadAt(p []byte, off int64) (int, error) {
	if off < 0 {
		return 0, errors.New("negative offset")
	}
	if off < int64(len(s.hdr)) {
		n := copy(p, s.hdr[off:])
		if n < len(p) {
			return n, errHeaderOverrun
		}
		return n, nil
	}
	n, err := s.src.ReadAt(p, off)
	if err != nil && !errors.Is(err, io.EOF) && !errors.Is(err, io.ErrUnexpectedEOF) {
		err = &sourceError{err}
	}
	return n, err
}

// plainReaderAt classifies the errors of age's plaintext ReaderAt.
type plainReaderAt struct {
	r    io.ReaderAt
	size int64
}

func (p *plainReaderAt) ReadAt(b []byte, off int64) (int, error) {
	if off < 0 {
		return 0, fmt.Errorf("read sealed object: negative offset %d", off)
	}
	if off >= p.size {
		return 0, io.EOF
	}
	n, err := p.r.ReadAt(b, off)
	if err == nil || err == io.EOF {
		return n, err
	}
	return n, openError("read sealed object", err)
}

// chunkCount is the number of STREAM chunks of a plaintext of n bytes
// (an empty plaintext still has one, empty, chunk).
func chunkCount(n int64) int64 {
	if n <= 0 {
		return 1
	}
	return (n + chunkSize - 1) / chunkSize
}

// SealedSize returns the exact length of a DataKey seal of plainSize bytes:
// HeaderSize + plainSize + 16 per 64 KiB chunk (at least one chunk).
// A negative plainSize counts as 0.
func SealedSize(plainSize int64) int64 {
	plainSize = max(plainSize, 0)
	return HeaderSize + plainSize + tagSize*chunkCount(plainSize)
}

// SealedRange returns the byte range [off, off+length) of a DataKey seal of a
// plainSize-byte plaintext that holds the 64 KiB STREAM chunks covering
// plaintext [plainOff, plainOff+plainLen), so that a caller can fetch exactly
// that range. The plaintext range is clipped to [0, plainSize); an empty
// range yields the chunk holding plainOff (the last chunk when plainOff is at
// or past the end). Opening also needs the header and the final chunk; see
// [DataKey.OpenReaderAt] and [FinalChunkRange].
func SealedRange(plainOff, plainLen, plainSize int64) (off, length int64) {
	plainSize = max(plainSize, 0)
	plainOff = min(max(plainOff, 0), plainSize)
	plainLen = min(max(plainLen, 0), plainSize-plainOff)
	chunks := chunkCount(plainSize)
	first := min(plainOff/chunkSize, chunks-1)
	last := first
	if plainLen > 0 {
		last = min((plainOff+plainLen-1)/chunkSize, chunks-1)
	}
	off = HeaderSize + first*encChunkSize
	end := min(HeaderSize+(last+1)*encChunkSize, SealedSize(plainSize))
	return off, end - off
}

// FinalChunkRange returns the byte range of the final STREAM chunk of a
// DataKey seal of plainSize bytes, which [DataKey.OpenReaderAt] reads and
// authenticates before returning.
func FinalChunkRange(plainSize int64) (off, length int64) {
	return SealedRange(max(plainSize, 0), 0, plainSize)
}
