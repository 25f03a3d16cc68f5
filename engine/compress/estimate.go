package compress

import (
	"math"
	"sync"
)

const (
	// sampleBlock and sampleBlocks shape the compressibility sample: this
	// many blocks of this size, evenly spread over the input.
	sampleBlock  = 512
	sampleBlocks = 8
	sampleSize   = sampleBlock * sampleBlocks
	// minSampled is the smallest input that is sampled; shorter inputs are
	// simply compressed.
	minSampled = 4 * sampleSize
	// randomEntropy is the order-2 Rényi byte entropy (bits per byte) of
	// the sample above which the bytes look random and a trial compression
	// of the sample decides. Uniform random bytes give about 7.94 on a
	// 4 KiB sample; text about 4-5.
	randomEntropy = 7.5
)

// scratch is the per-call working memory of worthCompressing, pooled so the
// check does not allocate.
type scratch struct {
	sample [sampleSize]byte
	out    [sampleSize + 256]byte
}

var scratchPool = sync.Pool{New: func() any { return new(scratch) }}

// worthCompressing reports whether src looks compressible enough to run the
// full compressor on it. It is deterministic and costs a few microseconds.
func worthCompressing(src []byte) bool {
	if len(src) < minSampled {
		return true
	}
	sc := scratchPool.Get().(*scratch)
	defer scratchPool.Put(sc)
	sample := &sc.sample
	step := (len(src) - sampleBlock) / (sampleBlocks - 1)
	for i := range sampleBlocks {
		copy(sample[i*sampleBlock:(i+1)*sampleBlock], src[i*step:])
	}
	if collisionEntropy(sample[:]) < randomEntropy {
		return true
	}
	// The bytes look random; let the fastest encoder look for repeats and
	// skew the entropy test cannot see.
	e, err := getEncoder(LevelFastest)
	if err != nil {
		return true
	}
	c := e.EncodeAll(sample[:], sc.out[:0])
	putEncoder(LevelFastest, e)
	return saves(len(c), len(sample))
}

// collisionEntropy returns the order-2 Rényi entropy of b's byte
// distribution, -log2(sum p_i^2), in bits per byte (0 for empty b).
func collisionEntropy(b []byte) float64 {
	if len(b) == 0 {
		return 0
	}
	var counts [256]uint32
	for _, c := range b {
		counts[c]++
	}
	var sumSq uint64
	for _, n := range counts {
		sumSq += uint64(n) * uint64(n)
	}
	n := float64(len(b))
	return math.Log2(n * n / float64(sumSq))
}
