package restore

import (
	"container/list"
	"errors"
	"fmt"
	"sync"

	"golang.org/x/sys/unix"
)

// dirFDs keeps open file descriptors of restored directories, so that every
// file operation is a single *at system call relative to its directory.
// Directories are opened from the target root one component at a time with
// O_NOFOLLOW|O_DIRECTORY, so no path can leave the target or pass through a
// symlink. At most limit descriptors are open; unused ones are closed least
// recently used first and reopened on demand.
type dirFDs struct {
	rootFD int
	limit  int

	mu    sync.Mutex
	open  map[*dirEntry]*list.Element
	lru   *list.List // of *openDir, most recent at the front
	count int
}

type openDir struct {
	d    *dirEntry
	fd   int
	pins int
}

func newDirFDs(target string, limit int) (*dirFDs, error) {
	fd, err := unix.Open(target, unix.O_RDONLY|unix.O_DIRECTORY|unix.O_CLOEXEC, 0)
	if err != nil {
		return nil, fmt.Errorf("open target %s: %w", target, err)
	}
	return &dirFDs{rootFD: fd, limit: max(limit, 4), open: map[*dirEntry]*list.Element{}, lru: list.New()}, nil
}

// acquire returns an open descriptor of d, which must exist, pinned until
// the matching release.
func (c *dirFDs) acquire(d *dirEntry) (int, error) {
	if d.parent == nil {
		return c.rootFD, nil
	}
	c.mu.Lock()
	if e, ok := c.open[d]; ok {
		od := e.Value.(*openDir)
		od.pins++
		c.lru.MoveToFront(e)
		c.mu.Unlock()
		return od.fd, nil
	}
	c.mu.Unlock()
	pfd, err := c.acquire(d.parent)
	if err != nil {
		return -1, err
	}
	fd, err := unix.Openat(pfd, d.name, unix.O_RDONLY|unix.O_DIRECTORY|unix.O_NOFOLLOW|unix.O_CLOEXEC, 0)
	c.release(d.parent)
	if err != nil {
		return -1, fmt.Errorf("open directory %s: %w", d.rel, err)
	}
	c.mu.Lock()
	defer c.mu.Unlock()
	if e, ok := c.open[d]; ok { // opened concurrently: keep the first
		unix.Close(fd)
		od := e.Value.(*openDir)
		od.pins++
		c.lru.MoveToFront(e)
		return od.fd, nil
	}
	c.open[d] = c.lru.PushFront(&openDir{d: d, fd: fd, pins: 1})
	c.count++
	c.evict()
	return fd, nil
}

// release unpins d's descriptor.
func (c *dirFDs) release(d *dirEntry) {
	if d.parent == nil {
		return
	}
	c.mu.Lock()
	defer c.mu.Unlock()
	if e, ok := c.open[d]; ok {
		e.Value.(*openDir).pins--
	}
	c.evict()
}

// evict closes unpinned descriptors beyond the limit (c.mu held).
func (c *dirFDs) evict() {
	for e := c.lru.Back(); e != nil && c.count > c.limit; {
		prev := e.Prev()
		if od := e.Value.(*openDir); od.pins == 0 {
			unix.Close(od.fd)
			delete(c.open, od.d)
			c.lru.Remove(e)
			c.count--
		}
		e = prev
	}
}

// close closes every descriptor.
func (c *dirFDs) close() {
	c.mu.Lock()
	defer c.mu.Unlock()
	for e := c.lru.Front(); e != nil; e = e.Next() {
		unix.Close(e.Value.(*openDir).fd)
	}
	c.open, c.count = map[*dirEntry]*list.Element{}, 0
	c.lru.Init()
	unix.Close(c.rootFD)
}

// at runs fn with d's descriptor.
func (c *dirFDs) at(d *dirEntry, fn func(dfd int) error) error {
	fd, err := c.acquire(d)
	if err != nil {
		return err
	}
	defer c.release(d)
	return fn(fd)
}

// removeAllAt removes name in directory dfd and, for a directory, all it
// contains, without following symlinks.
func removeAllAt(dfd int, name string, depth int) error {
	err := unix.Unlinkat(dfd, name, 0)
	if err == nil || errors.Is(err, unix.ENOENT) {
		return nil
	}
	if !errors.Is(err, unix.EISDIR) && !errors.Is(err, unix.EPERM) {
		return err
	}
	if depth > 4096 {
		return fmt.Errorf("remove %s: too deep", name)
	}
	fd, err := unix.Openat(dfd, name, unix.O_RDONLY|unix.O_DIRECTORY|unix.O_NOFOLLOW|unix.O_CLOEXEC, 0)
	if err != nil {
		return err
	}
	names, err := readDirNames(fd)
	if err == nil {
		for _, n := range names {
			if err = removeAllAt(fd, n, depth+1); err != nil {
				break
			}
		}
	}
	unix.Close(fd)
	if err != nil {
		return err
	}
	return unix.Unlinkat(dfd, name, unix.AT_REMOVEDIR)
}
