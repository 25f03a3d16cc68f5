package repo

import (
	"bytes"
	"context"
	"encoding/binary"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"sync"
	"time"

	"lifeboat/engine/format"
)

// snapshotHeader is the part of a snapshot that selecting one needs
// (Filter and the newest-first order): its time, host, paths and tags.
type snapshotHeader struct {
	time  time.Time
	host  string
	paths []string
	tags  []string
}

func headerOf(s *format.Snapshot) snapshotHeader {
	return snapshotHeader{time: s.Time, host: s.Host, paths: slices.Clone(s.Paths), tags: slices.Clone(s.Tags)}
}

// match applies f to the header as Filter.Match applies it to a snapshot.
func (h *snapshotHeader) match(f Filter) bool {
	return f.Match(&format.Snapshot{Time: h.time, Host: h.host, Paths: h.paths, Tags: h.tags})
}

// headerCache keeps the headers of the snapshots a session has read (or
// written), so that finding the latest snapshot decodes only the snapshots
// it has not seen before, not every snapshot of the repository's history.
//
// Snapshots are immutable and named by the hash of their sealed bytes, so
// a header stored under a snapshot's ID can never go stale; it can only be
// missing (a miss costs one verified read) or belong to a snapshot that is
// gone (forgotten). The cache never decides which snapshots exist: callers
// list the repository, leave out the tombstoned snapshots, and only then
// look the rest up here. The file is sealed with the repository's data key
// (it names hosts and paths, and a file that does not open, from another
// repository or damaged, is treated as empty), and written whole, replacing
// the previous one by a rename, so two processes writing it at once cost at
// most a few misses. With no file (no cache directory) the headers live for
// the Repository's lifetime only.
type headerCache struct {
	file string // "" for an in-memory cache

	mu     sync.Mutex
	loaded bool
	m      map[format.ID]snapshotHeader
}

// snapshotHeadersFile is the cache file's name in the repository's cache
// directory (object names all contain a slash, so it cannot collide).
const snapshotHeadersFile = "snapshot-headers"

func newHeaderCache(cacheDir, repoID string) *headerCache {
	c := &headerCache{m: map[format.ID]snapshotHeader{}}
	if cacheDir != "" {
		c.file = filepath.Join(cacheDir, repoID, snapshotHeadersFile)
	}
	return c
}

// headersMagic starts the cache file's plaintext; its last byte is the
// encoding's version.
const headersMagic = "LBSH\x01"

// errBadHeaders marks a cache file that does not decode.
var errBadHeaders = errors.New("malformed snapshot header cache")

// load reads the cache file once, if there is one. A file that does not
// open or decode is ignored (and replaced at the next store).
func (c *headerCache) load(r *Repository) {
	if c.loaded || c.file == "" {
		c.loaded = true
		return
	}
	c.loaded = true
	sealed, err := os.ReadFile(c.file)
	if err != nil {
		return
	}
	plain, err := r.dk.Open(sealed)
	if err != nil {
		return
	}
	m, err := decodeHeaders(plain)
	if err != nil {
		return
	}
	c.m = m
}

// store writes the headers to the cache file, best effort: a cache that
// cannot be written only costs speed. The caller holds c.mu.
func (c *headerCache) store(r *Repository) {
	if c.file == "" {
		return
	}
	ids := make([]format.ID, 0, len(c.m))
	for id := range c.m {
		ids = append(ids, id)
	}
	slices.SortFunc(ids, func(a, b format.ID) int { return bytes.Compare(a[:], b[:]) })
	sealed, err := r.dk.Seal(encodeHeaders(ids, c.m))
	if err != nil {
		return
	}
	writeCacheFile(c.file, sealed)
}

func encodeHeaders(ids []format.ID, m map[format.ID]snapshotHeader) []byte {
	b := append([]byte(nil), headersMagic...)
	b = binary.AppendUvarint(b, uint64(len(ids)))
	str := func(s string) {
		b = binary.AppendUvarint(b, uint64(len(s)))
		b = append(b, s...)
	}
	for _, id := range ids {
		h := m[id]
		b = append(b, id[:]...)
		b = binary.AppendVarint(b, h.time.Unix())
		b = binary.AppendUvarint(b, uint64(h.time.Nanosecond()))
		str(h.host)
		for _, list := range [][]string{h.paths, h.tags} {
			b = binary.AppendUvarint(b, uint64(len(list)))
			for _, s := range list {
				str(s)
			}
		}
	}
	return b
}

func decodeHeaders(b []byte) (map[format.ID]snapshotHeader, error) {
	if !bytes.HasPrefix(b, []byte(headersMagic)) {
		return nil, errBadHeaders
	}
	b = b[len(headersMagic):]
	bad := false
	uvarint := func(limit uint64) uint64 {
		v, n := binary.Uvarint(b)
		if n <= 0 || v > limit {
			bad = true
			return 0
		}
		b = b[n:]
		return v
	}
	str := func() string {
		n := uvarint(uint64(len(b)))
		if bad || n > uint64(len(b)) {
			bad = true
			return ""
		}
		s := string(b[:n])
		b = b[n:]
		return s
	}
	count := uvarint(uint64(len(b)) / 36)
	m := make(map[format.ID]snapshotHeader, count)
	for i := uint64(0); i < count && !bad; i++ {
		if len(b) < len(format.ID{}) {
			return nil, errBadHeaders
		}
		var id format.ID
		copy(id[:], b)
		b = b[len(id):]
		sec, n := binary.Varint(b)
		if n <= 0 {
			return nil, errBadHeaders
		}
		b = b[n:]
		nsec := uvarint(999_999_999)
		h := snapshotHeader{time: time.Unix(sec, int64(nsec)).UTC(), host: str()}
		for _, list := range []*[]string{&h.paths, &h.tags} {
			k := uvarint(uint64(len(b)))
			for j := uint64(0); j < k && !bad; j++ {
				*list = append(*list, str())
			}
		}
		m[id] = h
	}
	if bad || len(b) != 0 {
		return nil, errBadHeaders
	}
	return m, nil
}

// update adds the headers of the snapshots missing (read from the
// repository) and drops those of snapshots no longer listed in ids
// (forgotten), then writes the cache file if that changed anything. The
// caller holds c.mu.
func (c *headerCache) update(r *Repository, ids, missing []format.ID, heads []snapshotHeader) {
	for i, id := range missing {
		c.m[id] = heads[i]
	}
	changed := len(missing) > 0
	if len(c.m) > len(ids) {
		live := make(map[format.ID]bool, len(ids))
		for _, id := range ids {
			live[id] = true
		}
		for id := range c.m {
			if !live[id] {
				delete(c.m, id)
				changed = true
			}
		}
	}
	if changed {
		c.store(r)
	}
}

// rememberSnapshot adds the header of a snapshot this session wrote (or
// read whole) to the cache and, for one just written, writes the cache
// file, so that the next backup finds its parent without reading it.
func (r *Repository) rememberSnapshot(id format.ID, s *format.Snapshot, persist bool) {
	c := r.headers
	c.mu.Lock()
	defer c.mu.Unlock()
	c.load(r)
	if _, ok := c.m[id]; ok {
		return
	}
	c.m[id] = headerOf(s)
	if persist {
		c.store(r)
	}
}

// latestSnapshot returns the newest snapshot passing f (the greatest ID
// among those of the same time), reading only the snapshots whose headers
// the cache lacks and the one returned, which is read and verified from
// the repository whatever the cache says. Tombstoned snapshots are never
// candidates.
func (r *Repository) latestSnapshot(ctx context.Context, f Filter) (SnapshotRef, error) {
	ids, err := r.snapshotIDs(ctx)
	if err != nil {
		return SnapshotRef{}, err
	}
	c := r.headers
	c.mu.Lock()
	c.load(r)
	var missing []format.ID
	for _, id := range ids {
		if _, ok := c.m[id]; !ok {
			missing = append(missing, id)
		}
	}
	c.mu.Unlock()
	heads := make([]snapshotHeader, len(missing))
	err = parallel(ctx, r.concurrency(), len(missing), func(ctx context.Context, i int) error {
		s, err := r.LoadSnapshot(ctx, missing[i])
		if err != nil {
			return err
		}
		heads[i] = headerOf(s)
		return nil
	})
	if err != nil {
		return SnapshotRef{}, err
	}
	c.mu.Lock()
	c.update(r, ids, missing, heads)
	var best format.ID
	var bestTime time.Time
	found := false
	for _, id := range ids {
		h := c.m[id]
		if !h.match(f) {
			continue
		}
		// ids ascend: a later one of the same time wins, as in Snapshots.
		if !found || !h.time.Before(bestTime) {
			best, bestTime, found = id, h.time, true
		}
	}
	c.mu.Unlock()
	if !found {
		return SnapshotRef{}, fmt.Errorf("latest: %w", ErrSnapshotNotFound)
	}
	s, err := r.LoadSnapshot(ctx, best)
	if err != nil {
		return SnapshotRef{}, err
	}
	if !f.Match(s) || !s.Time.Equal(bestTime) {
		// Cannot happen with a header taken from this very snapshot;
		// should it, trust only what was read: decode everything.
		c.mu.Lock()
		c.m = map[format.ID]snapshotHeader{}
		c.mu.Unlock()
		return r.latestSnapshotUncached(ctx, f)
	}
	return SnapshotRef{ID: best, Snapshot: s}, nil
}

// latestSnapshotUncached finds the newest snapshot passing f by reading
// every snapshot.
func (r *Repository) latestSnapshotUncached(ctx context.Context, f Filter) (SnapshotRef, error) {
	refs, err := r.Snapshots(ctx)
	if err != nil {
		return SnapshotRef{}, err
	}
	for i := len(refs) - 1; i >= 0; i-- {
		if f.Match(refs[i].Snapshot) {
			return refs[i], nil
		}
	}
	return SnapshotRef{}, fmt.Errorf("latest: %w", ErrSnapshotNotFound)
}
