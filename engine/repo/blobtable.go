package repo

import (
	"encoding/binary"
	"math/bits"
	"slices"

	"lifeboat/engine/format"
)

// The index's blobs live in two tables (both without per-entry pointers):
//
//   - the base, sorted by ID, in fixed-size pages of records (an ID and
//     its entry) with a table of bucket starts by the IDs' leading bits,
//     searched by binary search within the bucket;
//   - the overlay, the blobs added since the base was last rebuilt, in
//     unsorted parallel arrays with an open-addressing hash table of their
//     positions.
//
// A blob is in one of them, never both. When the overlay grows past a
// fraction of the base it is sorted and merged into the base in place, from
// the back: the base only gains the pages the new blobs need, so that
// building the index never holds two copies of it. Per blob: 32 bytes of ID
// and 20 of entry, plus 1 to 2 bytes of buckets and the last page's slack
// in the base; the overlay adds 8 to 16 bytes of hash slots and, while
// merging, 4 to 8 bytes to sort them, for its blobs only (at most 1/overlayDiv of
// the base).

const (
	pageShift = 14 // 16384 blobs a page: 832 KiB
	pageLen   = 1 << pageShift
	pageMask  = pageLen - 1

	// minOverlay is the number of blobs the overlay may hold whatever the
	// base's size; beyond that, it may hold 1/overlayDiv of the base.
	minOverlay = 4096
	overlayDiv = 8
	// settleDiv: settle (at the end of a load) merges an overlay of at
	// least 1/settleDiv of the base.
	settleDiv = 32
	// maxBucketBits bounds the bucket table (64 MiB of uint32).
	maxBucketBits = 24
)

// testMergeHook, when set (by tests, before using an index), is called at
// the end of each merge, when the index holds the most memory.
var testMergeHook func()

// cmpID orders IDs as bytes.Compare does, a word at a time.
func cmpID(a, b *format.ID) int {
	for i := 0; i < len(a); i += 8 {
		x, y := binary.BigEndian.Uint64(a[i:]), binary.BigEndian.Uint64(b[i:])
		if x != y {
			if x < y {
				return -1
			}
			return 1
		}
	}
	return 0
}

// record is a blob of the base: its ID and its entry side by side, so that
// a search that finds the ID has its entry in the same or the next cache
// line (52 bytes, no padding).
type record struct {
	id format.ID
	e  entry
}

// sortedBlobs is the base: n blobs sorted by ID, blob k at page k>>pageShift,
// slot k&pageMask. Every page but a lone first one has pageLen slots.
type sortedBlobs struct {
	n     int
	pages [][]record
	// bkt[b] is the first blob whose ID's leading bkBits bits are at
	// least b; bkt[1<<bkBits] is n.
	bkBits uint
	bkt    []uint32
}

func (s *sortedBlobs) id(k int) *format.ID { return &s.pages[k>>pageShift][k&pageMask].id }
func (s *sortedBlobs) ent(k int) *entry    { return &s.pages[k>>pageShift][k&pageMask].e }

// bucket returns the bucket of id.
func (s *sortedBlobs) bucket(id *format.ID) uint32 {
	return binary.BigEndian.Uint32(id[:4]) >> (32 - s.bkBits)
}

// find returns the position of id, or -1.
func (s *sortedBlobs) find(id *format.ID) int {
	if s.n == 0 {
		return -1
	}
	b := s.bucket(id)
	lo, hi := int(s.bkt[b]), int(s.bkt[b+1])
	for lo < hi {
		m := int(uint(lo+hi) >> 1)
		switch c := cmpID(s.id(m), id); {
		case c == 0:
			return m
		case c < 0:
			lo = m + 1
		default:
			hi = m
		}
	}
	return -1
}

// upperBound returns the position of the first of the blobs [0,end) whose
// ID is greater than id, using the buckets of the first end blobs.
func (s *sortedBlobs) upperBound(id *format.ID, end int) int {
	if end == 0 {
		return 0
	}
	b := s.bucket(id)
	lo, hi := min(int(s.bkt[b]), end), min(int(s.bkt[b+1]), end)
	for lo < hi {
		m := int(uint(lo+hi) >> 1)
		if cmpID(s.id(m), id) > 0 {
			hi = m
		} else {
			lo = m + 1
		}
	}
	return lo
}

// moveUp moves the blobs [from,to) up by d slots, from the top, a page
// piece at a time (the pieces overlap only within a page, which copy
// handles).
func (s *sortedBlobs) moveUp(from, to, d int) {
	for to > from {
		src, dst := to-1, to-1+d
		k := min(to-from, src&pageMask+1, dst&pageMask+1)
		sp, so := src>>pageShift, src&pageMask+1-k
		dp, do := dst>>pageShift, dst&pageMask+1-k
		copy(s.pages[dp][do:do+k], s.pages[sp][so:so+k])
		to -= k
	}
}

// capacity returns the number of slots of the pages.
func (s *sortedBlobs) capacity() int {
	if len(s.pages) == 0 {
		return 0
	}
	return (len(s.pages)-1)*pageLen + len(s.pages[len(s.pages)-1])
}

// grow makes room for total blobs. A lone first page grows by doubling up
// to pageLen; beyond, whole pages are added (the existing ones stay).
func (s *sortedBlobs) grow(total int) {
	if s.capacity() >= total {
		return
	}
	if len(s.pages) == 0 || len(s.pages[0]) < pageLen {
		size := pageLen
		if total < pageLen {
			size = min(pageLen, max(total, 2*s.capacity(), 64))
		}
		p := make([]record, size)
		if len(s.pages) == 1 {
			copy(p, s.pages[0][:s.n])
			s.pages[0] = p
		} else {
			s.pages = [][]record{p}
		}
	}
	for s.capacity() < total {
		s.pages = append(s.pages, make([]record, pageLen))
	}
}

// bucketBits returns the number of leading bits that choose the bucket of
// a base of n blobs.
func bucketBits(n int) uint { return uint(min(max(bits.Len(uint(n))-2, 0), maxBucketBits)) }

// rebuildBuckets recomputes the bucket table: 2 to 4 blobs a bucket (1 to
// 2 bytes a blob), so that a search reads about two IDs, often in the same
// cache line.
func (s *sortedBlobs) rebuildBuckets() {
	s.bkBits = bucketBits(s.n)
	nb := 1 << s.bkBits
	if len(s.bkt) != nb+1 {
		s.bkt = make([]uint32, nb+1)
	}
	b := 0
	for k := 0; k < s.n; k++ {
		for p := int(s.bucket(s.id(k))); b <= p; b++ {
			s.bkt[b] = uint32(k)
		}
	}
	for ; b <= nb; b++ {
		s.bkt[b] = uint32(s.n)
	}
}

// overlay holds the blobs added since the last merge: ids[i] is at
// ents[i], and tab, a power of two long (or empty), holds i+1 at the first
// free slot from id's hash on (0 is a free slot).
type overlay struct {
	ids  []format.ID
	ents []entry
	tab  []uint32
}

// hashID mixes the whole ID (tests and crafted IDs need not be random in
// their first bytes).
func hashID(id *format.ID) uint64 {
	h := binary.LittleEndian.Uint64(id[0:])*0x9e3779b97f4a7c15 ^
		binary.LittleEndian.Uint64(id[8:])*0xc2b2ae3d27d4eb4f ^
		binary.LittleEndian.Uint64(id[16:])*0x165667b19e3779f9 ^
		binary.LittleEndian.Uint64(id[24:])*0x85ebca77c2b2ae63
	// The finalizer of MurmurHash3: every bit reaches the low bits that
	// choose the slot.
	h ^= h >> 33
	h *= 0xff51afd7ed558ccd
	h ^= h >> 33
	h *= 0xc4ceb9fe1a85ec53
	return h ^ h>>33
}

// find returns the position of id, or -1.
func (o *overlay) find(id *format.ID) int {
	if len(o.tab) == 0 {
		return -1
	}
	mask := uint64(len(o.tab) - 1)
	for h := hashID(id) & mask; ; h = (h + 1) & mask {
		v := o.tab[h]
		if v == 0 {
			return -1
		}
		if o.ids[v-1] == *id {
			return int(v - 1)
		}
	}
}

// insert appends a blob the overlay does not hold.
func (o *overlay) insert(id *format.ID, e entry) {
	if 2*(len(o.ids)+1) > len(o.tab) {
		o.rehash(max(64, 2*len(o.tab)))
	}
	o.ids = append(o.ids, *id)
	o.ents = append(o.ents, e)
	o.place(len(o.ids) - 1)
}

func (o *overlay) place(i int) {
	mask := uint64(len(o.tab) - 1)
	h := hashID(&o.ids[i]) & mask
	for o.tab[h] != 0 {
		h = (h + 1) & mask
	}
	o.tab[h] = uint32(i + 1)
}

func (o *overlay) rehash(size int) {
	o.tab = make([]uint32, size)
	for i := range o.ids {
		o.place(i)
	}
}

// sorted returns the overlay's positions in ID order: a counting sort by
// the IDs' leading bits (2 to 4 blobs a bucket when IDs are random, as
// keyed hashes are), then a sort within each bucket.
func (o *overlay) sorted() []uint32 {
	m := len(o.ids)
	shift := 32 - uint(min(max(bits.Len(uint(m))-2, 1), maxBucketBits))
	ends := make([]uint32, 1<<(32-shift)+1)
	for i := range o.ids {
		ends[binary.BigEndian.Uint32(o.ids[i][:4])>>shift+1]++
	}
	for b := 1; b < len(ends); b++ {
		ends[b] += ends[b-1]
	}
	// ends[b] is now where bucket b starts, and after placing, where it
	// ends.
	order := make([]uint32, m)
	for i := range o.ids {
		b := binary.BigEndian.Uint32(o.ids[i][:4]) >> shift
		order[ends[b]] = uint32(i)
		ends[b]++
	}
	start := uint32(0)
	for _, end := range ends[:len(ends)-1] {
		if end-start > 1 {
			slices.SortFunc(order[start:end], func(a, b uint32) int { return cmpID(&o.ids[a], &o.ids[b]) })
		}
		start = end
	}
	return order
}

// merge moves the overlay's blobs into the base and empties the overlay.
// The base grows by the pages they need and is merged from the back, so
// that no blob of the base is overwritten before it moved.
func (s *sortedBlobs) merge(o *overlay) {
	m := len(o.ids)
	if m == 0 {
		return
	}
	order := o.sorted()
	n := s.n
	s.grow(n + m)
	// When the bucket table keeps its size, a bucket now starts later by
	// the number of new blobs in the buckets before it: the loop adds
	// them as it goes down, to buckets above the new blob's (which the
	// searches of the smaller new blobs below do not need).
	shift := n > 0 && bucketBits(n+m) == s.bkBits
	top := len(s.bkt) - 1
	// From the greatest new blob down: the base's blobs above it move up
	// by the number of new blobs not placed yet, in one copy, then it
	// takes the slot below them. The base below i has not moved, so its
	// buckets still find the new blob's place there.
	i := n
	for j := m - 1; j >= 0; j-- {
		op := order[j]
		id := &o.ids[op]
		p := s.upperBound(id, i)
		s.moveUp(p, i, j+1)
		*s.id(p + j), *s.ent(p + j) = *id, o.ents[op]
		i = p
		if shift {
			for b := int(s.bucket(id)); top > b; top-- {
				s.bkt[top] += uint32(j + 1)
			}
		}
	}
	s.n = n + m
	if testMergeHook != nil {
		testMergeHook() // the peak of the index's memory
	}
	if !shift {
		s.rebuildBuckets()
	}
	*o = overlay{}
}
