package repo

import (
	"fmt"
	"math/rand/v2"
	"runtime"
	"testing"
	"time"

	"lifeboat/engine/format"
	"lifeboat/internal/cputime"
)

// benchBlobsPerPack is the number of blobs per generated pack: a pack of
// small files' chunks and trees.
const benchBlobsPerPack = 1000

// benchIDs generates deterministic pseudo-random IDs from seed.
type benchIDs struct{ rng *rand.ChaCha8 }

func newBenchIDs(seed uint64) *benchIDs {
	var s [32]byte
	s[0], s[1] = byte(seed), byte(seed>>8)
	return &benchIDs{rng: rand.NewChaCha8(s)}
}

func (g *benchIDs) next() (id format.ID) {
	_, _ = g.rng.Read(id[:])
	return id
}

// benchPack fills p with the next pack of n blobs from g (p.Blobs is
// reused).
func benchPack(g *benchIDs, p *format.IndexPack, n int) {
	p.ID = g.next()
	p.Size = 16 << 20
	p.Blobs = p.Blobs[:0]
	off := uint32(0)
	for i := 0; i < n; i++ {
		l := uint32(1000 + i)
		p.Blobs = append(p.Blobs, format.Blob{Type: format.BlobData, Flags: format.FlagCompressed, ID: g.next(), Offset: off, Length: l, RawLen: 2 * l})
		off += l
	}
}

// heapLive returns the live heap after a full collection.
func heapLive() uint64 {
	runtime.GC()
	var ms runtime.MemStats
	runtime.ReadMemStats(&ms)
	return ms.HeapAlloc
}

// buildBenchIndex adds n blobs from seed as LoadIndex does; with sample, it
// samples the live heap (after a collection) about every 1 % of the blobs
// and at the end of every merge (the index's peak); it returns the index
// and the highest sample.
func buildBenchIndex(n int, seed uint64, sample bool) (*Index, uint64) {
	g := newBenchIDs(seed)
	x := newIndex()
	var p format.IndexPack
	every := max(n/100, benchBlobsPerPack)
	var peak uint64
	if sample {
		testMergeHook = func() { peak = max(peak, heapLive()) }
		defer func() { testMergeHook = nil }()
	}
	for done := 0; done < n; {
		k := min(benchBlobsPerPack, n-done)
		benchPack(g, &p, k)
		x.add(&p)
		done += k
		if sample && done%every < k {
			peak = max(peak, heapLive())
		}
	}
	x.settle() // as LoadIndex does
	return x, peak
}

// BenchmarkIndexMemory builds an index of 1M and 10M blobs (packs of 1000
// generated blobs, added as LoadIndex adds them) and reports the live heap
// it takes per blob, and the peak live heap while it was built (the time
// is not meaningful: it includes the collections that measure the heap).
func BenchmarkIndexMemory(b *testing.B) {
	for _, n := range []int{1_000_000, 10_000_000} {
		b.Run(fmt.Sprintf("blobs=%dM", n/1_000_000), func(b *testing.B) {
			for b.Loop() {
				before := heapLive()
				x, peak := buildBenchIndex(n, 1, true)
				after := heapLive()
				if x.Len() != n {
					b.Fatalf("index has %d blobs, want %d", x.Len(), n)
				}
				b.ReportMetric(float64(after-before)/float64(n), "bytes/blob")
				b.ReportMetric(float64(max(peak, after)-before)/float64(n), "peak-bytes/blob")
				runtime.KeepAlive(x)
			}
		})
	}
}

// BenchmarkIndexLookup measures Lookup and Has of known (hit) and unknown
// (miss) blobs in an index of 1M and 10M blobs.
func BenchmarkIndexLookup(b *testing.B) {
	for _, n := range []int{1_000_000, 10_000_000} {
		b.Run(fmt.Sprintf("blobs=%dM", n/1_000_000), func(b *testing.B) {
			x, _ := buildBenchIndex(n, 1, false)
			// The probes: a sample of the known blobs (regenerated from
			// the seed) and as many unknown ones.
			const probes = 1 << 16
			hits := make([]format.ID, 0, probes)
			g := newBenchIDs(1)
			stride := max(n/probes, 1)
			for i := 0; len(hits) < probes && i < n; i++ {
				if i%benchBlobsPerPack == 0 {
					g.next() // the pack's ID
				}
				id := g.next()
				if i%stride == 0 {
					hits = append(hits, id)
				}
			}
			// The hits in a random order, so that the probes do not walk
			// the index in ID order or in insertion order.
			rand.New(rand.NewPCG(3, 4)).Shuffle(len(hits), func(i, j int) { hits[i], hits[j] = hits[j], hits[i] })
			misses := make([]format.ID, probes)
			gm := newBenchIDs(2)
			for i := range misses {
				misses[i] = gm.next()
			}
			for _, tc := range []struct {
				name string
				ids  []format.ID
				want bool
			}{{"hit", hits, true}, {"miss", misses, false}} {
				b.Run("lookup-"+tc.name, func(b *testing.B) {
					i := 0
					cpu := cputime.Used()
					for b.Loop() {
						if _, ok := x.Lookup(tc.ids[i%len(tc.ids)]); ok != tc.want {
							b.Fatal("wrong answer")
						}
						i++
					}
					reportCPU(b, cpu, i, "op")
				})
				b.Run("has-"+tc.name, func(b *testing.B) {
					i := 0
					cpu := cputime.Used()
					for b.Loop() {
						if x.Has(tc.ids[i%len(tc.ids)]) != tc.want {
							b.Fatal("wrong answer")
						}
						i++
					}
					reportCPU(b, cpu, i, "op")
				})
			}
			b.Run("has-hit-parallel", func(b *testing.B) {
				b.RunParallel(func(pb *testing.PB) {
					i := 0
					for pb.Next() {
						if !x.Has(hits[i%len(hits)]) {
							b.Fatal("wrong answer")
						}
						i++
					}
				})
			})
		})
	}
}

// reportCPU reports the CPU time per operation of n operations since cpu
// (where it is measured), as cpu-ns/unit.
func reportCPU(b *testing.B, cpu time.Duration, n int, unit string) {
	if now := cputime.Used(); now > 0 && n > 0 {
		b.ReportMetric(float64((now-cpu).Nanoseconds())/float64(n), "cpu-ns/"+unit)
	}
}

// BenchmarkIndexAdd measures adding packs of new blobs to an index of 1M
// blobs, as a backup does after each pack upload (so including the
// index's amortized reorganisation), per blob added.
func BenchmarkIndexAdd(b *testing.B) {
	const perPack = 256
	x, _ := buildBenchIndex(1_000_000, 1, false)
	g := newBenchIDs(5)
	var p format.IndexPack
	packs := 0
	cpu := cputime.Used()
	for b.Loop() {
		b.StopTimer()
		benchPack(g, &p, perPack)
		b.StartTimer()
		x.add(&p)
		packs++
	}
	b.ReportMetric(float64(b.Elapsed().Nanoseconds())/float64(packs*perPack), "ns/blob")
	reportCPU(b, cpu, packs*perPack, "blob") // including the generation of the packs
}
