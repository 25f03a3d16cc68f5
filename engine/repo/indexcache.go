package repo

import (
	"bytes"
	"context"
	"encoding/binary"
	"os"
	"path/filepath"
	"slices"
	"sync"

	"lifeboat/engine/format"
)

// indexCache keeps the plaintext of the small index objects a session read
// (Options.CacheIndex), so that loading the index costs one local file
// instead of one object read, hash and decryption per backup since the last
// prune (every backup writes one index object; only prune consolidates
// them). Like snapshots, index objects are immutable and named by the hash
// of their sealed bytes, so an entry can only be missing or belong to an
// object that is gone; the cache never decides which index objects exist:
// LoadIndex lists them (leaving out the tombstoned ones) and asks here only
// for those. The file is sealed with the repository's data key (a file
// that does not open is ignored), holds only objects of at most
// indexCacheObjectMax plaintext bytes, indexCacheMax in all (large,
// consolidated objects are few, so they are read as before), and is written
// whole, by Flush, with the objects the session's index holds.
type indexCache struct {
	file string // "" when disabled

	mu     sync.Mutex
	loaded bool
	m      map[format.ID][]byte
	size   int
	dirty  bool
}

const (
	// indexCacheFile is the cache file's name in the repository's cache
	// directory.
	indexCacheFile = "small-index-objects"
	// indexCacheObjectMax bounds the plaintext of one cached index object
	// (a backup that changed little writes a few KiB).
	indexCacheObjectMax = 64 << 10
	// indexCacheMax bounds the plaintext of all cached index objects.
	indexCacheMax = 8 << 20
	// indexCacheMagic starts the file's plaintext; its last byte is the
	// encoding's version.
	indexCacheMagic = "LBIX\x01"
)

func newIndexCache(cacheDir, repoID string, enabled bool) *indexCache {
	c := &indexCache{}
	if enabled && cacheDir != "" {
		c.file = filepath.Join(cacheDir, repoID, indexCacheFile)
	}
	return c
}

// load reads the file once. The caller holds c.mu.
func (c *indexCache) load(r *Repository) {
	if c.loaded {
		return
	}
	c.loaded = true
	c.m = map[format.ID][]byte{}
	sealed, err := os.ReadFile(c.file)
	if err != nil {
		return
	}
	plain, err := r.dk.Open(sealed)
	if err != nil {
		return
	}
	m, size, ok := decodeIndexCache(plain)
	if ok {
		c.m, c.size = m, size
	}
}

// readIndexPlain returns the verified plaintext of index object id: from
// the cache, or read with readVerified (and then remembered when small).
func (r *Repository) readIndexPlain(ctx context.Context, name string, id format.ID) ([]byte, error) {
	c := r.indexes
	if c.file == "" {
		return r.readVerified(ctx, name, id)
	}
	c.mu.Lock()
	c.load(r)
	plain, ok := c.m[id]
	c.mu.Unlock()
	if ok {
		return plain, nil
	}
	plain, err := r.readVerified(ctx, name, id)
	if err != nil || len(plain) > indexCacheObjectMax {
		return plain, err
	}
	c.mu.Lock()
	if _, ok := c.m[id]; !ok && c.size+len(plain) <= indexCacheMax {
		c.m[id] = plain
		c.size += len(plain)
		c.dirty = true
	}
	c.mu.Unlock()
	return plain, nil
}

// persistIndexCache writes the cache file when the session read index
// objects it lacked, keeping only the objects the in-memory index holds
// (those listed and not buried at LoadIndex; the others were consolidated
// or swept by a prune). Best effort: a cache that cannot be written only
// costs speed.
func (r *Repository) persistIndexCache() {
	c := r.indexes
	if c.file == "" {
		return
	}
	c.mu.Lock()
	defer c.mu.Unlock()
	if !c.dirty {
		return
	}
	c.dirty = false
	live := map[format.ID]bool{}
	for _, id := range r.idx.Files() {
		live[id] = true
	}
	ids := make([]format.ID, 0, len(c.m))
	for id, plain := range c.m {
		if live[id] {
			ids = append(ids, id)
		} else {
			delete(c.m, id)
			c.size -= len(plain)
		}
	}
	slices.SortFunc(ids, func(a, b format.ID) int { return bytes.Compare(a[:], b[:]) })
	b := append(make([]byte, 0, c.size+len(ids)*40+16), indexCacheMagic...)
	b = binary.AppendUvarint(b, uint64(len(ids)))
	for _, id := range ids {
		b = append(b, id[:]...)
		b = binary.AppendUvarint(b, uint64(len(c.m[id])))
		b = append(b, c.m[id]...)
	}
	sealed, err := r.dk.Seal(b)
	if err != nil {
		return
	}
	writeCacheFile(c.file, sealed)
}

func decodeIndexCache(b []byte) (map[format.ID][]byte, int, bool) {
	if !bytes.HasPrefix(b, []byte(indexCacheMagic)) {
		return nil, 0, false
	}
	b = b[len(indexCacheMagic):]
	count, n := binary.Uvarint(b)
	if n <= 0 || count > uint64(len(b)) {
		return nil, 0, false
	}
	b = b[n:]
	m := make(map[format.ID][]byte, count)
	size := 0
	for range count {
		if len(b) < len(format.ID{}) {
			return nil, 0, false
		}
		var id format.ID
		copy(id[:], b)
		b = b[len(id):]
		l, n := binary.Uvarint(b)
		if n <= 0 || l > uint64(len(b)-n) || l > indexCacheObjectMax {
			return nil, 0, false
		}
		b = b[n:]
		m[id] = b[:l:l]
		size += int(l)
		b = b[l:]
	}
	if len(b) != 0 {
		return nil, 0, false
	}
	return m, size, true
}

// writeCacheFile replaces file with data by a rename, best effort.
func writeCacheFile(file string, data []byte) {
	dir := filepath.Dir(file)
	if err := os.MkdirAll(dir, 0o700); err != nil {
		return
	}
	tmp, err := os.CreateTemp(dir, filepath.Base(file)+".*.tmp")
	if err != nil {
		return
	}
	_, werr := tmp.Write(data)
	cerr := tmp.Close()
	if werr != nil || cerr != nil || os.Rename(tmp.Name(), file) != nil {
		_ = os.Remove(tmp.Name())
	}
}
