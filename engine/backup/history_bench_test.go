package backup_test

import (
	"context"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"testing"
	"time"

	"lifeboat/crypto"
	"lifeboat/engine/backup"
	"lifeboat/engine/enginetest"
	"lifeboat/engine/repo"
	"lifeboat/storage"
	"lifeboat/storage/local"
)

// historyRepo is a local repository backed up as a new process would back
// it up: open, load the index, find the parent, back up.
type historyRepo struct {
	st    storage.Storage
	id    *crypto.Identity
	cache string
	src   string
}

func newHistoryRepo(b *testing.B, src string) *historyRepo {
	b.Helper()
	dir := b.TempDir()
	st, err := local.New(filepath.Join(dir, "repo"))
	if err != nil {
		b.Fatal(err)
	}
	_, id := enginetest.NewRepo(b, st)
	return &historyRepo{st: st, id: id, cache: filepath.Join(dir, "cache"), src: src}
}

// backup runs one whole backup session, like `lifeboat backup`.
func (h *historyRepo) backup(b *testing.B) {
	b.Helper()
	ctx := context.Background()
	r, err := repo.Open(ctx, h.st, h.id, repo.Options{CacheDir: h.cache, CacheIndex: true}) // as the CLI opens it
	if err != nil {
		b.Fatal(err)
	}
	if err := r.LoadIndex(ctx); err != nil {
		b.Fatal(err)
	}
	opts := backup.Options{Paths: []string{h.src}, Host: "bench"}
	p, err := r.FindSnapshot(ctx, "latest", repo.Filter{Host: "bench", Paths: []string{h.src}})
	switch {
	case err == nil:
		opts.Parent = &p
	case !errors.Is(err, repo.ErrSnapshotNotFound):
		b.Fatal(err)
	}
	if _, err := backup.Run(ctx, r, opts); err != nil {
		b.Fatal(err)
	}
}

// BenchmarkBackupHistory measures what each existing snapshot adds to the
// cost of a backup session (open, load the index, find the parent, back
// up) of a small tree. In "unchanged" nothing changes between backups, so
// the history is snapshots only (plus the index objects of the root
// trees that the temporary directory's changing ancestors cause); in
// "changing" one file changes per backup, so every backup also stores two
// packs and one index object, which only a prune consolidates. Each
// sub-benchmark keeps two repositories of the same tree, one with one
// snapshot and one with N (both grow by one per iteration, so they stay
// N-1 apart), times the session on the second and reports, besides ns/op,
// ns/snapshot: the difference of the two sessions' times divided by N-1,
// and the index objects of the second repository at the end.
func BenchmarkBackupHistory(b *testing.B) {
	src := filepath.Join(b.TempDir(), "src")
	for i := range 20 {
		p := filepath.Join(src, fmt.Sprintf("d%d", i%4), fmt.Sprintf("f%02d", i))
		if err := os.MkdirAll(filepath.Dir(p), 0o755); err != nil {
			b.Fatal(err)
		}
		if err := os.WriteFile(p, fmt.Appendf(nil, "small file %d\n", i), 0o644); err != nil {
			b.Fatal(err)
		}
	}
	round := 0
	for _, mode := range []string{"unchanged", "changing"} {
		change := func(b *testing.B) {
			b.Helper()
			if mode == "unchanged" {
				return
			}
			round++
			if err := os.WriteFile(filepath.Join(src, "changing"), fmt.Appendf(nil, "round %d\n", round), 0o644); err != nil {
				b.Fatal(err)
			}
		}
		for _, n := range []int{10, 100, 300} {
			b.Run(fmt.Sprintf("%s/snapshots=%d", mode, n), func(b *testing.B) {
				base, many := newHistoryRepo(b, src), newHistoryRepo(b, src)
				change(b)
				base.backup(b)
				for range n {
					change(b)
					many.backup(b)
				}
				var baseTime time.Duration
				b.ResetTimer()
				for range b.N {
					b.StopTimer()
					change(b)
					t0 := time.Now()
					base.backup(b)
					baseTime += time.Since(t0)
					b.StartTimer()
					many.backup(b)
				}
				b.StopTimer()
				per := (float64(b.Elapsed()) - float64(baseTime)) / float64(b.N) / float64(n-1)
				b.ReportMetric(per, "ns/snapshot")
				b.ReportMetric(float64(many.count(b, "index/")), "index-objects")
			})
		}
	}
}

// count returns the number of objects under prefix.
func (h *historyRepo) count(b *testing.B, prefix string) int {
	b.Helper()
	n := 0
	err := h.st.List(context.Background(), prefix, func(storage.Info) error { n++; return nil })
	if err != nil {
		b.Fatal(err)
	}
	return n
}
