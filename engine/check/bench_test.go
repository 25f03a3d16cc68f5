package check_test

import (
	"context"
	"fmt"
	"math/rand/v2"
	"os"
	"path/filepath"
	"testing"

	"lifeboat/crypto"
	"lifeboat/engine/backup"
	"lifeboat/engine/check"
	"lifeboat/engine/enginetest"
	"lifeboat/engine/repo"
	"lifeboat/internal/cputime"
	"lifeboat/storage"
	"lifeboat/storage/local"
	"lifeboat/storage/regions"
)

// benchRepo backs up a generated tree into a repository of nRegions local
// regions (one plain local storage when nRegions is 1) with the default
// chunker and 4 MiB packs, and returns the storage and the identity that
// opens it. The tree holds about 96 MiB, half compressible text, half
// random: files of 4 KiB to 2 MiB (about 20 packs), or with small set,
// 50,000 files of 16 to 4,000 bytes (many blobs per pack).
func benchRepo(b *testing.B, nRegions int, small bool) (storage.Storage, *crypto.Identity) {
	b.Helper()
	src := filepath.Join(b.TempDir(), "src")
	rng := rand.New(rand.NewPCG(13, 13))
	var total int
	for i := 0; total < 96<<20 && (!small || i < 50000); i++ {
		n := 4<<10 + rng.IntN(2<<20)
		if small {
			n = 16 + rng.IntN(4000)
		}
		data := make([]byte, n)
		if i%2 == 0 {
			for j := range data {
				data[j] = byte(rng.Uint32())
			}
		} else {
			for j := 0; j < n; {
				j += copy(data[j:], fmt.Sprintf("line %d of file %d: %x the quick brown fox %d\n", j, i, rng.Uint64(), rng.IntN(1000)))
			}
		}
		p := filepath.Join(src, fmt.Sprintf("d%d", i%8), fmt.Sprintf("e%d", i%100), fmt.Sprintf("f%05d", i))
		if err := os.MkdirAll(filepath.Dir(p), 0o755); err != nil {
			b.Fatal(err)
		}
		if err := os.WriteFile(p, data, 0o644); err != nil {
			b.Fatal(err)
		}
		total += n
	}
	var st storage.Storage
	var rs []regions.Region
	for i := range nRegions {
		l, err := local.New(filepath.Join(b.TempDir(), fmt.Sprintf("region%d", i)))
		if err != nil {
			b.Fatal(err)
		}
		st = l
		rs = append(rs, regions.Region{Name: fmt.Sprintf("r%d", i), Storage: l, Priority: i})
	}
	if nRegions > 1 {
		set, err := regions.New(rs, regions.Options{})
		if err != nil {
			b.Fatal(err)
		}
		st = set
	}
	id, rc := enginetest.Identity(b)
	r, err := repo.Init(context.Background(), st, repo.InitOptions{Recipient: rc, Host: "bench", PackSize: 4 << 20})
	if err != nil {
		b.Fatal(err)
	}
	if _, err := backup.Run(context.Background(), r, backup.Options{Paths: []string{src}, Host: "bench"}); err != nil {
		b.Fatal(err)
	}
	return st, id
}

// BenchmarkCheckReadData is check --read-data of the generated repository
// in one local region and in two, and of the small files in one: MB/s of sealed pack bytes read (every
// region's copy), MB per CPU second (user+system, less sensitive to a
// shared machine's load), allocations per run.
func BenchmarkCheckReadData(b *testing.B) {
	for _, tc := range []struct {
		regions int
		small   bool
	}{{1, false}, {2, false}, {1, true}} {
		n := tc.regions
		name := fmt.Sprintf("regions=%d", n)
		if tc.small {
			name += "/small-files"
		}
		b.Run(name, func(b *testing.B) {
			st, id := benchRepo(b, n, tc.small)
			b.ReportAllocs()
			b.ResetTimer()
			var read int64
			cpu0 := cputime.Used()
			for range b.N {
				r, err := repo.Open(context.Background(), st, id, repo.Options{})
				if err != nil {
					b.Fatal(err)
				}
				res, err := check.Run(context.Background(), r, check.Options{ReadData: true})
				if err != nil {
					b.Fatal(err)
				}
				if res.PacksRead != int64(n)*res.Packs {
					b.Fatalf("read %d pack copies of %d packs in %d regions", res.PacksRead, res.Packs, n)
				}
				read = res.BytesRead
			}
			b.SetBytes(read)
			if cpu := cputime.Used() - cpu0; cpu > 0 {
				b.ReportMetric(float64(read)*float64(b.N)/1e6/cpu.Seconds(), "MB/cpu-s")
			}
		})
	}
}
