package check_test

import (
	"context"
	"errors"
	"fmt"
	"io"
	"maps"
	"math/rand/v2"
	"path/filepath"
	"runtime"
	"slices"
	"sync"
	"testing"
	"time"

	"lifeboat/engine/backup"
	"lifeboat/engine/check"
	"lifeboat/engine/enginetest"
	"lifeboat/engine/format"
	"lifeboat/engine/repo"
	"lifeboat/storage"
	"lifeboat/storage/local"
	"lifeboat/storage/mem"
	"lifeboat/storage/regions"
)

// badBlobEnv is a repository in two in-memory regions a and b whose
// packs each hold good blobs and one blob stored under a wrong ID: the
// packs' bytes are intact (their SHA-256 is their name, they
// authenticate), but that blob does not hash to its ID, in every copy.
type badBlobEnv struct {
	set   *regions.Set
	r     func(t *testing.T) *repo.Repository
	bad   map[format.ID]format.ID // bad blob -> its pack
	blobs int                     // blobs stored
}

func newBadBlobEnv(t *testing.T, packs int) *badBlobEnv {
	t.Helper()
	ctx := context.Background()
	var rs []regions.Region
	for i, name := range []string{"a", "b"} {
		rs = append(rs, regions.Region{Name: name, Storage: mem.New(), Priority: i})
	}
	set, err := regions.New(rs, regions.Options{})
	if err != nil {
		t.Fatal(err)
	}
	r, id := enginetest.NewRepo(t, set)
	e := &badBlobEnv{set: set, bad: map[format.ID]format.ID{}}
	rng := rand.New(rand.NewPCG(5, 5))
	random := func(n int) []byte {
		b := make([]byte, n)
		for i := range b {
			b[i] = byte(rng.Uint32())
		}
		return b
	}
	var badIDs []format.ID
	for i := range packs {
		// Each Flush ends the pack being filled: one pack per round.
		for j := range 4 {
			data := random(20<<10 + j<<10)
			id := r.Hash(data)
			if j == 2 {
				id = r.Hash(append(data, byte(i))) // not this data's ID
				badIDs = append(badIDs, id)
			}
			if _, err := r.SaveBlob(ctx, format.BlobData, id, data); err != nil {
				t.Fatal(err)
			}
			e.blobs++
		}
		if _, err := r.Flush(ctx); err != nil {
			t.Fatal(err)
		}
	}
	e.r = func(t *testing.T) *repo.Repository { return enginetest.Reopen(t, set, id) }
	idx := e.r(t).Index()
	for _, b := range badIDs {
		loc, ok := idx.Lookup(b)
		if !ok {
			t.Fatalf("bad blob %s not indexed", b.Short())
		}
		e.bad[b] = loc.Pack.ID
	}
	inPacks := map[format.ID]bool{}
	for _, p := range e.bad {
		inPacks[p] = true
	}
	if n := len(inPacks); n != packs {
		t.Fatalf("the bad blobs are in %d packs, want %d", n, packs)
	}
	return e
}

// TestReadDataFindsABadBlobInEveryPackAndRegion: with any number of
// workers, every bad blob is reported once per region, naming the region,
// its pack and the blob, and nothing else is.
func TestReadDataFindsABadBlobInEveryPackAndRegion(t *testing.T) {
	e := newBadBlobEnv(t, 5)
	for _, workers := range []int{1, 2, 8} {
		t.Run(fmt.Sprintf("workers=%d", workers), func(t *testing.T) {
			var mu sync.Mutex
			type key struct {
				region, object string
				blob           format.ID
			}
			got := map[key]int{}
			reads := map[key]error{}
			opts := check.Options{ReadData: true, Workers: workers,
				OnProblem: func(p check.Problem) {
					mu.Lock()
					defer mu.Unlock()
					if !errors.Is(p.Err, repo.ErrHashMismatch) {
						t.Errorf("problem %q: want a blob hash mismatch", p)
					}
					got[key{p.Region, p.Object, p.Blob}]++
				},
				OnPackRead: func(pack format.ID, region string, err error) {
					mu.Lock()
					defer mu.Unlock()
					reads[key{region: region, object: format.PackName(pack)}] = err
				},
			}
			res, err := check.Run(context.Background(), e.r(t), opts)
			if !errors.Is(err, check.ErrProblems) {
				t.Fatalf("check: %v, want ErrProblems", err)
			}
			want := map[key]int{}
			wantBad := map[string][]string{}
			for b, p := range e.bad {
				for _, region := range []string{"a", "b"} {
					want[key{region, format.PackName(p), b}] = 1
				}
				wantBad[format.PackName(p)] = []string{"a", "b"}
			}
			if !maps.Equal(got, want) {
				t.Errorf("problems %v, want %v", got, want)
			}
			if !maps.EqualFunc(res.BadCopies, wantBad, slices.Equal) {
				t.Errorf("bad copies %v, want %v", res.BadCopies, wantBad)
			}
			if w := slices.Sorted(maps.Keys(wantBad)); !slices.Equal(res.NoGoodCopy, w) {
				t.Errorf("no good copy of %v, want %v", res.NoGoodCopy, w)
			}
			if res.Blobs != int64(2*e.blobs) {
				t.Errorf("verified %d blob copies, want %d", res.Blobs, 2*e.blobs)
			}
			if len(reads) != 2*int(res.Packs) {
				t.Errorf("%d pack copies read, want %d", len(reads), 2*res.Packs)
			}
			for k, err := range reads {
				if _, bad := wantBad[k.object]; bad != (err != nil) {
					t.Errorf("region %s, %s: read %v", k.region, k.object, err)
				}
			}
		})
	}
}

// TestReadDataFindsEveryBadCopy: copies damaged in different regions,
// some packs in two of them, are each reported under their region and
// object, whatever the number of workers; the copies in c are good.
func TestReadDataFindsEveryBadCopy(t *testing.T) {
	e := newRegionEnv(t)
	damaged := map[string][]repo.PackInfo{
		"a": {e.packs[0], e.packs[2]},
		"b": {e.packs[1], e.packs[2]},
	}
	want := map[string][]string{}
	for region, ps := range damaged {
		for _, p := range ps {
			e.damage(t, region, p)
			want[format.PackName(p.ID)] = append(want[format.PackName(p.ID)], region)
		}
	}
	for _, rs := range want {
		slices.Sort(rs)
	}
	for _, workers := range []int{1, 2, 8} {
		t.Run(fmt.Sprintf("workers=%d", workers), func(t *testing.T) {
			o := e.run(t, check.Options{ReadData: true, Workers: workers})
			if !errors.Is(o.err, check.ErrProblems) {
				t.Fatalf("check: %v, want ErrProblems", o.err)
			}
			if !maps.EqualFunc(o.res.BadCopies, want, slices.Equal) {
				t.Errorf("bad copies %v, want %v", o.res.BadCopies, want)
			}
			if len(o.res.NoGoodCopy) != 0 {
				t.Errorf("no good copy of %v, but c holds one of each", o.res.NoGoodCopy)
			}
			found := map[string][]string{}
			for _, p := range o.problems {
				if !errors.Is(p.Err, repo.ErrHashMismatch) {
					t.Errorf("problem %q: want a hash mismatch", p)
				}
				found[p.Object] = append(found[p.Object], p.Region)
			}
			for _, rs := range found {
				slices.Sort(rs)
			}
			if !maps.EqualFunc(found, want, slices.Equal) {
				t.Errorf("problems name %v, want %v", found, want)
			}
			for _, region := range []string{"a", "b", "c"} {
				for _, p := range e.packs {
					err, ok := o.reads[region][p.ID]
					bad := slices.Contains(want[format.PackName(p.ID)], region)
					if !ok || bad != (err != nil) {
						t.Errorf("region %s, pack %s: read %v, error %v", region, p.ID.Short(), ok, err)
					}
				}
			}
		})
	}
}

// gets counts the whole-object Gets of data packs (packs of file
// contents: the structural walk, running alongside, reads tree packs) open
// at once, from Get to the body's Close, across the regions it wraps.
// Until gate of them have been open at once, each such Get waits for that
// (at most a minute, then it fails the test): so a check that never reads
// gate packs at once fails rather than passing by luck of scheduling.
type gets struct {
	t     *testing.T
	mu    sync.Mutex
	count map[string]bool // the data packs (nil: count nothing yet)
	open  int
	max   int
	gate  int
	full  chan struct{} // closed once gate Gets were open at once
}

type countingStorage struct {
	storage.Storage
	g *gets
}

type countedBody struct {
	io.ReadCloser
	once sync.Once
	g    *gets
}

func (b *countedBody) Close() error {
	b.once.Do(func() {
		b.g.mu.Lock()
		b.g.open--
		b.g.mu.Unlock()
	})
	return b.ReadCloser.Close()
}

func (s countingStorage) Get(ctx context.Context, name string, off, length int64) (io.ReadCloser, error) {
	g := s.g
	g.mu.Lock()
	if !g.count[name] || length >= 0 || off != 0 {
		g.mu.Unlock()
		return s.Storage.Get(ctx, name, off, length)
	}
	g.open++
	g.max = max(g.max, g.open)
	if g.open >= g.gate {
		select {
		case <-g.full:
		default:
			close(g.full)
		}
	}
	g.mu.Unlock()
	select {
	case <-g.full:
	case <-time.After(time.Minute):
		g.t.Errorf("get %s: never %d packs read at once", name, g.gate)
	}
	body, err := s.Storage.Get(ctx, name, off, length)
	if err != nil {
		g.mu.Lock()
		g.open--
		g.mu.Unlock()
		return nil, err
	}
	return &countedBody{ReadCloser: body, g: g}, nil
}

// TestReadDataBoundsPacksInFlight: the data check reads Workers packs at
// once, in one region and in several, never more.
func TestReadDataBoundsPacksInFlight(t *testing.T) {
	for _, nRegions := range []int{1, 2} {
		for _, workers := range []int{1, 2, 3} {
			t.Run(fmt.Sprintf("regions=%d/workers=%d", nRegions, workers), func(t *testing.T) {
				g := &gets{t: t, full: make(chan struct{})}
				var rs []regions.Region
				for i := range nRegions {
					rs = append(rs, regions.Region{Name: fmt.Sprint("r", i), Storage: countingStorage{mem.New(), g}, Priority: i})
				}
				set, err := regions.New(rs, regions.Options{})
				if err != nil {
					t.Fatal(err)
				}
				r, id := enginetest.NewRepo(t, set)
				src := filepath.Join(t.TempDir(), "src")
				enginetest.MakeTree(t, src, 3)
				if _, err := backup.Run(context.Background(), r, backup.Options{Paths: []string{src}, Host: "test"}); err != nil {
					t.Fatal(err)
				}
				r = enginetest.Reopen(t, set, id)
				packs := len(r.Index().Packs())
				dataPacks := map[string]bool{}
				r.Index().Each(func(loc repo.Location) {
					if loc.Blob.Type == format.BlobData {
						dataPacks[format.PackName(loc.Pack.ID)] = true
					}
				})
				g.mu.Lock()
				g.count, g.gate = dataPacks, min(workers, len(dataPacks))
				g.mu.Unlock()
				res, err := check.Run(context.Background(), r, check.Options{ReadData: true, Workers: workers})
				if err != nil {
					t.Fatal(err)
				}
				if res.PacksRead != int64(nRegions*packs) {
					t.Errorf("read %d pack copies, want %d", res.PacksRead, nRegions*packs)
				}
				if g.max > workers || g.max < g.gate {
					t.Errorf("%d data packs read at once, want %d (workers %d, data packs %d)", g.max, g.gate, workers, len(dataPacks))
				}
				if g.open != 0 {
					t.Errorf("%d pack reads left open", g.open)
				}
			})
		}
	}
}

// TestReadDataAllocatesLittle: verifying the data allocates less than it
// reads (about 15 MiB in 1 MiB packs, 16 KiB chunks): pack, decryption
// and decompression buffers are reused, not allocated per blob (64 KiB
// per blob once made that 7 times what was read).
func TestReadDataAllocatesLittle(t *testing.T) {
	st, err := local.New(filepath.Join(t.TempDir(), "repo"))
	if err != nil {
		t.Fatal(err)
	}
	r, id := enginetest.NewRepo(t, st)
	src := filepath.Join(t.TempDir(), "src")
	for i := range 6 {
		enginetest.MakeTree(t, filepath.Join(src, fmt.Sprint(i)), uint64(10+i))
	}
	if _, err := backup.Run(context.Background(), r, backup.Options{Paths: []string{src}, Host: "test"}); err != nil {
		t.Fatal(err)
	}
	r = enginetest.Reopen(t, st, id)
	var before, after runtime.MemStats
	runtime.ReadMemStats(&before)
	res, err := check.Run(context.Background(), r, check.Options{ReadData: true, Workers: 2})
	runtime.ReadMemStats(&after)
	if err != nil {
		t.Fatal(err)
	}
	if res.BytesRead < 12<<20 {
		t.Fatalf("read %d bytes: too little to tell", res.BytesRead)
	}
	alloc := after.TotalAlloc - before.TotalAlloc
	limit := uint64(res.BytesRead)
	if raceEnabled {
		// sync.Pool drops items at random: the zstd decoders are made
		// again and again. Still well below what allocating per blob
		// costs.
		limit *= 4
	}
	if alloc > limit {
		t.Errorf("check --read-data allocated %d bytes to read %d (%d blobs)", alloc, res.BytesRead, res.Blobs)
	}
	t.Logf("allocated %d bytes to read %d (%d blobs)", alloc, res.BytesRead, res.Blobs)
}
