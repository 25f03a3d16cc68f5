package enginetest

import (
	"context"
	"fmt"
	"math/rand/v2"
	"os"
	"path/filepath"
	"testing"
	"time"

	"lifeboat/crypto"
	"lifeboat/engine/chunker"
	"lifeboat/engine/compress"
	"lifeboat/engine/repo"
	"lifeboat/storage"
)

// Identity returns a fixed X25519 identity and its recipient.
func Identity(t testing.TB) (*crypto.Identity, *crypto.Recipient) {
	t.Helper()
	idStr, rcptStr, err := crypto.GenerateX25519()
	if err != nil {
		t.Fatal(err)
	}
	id, err := crypto.ParseIdentities([]byte(idStr))
	if err != nil {
		t.Fatal(err)
	}
	rc, err := crypto.ParseRecipient(rcptStr)
	if err != nil {
		t.Fatal(err)
	}
	return id, rc
}

// SmallParams are chunker parameters small enough that test files span
// several chunks.
var SmallParams = chunker.Params{Min: 4 << 10, Avg: 16 << 10, Max: 64 << 10}

// NewRepo initializes a repository in st with small chunks and packs and a
// deterministic random source, returning it and the identity that opens it.
func NewRepo(t testing.TB, st storage.Storage) (*repo.Repository, *crypto.Identity) {
	t.Helper()
	id, rc := Identity(t)
	r, err := repo.Init(context.Background(), st, repo.InitOptions{
		Options:     repo.Options{Rand: rand.NewChaCha8([32]byte{1, 2, 3})},
		Recipient:   rc,
		Host:        "test",
		Chunker:     SmallParams,
		Compression: compress.LevelFastest,
		PackSize:    1 << 20,
	})
	if err != nil {
		t.Fatal(err)
	}
	return r, id
}

// Reopen opens the repository in st again with id and loads its index, as a
// new process would.
func Reopen(t testing.TB, st storage.Storage, id *crypto.Identity) *repo.Repository {
	t.Helper()
	r, err := repo.Open(context.Background(), st, id, repo.Options{})
	if err != nil {
		t.Fatal(err)
	}
	if err := r.LoadIndex(context.Background()); err != nil {
		t.Fatal(err)
	}
	return r
}

// MTime is the modification time MakeTree gives every entry.
var MTime = time.Date(2024, 3, 4, 5, 6, 7, 891011121, time.UTC)

// MakeTree writes a deterministic tree under root: text and random files of
// many sizes (some spanning several chunks), duplicates, an empty file, a
// sparse file, odd names, modes, symlinks (relative, absolute, dangling, to
// a directory), a hard link pair, a FIFO and an empty directory.
func MakeTree(t testing.TB, root string, seed uint64) {
	t.Helper()
	rng := rand.New(rand.NewPCG(seed, 7))
	must := func(err error) {
		t.Helper()
		if err != nil {
			t.Fatal(err)
		}
	}
	write := func(rel string, data []byte, mode os.FileMode) {
		p := filepath.Join(root, rel)
		must(os.MkdirAll(filepath.Dir(p), 0o755))
		must(os.WriteFile(p, data, mode))
		must(os.Chmod(p, mode))
	}
	random := func(n int) []byte {
		b := make([]byte, n)
		for i := range b {
			b[i] = byte(rng.Uint32())
		}
		return b
	}
	text := func(n int) []byte {
		b := make([]byte, 0, n+64)
		for len(b) < n {
			b = fmt.Appendf(b, "line %d: the quick brown fox %d jumps\n", rng.IntN(1000), rng.IntN(1e6))
		}
		return b[:n]
	}
	for i := 0; i < 40; i++ {
		n := rng.IntN(200 << 10)
		var data []byte
		if i%2 == 0 {
			data = text(n)
		} else {
			data = random(n)
		}
		write(filepath.Join(fmt.Sprintf("d%d", i%4), fmt.Sprintf("e%d", i%3), fmt.Sprintf("f%02d", i)), data, 0o644)
		if i%7 == 0 {
			write(filepath.Join("dups", fmt.Sprintf("dup%02d", i)), data, 0o600)
		}
	}
	write("big/large.bin", append(random(300<<10), text(300<<10)...), 0o640)
	write("special/empty", nil, 0o644)
	write("special/with space & ünïcode", []byte("odd name\n"), 0o604)
	write("special/setgid-exec", []byte("#!/bin/sh\n"), 0o2755)
	// A sparse file: a hole, some data, another hole.
	sp := filepath.Join(root, "special", "sparse")
	f, err := os.Create(sp)
	must(err)
	_, err = f.WriteAt(random(5000), 200<<10)
	must(err)
	must(f.Truncate(512 << 10))
	must(f.Close())
	must(os.Symlink("with space & ünïcode", filepath.Join(root, "special", "link-rel")))
	must(os.Symlink("/etc/hostname", filepath.Join(root, "special", "link-abs")))
	must(os.Symlink("nowhere/at/all", filepath.Join(root, "special", "link-dangling")))
	must(os.Symlink("../d0", filepath.Join(root, "special", "link-dir")))
	must(os.Link(filepath.Join(root, "big", "large.bin"), filepath.Join(root, "special", "hardlink")))
	must(syscallMkfifo(filepath.Join(root, "special", "fifo"), 0o640))
	must(os.MkdirAll(filepath.Join(root, "empty-dir"), 0o700))
	SetTimes(t, root)
}

// SetTimes gives every entry below root (not following symlinks) MTime.
func SetTimes(t testing.TB, root string) {
	t.Helper()
	var dirs []string
	err := filepath.Walk(root, func(p string, fi os.FileInfo, err error) error {
		if err != nil {
			return err
		}
		if fi.IsDir() {
			dirs = append(dirs, p)
			return nil
		}
		return lchtimes(p, MTime)
	})
	if err != nil {
		t.Fatal(err)
	}
	for i := len(dirs) - 1; i >= 0; i-- {
		if err := os.Chtimes(dirs[i], MTime, MTime); err != nil {
			t.Fatal(err)
		}
	}
}
