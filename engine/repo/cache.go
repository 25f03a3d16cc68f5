package repo

import (
	"context"
	"crypto/sha256"
	"errors"
	"io"
	"os"
	"path/filepath"
	"sync"

	"lifeboat/engine/format"
	"lifeboat/storage"
)

// cache keeps verified copies of content-addressed metadata objects (index,
// snapshots, tree packs) in a local directory, one per repository ID. Every
// use re-verifies the SHA-256 against the name, so a damaged cache costs a
// re-download, never a wrong answer; deleting it is always safe.
type cache struct {
	dir string

	mu    sync.Mutex
	trees map[format.ID]*treePack // decoded tree packs kept for this process
}

type treePack struct {
	sealed []byte
}

func newCache(dir, repoID string) *cache {
	return &cache{dir: filepath.Join(dir, repoID), trees: map[format.ID]*treePack{}}
}

func (c *cache) path(name string) string {
	return filepath.Join(c.dir, filepath.FromSlash(name))
}

// get returns the verified bytes of name (whose SHA-256 must be id), from
// the cache when valid, else from st (and then stores them).
func (c *cache) get(ctx context.Context, st storage.Reader, name string, id format.ID) ([]byte, error) {
	if data, err := os.ReadFile(c.path(name)); err == nil && format.ID(sha256.Sum256(data)) == id {
		return data, nil
	}
	data, err := storage.ReadAll(ctx, st, name)
	if err != nil {
		return nil, err
	}
	if format.ID(sha256.Sum256(data)) != id {
		return nil, &IntegrityError{Object: name, Err: ErrHashMismatch}
	}
	c.put(name, data)
	return data, nil
}

// put stores data under name, best effort: a cache that cannot be written
// only costs speed.
func (c *cache) put(name string, data []byte) {
	p := c.path(name)
	if err := os.MkdirAll(filepath.Dir(p), 0o700); err != nil {
		return
	}
	tmp := p + ".tmp"
	if err := os.WriteFile(tmp, data, 0o600); err != nil {
		_ = os.Remove(tmp)
		return
	}
	_ = os.Rename(tmp, p)
}

func (c *cache) remove(name string) { _ = os.Remove(c.path(name)) }

// loadCachedTreeBlob reads a tree blob from its whole pack, kept in the
// cache (tree packs are small and read again by every backup and restore).
func (r *Repository) loadCachedTreeBlob(ctx context.Context, loc Location) ([]byte, error) {
	c := r.cache
	c.mu.Lock()
	tp := c.trees[loc.Pack.ID]
	c.mu.Unlock()
	if tp == nil {
		sealed, err := c.get(ctx, r.st, format.PackName(loc.Pack.ID), loc.Pack.ID)
		if err != nil {
			return nil, err
		}
		tp = &treePack{sealed: sealed}
		c.mu.Lock()
		c.trees[loc.Pack.ID] = tp
		c.mu.Unlock()
	}
	ra, _, err := r.dk.OpenReaderAt(bytesReaderAt(tp.sealed), int64(len(tp.sealed)))
	if err != nil {
		return nil, &IntegrityError{Object: format.PackName(loc.Pack.ID), Err: err}
	}
	stored := make([]byte, loc.Blob.Length)
	if _, err := ra.ReadAt(stored, int64(loc.Blob.Offset)); err != nil && !isEOF(err) {
		return nil, &IntegrityError{Object: format.PackName(loc.Pack.ID), Err: err}
	}
	plain, err := r.decodeBlob(loc.Pack.ID, &loc.Blob, stored, nil)
	if err != nil {
		return nil, err
	}
	if !loc.Blob.Compressed() {
		plain = append([]byte(nil), plain...)
	}
	return plain, nil
}

type bytesReaderAt []byte

func (b bytesReaderAt) ReadAt(p []byte, off int64) (int, error) {
	if off >= int64(len(b)) {
		return 0, io.EOF
	}
	n := copy(p, b[off:])
	if n < len(p) {
		return n, io.EOF
	}
	return n, nil
}

func isEOF(err error) bool { return errors.Is(err, io.EOF) }
