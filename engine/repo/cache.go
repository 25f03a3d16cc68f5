package repo

import (
	"context"
	"crypto/sha256"
	"fmt"
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
}

func newCache(dir, repoID string) *cache {
	return &cache{dir: filepath.Join(dir, repoID)}
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

// treePacks keeps the decrypted plaintext of recently used tree packs in
// memory, so that walking a snapshot costs one read and one decryption per
// tree pack instead of one per directory. Bounded by bytes, least recently
// used first out.
type treePacks struct {
	mu    sync.Mutex
	limit int
	size  int
	tick  uint64
	packs map[format.ID]*treePack
}

type treePack struct {
	plain []byte
	used  uint64
	ready chan struct{} // closed when plain (or err) is set
	err   error
}

// treePackCacheBytes bounds the memory of decrypted tree packs.
const treePackCacheBytes = 48 << 20

func newTreePacks(limit int) *treePacks {
	return &treePacks{limit: limit, packs: map[format.ID]*treePack{}}
}

// loadTreeBlob reads a tree blob from its pack's cached plaintext.
func (r *Repository) loadTreeBlob(ctx context.Context, loc Location) ([]byte, error) {
	tc := r.trees
	tc.mu.Lock()
	tp := tc.packs[loc.Pack.ID]
	loader := tp == nil
	if loader {
		tp = &treePack{ready: make(chan struct{})}
		tc.packs[loc.Pack.ID] = tp
	}
	tc.tick++
	tp.used = tc.tick
	tc.mu.Unlock()
	if loader {
		tp.plain, tp.err = r.readWholePack(ctx, loc.Pack)
		close(tp.ready)
		tc.mu.Lock()
		if tp.err != nil {
			delete(tc.packs, loc.Pack.ID)
		} else {
			tc.size += len(tp.plain)
			tc.evict(loc.Pack.ID)
		}
		tc.mu.Unlock()
	} else {
		select {
		case <-tp.ready:
		case <-ctx.Done():
			return nil, ctx.Err()
		}
	}
	if tp.err != nil {
		return nil, tp.err
	}
	end := int64(loc.Blob.Offset) + int64(loc.Blob.Length)
	if end > int64(len(tp.plain)) {
		return nil, &IntegrityError{Object: format.PackName(loc.Pack.ID), Blob: loc.Blob.ID, Err: fmt.Errorf("blob ends at %d beyond the pack's %d bytes", end, len(tp.plain))}
	}
	plain, err := r.decodeBlob(loc.Pack.ID, &loc.Blob, tp.plain[loc.Blob.Offset:end], nil)
	if err != nil {
		return nil, err
	}
	if !loc.Blob.Compressed() {
		plain = append([]byte(nil), plain...)
	}
	return plain, nil
}

// DropTreeCache empties the in-memory cache of decrypted tree packs (up
// to 48 MiB), for a caller done walking trees (prune, between its walk and
// its repack). Later tree reads fill it again.
func (r *Repository) DropTreeCache() {
	tc := r.trees
	tc.mu.Lock()
	defer tc.mu.Unlock()
	for id, tp := range tc.packs {
		select {
		case <-tp.ready:
			tc.size -= len(tp.plain)
			delete(tc.packs, id)
		default: // still loading: its loader accounts for it
		}
	}
}

// evict drops least recently used packs (other than keep) over the limit.
func (tc *treePacks) evict(keep format.ID) {
	for tc.size > tc.limit && len(tc.packs) > 1 {
		var oldest format.ID
		var best uint64 = ^uint64(0)
		for id, tp := range tc.packs {
			select {
			case <-tp.ready:
			default:
				continue // still loading
			}
			if id != keep && tp.used < best {
				oldest, best = id, tp.used
			}
		}
		if best == ^uint64(0) {
			return
		}
		tc.size -= len(tc.packs[oldest].plain)
		delete(tc.packs, oldest)
	}
}

// readWholePack downloads a pack (through the disk cache for remote
// storage), verifies its hash and decrypts it.
func (r *Repository) readWholePack(ctx context.Context, pack PackInfo) ([]byte, error) {
	return r.readVerified(ctx, format.PackName(pack.ID), pack.ID)
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
