package prune_test

import (
	"context"
	"encoding/binary"
	"fmt"
	"math/rand/v2"
	"os"
	"path/filepath"
	"runtime"
	"runtime/metrics"
	"sync"
	"testing"
	"time"

	"lifeboat/crypto"
	"lifeboat/engine/compress"
	"lifeboat/engine/enginetest"
	"lifeboat/engine/format"
	"lifeboat/engine/prune"
	"lifeboat/engine/repo"
	"lifeboat/storage"
	"lifeboat/storage/local"
)

// blobsPerFile is how many data blobs each generated file lists; each file
// sits in its own directory, so a tree holds one node.
const blobsPerFile = 1000

// BenchmarkMarkMemory measures the peak Go heap of a prune mark (index
// load included, as in a new process) on a local repository of n tiny data
// blobs: one snapshot names all of them, a second the first three quarters;
// the first is forgotten, so the mark condemns the packs holding only the
// last quarter. Reported, above the levels before the repository is
// opened: peak-heap-MiB and heap-B/blob (heap objects, garbage not yet
// swept included: what the process holds), peak-live-MiB and live-B/blob
// (the heap the garbage collector found live). Build the repository
// once per iteration, untimed; run with -benchtime=1x.
//
// With LIFEBOAT_BENCH_KEEP=DIR (DIR must not exist) the 1,000,000-blob
// repository is also copied, before the mark, to DIR/repo with its age
// identity in DIR/identity, so that the CLI's peak RSS can be measured on
// it: /usr/bin/time -v lifeboat --repo DIR/repo --identity DIR/identity
// prune --grace 1ns --min-pack-age 1ns (bench/prune.sh MILLION=1 does).
func BenchmarkMarkMemory(b *testing.B) {
	for _, n := range []int{100_000, 1_000_000} {
		b.Run(fmt.Sprintf("blobs=%d", n), func(b *testing.B) {
			for i := 0; i < b.N; i++ {
				b.StopTimer()
				dir := b.TempDir()
				st, id, idStr := buildRepo(b, dir, n)
				if keep := os.Getenv("LIFEBOAT_BENCH_KEEP"); keep != "" && n == 1_000_000 && i == 0 {
					if err := os.CopyFS(filepath.Join(keep, "repo"), os.DirFS(dir)); err != nil {
						b.Fatal(err)
					}
					if err := os.WriteFile(filepath.Join(keep, "identity"), []byte(idStr), 0o600); err != nil {
						b.Fatal(err)
					}
				}
				runtime.GC()
				base, lbase := heapBytes(), liveBytes()
				stop := sampleHeap()
				b.StartTimer()
				r := enginetest.Reopen(b, st, id)
				res, err := prune.Run(context.Background(), r, prune.Options{MinPackAge: time.Nanosecond, Grace: time.Hour})
				b.StopTimer()
				peak, live := stop()
				if err != nil {
					b.Fatal(err)
				}
				if res.Action != prune.ActionMark || len(res.Plan.Condemned) == 0 {
					b.Fatalf("mark: action %s, plan %+v", res.Action, res.Plan)
				}
				runtime.KeepAlive(r)
				b.ReportMetric(float64(peak-base)/(1<<20), "peak-heap-MiB")
				b.ReportMetric(float64(peak-base)/float64(n), "heap-B/blob")
				b.ReportMetric(float64(live-lbase)/(1<<20), "peak-live-MiB")
				b.ReportMetric(float64(live-lbase)/float64(n), "live-B/blob")
				b.StartTimer()
			}
		})
	}
}

// buildRepo writes n 16-byte data blobs and the two snapshots described at
// BenchmarkMarkMemory into a local repository in dir (as
// enginetest.NewRepo would), and forgets the full one. It returns the
// identity that opens it, also as text.
func buildRepo(b *testing.B, dir string, n int) (storage.Storage, *crypto.Identity, string) {
	b.Helper()
	ctx := context.Background()
	st, err := local.New(dir)
	if err != nil {
		b.Fatal(err)
	}
	idStr, rcptStr, err := crypto.GenerateX25519()
	if err != nil {
		b.Fatal(err)
	}
	id, err := crypto.ParseIdentities([]byte(idStr))
	if err != nil {
		b.Fatal(err)
	}
	rc, err := crypto.ParseRecipient(rcptStr)
	if err != nil {
		b.Fatal(err)
	}
	r, err := repo.Init(ctx, st, repo.InitOptions{
		Options:     repo.Options{Rand: rand.NewChaCha8([32]byte{1, 2, 3})},
		Recipient:   rc,
		Host:        "bench",
		Chunker:     enginetest.SmallParams,
		Compression: compress.LevelFastest,
		PackSize:    1 << 20,
	})
	if err != nil {
		b.Fatal(err)
	}
	mtime := time.Date(2026, 1, 2, 3, 4, 5, 0, time.UTC)
	var dirs []format.Node
	buf := make([]byte, 16)
	for f := 0; f*blobsPerFile < n; f++ {
		file := format.Node{Name: "f", Type: format.TypeFile, Mode: 0o644, MTime: mtime}
		for j := f * blobsPerFile; j < min(n, (f+1)*blobsPerFile); j++ {
			binary.LittleEndian.PutUint64(buf, uint64(j))
			bid := r.Hash(buf)
			if _, err := r.SaveBlob(ctx, format.BlobData, bid, buf); err != nil {
				b.Fatal(err)
			}
			file.Content = append(file.Content, bid)
			file.Size += uint64(len(buf))
		}
		file.Hash = new(format.ID)
		*file.Hash = r.FileHash(file.Size, file.Content)
		tid, err := r.SaveTree(ctx, &format.Tree{Nodes: []format.Node{file}})
		if err != nil {
			b.Fatal(err)
		}
		dirs = append(dirs, format.Node{Name: fmt.Sprintf("d%07d", f), Type: format.TypeDir, Mode: 0o755, MTime: mtime, Subtree: &tid})
	}
	snap := func(nodes []format.Node) format.ID {
		tid, err := r.SaveTree(ctx, &format.Tree{Nodes: nodes})
		if err != nil {
			b.Fatal(err)
		}
		if _, err := r.Flush(ctx); err != nil {
			b.Fatal(err)
		}
		sid, err := r.SaveSnapshot(ctx, &format.Snapshot{Version: 1, Time: mtime, Host: "bench", Paths: []string{"/data"}, Tree: tid})
		if err != nil {
			b.Fatal(err)
		}
		return sid
	}
	full := snap(dirs)
	snap(dirs[:len(dirs)*3/4])
	if _, err := r.Forget(ctx, []format.ID{full}); err != nil {
		b.Fatal(err)
	}
	return st, id, idStr
}

// heapBytes is the current size of live and not yet swept heap objects
// (what the process's heap holds, garbage included).
func heapBytes() uint64 { return readMetric("/memory/classes/heap/objects:bytes") }

// liveBytes is the heap marked live by the last garbage collection.
func liveBytes() uint64 { return readMetric("/gc/heap/live:bytes") }

func readMetric(name string) uint64 {
	s := []metrics.Sample{{Name: name}}
	metrics.Read(s)
	return s[0].Value.Uint64()
}

// sampleHeap samples heapBytes and liveBytes every millisecond until the
// returned function is called, which returns the largest values seen.
func sampleHeap() func() (heap, live uint64) {
	var (
		mu   sync.Mutex
		peak = heapBytes()
		lpk  = liveBytes()
		done = make(chan struct{})
		wg   sync.WaitGroup
	)
	wg.Add(1)
	go func() {
		defer wg.Done()
		t := time.NewTicker(time.Millisecond)
		defer t.Stop()
		for {
			select {
			case <-done:
				return
			case <-t.C:
				h, l := heapBytes(), liveBytes()
				mu.Lock()
				peak, lpk = max(peak, h), max(lpk, l)
				mu.Unlock()
			}
		}
	}()
	return func() (uint64, uint64) {
		close(done)
		wg.Wait()
		mu.Lock()
		defer mu.Unlock()
		return max(peak, heapBytes()), max(lpk, liveBytes())
	}
}
