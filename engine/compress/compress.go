package compress

import (
	"errors"
	"fmt"
	"math"
	"sync"

	"github.com/klauspost/compress/zstd"
)

// Level selects the zstd speed/ratio trade-off. The numeric values are stable
// identifiers recorded in the repository format; 0 is invalid.
type Level uint8

// Compression levels.
const (
	// LevelFastest is zstd's fastest mode (about zstd -1).
	LevelFastest Level = 1
	// LevelDefault is the default mode (about zstd -3).
	LevelDefault Level = 2
	// LevelBetter trades speed for ratio (about zstd -7). Its encoder holds
	// about 4 MiB of match tables.
	LevelBetter Level = 3
	// LevelBest gives the best ratio (about zstd -11) and is slow. Its
	// encoder holds about 34 MiB of match tables per concurrent Compress.
	LevelBest Level = 4
	// LevelAuto picks by input size: LevelDefault below AutoSmall bytes
	// (whole small files, tree metadata), where it stores markedly less
	// than LevelFastest, and LevelFastest for larger inputs (chunks of
	// large files), where the two store about the same and LevelFastest
	// costs about two thirds of the CPU.
	LevelAuto Level = 5
)

// AutoSmall is the input size from which LevelAuto compresses with
// LevelFastest. Measured on the benchmark tree (1 MiB pieces of logs, JSON
// and CSV; Go source files): LevelFastest stores 0.6% more than
// LevelDefault on the large pieces at 1.6 times the speed, but 7.7% more on
// the source files.
const AutoSmall = 256 << 10

var levelNames = [...]string{
	LevelFastest: "fastest",
	LevelDefault: "default",
	LevelBetter:  "better",
	LevelBest:    "best",
	LevelAuto:    "auto",
}

// ErrUnknownLevel reports a level name or number that is not defined.
var ErrUnknownLevel = errors.New("unknown compression level")

// ErrCorrupt reports compressed data that is malformed, fails its checksum,
// or decompresses to more than the allowed size.
var ErrCorrupt = errors.New("corrupt compressed data")

// Valid reports whether l is one of the defined levels.
func (l Level) Valid() bool { return l >= LevelFastest && l <= LevelAuto }

// String returns the level's name as accepted by ParseLevel, or "level(N)"
// for an undefined level.
func (l Level) String() string {
	if l.Valid() {
		return levelNames[l]
	}
	return fmt.Sprintf("level(%d)", uint8(l))
}

// ParseLevel returns the level named s: "fastest", "default", "better",
// "best" or "auto". Other input yields an error wrapping ErrUnknownLevel.
func ParseLevel(s string) (Level, error) {
	for l := LevelFastest; l <= LevelAuto; l++ {
		if levelNames[l] == s {
			return l, nil
		}
	}
	return 0, fmt.Errorf("compress: %w %q (want fastest, default, better, best or auto)", ErrUnknownLevel, s)
}

// For returns the fixed level l compresses n bytes with: l itself, or for
// LevelAuto LevelDefault below AutoSmall and LevelFastest from there.
func (l Level) For(n int) Level {
	if l != LevelAuto {
		return l
	}
	if n < AutoSmall {
		return LevelDefault
	}
	return LevelFastest
}

func (l Level) zstd() zstd.EncoderLevel {
	switch l {
	case LevelFastest:
		return zstd.SpeedFastest
	case LevelBetter:
		return zstd.SpeedBetterCompression
	case LevelBest:
		return zstd.SpeedBestCompression
	default:
		return zstd.SpeedDefault
	}
}

const (
	// encoderWindow is the zstd match window. It bounds each pooled
	// encoder's history buffer (window + 128 KiB); chunks are ~1 MiB.
	encoderWindow = 2 << 20
	// decoderMaxWindow is the largest window accepted when decoding.
	decoderMaxWindow = 8 << 20
	// minSaving is the minimum saving, in percent, for compressed output to
	// be kept.
	minSaving = 1
)

// encoders holds one pool of single-threaded encoders per level.
var encoders [LevelBest + 1]sync.Pool

func getEncoder(l Level) (*zstd.Encoder, error) {
	if e, ok := encoders[l].Get().(*zstd.Encoder); ok {
		return e, nil
	}
	e, err := zstd.NewWriter(nil,
		zstd.WithEncoderLevel(l.zstd()),
		zstd.WithEncoderConcurrency(1),
		zstd.WithLowerEncoderMem(true),
		zstd.WithWindowSize(encoderWindow),
		zstd.WithEncoderCRC(false), // blob IDs already verify every byte
		zstd.WithZeroFrames(false),
		// Always record the content size, which Decompress checks before
		// allocating.
		zstd.WithSingleSegment(true),
	)
	if err != nil {
		return nil, fmt.Errorf("compress: new encoder: %w", err)
	}
	return e, nil
}

func putEncoder(l Level, e *zstd.Encoder) { encoders[l].Put(e) }

var decoders sync.Pool

func getDecoder() (*zstd.Decoder, error) {
	if d, ok := decoders.Get().(*zstd.Decoder); ok {
		return d, nil
	}
	d, err := zstd.NewReader(nil,
		zstd.WithDecoderConcurrency(1),
		zstd.WithDecoderLowmem(true),
		zstd.WithDecoderMaxWindow(decoderMaxWindow),
		zstd.WithDecoderMaxMemory(math.MaxInt64>>1),
		zstd.WithDecodeAllCapLimit(true),
	)
	if err != nil {
		return nil, fmt.Errorf("compress: new decoder: %w", err)
	}
	return d, nil
}

// Compress appends the zstd-compressed form of src to dst and returns the
// extended slice and true. When src is judged incompressible (by sampling, or
// because zstd saves less than 3%), or is empty, or l is not a valid level,
// it returns dst (same length; bytes beyond len(dst) may have been
// overwritten) and false, and the caller stores src raw.
//
// Compress is safe for concurrent use; the output for a given input and level
// is deterministic for a given library version.
func Compress(dst, src []byte, l Level) ([]byte, bool) {
	if len(src) == 0 || !l.Valid() {
		return dst, false
	}
	if !worthCompressing(src) {
		return dst, false
	}
	l = l.For(len(src))
	e, err := getEncoder(l)
	if err != nil {
		return dst, false
	}
	out := e.EncodeAll(src, dst)
	putEncoder(l, e)
	if !saves(len(out)-len(dst), len(src)) {
		return dst, false
	}
	return out, true
}

// saves reports whether compressing n bytes to c bytes saves at least
// minSaving percent.
func saves(c, n int) bool {
	return int64(c)*100 <= int64(n)*(100-minSaving)
}

// DecompressSlack is the spare capacity beyond the decompressed size that
// Decompress wants in dst to decode without allocating.
const DecompressSlack = 64

// Decompress appends the decompression of src, which must be one output of
// Compress, to dst. The decompressed size may not exceed maxSize: the limit is
// checked against the frame header before any allocation, and the output
// buffer is never grown beyond len(dst)+maxSize. Malformed input, a checksum
// mismatch or an oversized result yields an error wrapping ErrCorrupt, and dst
// is returned unchanged (bytes beyond len(dst) may have been overwritten).
// Decompress is safe for concurrent use.
func Decompress(dst, src []byte, maxSize int) ([]byte, error) {
	if maxSize < 0 {
		return dst, fmt.Errorf("compress: negative size limit %d", maxSize)
	}
	if len(src) == 0 {
		return dst, fmt.Errorf("compress: %w: empty input", ErrCorrupt)
	}
	var h zstd.Header
	if err := h.Decode(src); err != nil {
		return dst, fmt.Errorf("compress: %w: header: %w", ErrCorrupt, err)
	}
	if h.Skippable {
		return dst, fmt.Errorf("compress: %w: skippable frame", ErrCorrupt)
	}
	need := uint64(maxSize)
	if h.HasFCS {
		if h.FrameContentSize > need {
			return dst, fmt.Errorf("compress: %w: content size %d exceeds limit %d", ErrCorrupt, h.FrameContentSize, maxSize)
		}
		need = h.FrameContentSize
	}
	n := int(need)
	if n > math.MaxInt-len(dst) {
		return dst, fmt.Errorf("compress: size limit %d too large", maxSize)
	}
	// Give the decoder len(dst)+n+DecompressSlack of capacity:
	// WithDecodeAllCapLimit makes it fail rather than grow past that, and
	// the slack lets it use its fast copy loops, which may write a few bytes
	// past the end of the output, for every block (with exactly n it takes
	// the slower bounds-checked loops throughout). The frame's own size
	// checks and the check below keep the output within n.
	buf := dst
	if cap(buf)-len(buf) < n+DecompressSlack {
		buf = make([]byte, len(dst), len(dst)+n+DecompressSlack)
		copy(buf, dst)
	}
	buf = buf[: len(dst) : len(dst)+n+DecompressSlack]

	d, err := getDecoder()
	if err != nil {
		return dst, err
	}
	out, err := d.DecodeAll(src, buf)
	decoders.Put(d)
	if err != nil {
		return dst, fmt.Errorf("compress: %w: %w", ErrCorrupt, err)
	}
	if len(out)-len(dst) > maxSize {
		return dst, fmt.Errorf("compress: %w: output exceeds limit %d", ErrCorrupt, maxSize)
	}
	return out, nil
}
