package mem

import (
	"bytes"
	"context"
	"fmt"
	"io"
	"slices"
	"strings"
	"sync"
	"time"

	"lifeboat/storage"
)

type object struct {
	data    []byte
	modTime time.Time
}

type memStorage struct {
	mu      sync.RWMutex
	objects map[string]object
}

// New returns an empty in-memory storage.
func New() storage.Storage {
	return &memStorage{objects: map[string]object{}}
}

func (m *memStorage) Capabilities() storage.Capabilities {
	return storage.Capabilities{ConditionalCreate: true, Local: true}
}

func (m *memStorage) Get(ctx context.Context, name string, off, length int64) (io.ReadCloser, error) {
	if err := storage.CheckName(name); err != nil {
		return nil, fmt.Errorf("mem get: %w", err)
	}
	if err := ctx.Err(); err != nil {
		return nil, fmt.Errorf("mem get %s: %w", name, err)
	}
	m.mu.RLock()
	obj, ok := m.objects[name]
	m.mu.RUnlock()
	if !ok {
		return nil, fmt.Errorf("mem get %s: %w", name, storage.ErrNotExist)
	}
	size := int64(len(obj.data))
	if off < 0 || off > size {
		return nil, fmt.Errorf("mem get %s at %d of %d bytes: %w", name, off, size, storage.ErrInvalidRange)
	}
	end := size
	if length >= 0 && length < size-off {
		end = off + length
	}
	return io.NopCloser(bytes.NewReader(bytes.Clone(obj.data[off:end]))), nil
}

func (m *memStorage) Stat(ctx context.Context, name string) (storage.Info, error) {
	if err := storage.CheckName(name); err != nil {
		return storage.Info{}, fmt.Errorf("mem stat: %w", err)
	}
	if err := ctx.Err(); err != nil {
		return storage.Info{}, fmt.Errorf("mem stat %s: %w", name, err)
	}
	m.mu.RLock()
	obj, ok := m.objects[name]
	m.mu.RUnlock()
	if !ok {
		return storage.Info{}, fmt.Errorf("mem stat %s: %w", name, storage.ErrNotExist)
	}
	return storage.Info{Name: name, Size: int64(len(obj.data)), ModTime: obj.modTime}, nil
}

func (m *memStorage) List(ctx context.Context, prefix string, fn func(storage.Info) error) error {
	if !storage.ValidPrefix(prefix) {
		return fmt.Errorf("mem list %q: %w", prefix, storage.ErrInvalidName)
	}
	if err := ctx.Err(); err != nil {
		return fmt.Errorf("mem list %q: %w", prefix, err)
	}
	m.mu.RLock()
	var infos []storage.Info
	for name, obj := range m.objects {
		if strings.HasPrefix(name, prefix) {
			infos = append(infos, storage.Info{Name: name, Size: int64(len(obj.data)), ModTime: obj.modTime})
		}
	}
	m.mu.RUnlock()
	slices.SortFunc(infos, func(a, b storage.Info) int { return strings.Compare(a.Name, b.Name) })
	for _, info := range infos {
		if err := ctx.Err(); err != nil {
			return fmt.Errorf("mem list %q: %w", prefix, err)
		}
		if err := fn(info); err != nil {
			return err
		}
	}
	return nil
}

func (m *memStorage) Put(ctx context.Context, name string, r io.ReadSeeker, size int64, opt storage.PutOptions) error {
	if err := storage.CheckName(name); err != nil {
		return fmt.Errorf("mem put: %w", err)
	}
	if err := ctx.Err(); err != nil {
		return fmt.Errorf("mem put %s: %w", name, err)
	}
	if size < 0 {
		return fmt.Errorf("mem put %s: negative size %d", name, size)
	}
	if opt.IfNotExists {
		// Fail early without reading the body; checked again below.
		m.mu.RLock()
		_, exists := m.objects[name]
		m.mu.RUnlock()
		if exists {
			return fmt.Errorf("mem put %s: %w", name, storage.ErrExist)
		}
	}
	var buf bytes.Buffer
	n, err := io.Copy(&buf, io.LimitReader(r, size))
	if err != nil {
		return fmt.Errorf("mem put %s: read body: %w", name, err)
	}
	if n != size {
		return fmt.Errorf("mem put %s: body has %d bytes, want %d: %w", name, n, size, io.ErrUnexpectedEOF)
	}
	if err := ctx.Err(); err != nil {
		return fmt.Errorf("mem put %s: %w", name, err)
	}
	m.mu.Lock()
	defer m.mu.Unlock()
	if _, exists := m.objects[name]; exists && opt.IfNotExists {
		return fmt.Errorf("mem put %s: %w", name, storage.ErrExist)
	}
	m.objects[name] = object{data: buf.Bytes(), modTime: time.Now()} // clock: the store's own time, as a server's would be
	return nil
}

func (m *memStorage) Delete(ctx context.Context, name string) error {
	if err := storage.CheckName(name); err != nil {
		return fmt.Errorf("mem delete: %w", err)
	}
	if err := ctx.Err(); err != nil {
		return fmt.Errorf("mem delete %s: %w", name, err)
	}
	m.mu.Lock()
	defer m.mu.Unlock()
	if _, ok := m.objects[name]; !ok {
		return fmt.Errorf("mem delete %s: %w", name, storage.ErrNotExist)
	}
	delete(m.objects, name)
	return nil
}

// Close does nothing; the objects stay available.
func (m *memStorage) Close() error { return nil }
