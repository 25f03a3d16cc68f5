package repo

import (
	"encoding/binary"
	"fmt"
	"math/rand/v2"
	"runtime"
	"sync"
	"testing"

	"lifeboat/engine/format"
)

// testID makes an ID from n; spread puts n's bytes at the front (random
// looking IDs), otherwise at the end, so that the IDs share their first 24
// bytes (the worst case for buckets and hashing).
func testID(n uint64, spread bool) format.ID {
	var id format.ID
	if spread {
		binary.BigEndian.PutUint64(id[:], n*0x9e3779b97f4a7c15)
		binary.BigEndian.PutUint64(id[24:], n)
	} else {
		id[0] = 0x42
		binary.BigEndian.PutUint64(id[24:], n)
	}
	return id
}

// testPack makes pack pid of the blobs ids, at offsets 10*i.
func testPack(pid format.ID, ids ...format.ID) *format.IndexPack {
	p := &format.IndexPack{ID: pid, Size: int64(100 + len(ids))}
	for i, id := range ids {
		p.Blobs = append(p.Blobs, format.Blob{Type: format.BlobData, Flags: uint8(i % 2), ID: id, Offset: uint32(10 * i), Length: uint32(i + 1), RawLen: uint32(i + 2)})
	}
	return p
}

// fillIndex adds n blobs (IDs 1000000+i) in packs of 100, enough to merge
// the overlay into the base several times when n is above minOverlay.
func fillIndex(t testing.TB, x *Index, n int, spread bool) {
	t.Helper()
	for i := 0; i < n; i += 100 {
		var ids []format.ID
		for k := i; k < min(i+100, n); k++ {
			ids = append(ids, testID(uint64(1000000+k), spread))
		}
		x.add(testPack(testID(uint64(900000+i), !spread), ids...))
	}
}

// wantLoc checks that id is at pack pid, offset off.
func wantLoc(t *testing.T, x *Index, id, pid format.ID, off uint32) {
	t.Helper()
	loc, ok := x.Lookup(id)
	if !ok {
		t.Fatalf("blob %x not found", id)
	}
	if loc.Pack.ID != pid || loc.Blob.Offset != off || loc.Blob.ID != id {
		t.Fatalf("blob %x at pack %x offset %d, want pack %x offset %d", id, loc.Pack.ID, loc.Blob.Offset, pid, off)
	}
}

// Each semantic holds whether the blobs concerned are in the overlay (a few
// blobs) or in the base (after merges of many).
var indexSizes = []struct {
	name   string
	filler int
}{{"overlay", 0}, {"base", 3 * minOverlay}}

// A blob already known keeps its first location, within a pack and across
// packs.
func TestIndexFirstLocationWins(t *testing.T) {
	for _, sz := range indexSizes {
		t.Run(sz.name, func(t *testing.T) {
			x := newIndex()
			a, b := testID(1, true), testID(2, true)
			id1, id2 := testID(11, false), testID(12, false)
			x.add(testPack(a, id1, id2, id1)) // id1 at offsets 0 and 20
			fillIndex(t, x, sz.filler, true)
			x.add(testPack(b, id2, id1))
			wantLoc(t, x, id1, a, 0)
			wantLoc(t, x, id2, a, 10)
			if n := x.Len(); n != 2+sz.filler {
				t.Fatalf("Len = %d, want %d", n, 2+sz.filler)
			}
			if n, want := len(x.Packs()), 2+(sz.filler+99)/100; n != want {
				t.Fatalf("%d packs, want %d", n, want)
			}
		})
	}
}

// A copy outside the condemned packs replaces one inside; no other second
// copy replaces the first; Has hides blobs located in condemned packs and
// Lookup still finds them.
func TestIndexCondemned(t *testing.T) {
	for _, tc := range []struct {
		name                  string
		oldCondemned, newCond bool
		condemnFirst          bool // condemn before the packs are added
		wantNew, wantHas      bool
	}{
		{"neither", false, false, false, false, true},
		{"old condemned", true, false, false, true, true},
		{"old condemned before added", true, false, true, true, true},
		{"new condemned", false, true, false, false, true},
		{"new condemned before added", false, true, true, false, true},
		{"both condemned", true, true, false, false, false},
	} {
		for _, sz := range indexSizes {
			t.Run(tc.name+"/"+sz.name, func(t *testing.T) {
				x := newIndex()
				r := &Repository{idx: x}
				oldP, newP := testID(1, true), testID(2, true)
				id := testID(7, true)
				var condemn []format.ID
				if tc.oldCondemned {
					condemn = append(condemn, oldP)
				}
				if tc.newCond {
					condemn = append(condemn, newP)
				}
				if tc.condemnFirst {
					r.CondemnPacks(condemn)
				}
				x.add(testPack(oldP, testID(8, true), id)) // id at offset 10
				fillIndex(t, x, sz.filler, true)
				if !tc.condemnFirst {
					r.CondemnPacks(condemn)
				}
				if got := x.Has(id); got != !tc.oldCondemned {
					t.Fatalf("Has before the second copy = %v, want %v", got, !tc.oldCondemned)
				}
				x.add(testPack(newP, id)) // id at offset 0
				if tc.wantNew {
					wantLoc(t, x, id, newP, 0)
				} else {
					wantLoc(t, x, id, oldP, 10)
				}
				if got := x.Has(id); got != tc.wantHas {
					t.Fatalf("Has = %v, want %v", got, tc.wantHas)
				}
				if got := x.Has(testID(8, true)); got != !tc.oldCondemned {
					t.Fatalf("Has of a blob only in the old pack = %v, want %v", got, !tc.oldCondemned)
				}
				if n := x.Len(); n != 2+sz.filler {
					t.Fatalf("Len = %d, want %d", n, 2+sz.filler)
				}
			})
		}
	}
}

// While tracking, Has marks the pack of a blob it reports and the writer's
// markPack marks its pack, including packs added after tracking started;
// Lookup, misses and condemned blobs mark nothing.
func TestIndexTracking(t *testing.T) {
	for _, sz := range indexSizes {
		t.Run(sz.name, func(t *testing.T) {
			x := newIndex()
			r := &Repository{idx: x}
			p := []format.ID{testID(1, true), testID(2, true), testID(3, true), testID(4, true), testID(5, true)}
			x.add(testPack(p[0], testID(10, true)))
			x.add(testPack(p[1], testID(11, true)))
			x.add(testPack(p[2], testID(12, true)))
			x.Has(testID(10, true)) // before tracking: not recorded
			r.TrackReferences()
			fillIndex(t, x, sz.filler, true)
			x.add(testPack(p[3], testID(13, true)))
			r.CondemnPacks([]format.ID{p[2]})
			x.Lookup(testID(11, true))
			x.Has(testID(12, true)) // condemned: absent
			x.Has(testID(99, true)) // unknown
			if got := r.ReferencedPacks(p); len(got) != 0 {
				t.Fatalf("referenced %x, want none", got)
			}
			if !x.Has(testID(13, true)) {
				t.Fatal("blob 13 not found")
			}
			x.markPack(p[1])
			x.markPack(p[4]) // unknown pack: nothing
			got := r.ReferencedPacks(p)
			if len(got) != 2 || got[0] != p[1] || got[1] != p[3] {
				t.Fatalf("referenced %x, want packs 2 and 4", got)
			}
		})
	}
}

// refIndex is the reference: the map index's semantics, in maps.
type refIndex struct {
	blobs     map[format.ID]Location
	packs     map[format.ID]PackInfo // as first added
	condemned map[format.ID]bool
}

func (r *refIndex) add(p *format.IndexPack) {
	if _, ok := r.packs[p.ID]; !ok {
		r.packs[p.ID] = PackInfo{ID: p.ID, Size: p.Size}
	}
	for _, b := range p.Blobs {
		if old, ok := r.blobs[b.ID]; ok && (!r.condemned[old.Pack.ID] || r.condemned[p.ID]) {
			continue
		}
		r.blobs[b.ID] = Location{Pack: r.packs[p.ID], Blob: b}
	}
}

// checkAgainst compares x with ref on every known blob and on unknown
// ones, and Each, Len and Packs.
func checkAgainst(t *testing.T, x *Index, ref *refIndex, unknown []format.ID) {
	t.Helper()
	for id, want := range ref.blobs {
		got, ok := x.Lookup(id)
		if !ok || got != want {
			t.Fatalf("Lookup(%x) = %+v, %v; want %+v", id, got, ok, want)
		}
		if has := x.Has(id); has != !ref.condemned[want.Pack.ID] {
			t.Fatalf("Has(%x) = %v in pack condemned %v", id, has, ref.condemned[want.Pack.ID])
		}
	}
	for _, id := range unknown {
		if _, ok := ref.blobs[id]; ok {
			continue
		}
		if _, ok := x.Lookup(id); ok || x.Has(id) {
			t.Fatalf("unknown blob %x found", id)
		}
	}
	if x.Len() != len(ref.blobs) {
		t.Fatalf("Len = %d, want %d", x.Len(), len(ref.blobs))
	}
	seen := map[format.ID]bool{}
	x.Each(func(loc Location) {
		if seen[loc.Blob.ID] {
			t.Fatalf("Each visits %x twice", loc.Blob.ID)
		}
		seen[loc.Blob.ID] = true
		if want := ref.blobs[loc.Blob.ID]; loc != want {
			t.Fatalf("Each: %+v, want %+v", loc, want)
		}
	})
	if len(seen) != len(ref.blobs) {
		t.Fatalf("Each visited %d blobs, want %d", len(seen), len(ref.blobs))
	}
	packs := x.Packs()
	if len(packs) != len(ref.packs) {
		t.Fatalf("%d packs, want %d", len(packs), len(ref.packs))
	}
	for _, p := range packs {
		if p != ref.packs[p.ID] {
			t.Fatalf("pack %+v, want %+v", p, ref.packs[p.ID])
		}
	}
}

// Random packs (seeded) of new and already known blobs, some condemned,
// with random IDs or IDs sharing their first 24 bytes, through many merges
// of the overlay into the base and settles: the index answers as the
// reference maps do, at every step.
func TestIndexRandomAgainstMap(t *testing.T) {
	for _, spread := range []bool{true, false} {
		t.Run(fmt.Sprintf("random=%v", spread), func(t *testing.T) {
			rng := rand.New(rand.NewPCG(13, uint64(len(fmt.Sprint(spread)))))
			ids := rand.NewChaCha8([32]byte{13})
			// newID returns a random ID, or the next one sharing its
			// first 24 bytes with the others.
			next := uint64(0)
			newID := func() format.ID {
				if spread {
					var id format.ID
					_, _ = ids.Read(id[:])
					return id
				}
				next += 1 + uint64(rng.IntN(3))
				return testID(next, false)
			}
			x := newIndex()
			r := &Repository{idx: x}
			ref := &refIndex{blobs: map[format.ID]Location{}, packs: map[format.ID]PackInfo{}, condemned: map[format.ID]bool{}}
			var known, packIDs []format.ID
			for step := 0; step < 300; step++ {
				pid := testID(1<<40+uint64(rng.IntN(400)), true) // packs recur
				var blobs []format.ID
				for k := rng.IntN(200); k > 0; k-- {
					if len(known) > 0 && rng.IntN(4) == 0 {
						blobs = append(blobs, known[rng.IntN(len(known))])
					} else {
						id := newID()
						blobs = append(blobs, id)
						known = append(known, id)
					}
				}
				p := testPack(pid, blobs...)
				x.add(p)
				ref.add(p)
				packIDs = append(packIDs, pid)
				switch rng.IntN(20) {
				case 0:
					c := []format.ID{packIDs[rng.IntN(len(packIDs))], testID(1<<40+uint64(rng.IntN(400)), true)}
					r.CondemnPacks(c)
					for _, id := range c {
						ref.condemned[id] = true
					}
				case 1:
					x.settle()
				}
				if step%100 == 99 {
					// Unknown IDs: new random ones, or between and
					// beyond the shared-prefix ones.
					var unknown []format.ID
					for k := 0; k < 200; k++ {
						if spread {
							unknown = append(unknown, newID())
						} else {
							unknown = append(unknown, testID(uint64(rng.IntN(int(next)+100)), false))
						}
					}
					checkAgainst(t, x, ref, unknown)
					checkBase(t, &x.base)
				}
			}
			if x.base.n == 0 || x.base.n < x.Len()/2 {
				t.Fatalf("base holds %d of %d blobs: the test did not merge", x.base.n, x.Len())
			}
		})
	}
}

// Many goroutines call Has on known blobs while packs are added (merging
// the overlay into the base several times): every known blob is always
// found, and every added one at the end. Run with -race.
func TestIndexConcurrentHasAdd(t *testing.T) {
	x := newIndex()
	fillIndex(t, x, 2000, true)
	known := make([]format.ID, 2000)
	for i := range known {
		known[i] = testID(uint64(1000000+i), true)
	}
	const adds = 8 * minOverlay / 100
	var wg sync.WaitGroup
	stop := make(chan struct{})
	errs := make(chan error, 4)
	for g := 0; g < 4; g++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := 0; ; i++ {
				select {
				case <-stop:
					return
				default:
				}
				if id := known[(i*7+g)%len(known)]; !x.Has(id) {
					errs <- fmt.Errorf("known blob %x not found", id)
					return
				}
			}
		}()
	}
	for a := 0; a < adds; a++ {
		var ids []format.ID
		for k := 0; k < 100; k++ {
			ids = append(ids, testID(uint64(5000000+a*100+k), true))
		}
		x.add(testPack(testID(uint64(7000000+a), true), ids...))
	}
	close(stop)
	wg.Wait()
	close(errs)
	for err := range errs {
		t.Fatal(err)
	}
	if want := 2000 + adds*100; x.Len() != want {
		t.Fatalf("Len = %d, want %d", x.Len(), want)
	}
	for a := 0; a < adds*100; a += 37 {
		if !x.Has(testID(uint64(5000000+a), true)) {
			t.Fatalf("added blob %d not found", a)
		}
	}
}

// The index holds well under 100 bytes a blob (the map index took about
// 117 at a million blobs), at the end and at its peak, while it is built
// (the merges' peak).
func TestIndexMemoryPerBlob(t *testing.T) {
	const n = 300_000
	before := heapLive()
	x, peak := buildBenchIndex(n, 7, true)
	after := heapLive()
	perBlob := float64(after-before) / n
	peakPerBlob := float64(max(peak, after)-before) / n
	t.Logf("%.1f bytes a blob, %.1f at the peak", perBlob, peakPerBlob)
	if perBlob > 64 || peakPerBlob > 80 {
		t.Fatalf("%.1f bytes a blob, %.1f at the peak; want at most 64 and 80", perBlob, peakPerBlob)
	}
	runtime.KeepAlive(x)
}

// checkBase checks the base's invariants: IDs strictly increasing across
// the pages, every blob in its bucket.
func checkBase(t *testing.T, s *sortedBlobs) {
	t.Helper()
	for k := 1; k < s.n; k++ {
		if cmpID(s.id(k-1), s.id(k)) >= 0 {
			t.Fatalf("base not sorted at %d", k)
		}
	}
	if s.n == 0 {
		return
	}
	if got := s.bkt[len(s.bkt)-1]; int(got) != s.n {
		t.Fatalf("last bucket ends at %d, want %d", got, s.n)
	}
	for k := 0; k < s.n; k++ {
		b := s.bucket(s.id(k))
		if k < int(s.bkt[b]) || k >= int(s.bkt[b+1]) {
			t.Fatalf("blob %d outside its bucket %d [%d,%d)", k, b, s.bkt[b], s.bkt[b+1])
		}
	}
}

// Merges spanning several pages (whose pieces cross page boundaries at
// different places in the source and the destination) keep every blob, in
// order, each found at its location.
func TestIndexMergeAcrossPages(t *testing.T) {
	for _, spread := range []bool{true, false} {
		t.Run(fmt.Sprintf("spread=%v", spread), func(t *testing.T) {
			x := newIndex()
			n := 5*pageLen + 123
			fillIndex(t, x, n, spread)
			x.settle()
			if x.base.n != n || len(x.ov.ids) != 0 {
				t.Fatalf("base %d, overlay %d after settle; want %d, 0", x.base.n, len(x.ov.ids), n)
			}
			checkBase(t, &x.base)
			for i := 0; i < n; i++ {
				wantLoc(t, x, testID(uint64(1000000+i), spread), testID(uint64(900000+i/100*100), !spread), uint32(10*(i%100)))
			}
		})
	}
}
