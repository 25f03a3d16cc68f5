package backup_test

import (
	"context"
	"path/filepath"
	"testing"

	"lifeboat/engine/backup"
	"lifeboat/engine/enginetest"
	"lifeboat/engine/restore"
	"lifeboat/storage/local"
)

// BenchmarkBackupRestore measures the whole pipelines on a generated tree
// into a local repository: the initial backup, a no-change backup, and a
// full restore. Bytes/s are of the source tree.
func BenchmarkBackupRestore(b *testing.B) {
	src := filepath.Join(b.TempDir(), "src")
	enginetest.MakeTree(b, src, 9)
	size := treeSize(b, src)
	b.Run("initial", func(b *testing.B) {
		b.SetBytes(size)
		for i := 0; i < b.N; i++ {
			b.StopTimer()
			st, err := local.New(filepath.Join(b.TempDir(), "repo"))
			if err != nil {
				b.Fatal(err)
			}
			r, _ := enginetest.NewRepo(b, st)
			b.StartTimer()
			if _, err := backup.Run(context.Background(), r, backup.Options{Paths: []string{src}, Host: "b"}); err != nil {
				b.Fatal(err)
			}
		}
	})
	st, err := local.New(filepath.Join(b.TempDir(), "repo"))
	if err != nil {
		b.Fatal(err)
	}
	r, _ := enginetest.NewRepo(b, st)
	first, err := backup.Run(context.Background(), r, backup.Options{Paths: []string{src}, Host: "b"})
	if err != nil {
		b.Fatal(err)
	}
	b.Run("unchanged", func(b *testing.B) {
		b.SetBytes(size)
		for i := 0; i < b.N; i++ {
			ref := refOf(first)
			if _, err := backup.Run(context.Background(), r, backup.Options{Paths: []string{src}, Host: "b", Parent: ref}); err != nil {
				b.Fatal(err)
			}
		}
	})
	b.Run("restore", func(b *testing.B) {
		b.SetBytes(size)
		for i := 0; i < b.N; i++ {
			target := b.TempDir()
			if _, err := restore.Run(context.Background(), r, first.Snapshot, restore.Options{Target: target}); err != nil {
				b.Fatal(err)
			}
		}
	})
}
