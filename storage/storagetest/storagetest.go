package storagetest

import (
	"bytes"
	"context"
	"encoding/binary"
	"errors"
	"fmt"
	"io"
	"math/rand/v2"
	"slices"
	"strings"
	"sync"
	"sync/atomic"
	"testing"

	"lifeboat/storage"
)

// DefaultListObjects is how many objects the List subtest stores unless
// Options.ListObjects says otherwise.
const DefaultListObjects = 2000

// Options tune RunWithOptions.
type Options struct {
	// ListObjects is how many objects the List subtest stores (besides a
	// few fixed names); 0 means DefaultListObjects.
	ListObjects int
}

// Run runs the conformance suite. Each subtest calls newStorage for a fresh,
// empty storage and closes it when the subtest ends; subtests run one after
// the other.
func Run(t *testing.T, newStorage func(t *testing.T) storage.Storage) {
	t.Helper()
	RunWithOptions(t, newStorage, Options{})
}

// RunWithOptions is Run with tunables (for slow backends).
func RunWithOptions(t *testing.T, newStorage func(t *testing.T) storage.Storage, opt Options) {
	t.Helper()
	if opt.ListObjects <= 0 {
		opt.ListObjects = DefaultListObjects
	}
	tests := []struct {
		name string
		fn   func(t *testing.T, s storage.Storage)
	}{
		{"RoundTrip", testRoundTrip},
		{"ValidNames", testValidNames},
		{"GetRange", testGetRange},
		{"Missing", testMissing},
		{"Overwrite", testOverwrite},
		{"OverwriteAtomic", testOverwriteAtomic},
		{"IfNotExists", testIfNotExists},
		{"ConcurrentIfNotExists", testConcurrentIfNotExists},
		{"RewindableReader", testRewindableReader},
		{"InvalidNames", testInvalidNames},
		{"List", func(t *testing.T, s storage.Storage) { testList(t, s, opt.ListObjects) }},
		{"ListStop", testListStop},
		{"Stat", testStat},
		{"Concurrent", testConcurrent},
		{"CancelledContext", testCancelledContext},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			s := newStorage(t)
			t.Cleanup(func() {
				if err := s.Close(); err != nil {
					t.Errorf("close: %v", err)
				}
			})
			tc.fn(t, s)
		})
	}
}

// PutString stores data under name and fails the test on error.
func PutString(t *testing.T, s storage.Storage, name, data string) {
	t.Helper()
	if err := s.Put(context.Background(), name, strings.NewReader(data), int64(len(data)), storage.PutOptions{}); err != nil {
		t.Fatalf("put %s: %v", name, err)
	}
}

// data returns n deterministic pseudo-random bytes derived from seed.
func data(seed uint64, n int) []byte {
	r := rand.New(rand.NewPCG(seed, 0x5eed))
	b := make([]byte, n+7)
	for i := 0; i < n; i += 8 {
		binary.LittleEndian.PutUint64(b[i:], r.Uint64())
	}
	return b[:n:n]
}

func put(t *testing.T, s storage.Storage, name string, b []byte, opt storage.PutOptions) {
	t.Helper()
	if err := storage.PutBytes(context.Background(), s, name, b, opt); err != nil {
		t.Fatalf("put %s (%d bytes): %v", name, len(b), err)
	}
}

func get(t *testing.T, s storage.Storage, name string, off, length int64) []byte {
	t.Helper()
	body, err := s.Get(context.Background(), name, off, length)
	if err != nil {
		t.Fatalf("get %s [%d,%d]: %v", name, off, length, err)
	}
	defer body.Close()
	b, err := io.ReadAll(body)
	if err != nil {
		t.Fatalf("read %s [%d,%d]: %v", name, off, length, err)
	}
	return b
}

func wantContent(t *testing.T, s storage.Storage, name string, want []byte) {
	t.Helper()
	got := get(t, s, name, 0, -1)
	if !bytes.Equal(got, want) {
		t.Fatalf("get %s: got %d bytes, want %d bytes (content differs: %v)", name, len(got), len(want), len(got) == len(want))
	}
}

// list returns the sorted names under prefix with their sizes, failing the
// test on duplicates.
func list(t *testing.T, s storage.Storage, prefix string) map[string]int64 {
	t.Helper()
	got := map[string]int64{}
	err := s.List(context.Background(), prefix, func(info storage.Info) error {
		if _, dup := got[info.Name]; dup {
			return fmt.Errorf("duplicate %q", info.Name)
		}
		got[info.Name] = info.Size
		return nil
	})
	if err != nil {
		t.Fatalf("list %q: %v", prefix, err)
	}
	return got
}

func sortedKeys(m map[string]int64) []string {
	keys := make([]string, 0, len(m))
	for k := range m {
		keys = append(keys, k)
	}
	slices.Sort(keys)
	return keys
}

func testRoundTrip(t *testing.T, s storage.Storage) {
	for _, tc := range []struct {
		name string
		size int
	}{
		{"rt/empty", 0},
		{"rt/one", 1},
		{"rt/big", 3<<20 + 17},
	} {
		t.Run(fmt.Sprint(tc.size), func(t *testing.T) {
			want := data(uint64(tc.size), tc.size)
			put(t, s, tc.name, want, storage.PutOptions{})
			wantContent(t, s, tc.name, want)
			info, err := s.Stat(context.Background(), tc.name)
			if err != nil {
				t.Fatalf("stat: %v", err)
			}
			if info.Name != tc.name || info.Size != int64(tc.size) {
				t.Fatalf("stat = %+v, want name %s size %d", info, tc.name, tc.size)
			}
			if got := list(t, s, tc.name); len(got) != 1 || got[tc.name] != int64(tc.size) {
				t.Fatalf("list %s = %v", tc.name, got)
			}
		})
	}
}

func testValidNames(t *testing.T, s storage.Storage) {
	// A 512-byte name made of 100-byte segments: the longest valid name,
	// with segments short enough for any filesystem.
	var long strings.Builder
	for long.Len() < storage.MaxNameLen {
		if long.Len() > 0 {
			long.WriteByte('/')
		}
		seg := strings.Repeat("z", min(100, storage.MaxNameLen-long.Len()))
		long.WriteString(seg)
	}
	names := []string{"x", ".hidden", "...", "..a", "A-b_c.D9/e-f", "0/1/2/3/4/5/6/7/8/9", long.String()}
	for i, name := range names {
		if !storage.Valid(name) {
			t.Fatalf("test bug: %q is not valid", name)
		}
		want := data(uint64(i), 10+i)
		put(t, s, name, want, storage.PutOptions{})
		wantContent(t, s, name, want)
	}
	got := sortedKeys(list(t, s, ""))
	want := slices.Clone(names)
	slices.Sort(want)
	if !slices.Equal(got, want) {
		t.Fatalf("list = %q, want %q", got, want)
	}
}

func testGetRange(t *testing.T, s storage.Storage) {
	const size = 1000
	obj := data(7, size)
	put(t, s, "range/obj", obj, storage.PutOptions{})
	put(t, s, "range/empty", nil, storage.PutOptions{})
	for _, tc := range []struct {
		name        string
		object      string
		off, length int64
		want        []byte
		err         error
	}{
		{"start", "range/obj", 0, 10, obj[:10], nil},
		{"whole", "range/obj", 0, -1, obj, nil},
		{"whole exact", "range/obj", 0, size, obj, nil},
		{"middle", "range/obj", 400, 100, obj[400:500], nil},
		{"to end", "range/obj", 123, -1, obj[123:], nil},
		{"zero length", "range/obj", 10, 0, []byte{}, nil},
		{"past end is short", "range/obj", 990, 100, obj[990:], nil},
		{"last byte", "range/obj", size - 1, -1, obj[size-1:], nil},
		{"at end is empty", "range/obj", size, -1, []byte{}, nil},
		{"at end with length is empty", "range/obj", size, 10, []byte{}, nil},
		{"beyond end", "range/obj", size + 1, -1, nil, storage.ErrInvalidRange},
		{"far beyond end", "range/obj", 1 << 40, 10, nil, storage.ErrInvalidRange},
		{"empty object", "range/empty", 0, -1, []byte{}, nil},
		{"empty object with length", "range/empty", 0, 10, []byte{}, nil},
		{"beyond empty object", "range/empty", 1, -1, nil, storage.ErrInvalidRange},
	} {
		t.Run(tc.name, func(t *testing.T) {
			if tc.err != nil {
				body, err := s.Get(context.Background(), tc.object, tc.off, tc.length)
				if err == nil {
					body.Close()
				}
				if !errors.Is(err, tc.err) {
					t.Fatalf("get [%d,%d]: err = %v, want %v", tc.off, tc.length, err, tc.err)
				}
				return
			}
			got := get(t, s, tc.object, tc.off, tc.length)
			if !bytes.Equal(got, tc.want) {
				t.Fatalf("get [%d,%d]: got %d bytes, want %d", tc.off, tc.length, len(got), len(tc.want))
			}
		})
	}
	// ReadRange reads exactly; a range past the end is an unexpected EOF.
	buf := make([]byte, 20)
	if err := storage.ReadRange(context.Background(), s, "range/obj", 500, buf); err != nil || !bytes.Equal(buf, obj[500:520]) {
		t.Fatalf("ReadRange: %v", err)
	}
	if err := storage.ReadRange(context.Background(), s, "range/obj", size-10, buf); !errors.Is(err, io.ErrUnexpectedEOF) {
		t.Fatalf("ReadRange past end: err = %v, want io.ErrUnexpectedEOF", err)
	}
}

func testMissing(t *testing.T, s storage.Storage) {
	ctx := context.Background()
	check := func(t *testing.T, name string) {
		t.Helper()
		for _, r := range [][2]int64{{0, -1}, {5, 10}} {
			body, err := s.Get(ctx, name, r[0], r[1])
			if err == nil {
				body.Close()
			}
			if !errors.Is(err, storage.ErrNotExist) {
				t.Fatalf("get %s %v: err = %v, want ErrNotExist", name, r, err)
			}
		}
		if _, err := s.Stat(ctx, name); !errors.Is(err, storage.ErrNotExist) {
			t.Fatalf("stat %s: err = %v, want ErrNotExist", name, err)
		}
		if err := s.Delete(ctx, name); !errors.Is(err, storage.ErrNotExist) {
			t.Fatalf("delete %s: err = %v, want ErrNotExist", name, err)
		}
	}
	check(t, "missing/never")
	check(t, "never-at-top")

	// A deleted object is missing everywhere.
	put(t, s, "missing/gone", data(1, 100), storage.PutOptions{})
	put(t, s, "missing/kept", data(2, 100), storage.PutOptions{})
	if err := s.Delete(ctx, "missing/gone"); err != nil {
		t.Fatalf("delete: %v", err)
	}
	check(t, "missing/gone")
	if got := sortedKeys(list(t, s, "missing/")); !slices.Equal(got, []string{"missing/kept"}) {
		t.Fatalf("list after delete = %q", got)
	}
	wantContent(t, s, "missing/kept", data(2, 100))
	// A name below an existing object, and an object's parent "directory".
	check(t, "missing/kept/child")
	check(t, "missing")
}

func testOverwrite(t *testing.T, s storage.Storage) {
	for i, size := range []int{1000, 2000, 10, 0, 5000} {
		want := data(uint64(100+i), size)
		put(t, s, "ow/obj", want, storage.PutOptions{})
		wantContent(t, s, "ow/obj", want)
		info, err := s.Stat(context.Background(), "ow/obj")
		if err != nil || info.Size != int64(size) {
			t.Fatalf("stat after overwrite %d: %+v, %v", i, info, err)
		}
	}
	if got := list(t, s, "ow/"); len(got) != 1 {
		t.Fatalf("list after overwrites = %v", got)
	}
}

// testOverwriteAtomic overwrites an object with two versions of different
// sizes while readers check they always see one whole version.
func testOverwriteAtomic(t *testing.T, s storage.Storage) {
	const name = "atomic/obj"
	versions := [][]byte{bytes.Repeat([]byte{'x'}, 64<<10), bytes.Repeat([]byte{'y'}, 100<<10)}
	put(t, s, name, versions[0], storage.PutOptions{})
	ctx := context.Background()
	var done atomic.Bool
	var wg sync.WaitGroup
	errs := make(chan error, 8)
	wg.Add(1)
	go func() {
		defer wg.Done()
		defer done.Store(true)
		for i := range 40 {
			if err := storage.PutBytes(ctx, s, name, versions[(i+1)%2], storage.PutOptions{}); err != nil {
				errs <- fmt.Errorf("put %d: %w", i, err)
				return
			}
		}
	}()
	for range 4 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := 0; i < 500 && !done.Load(); i++ {
				b, err := storage.ReadAll(ctx, s, name)
				if err != nil {
					errs <- fmt.Errorf("read during overwrite: %w", err)
					return
				}
				if !bytes.Equal(b, versions[0]) && !bytes.Equal(b, versions[1]) {
					errs <- fmt.Errorf("read a torn object of %d bytes", len(b))
					return
				}
			}
		}()
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		t.Error(err)
	}
}

func testIfNotExists(t *testing.T, s storage.Storage) {
	ctx := context.Background()
	first, second := data(1, 300), data(2, 500)
	put(t, s, "ine/obj", first, storage.PutOptions{IfNotExists: true})
	wantContent(t, s, "ine/obj", first)

	err := storage.PutBytes(ctx, s, "ine/obj", second, storage.PutOptions{IfNotExists: true})
	if !errors.Is(err, storage.ErrExist) {
		t.Fatalf("second IfNotExists put: err = %v, want ErrExist", err)
	}
	wantContent(t, s, "ine/obj", first)
	if info, err := s.Stat(ctx, "ine/obj"); err != nil || info.Size != int64(len(first)) {
		t.Fatalf("stat after refused put: %+v, %v", info, err)
	}
	if got := list(t, s, "ine/"); len(got) != 1 || got["ine/obj"] != int64(len(first)) {
		t.Fatalf("list after refused put = %v", got)
	}

	// An empty object still exists.
	put(t, s, "ine/empty", nil, storage.PutOptions{IfNotExists: true})
	if err := storage.PutBytes(ctx, s, "ine/empty", second, storage.PutOptions{IfNotExists: true}); !errors.Is(err, storage.ErrExist) {
		t.Fatalf("IfNotExists over empty object: err = %v, want ErrExist", err)
	}
	wantContent(t, s, "ine/empty", []byte{})

	// A plain put still replaces; after a delete the name is free again.
	put(t, s, "ine/obj", second, storage.PutOptions{})
	wantContent(t, s, "ine/obj", second)
	if err := s.Delete(ctx, "ine/obj"); err != nil {
		t.Fatalf("delete: %v", err)
	}
	put(t, s, "ine/obj", first, storage.PutOptions{IfNotExists: true})
	wantContent(t, s, "ine/obj", first)
}

func testConcurrentIfNotExists(t *testing.T, s storage.Storage) {
	if !s.Capabilities().ConditionalCreate {
		t.Log("backend has no atomic conditional create; only the sequential IfNotExists test applies")
		return
	}
	const writers = 8
	ctx := context.Background()
	for round := range 4 {
		name := fmt.Sprintf("cine/round%d", round)
		start := make(chan struct{})
		errs := make([]error, writers)
		var wg sync.WaitGroup
		for g := range writers {
			wg.Add(1)
			go func() {
				defer wg.Done()
				<-start
				errs[g] = storage.PutBytes(ctx, s, name, data(uint64(g), 1000+g), storage.PutOptions{IfNotExists: true})
			}()
		}
		close(start)
		wg.Wait()
		winner := -1
		for g, err := range errs {
			switch {
			case err == nil:
				if winner >= 0 {
					t.Fatalf("round %d: writers %d and %d both created %s", round, winner, g, name)
				}
				winner = g
			case !errors.Is(err, storage.ErrExist):
				t.Fatalf("round %d: writer %d: err = %v, want nil or ErrExist", round, g, err)
			}
		}
		if winner < 0 {
			t.Fatalf("round %d: no writer created %s", round, name)
		}
		wantContent(t, s, name, data(uint64(winner), 1000+winner))
	}
}

// seekCounter is a re-readable body that counts the Seek calls a backend or
// wrapper makes.
type seekCounter struct {
	*bytes.Reader
	seeks atomic.Int64
}

func (r *seekCounter) Seek(off int64, whence int) (int64, error) {
	r.seeks.Add(1)
	return r.Reader.Seek(off, whence)
}

func testRewindableReader(t *testing.T, s storage.Storage) {
	want := data(3, 256<<10+3)
	r := &seekCounter{Reader: bytes.NewReader(want)}
	if err := s.Put(context.Background(), "rewind/obj", r, int64(len(want)), storage.PutOptions{}); err != nil {
		t.Fatalf("put: %v", err)
	}
	t.Logf("put made %d seeks", r.seeks.Load())
	wantContent(t, s, "rewind/obj", want)
}

func testInvalidNames(t *testing.T, s storage.Storage) {
	ctx := context.Background()
	bad := []string{
		"", "../x", "..", ".", "/abs", "abs/", "a//b", "a/./b", "a/../b", "x/..",
		"with space", "a\\b", "\\x", "tab\tname", "nul\x00", "new\nline",
		"ünïcode", "a:b", "a*b", "~tmp", "a/~b",
		strings.Repeat("a", storage.MaxNameLen+1),
	}
	for _, name := range bad {
		t.Run(fmt.Sprintf("%q", name), func(t *testing.T) {
			if storage.Valid(name) {
				t.Fatalf("test bug: %q is valid", name)
			}
			err := storage.PutBytes(ctx, s, name, []byte("x"), storage.PutOptions{})
			if !errors.Is(err, storage.ErrInvalidName) {
				t.Errorf("put: err = %v, want ErrInvalidName", err)
			}
			err = storage.PutBytes(ctx, s, name, []byte("x"), storage.PutOptions{IfNotExists: true})
			if !errors.Is(err, storage.ErrInvalidName) {
				t.Errorf("put IfNotExists: err = %v, want ErrInvalidName", err)
			}
			body, err := s.Get(ctx, name, 0, -1)
			if err == nil {
				body.Close()
			}
			if !errors.Is(err, storage.ErrInvalidName) {
				t.Errorf("get: err = %v, want ErrInvalidName", err)
			}
			if _, err := s.Stat(ctx, name); !errors.Is(err, storage.ErrInvalidName) {
				t.Errorf("stat: err = %v, want ErrInvalidName", err)
			}
			if err := s.Delete(ctx, name); !errors.Is(err, storage.ErrInvalidName) {
				t.Errorf("delete: err = %v, want ErrInvalidName", err)
			}
		})
	}
	for _, prefix := range []string{"/", "/x", "a//", "../", "a/../", "a b", "a\\", "./x"} {
		t.Run(fmt.Sprintf("list %q", prefix), func(t *testing.T) {
			if storage.ValidPrefix(prefix) {
				t.Fatalf("test bug: prefix %q is valid", prefix)
			}
			err := s.List(ctx, prefix, func(storage.Info) error { return nil })
			if !errors.Is(err, storage.ErrInvalidName) {
				t.Errorf("list: err = %v, want ErrInvalidName", err)
			}
		})
	}
	if got := list(t, s, ""); len(got) != 0 {
		t.Fatalf("invalid puts stored objects: %v", sortedKeys(got))
	}
}

func testList(t *testing.T, s storage.Storage, count int) {
	ctx := context.Background()
	all := map[string]int64{}
	fixed := []string{"dat", "data/a", "data/b/c", "data/b/d/e", "data2/y", "datum/x", "index/0", "x"}
	for _, name := range fixed {
		put(t, s, name, []byte(name), storage.PutOptions{})
		all[name] = int64(len(name))
	}
	manyName := func(i int) string { return fmt.Sprintf("many/%03d/%06d", i%16, i) }
	// Store the many objects from a few goroutines: backends that sync
	// every put would otherwise make this slow.
	const workers = 16
	var wg sync.WaitGroup
	errs := make(chan error, workers)
	for w := range workers {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := w; i < count; i += workers {
				name := manyName(i)
				if err := storage.PutBytes(ctx, s, name, data(uint64(i), i%7), storage.PutOptions{}); err != nil {
					errs <- err
					return
				}
			}
		}()
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		t.Fatalf("put: %v", err)
	}
	for i := range count {
		all[manyName(i)] = int64(i % 7)
	}

	filter := func(prefix string) map[string]int64 {
		m := map[string]int64{}
		for name, size := range all {
			if strings.HasPrefix(name, prefix) {
				m[name] = size
			}
		}
		return m
	}
	for _, tc := range []struct {
		prefix string
		want   []string // nil: computed from all by prefix
	}{
		{"", nil},
		{"data/", []string{"data/a", "data/b/c", "data/b/d/e"}},
		{"data", []string{"data/a", "data/b/c", "data/b/d/e", "data2/y"}},
		{"dat", []string{"dat", "data/a", "data/b/c", "data/b/d/e", "data2/y", "datum/x"}},
		{"data/b", []string{"data/b/c", "data/b/d/e"}},
		{"data/b/", []string{"data/b/c", "data/b/d/e"}},
		{"data/b/c", []string{"data/b/c"}},
		{"data/b/d", []string{"data/b/d/e"}},
		{"data/a", []string{"data/a"}},
		{"data/a/", []string{}},
		{"x", []string{"x"}},
		{"x/", []string{}},
		{"nothing", []string{}},
		{"nothing/", []string{}},
		{"nothing/deeper/", []string{}},
		{"many/", nil},
		{"many/003/", nil},
		{"many/00", nil},
		{"many/015/0000", nil},
		{"d", nil},
	} {
		t.Run(fmt.Sprintf("%q", tc.prefix), func(t *testing.T) {
			want := filter(tc.prefix)
			if tc.want != nil && !slices.Equal(sortedKeys(want), tc.want) {
				t.Fatalf("test bug: expected %q, filter gives %q", tc.want, sortedKeys(want))
			}
			got := list(t, s, tc.prefix)
			if !slices.Equal(sortedKeys(got), sortedKeys(want)) {
				t.Fatalf("list %q: got %d names, want %d (got %.10q...)", tc.prefix, len(got), len(want), sortedKeys(got))
			}
			for name, size := range want {
				if got[name] != size {
					t.Fatalf("list %q: %s has size %d, want %d", tc.prefix, name, got[name], size)
				}
			}
		})
	}
	if count > 0 {
		if got := len(filter("many/")); got != count {
			t.Fatalf("test bug: %d many objects, want %d", got, count)
		}
	}
}

func testListStop(t *testing.T, s storage.Storage) {
	for i := range 10 {
		put(t, s, fmt.Sprintf("stop/%d", i), []byte{byte(i)}, storage.PutOptions{})
	}
	stop := errors.New("stop here")
	for _, tc := range []struct {
		name string
		err  error
	}{
		{"plain", stop},
		{"wrapped", fmt.Errorf("callback: %w", stop)},
	} {
		t.Run(tc.name, func(t *testing.T) {
			calls := 0
			err := s.List(context.Background(), "stop/", func(storage.Info) error {
				calls++
				if calls == 3 {
					return tc.err
				}
				return nil
			})
			if !errors.Is(err, stop) {
				t.Fatalf("list: err = %v, want the callback's error", err)
			}
			if calls != 3 {
				t.Fatalf("callback called %d times after stopping at 3", calls)
			}
		})
	}
}

func testStat(t *testing.T, s storage.Storage) {
	ctx := context.Background()
	put(t, s, "st/a/b", data(4, 12345), storage.PutOptions{})
	put(t, s, "st/a/c", nil, storage.PutOptions{})
	for _, tc := range []struct {
		name string
		size int64
	}{{"st/a/b", 12345}, {"st/a/c", 0}} {
		info, err := s.Stat(ctx, tc.name)
		if err != nil {
			t.Fatalf("stat %s: %v", tc.name, err)
		}
		if info.Name != tc.name || info.Size != tc.size {
			t.Fatalf("stat %s = %+v, want size %d", tc.name, info, tc.size)
		}
	}
	// The parent "directory" of objects is not an object.
	if _, err := s.Stat(ctx, "st/a"); !errors.Is(err, storage.ErrNotExist) {
		t.Fatalf("stat st/a: err = %v, want ErrNotExist", err)
	}
}

// testConcurrent exercises every method from many goroutines, each on its
// own names plus one shared name that all of them overwrite.
func testConcurrent(t *testing.T, s storage.Storage) {
	const (
		goroutines = 16
		iterations = 12
		shared     = "conc/shared"
	)
	ctx := context.Background()
	// Versions of the shared object: version g is 1000+g bytes of byte g.
	version := func(g int) []byte { return bytes.Repeat([]byte{byte(g)}, 1000+g) }
	put(t, s, shared, version(0), storage.PutOptions{})
	var wg sync.WaitGroup
	errs := make(chan error, goroutines)
	for g := range goroutines {
		wg.Add(1)
		go func() {
			defer wg.Done()
			if err := concurrentWorker(ctx, s, g, iterations, shared, version); err != nil {
				errs <- fmt.Errorf("goroutine %d: %w", g, err)
			}
		}()
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		t.Error(err)
	}
	if got := list(t, s, "conc/"); len(got) != 1 {
		t.Fatalf("after concurrent test, list conc/ = %q, want only the shared object", sortedKeys(got))
	}
}

func concurrentWorker(ctx context.Context, s storage.Storage, g, iterations int, shared string, version func(int) []byte) error {
	prefix := fmt.Sprintf("conc/g%02d/", g)
	for i := range iterations {
		name := fmt.Sprintf("%si%03d", prefix, i)
		want := data(uint64(g*1000+i), 100+g*10+i)
		if err := storage.PutBytes(ctx, s, name, want, storage.PutOptions{}); err != nil {
			return fmt.Errorf("put: %w", err)
		}
		got, err := storage.ReadAll(ctx, s, name)
		if err != nil {
			return err
		}
		if !bytes.Equal(got, want) {
			return fmt.Errorf("%s: read back different bytes", name)
		}
		if info, err := s.Stat(ctx, name); err != nil || info.Size != int64(len(want)) {
			return fmt.Errorf("stat %s: %+v, %v", name, info, err)
		}
		seen := 0
		err = s.List(ctx, prefix, func(info storage.Info) error {
			if !strings.HasPrefix(info.Name, prefix) {
				return fmt.Errorf("list %s reported %s", prefix, info.Name)
			}
			seen++
			return nil
		})
		if err != nil {
			return fmt.Errorf("list: %w", err)
		}
		if seen != 1 {
			return fmt.Errorf("list %s: %d objects, want 1", prefix, seen)
		}
		// Other goroutines' objects come and go; only check the call works.
		if err := s.List(ctx, "conc/", func(storage.Info) error { return nil }); err != nil {
			return fmt.Errorf("list conc/: %w", err)
		}
		if i%3 == g%3 {
			if err := storage.PutBytes(ctx, s, shared, version(g), storage.PutOptions{}); err != nil {
				return fmt.Errorf("put shared: %w", err)
			}
		}
		b, err := storage.ReadAll(ctx, s, shared)
		if err != nil {
			return err
		}
		if len(b) < 1000 || !bytes.Equal(b, version(len(b)-1000)) {
			return fmt.Errorf("shared object torn (%d bytes)", len(b))
		}
		if err := s.Delete(ctx, name); err != nil {
			return fmt.Errorf("delete: %w", err)
		}
		if _, err := s.Stat(ctx, name); !errors.Is(err, storage.ErrNotExist) {
			return fmt.Errorf("stat after delete: err = %v, want ErrNotExist", err)
		}
	}
	return nil
}

func testCancelledContext(t *testing.T, s storage.Storage) {
	const name = "cx/obj"
	orig := data(5, 100)
	put(t, s, name, orig, storage.PutOptions{})
	ctx, cancel := context.WithCancel(context.Background())
	cancel()

	wantCanceled := func(t *testing.T, op string, err error) {
		t.Helper()
		if !errors.Is(err, context.Canceled) {
			t.Errorf("%s with cancelled context: err = %v, want context.Canceled", op, err)
		}
	}
	wantCanceled(t, "put", storage.PutBytes(ctx, s, "cx/new", []byte("new"), storage.PutOptions{}))
	wantCanceled(t, "put IfNotExists", storage.PutBytes(ctx, s, "cx/new2", []byte("new"), storage.PutOptions{IfNotExists: true}))
	wantCanceled(t, "put overwrite", storage.PutBytes(ctx, s, name, []byte("other"), storage.PutOptions{}))
	body, err := s.Get(ctx, name, 0, -1)
	if err == nil {
		body.Close()
	}
	wantCanceled(t, "get", err)
	_, err = s.Stat(ctx, name)
	wantCanceled(t, "stat", err)
	wantCanceled(t, "list", s.List(ctx, "", func(storage.Info) error { return nil }))
	wantCanceled(t, "list prefix", s.List(ctx, "cx/", func(storage.Info) error { return nil }))
	wantCanceled(t, "delete", s.Delete(ctx, name))

	// Nothing changed.
	wantContent(t, s, name, orig)
	if got := sortedKeys(list(t, s, "")); !slices.Equal(got, []string{name}) {
		t.Fatalf("after cancelled calls, list = %q, want only %s", got, name)
	}
}
