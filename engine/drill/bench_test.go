package drill_test

import (
	"context"
	"fmt"
	"io"
	"math/rand/v2"
	"os"
	"path/filepath"
	"testing"
	"time"

	"lifeboat/engine/backup"
	"lifeboat/engine/drill"
	"lifeboat/engine/enginetest"
	"lifeboat/engine/format"
	"lifeboat/engine/repo"
	"lifeboat/engine/restore"
	"lifeboat/storage/local"
)

// benchRepo backs up a generated tree of about 96 MiB (half compressible
// text, half random; 8 KiB to 4 MiB files) into a local repository with
// the default chunker and pack size, and returns it reopened.
func benchRepo(b *testing.B) (*repo.Repository, *format.Snapshot) {
	b.Helper()
	src := filepath.Join(b.TempDir(), "src")
	rng := rand.New(rand.NewPCG(9, 9))
	var total int
	for i := 0; total < 96<<20; i++ {
		n := 8<<10 + rng.IntN(4<<20)
		data := make([]byte, n)
		if i%2 == 0 {
			for j := range data {
				data[j] = byte(rng.Uint32())
			}
		} else {
			for j := 0; j < n; {
				j += copy(data[j:], fmt.Sprintf("line %d of file %d: the quick brown fox %d\n", j, i, rng.IntN(1000)))
			}
		}
		p := filepath.Join(src, fmt.Sprintf("d%d", i%8), fmt.Sprintf("f%04d", i))
		if err := os.MkdirAll(filepath.Dir(p), 0o755); err != nil {
			b.Fatal(err)
		}
		if err := os.WriteFile(p, data, 0o644); err != nil {
			b.Fatal(err)
		}
		total += n
	}
	st, err := local.New(filepath.Join(b.TempDir(), "repo"))
	if err != nil {
		b.Fatal(err)
	}
	id, rc := enginetest.Identity(b)
	r, err := repo.Init(context.Background(), st, repo.InitOptions{Recipient: rc, Host: "bench"})
	if err != nil {
		b.Fatal(err)
	}
	res, err := backup.Run(context.Background(), r, backup.Options{Paths: []string{src}, Host: "bench"})
	if err != nil {
		b.Fatal(err)
	}
	b.SetBytes(int64(total))
	return enginetest.Reopen(b, st, id), res.Snapshot
}

// BenchmarkRestore is a plain restore of the tree.
func BenchmarkRestore(b *testing.B) {
	r, snap := benchRepo(b)
	b.ResetTimer()
	for range b.N {
		target := scratch(b)
		if _, err := restore.Run(context.Background(), r, snap, restore.Options{Target: target}); err != nil {
			b.Fatal(err)
		}
		b.StopTimer()
		removeAll(b, target)
		b.StartTimer()
	}
}

// BenchmarkRestoreAndRead is a restore followed by a read of every
// restored file: the cost a full drill should stay within 1.1 times of.
func BenchmarkRestoreAndRead(b *testing.B) {
	r, snap := benchRepo(b)
	b.ResetTimer()
	for range b.N {
		target := scratch(b)
		if _, err := restore.Run(context.Background(), r, snap, restore.Options{Target: target}); err != nil {
			b.Fatal(err)
		}
		err := filepath.WalkDir(target, func(p string, d os.DirEntry, err error) error {
			if err != nil || !d.Type().IsRegular() {
				return err
			}
			f, err := os.Open(p)
			if err != nil {
				return err
			}
			defer f.Close()
			_, err = io.Copy(io.Discard, f)
			return err
		})
		if err != nil {
			b.Fatal(err)
		}
		b.StopTimer()
		removeAll(b, target)
		b.StartTimer()
	}
}

// BenchmarkDrill is a full drill of the same tree: restore, then re-read
// and verify every file (content hashed at the blob boundaries, metadata).
func BenchmarkDrill(b *testing.B) {
	r, _ := benchRepo(b)
	var restoreT, verifyT time.Duration
	b.ResetTimer()
	for range b.N {
		target := scratch(b)
		rep, err := drill.Run(context.Background(), r, drill.Options{Target: target, Keep: true, NoRecord: true})
		if err != nil {
			b.Fatal(err)
		}
		if !rep.Passed || rep.Files == 0 || rep.Bytes != rep.BytesTotal {
			b.Fatalf("drill: %+v", rep.Reasons)
		}
		restoreT += rep.RestoreTime
		verifyT += rep.VerifyTime
		b.StopTimer()
		removeAll(b, target)
		b.StartTimer()
	}
	b.ReportMetric(restoreT.Seconds()/float64(b.N), "restore-s/op")
	b.ReportMetric(verifyT.Seconds()/float64(b.N), "verify-s/op")
}

func scratch(b *testing.B) string {
	b.Helper()
	dir, err := os.MkdirTemp(b.TempDir(), "target-")
	if err != nil {
		b.Fatal(err)
	}
	return dir
}

func removeAll(b *testing.B, dir string) {
	b.Helper()
	if err := os.RemoveAll(dir); err != nil {
		b.Fatal(err)
	}
}
