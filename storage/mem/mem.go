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
	objects map[string]object // the current versions
	// versioned stores only (see NewVersioned): every version and delete
	// marker of each name, oldest first.
	versions map[string][]version
	opt      VersionedOptions
	nextID   int
}

// version is one version (or delete marker) of a versioned store.
type version struct {
	id     string
	obj    object
	marker bool
}

// New returns an empty in-memory storage.
func New() storage.Storage {
	return &memStorage{objects: map[string]object{}}
}

// VersionedOptions configure NewVersioned.
type VersionedOptions struct {
	// Now is the store's clock, stamped on every version and delete
	// marker (nil: time.Now).
	Now func() time.Time
	// Retained, when not nil, reports whether a version is retained by
	// object lock: DeleteVersion of it then fails with a
	// *storage.RetainedError, as a locked S3 bucket refuses it.
	Retained func(storage.VersionInfo) bool
}

// NewVersioned returns an empty in-memory storage that keeps object
// versions, like an S3 bucket with versioning enabled: Put adds a version,
// Delete adds a delete marker, and Capabilities().Versions reads and
// removes versions.
func NewVersioned(opt VersionedOptions) storage.Storage {
	if opt.Now == nil {
		opt.Now = time.Now // clock: the store's own time, as a server's would be
	}
	return &memStorage{objects: map[string]object{}, versions: map[string][]version{}, opt: opt}
}

func (m *memStorage) Capabilities() storage.Capabilities {
	c := storage.Capabilities{ConditionalCreate: true, Local: true}
	if m.versions != nil {
		c.Versions = memVersions{m}
	}
	return c
}

// stamp returns the time of a new object or version.
func (m *memStorage) stamp() time.Time {
	if m.versions != nil {
		return m.opt.Now()
	}
	return time.Now() // clock: the store's own time, as a server's would be
}

// addVersion records a new version or marker of name (m.mu held).
func (m *memStorage) addVersion(name string, obj object, marker bool) {
	if m.versions == nil {
		return
	}
	m.nextID++
	m.versions[name] = append(m.versions[name], version{id: fmt.Sprintf("v%09d", m.nextID), obj: obj, marker: marker})
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
	obj := object{data: buf.Bytes(), modTime: m.stamp()}
	m.objects[name] = obj
	m.addVersion(name, obj, false)
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
	m.addVersion(name, object{modTime: m.stamp()}, true)
	return nil
}

// Close does nothing; the objects stay available.
func (m *memStorage) Close() error { return nil }

// memVersions is the storage.Versions of a versioned store.
type memVersions struct{ m *memStorage }

func (v memVersions) ListVersions(ctx context.Context, prefix string, fn func(storage.VersionInfo) error) error {
	if !storage.ValidPrefix(prefix) {
		return fmt.Errorf("mem list versions %q: %w", prefix, storage.ErrInvalidName)
	}
	m := v.m
	m.mu.RLock()
	var infos []storage.VersionInfo
	for name, vs := range m.versions {
		if !strings.HasPrefix(name, prefix) {
			continue
		}
		for i := len(vs) - 1; i >= 0; i-- {
			infos = append(infos, vs[i].info(name, i == len(vs)-1))
		}
	}
	m.mu.RUnlock()
	// Names sorted, each name's versions newest first (stable).
	slices.SortStableFunc(infos, func(a, b storage.VersionInfo) int { return strings.Compare(a.Name, b.Name) })
	for _, info := range infos {
		if err := ctx.Err(); err != nil {
			return fmt.Errorf("mem list versions %q: %w", prefix, err)
		}
		if err := fn(info); err != nil {
			return err
		}
	}
	return nil
}

func (x version) info(name string, latest bool) storage.VersionInfo {
	return storage.VersionInfo{Name: name, VersionID: x.id, ModTime: x.obj.modTime, Size: int64(len(x.obj.data)), DeleteMarker: x.marker, IsLatest: latest}
}

// find returns the index of versionID among name's versions, or -1 (m.mu held).
func (m *memStorage) find(name, versionID string) int {
	for i, x := range m.versions[name] {
		if x.id == versionID {
			return i
		}
	}
	return -1
}

func (v memVersions) GetVersion(ctx context.Context, name, versionID string, off, length int64) (io.ReadCloser, error) {
	if err := storage.CheckName(name); err != nil {
		return nil, fmt.Errorf("mem get version: %w", err)
	}
	if err := ctx.Err(); err != nil {
		return nil, fmt.Errorf("mem get %s version %s: %w", name, versionID, err)
	}
	m := v.m
	m.mu.RLock()
	i := m.find(name, versionID)
	var x version
	if i >= 0 {
		x = m.versions[name][i]
	}
	m.mu.RUnlock()
	if i < 0 || x.marker {
		return nil, fmt.Errorf("mem get %s version %s: %w", name, versionID, storage.ErrNotExist)
	}
	size := int64(len(x.obj.data))
	if off < 0 || off > size {
		return nil, fmt.Errorf("mem get %s version %s at %d of %d bytes: %w", name, versionID, off, size, storage.ErrInvalidRange)
	}
	end := size
	if length >= 0 && length < size-off {
		end = off + length
	}
	return io.NopCloser(bytes.NewReader(bytes.Clone(x.obj.data[off:end]))), nil
}

func (v memVersions) DeleteVersion(ctx context.Context, name, versionID string) error {
	if err := storage.CheckName(name); err != nil {
		return fmt.Errorf("mem delete version: %w", err)
	}
	if err := ctx.Err(); err != nil {
		return fmt.Errorf("mem delete %s version %s: %w", name, versionID, err)
	}
	m := v.m
	m.mu.Lock()
	defer m.mu.Unlock()
	vs := m.versions[name]
	i := m.find(name, versionID)
	if i < 0 {
		return fmt.Errorf("mem delete %s version %s: %w", name, versionID, storage.ErrNotExist)
	}
	if m.opt.Retained != nil && !vs[i].marker && m.opt.Retained(vs[i].info(name, i == len(vs)-1)) {
		return fmt.Errorf("mem delete %s version %s: %w", name, versionID, &storage.RetainedError{Name: name})
	}
	vs = slices.Delete(vs, i, i+1)
	if len(vs) == 0 {
		delete(m.versions, name)
	} else {
		m.versions[name] = vs
	}
	if len(vs) == 0 || vs[len(vs)-1].marker {
		delete(m.objects, name)
	} else {
		m.objects[name] = vs[len(vs)-1].obj
	}
	return nil
}
