package local

import (
	"context"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"math/rand/v2"
	"os"
	"path"
	"runtime"
	"strings"
	"sync"
	"syscall"

	"lifeboat/storage"
)

const (
	filePerm = 0o600
	dirPerm  = 0o700
	// tempPrefix starts every temporary file name; "~" makes it an invalid
	// object name, so List, Get and Stat never see temporary files.
	tempPrefix = ".lb~tmp-"
	copyBuf    = 256 << 10
)

// writeChunk writes p to f. It is a variable so tests can simulate a full
// disk.
var writeChunk = func(f *os.File, p []byte) (int, error) { return f.Write(p) }

// linkFile hard-links oldname to newname inside root. It is a variable so
// tests can simulate a filesystem without hard links.
var linkFile = func(root *os.Root, oldname, newname string) error { return root.Link(oldname, newname) }

// rootFS returns the fs.FS that List walks. It is a variable so tests can
// observe which directories a listing reads.
var rootFS = func(root *os.Root) fs.FS { return root.FS() }

var bufPool = sync.Pool{New: func() any { b := make([]byte, copyBuf); return &b }}

type localStorage struct {
	root      *os.Root
	closeOnce sync.Once
	closeErr  error
}

// New opens the storage rooted at directory root, creating root (and its
// parents, mode 0700) when missing.
func New(root string) (storage.Storage, error) {
	if err := os.MkdirAll(root, dirPerm); err != nil {
		return nil, fmt.Errorf("local new %s: %w", root, translate(err))
	}
	return Open(root)
}

// Open opens the storage rooted at the existing directory root; a missing
// root fails with storage.ErrNotExist (so a mistyped repository path is not
// silently created).
func Open(root string) (storage.Storage, error) {
	r, err := os.OpenRoot(root)
	if err != nil {
		return nil, fmt.Errorf("local open %s: %w", root, translate(err))
	}
	return &localStorage{root: r}, nil
}

func (s *localStorage) Capabilities() storage.Capabilities {
	return storage.Capabilities{ConditionalCreate: true, Local: true, Concurrency: 2 * runtime.NumCPU()}
}

// fileBody is a ranged view of an open file.
type fileBody struct {
	*io.SectionReader
	f *os.File
}

func (b *fileBody) Close() error { return b.f.Close() }

func (s *localStorage) Get(ctx context.Context, name string, off, length int64) (io.ReadCloser, error) {
	if err := storage.CheckName(name); err != nil {
		return nil, fmt.Errorf("local get: %w", err)
	}
	if err := ctx.Err(); err != nil {
		return nil, fmt.Errorf("local get %s: %w", name, err)
	}
	f, err := s.root.Open(name)
	if err != nil {
		return nil, fmt.Errorf("local get %s: %w", name, translate(err))
	}
	fi, err := f.Stat()
	if err != nil {
		f.Close()
		return nil, fmt.Errorf("local get %s: %w", name, translate(err))
	}
	if !fi.Mode().IsRegular() {
		f.Close()
		return nil, fmt.Errorf("local get %s: not a regular file: %w", name, storage.ErrNotExist)
	}
	size := fi.Size()
	if off < 0 || off > size {
		f.Close()
		return nil, fmt.Errorf("local get %s at %d of %d bytes: %w", name, off, size, storage.ErrInvalidRange)
	}
	n := size - off
	if length >= 0 && length < n {
		n = length
	}
	return &fileBody{SectionReader: io.NewSectionReader(f, off, n), f: f}, nil
}

func (s *localStorage) Stat(ctx context.Context, name string) (storage.Info, error) {
	if err := storage.CheckName(name); err != nil {
		return storage.Info{}, fmt.Errorf("local stat: %w", err)
	}
	if err := ctx.Err(); err != nil {
		return storage.Info{}, fmt.Errorf("local stat %s: %w", name, err)
	}
	fi, err := s.root.Stat(name)
	if err != nil {
		return storage.Info{}, fmt.Errorf("local stat %s: %w", name, translate(err))
	}
	if !fi.Mode().IsRegular() {
		return storage.Info{}, fmt.Errorf("local stat %s: not a regular file: %w", name, storage.ErrNotExist)
	}
	return storage.Info{Name: name, Size: fi.Size(), ModTime: fi.ModTime()}, nil
}

func (s *localStorage) List(ctx context.Context, prefix string, fn func(storage.Info) error) error {
	if !storage.ValidPrefix(prefix) {
		return fmt.Errorf("local list %q: %w", prefix, storage.ErrInvalidName)
	}
	if err := ctx.Err(); err != nil {
		return fmt.Errorf("local list %q: %w", prefix, err)
	}
	// Walk only the deepest directory the prefix names completely.
	start := "."
	if i := strings.LastIndexByte(prefix, '/'); i >= 0 {
		start = prefix[:i]
	}
	var fnErr error
	err := fs.WalkDir(rootFS(s.root), start, func(p string, d fs.DirEntry, err error) error {
		if err := ctx.Err(); err != nil {
			return err
		}
		if err != nil {
			if errors.Is(err, fs.ErrNotExist) || errors.Is(err, syscall.ENOTDIR) {
				// The prefix directory is missing (or is an object), or a
				// directory vanished during the walk.
				return nil
			}
			return err
		}
		if d.IsDir() {
			if p == start || strings.HasPrefix(p+"/", prefix) || strings.HasPrefix(prefix, p+"/") {
				return nil
			}
			return fs.SkipDir
		}
		if !d.Type().IsRegular() || !strings.HasPrefix(p, prefix) || !storage.Valid(p) {
			return nil
		}
		fi, err := d.Info()
		if err != nil {
			if errors.Is(err, fs.ErrNotExist) {
				return nil // deleted during the walk
			}
			return err
		}
		if err := fn(storage.Info{Name: p, Size: fi.Size(), ModTime: fi.ModTime()}); err != nil {
			fnErr = err
			return fs.SkipAll
		}
		return nil
	})
	if fnErr != nil {
		return fnErr
	}
	if err != nil {
		return fmt.Errorf("local list %q: %w", prefix, translate(err))
	}
	return nil
}

func (s *localStorage) Put(ctx context.Context, name string, r io.ReadSeeker, size int64, opt storage.PutOptions) error {
	if err := storage.CheckName(name); err != nil {
		return fmt.Errorf("local put: %w", err)
	}
	if err := ctx.Err(); err != nil {
		return fmt.Errorf("local put %s: %w", name, err)
	}
	if size < 0 {
		return fmt.Errorf("local put %s: negative size %d", name, size)
	}
	if opt.IfNotExists {
		// Fail early without writing the body; the link below decides.
		if _, err := s.root.Lstat(name); err == nil {
			return fmt.Errorf("local put %s: %w", name, storage.ErrExist)
		}
	}
	if err := s.put(ctx, name, r, size, opt); err != nil {
		return fmt.Errorf("local put %s: %w", name, err)
	}
	return nil
}

func (s *localStorage) put(ctx context.Context, name string, r io.Reader, size int64, opt storage.PutOptions) error {
	dir := path.Dir(name)
	tmp, err := s.stage(ctx, dir, r, size)
	if err != nil {
		return err
	}
	keepTemp := false
	defer func() {
		if !keepTemp {
			s.root.Remove(tmp)
		}
	}()
	if err := ctx.Err(); err != nil {
		return err
	}
	if opt.IfNotExists {
		err := linkFile(s.root, tmp, name)
		if err != nil && !errors.Is(err, fs.ErrExist) && noHardLinks(err) {
			if err = renameNoReplace(s.root, dir, tmp, name); err == nil {
				keepTemp = true // renamed away
			}
		}
		if err != nil {
			return translate(err)
		}
	} else {
		if err := s.root.Rename(tmp, name); err != nil {
			if isDirConflict(err) {
				return fmt.Errorf("a directory has the object's name: %w", err)
			}
			return translate(err)
		}
		keepTemp = true // renamed away
	}
	return translate(s.syncDir(dir))
}

// stage puts the size-byte body under a new temporary name in dir, durably
// (fsynced), and returns that name. An unnamed file on this file system
// (one the caller made with O_TMPFILE in the storage's directory, as the
// repository writer does with its packs) is linked there without a copy;
// any other body is copied.
func (s *localStorage) stage(ctx context.Context, dir string, r io.Reader, size int64) (string, error) {
	if f, ok := r.(*os.File); ok {
		tmp, err := s.linkUnnamed(dir, f, size)
		if err != nil {
			return "", dirErr(err)
		}
		if tmp != "" {
			return tmp, nil
		}
	}
	f, tmp, err := s.createTemp(dir)
	if err != nil {
		return "", dirErr(err)
	}
	err = copyBody(ctx, f, r, size)
	if err == nil {
		err = translate(f.Sync())
	}
	if cerr := f.Close(); err == nil && cerr != nil {
		err = translate(cerr)
	}
	if err != nil {
		s.root.Remove(tmp)
		return "", err
	}
	return tmp, nil
}

// dirErr translates an error from making a file in an object's directory.
func dirErr(err error) error {
	if errors.Is(err, syscall.ENOTDIR) {
		return fmt.Errorf("a parent of the object is itself an object: %w", err)
	}
	return translate(err)
}

// tempName returns a new random temporary name in dir.
func tempName(dir string) string {
	var rnd [8]byte
	for i := range rnd {
		rnd[i] = byte(rand.Uint32())
	}
	return path.Join(dir, tempPrefix+hex.EncodeToString(rnd[:]))
}

// createTemp creates a new temporary file in dir, creating dir first when
// needed.
func (s *localStorage) createTemp(dir string) (*os.File, string, error) {
	var lastErr error
	for attempt := 0; attempt < 4; attempt++ {
		tmp := tempName(dir)
		f, err := s.root.OpenFile(tmp, os.O_WRONLY|os.O_CREATE|os.O_EXCL, filePerm)
		switch {
		case err == nil:
			return f, tmp, nil
		case errors.Is(err, fs.ErrNotExist) && attempt == 0:
			if err := s.mkdirs(dir); err != nil {
				return nil, "", err
			}
		case errors.Is(err, fs.ErrExist):
			// Name collision: draw another name.
		default:
			return nil, "", err
		}
		lastErr = err
	}
	return nil, "", lastErr
}

// mkdirs creates dir and its missing parents, then fsyncs the parent of
// every directory it created so the new entries are durable.
func (s *localStorage) mkdirs(dir string) error {
	if dir == "." {
		return nil
	}
	var created []string
	segs := strings.Split(dir, "/")
	for i := range segs {
		p := strings.Join(segs[:i+1], "/")
		err := s.root.Mkdir(p, dirPerm)
		switch {
		case err == nil:
			created = append(created, path.Dir(p))
		case errors.Is(err, fs.ErrExist):
		default:
			return err
		}
	}
	for _, p := range created {
		if err := s.syncDir(p); err != nil {
			return err
		}
	}
	return nil
}

// syncDir fsyncs directory dir. Filesystems that cannot sync directories
// (EINVAL, ENOTSUP) are tolerated.
func (s *localStorage) syncDir(dir string) error {
	d, err := s.root.Open(dir)
	if err != nil {
		return err
	}
	err = d.Sync()
	if cerr := d.Close(); err == nil {
		err = cerr
	}
	if errors.Is(err, syscall.EINVAL) || errors.Is(err, syscall.ENOTSUP) {
		return nil
	}
	return err
}

// copyBody copies exactly size bytes of r to f, checking ctx between
// chunks.
func copyBody(ctx context.Context, f *os.File, r io.Reader, size int64) error {
	bp := bufPool.Get().(*[]byte)
	defer bufPool.Put(bp)
	buf := *bp
	for done := int64(0); done < size; {
		if err := ctx.Err(); err != nil {
			return err
		}
		chunk := buf[:min(int64(len(buf)), size-done)]
		n, err := io.ReadFull(r, chunk)
		if n > 0 {
			if _, werr := writeChunk(f, chunk[:n]); werr != nil {
				return translate(werr)
			}
			done += int64(n)
		}
		if err != nil {
			if errors.Is(err, io.EOF) || errors.Is(err, io.ErrUnexpectedEOF) {
				return fmt.Errorf("body has %d bytes, want %d: %w", done, size, io.ErrUnexpectedEOF)
			}
			return fmt.Errorf("read body: %w", err)
		}
	}
	return nil
}

func (s *localStorage) Delete(ctx context.Context, name string) error {
	if err := storage.CheckName(name); err != nil {
		return fmt.Errorf("local delete: %w", err)
	}
	if err := ctx.Err(); err != nil {
		return fmt.Errorf("local delete %s: %w", name, err)
	}
	fi, err := s.root.Lstat(name)
	if err != nil {
		return fmt.Errorf("local delete %s: %w", name, translate(err))
	}
	if fi.IsDir() {
		return fmt.Errorf("local delete %s: a directory: %w", name, storage.ErrNotExist)
	}
	if err := s.root.Remove(name); err != nil {
		return fmt.Errorf("local delete %s: %w", name, translate(err))
	}
	if err := s.syncDir(path.Dir(name)); err != nil {
		return fmt.Errorf("local delete %s: %w", name, translate(err))
	}
	return nil
}

// Close releases the root directory handle; it is safe to call twice.
func (s *localStorage) Close() error {
	s.closeOnce.Do(func() { s.closeErr = s.root.Close() })
	return s.closeErr
}
