package chunker

import (
	"crypto/hmac"
	"crypto/sha256"
	"encoding/binary"
	"errors"
	"fmt"
	"io"
	"math/bits"
)

// Params bounds the chunk sizes. Avg must be a power of two and
// Min < Avg < Max must hold; see Validate.
type Params struct {
	// Min is the smallest chunk length except for the last chunk of a stream.
	Min int
	// Avg is the target ("normal") chunk length, a power of two.
	Avg int
	// Max is the largest chunk length; a cut is forced there.
	Max int
}

// DefaultParams are the parameters used for backups: 512 KiB / 1 MiB / 8 MiB.
var DefaultParams = Params{Min: 512 << 10, Avg: 1 << 20, Max: 8 << 20}

// Limits accepted by Validate.
const (
	// MinAvg is the smallest accepted Avg.
	MinAvg = 64
	// MaxMax is the largest accepted Max (256 MiB).
	MaxMax = 1 << 28
	// window is the number of bytes the 64-bit gear hash depends on.
	window = 64
)

// ErrInvalidParams reports Params that Validate rejects.
var ErrInvalidParams = errors.New("invalid chunker params")

// ErrNilGear reports a Chunker created without a gear table.
var ErrNilGear = errors.New("nil gear table")

// Validate reports whether p is usable: 1 <= Min < Avg < Max <= MaxMax, Avg a
// power of two and at least MinAvg. The error wraps ErrInvalidParams.
func (p Params) Validate() error {
	switch {
	case p.Min < 1:
		return fmt.Errorf("%w: min %d < 1", ErrInvalidParams, p.Min)
	case p.Avg < MinAvg || p.Avg&(p.Avg-1) != 0:
		return fmt.Errorf("%w: avg %d is not a power of two >= %d", ErrInvalidParams, p.Avg, MinAvg)
	case p.Min >= p.Avg:
		return fmt.Errorf("%w: min %d >= avg %d", ErrInvalidParams, p.Min, p.Avg)
	case p.Avg >= p.Max:
		return fmt.Errorf("%w: avg %d >= max %d", ErrInvalidParams, p.Avg, p.Max)
	case p.Max > MaxMax:
		return fmt.Errorf("%w: max %d > %d", ErrInvalidParams, p.Max, MaxMax)
	}
	return nil
}

// Gear is the table of the gear rolling hash: one pseudo-random 64-bit value
// per byte value.
type Gear [256]uint64

// gearLabel domain-separates the gear derivation; it is part of the
// repository format (changing it changes every chunk boundary).
const gearLabel = "lifeboat/chunker/gear/v1"

// NewGear derives a gear table deterministically from a secret seed: entry
// 4*i+j is the j-th little-endian 64-bit word of
// HMAC-SHA256(key=seed, "lifeboat/chunker/gear/v1" || byte(i)), i in [0,64).
// Different seeds give unrelated tables. The derivation is part of the
// repository format and must never change.
func NewGear(seed []byte) *Gear {
	var g Gear
	mac := hmac.New(sha256.New, seed)
	var sum [sha256.Size]byte
	for i := range len(g) / 4 {
		mac.Reset()
		mac.Write([]byte(gearLabel))
		mac.Write([]byte{byte(i)})
		mac.Sum(sum[:0])
		for j := range 4 {
			g[4*i+j] = binary.LittleEndian.Uint64(sum[8*j:])
		}
	}
	return &g
}

// masks returns the hard (before Avg) and easy (after Avg) cut masks: the top
// log2(Avg)+2 and log2(Avg)-2 bits of the hash. The top bits are used because
// in a shift-left gear hash they depend on the most input bytes.
func masks(avg int) (hard, easy uint64) {
	k := bits.TrailingZeros(uint(avg))
	return ^uint64(0) << (64 - (k + 2)), ^uint64(0) << (64 - (k - 2))
}

// Cut returns the length of the first chunk of data: the first position in
// [p.Min, min(len(data), p.Max)] where the gear hash of the preceding bytes
// satisfies the (normalized) cut condition, else min(len(data), p.Max).
// data shorter than or equal to p.Min is returned whole. Cut is the pure
// function Chunker.Next uses; a caller that does not know whether more data
// follows must pass at least p.Max bytes (or the whole rest of the stream).
// With invalid p or a nil g, Cut returns len(data).
func Cut(data []byte, p Params, g *Gear) int {
	n := len(data)
	if g == nil || p.Validate() != nil {
		return n
	}
	if n <= p.Min {
		return n
	}
	n = min(n, p.Max)
	hard, easy := masks(p.Avg)
	normal := min(p.Avg, n)

	var h uint64
	// Warm up so that at the first candidate (length Min, last byte Min-1)
	// the hash covers exactly the 64 bytes ending there.
	for _, b := range data[max(0, p.Min-window) : p.Min-1] {
		h = h<<1 + g[b]
	}
	first := p.Min - 1
	if i := scan(data[first:normal], &h, hard, g); i >= 0 {
		return first + i + 1
	}
	if i := scan(data[normal:n], &h, easy, g); i >= 0 {
		return normal + i + 1
	}
	return n
}

// scan feeds s into the hash *hp and returns the index of the first byte
// after which hash&mask == 0, or -1 (then *hp holds the updated hash).
//
// It rolls two bytes per step: h2 = h<<2 + (g[b0]<<1 + g[b1]) equals
// ((h<<1 + g[b0])<<1 + g[b1]) but puts only one shift and one add on the
// loop-carried dependency chain; the intermediate hash h<<1 + g[b0] is
// computed off that chain just for its cut test. Eight bytes are handled
// per iteration with a single bounds check.
func scan(s []byte, hp *uint64, mask uint64, g *Gear) int {
	h := *hp
	i := 0
	for ; len(s)-i >= 8; i += 8 {
		q := s[i : i+8 : i+8]
		t0, t1 := g[q[0]], g[q[1]]
		m := h<<1 + t0
		h = h<<2 + (t0<<1 + t1)
		if m&mask == 0 {
			return i
		}
		if h&mask == 0 {
			return i + 1
		}
		t0, t1 = g[q[2]], g[q[3]]
		m = h<<1 + t0
		h = h<<2 + (t0<<1 + t1)
		if m&mask == 0 {
			return i + 2
		}
		if h&mask == 0 {
			return i + 3
		}
		t0, t1 = g[q[4]], g[q[5]]
		m = h<<1 + t0
		h = h<<2 + (t0<<1 + t1)
		if m&mask == 0 {
			return i + 4
		}
		if h&mask == 0 {
			return i + 5
		}
		t0, t1 = g[q[6]], g[q[7]]
		m = h<<1 + t0
		h = h<<2 + (t0<<1 + t1)
		if m&mask == 0 {
			return i + 6
		}
		if h&mask == 0 {
			return i + 7
		}
	}
	for ; i < len(s); i++ {
		h = h<<1 + g[s[i]]
		if h&mask == 0 {
			return i
		}
	}
	*hp = h
	return -1
}

// maxZeroReads bounds consecutive (0, nil) reads before giving up.
const maxZeroReads = 100

// Chunker splits the stream read from an io.Reader into chunks. It keeps one
// buffer of 2*Max bytes, allocated on the first Next and kept across Reset,
// so one Chunker can chunk many files without reallocating. A Chunker is not
// safe for concurrent use.
type Chunker struct {
	r     io.Reader
	p     Params
	g     *Gear
	buf   []byte
	start int   // first unconsumed byte in buf
	end   int   // end of valid data in buf
	eof   bool  // r has reported io.EOF
	err   error // sticky read error
	perr  error // configuration error (params or gear)
}

// New returns a Chunker reading r. Invalid params or a nil gear are reported
// by the first call to Next (errors wrapping ErrInvalidParams or ErrNilGear).
func New(r io.Reader, p Params, g *Gear) *Chunker {
	c := &Chunker{r: r, p: p, g: g}
	if err := p.Validate(); err != nil {
		c.perr = fmt.Errorf("chunker: %w", err)
	} else if g == nil {
		c.perr = fmt.Errorf("chunker: %w", ErrNilGear)
	}
	return c
}

// BufferSize is the size of the buffer a Chunker with params p uses.
func BufferSize(p Params) int { return 2 * p.Max }

// SetBuffer makes the Chunker use buf, which must hold at least
// BufferSize(p) bytes, instead of allocating its own (a caller may keep
// long-lived buffers outside the garbage-collected heap). It also resets
// the Chunker to an empty stream.
func (c *Chunker) SetBuffer(buf []byte) {
	if n := BufferSize(c.p); len(buf) >= n {
		c.buf = buf[:n]
	}
	c.Reset(nil)
}

// Reset makes the Chunker read a new stream from r, keeping its buffer,
// params and gear. Slices returned earlier by Next become invalid.
func (c *Chunker) Reset(r io.Reader) {
	c.r = r
	c.start, c.end = 0, 0
	c.eof = false
	c.err = nil
}

// Next returns the next chunk. The slice aliases the internal buffer and is
// valid only until the next call to Next or Reset. After the last chunk Next
// returns io.EOF (immediately for an empty stream). A stream shorter than or
// equal to Min is one chunk. Every chunk but the last has a length in
// [Min, Max]; the last is at most Max. A read error is returned wrapped (test
// with errors.Is), is sticky, and data buffered before it is not returned.
func (c *Chunker) Next() ([]byte, error) {
	if c.perr != nil {
		return nil, c.perr
	}
	if c.err != nil {
		return nil, c.err
	}
	if c.end-c.start < c.p.Max && !c.eof {
		c.fill()
		if c.err != nil {
			return nil, c.err
		}
	}
	if c.start == c.end {
		return nil, io.EOF
	}
	n := Cut(c.buf[c.start:c.end], c.p, c.g)
	chunk := c.buf[c.start : c.start+n : c.start+n]
	c.start += n
	return chunk, nil
}

// fill moves the unconsumed bytes to the front of the buffer and reads until
// the buffer is full, the reader reports EOF, or an error occurs.
func (c *Chunker) fill() {
	if c.buf == nil {
		c.buf = make([]byte, BufferSize(c.p))
	}
	if c.r == nil {
		c.err = errors.New("chunker: nil reader")
		return
	}
	c.end = copy(c.buf, c.buf[c.start:c.end])
	c.start = 0
	zero := 0
	for c.end < len(c.buf) {
		n, err := c.r.Read(c.buf[c.end:])
		if n < 0 || n > len(c.buf)-c.end {
			c.err = fmt.Errorf("chunker: read: invalid count %d", n)
			return
		}
		c.end += n
		if errors.Is(err, io.EOF) {
			c.eof = true
			return
		}
		if err != nil {
			c.err = fmt.Errorf("chunker: read: %w", err)
			return
		}
		if n > 0 {
			zero = 0
			continue
		}
		if zero++; zero >= maxZeroReads {
			c.err = fmt.Errorf("chunker: read: %w", io.ErrNoProgress)
			return
		}
	}
}
