package s3_test

import (
	"bytes"
	"context"
	"encoding/binary"
	"errors"
	"fmt"
	"io"
	"math/rand/v2"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"lifeboat/storage"
	"lifeboat/storage/s3"
	"lifeboat/storage/storagetest"
	"lifeboat/tests/s3server"
)

// faultTimeout is the Timeout of stores facing dead or hung servers, short
// so those tests finish quickly.
const faultTimeout = time.Second

func config(srv *s3server.Server, prefix string) s3.Config {
	return s3.Config{
		Endpoint:  srv.Endpoint,
		Bucket:    srv.Bucket,
		Prefix:    prefix,
		Insecure:  true,
		AccessKey: srv.AccessKey,
		SecretKey: srv.SecretKey,
	}
}

func open(t *testing.T, cfg s3.Config) storage.Storage {
	t.Helper()
	s, err := s3.New(context.Background(), cfg)
	if err != nil {
		t.Fatalf("s3.New: %v", err)
	}
	t.Cleanup(func() { s.Close() })
	return s
}

func randBytes(seed uint64, n int) []byte {
	r := rand.New(rand.NewPCG(seed, 1))
	b := make([]byte, n+8)
	for i := 0; i < n; i += 8 {
		binary.LittleEndian.PutUint64(b[i:], r.Uint64())
	}
	return b[:n]
}

// TestConformance runs the storage conformance suite, each subtest under a
// fresh key prefix of one bucket.
func TestConformance(t *testing.T) {
	srv := s3server.Start(t)
	var n atomic.Int64
	// 1200 listed objects still span two ListObjectsV2 pages (1000 keys
	// each) at 60% of the default's cost.
	storagetest.RunWithOptions(t, func(t *testing.T) storage.Storage {
		s, err := s3.New(context.Background(), config(srv, fmt.Sprintf("conformance/%03d", n.Add(1))))
		if err != nil {
			t.Fatalf("s3.New: %v\n%s", err, srv.LogTail())
		}
		return s
	}, storagetest.Options{ListObjects: 1200})
}

// TestNoPrefix checks a store at the bucket's root, where keys and names
// coincide.
func TestNoPrefix(t *testing.T) {
	srv := s3server.Start(t)
	s := open(t, config(srv, ""))
	ctx := context.Background()
	if err := storage.PutBytes(ctx, s, "a/b", []byte("hello"), storage.PutOptions{}); err != nil {
		t.Fatal(err)
	}
	if got, err := os.ReadFile(srv.ObjectPath("a/b")); err != nil || string(got) != "hello" {
		t.Fatalf("object file: %q, %v", got, err)
	}
	var names []string
	if err := s.List(ctx, "", func(i storage.Info) error { names = append(names, i.Name); return nil }); err != nil {
		t.Fatal(err)
	}
	if len(names) != 1 || names[0] != "a/b" {
		t.Fatalf("list = %q", names)
	}
}

// TestPrefix checks the name-to-key mapping and that List ignores keys
// outside the prefix or not valid as names.
func TestPrefix(t *testing.T) {
	srv := s3server.Start(t)
	ctx := context.Background()
	s := open(t, config(srv, "/backups/host1/"))
	other := open(t, config(srv, "backups/host10"))
	if err := storage.PutBytes(ctx, s, "data/ab/cd", []byte("x"), storage.PutOptions{}); err != nil {
		t.Fatal(err)
	}
	if err := storage.PutBytes(ctx, other, "data/ef", []byte("y"), storage.PutOptions{}); err != nil {
		t.Fatal(err)
	}
	if _, err := os.Stat(srv.ObjectPath("backups/host1/data/ab/cd")); err != nil {
		t.Fatalf("object not at <prefix>/<name>: %v", err)
	}
	// A foreign key that is not a valid name, written behind the server's
	// back.
	if err := os.WriteFile(srv.ObjectPath("backups/host1/data/bad name"), []byte("z"), 0o644); err != nil {
		t.Fatal(err)
	}
	for _, tc := range []struct {
		s    storage.Storage
		want string
	}{{s, "data/ab/cd"}, {other, "data/ef"}} {
		var names []string
		err := tc.s.List(ctx, "data", func(i storage.Info) error {
			names = append(names, i.Name)
			return nil
		})
		if err != nil {
			t.Fatal(err)
		}
		if len(names) != 1 || names[0] != tc.want {
			t.Fatalf("list = %q, want [%s]", names, tc.want)
		}
	}
}

// countingTransport records the requests a store makes.
type countingTransport struct {
	mu   sync.Mutex
	reqs []string
}

func (c *countingTransport) RoundTrip(req *http.Request) (*http.Response, error) {
	c.mu.Lock()
	c.reqs = append(c.reqs, req.Method+" "+req.URL.RawQuery)
	c.mu.Unlock()
	return http.DefaultTransport.RoundTrip(req)
}

// count returns how many requests had method and a query containing sub,
// and forgets all requests.
func (c *countingTransport) count(method, sub string) int {
	c.mu.Lock()
	defer c.mu.Unlock()
	n := 0
	for _, r := range c.reqs {
		if strings.HasPrefix(r, method+" ") && strings.Contains(r, sub) {
			n++
		}
	}
	c.reqs = nil
	return n
}

// TestLargeObjects checks that objects up to the part size go up in one PUT,
// larger ones multipart, and that both read back whole and in ranges.
func TestLargeObjects(t *testing.T) {
	srv := s3server.Start(t)
	ctx := context.Background()
	tr := &countingTransport{}
	cfg := config(srv, "large")
	cfg.Transport = tr
	s := open(t, cfg)
	for _, tc := range []struct {
		name      string
		size      int
		opt       storage.PutOptions
		multipart bool
	}{
		{"pack-16MiB", s3.DefaultPartSize, storage.PutOptions{}, false},
		{"big-40MiB", 40 << 20, storage.PutOptions{}, true},
		{"conditional-20MiB", 20 << 20, storage.PutOptions{IfNotExists: true}, false},
	} {
		t.Run(tc.name, func(t *testing.T) {
			want := randBytes(uint64(tc.size), tc.size)
			tr.count("", "")
			if err := storage.PutBytes(ctx, s, tc.name, want, tc.opt); err != nil {
				t.Fatalf("put: %v", err)
			}
			initiated := tr.count(http.MethodPost, "uploads")
			if got := initiated == 1; got != tc.multipart {
				t.Fatalf("multipart uploads initiated: %d, want multipart %v", initiated, tc.multipart)
			}
			got, err := storage.ReadAll(ctx, s, tc.name)
			if err != nil {
				t.Fatalf("read: %v", err)
			}
			if !bytes.Equal(got, want) {
				t.Fatalf("read %d bytes, differ from the %d written", len(got), len(want))
			}
			// Ranges around the 16 MiB part boundary and at the end.
			for _, r := range [][2]int64{{s3.DefaultPartSize - 10, 20}, {1, 5}, {int64(tc.size) - 7, -1}, {int64(tc.size), -1}} {
				off, length := r[0], r[1]
				end := int64(tc.size)
				if length >= 0 {
					end = min(end, off+length)
				}
				buf, err := readRange(ctx, s, tc.name, off, length)
				if err != nil {
					t.Fatalf("get [%d,%d]: %v", off, length, err)
				}
				if !bytes.Equal(buf, want[off:end]) {
					t.Fatalf("get [%d,%d]: wrong bytes", off, length)
				}
			}
			if tc.opt.IfNotExists {
				err := storage.PutBytes(ctx, s, tc.name, want[:100], tc.opt)
				if !errors.Is(err, storage.ErrExist) {
					t.Fatalf("second conditional put: err = %v, want ErrExist", err)
				}
			}
		})
	}
}

func readRange(ctx context.Context, s storage.Reader, name string, off, length int64) ([]byte, error) {
	body, err := s.Get(ctx, name, off, length)
	if err != nil {
		return nil, err
	}
	defer body.Close()
	return io.ReadAll(body)
}

func TestIfNotExistsExisting(t *testing.T) {
	srv := s3server.Start(t)
	ctx := context.Background()
	s := open(t, config(srv, "ine"))
	if err := storage.PutBytes(ctx, s, "snapshots/1", []byte("first"), storage.PutOptions{}); err != nil {
		t.Fatal(err)
	}
	err := storage.PutBytes(ctx, s, "snapshots/1", []byte("second"), storage.PutOptions{IfNotExists: true})
	if !errors.Is(err, storage.ErrExist) || storage.IsTransient(err) {
		t.Fatalf("err = %v, want ErrExist (not transient)", err)
	}
	if got, err := storage.ReadAll(ctx, s, "snapshots/1"); err != nil || string(got) != "first" {
		t.Fatalf("object = %q, %v; want it unchanged", got, err)
	}
}

// TestOpenErrors checks that New reports configuration and access problems
// with the right sentinel.
func TestOpenErrors(t *testing.T) {
	srv := s3server.Start(t)
	for _, tc := range []struct {
		name      string
		edit      func(*s3.Config)
		want      error
		transient bool
	}{
		{"wrong secret", func(c *s3.Config) { c.SecretKey = "wrong" }, storage.ErrPermission, false},
		{"unknown access key", func(c *s3.Config) { c.AccessKey = "nobody" }, storage.ErrPermission, false},
		{"missing bucket", func(c *s3.Config) { c.Bucket = "no-such-bucket" }, s3.ErrNoBucket, false},
		{"bad prefix", func(c *s3.Config) { c.Prefix = "a/../b" }, storage.ErrInvalidName, false},
		{"plain http without Insecure", func(c *s3.Config) { c.Endpoint = "http://" + c.Endpoint; c.Insecure = false }, nil, false},
		{"endpoint with path", func(c *s3.Config) { c.Endpoint += "/bucket" }, nil, false},
		{"bad bucket name", func(c *s3.Config) { c.Bucket = "Bad_Bucket" }, nil, false},
		{"tiny part size", func(c *s3.Config) { c.PartSize = 1 << 20 }, nil, false},
		{"nothing listening", func(c *s3.Config) { c.Endpoint = closedPort(t) }, nil, true},
	} {
		t.Run(tc.name, func(t *testing.T) {
			cfg := config(srv, "open")
			cfg.Timeout = faultTimeout
			tc.edit(&cfg)
			s, err := s3.New(context.Background(), cfg)
			if err == nil {
				s.Close()
				t.Fatal("New succeeded")
			}
			if tc.want != nil && !errors.Is(err, tc.want) {
				t.Fatalf("err = %v, want %v", err, tc.want)
			}
			if storage.IsTransient(err) != tc.transient {
				t.Fatalf("err = %v, transient %v, want %v", err, storage.IsTransient(err), tc.transient)
			}
			t.Logf("%v", err)
		})
	}
	// The scheme may be given explicitly.
	cfg := config(srv, "open")
	cfg.Endpoint = "http://" + cfg.Endpoint
	open(t, cfg)
}

// closedPort returns a loopback address nothing listens on.
func closedPort(t *testing.T) string {
	t.Helper()
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	addr := l.Addr().String()
	l.Close()
	return addr
}

// TestDeadServer kills the server under an open store: every operation fails
// transiently, and works again once the server is back.
func TestDeadServer(t *testing.T) {
	srv := s3server.Start(t)
	ctx := context.Background()
	cfg := config(srv, "dead")
	cfg.Timeout = faultTimeout
	s := open(t, cfg)
	if err := storage.PutBytes(ctx, s, "obj", []byte("data"), storage.PutOptions{}); err != nil {
		t.Fatal(err)
	}
	srv.Kill()
	for _, op := range ops() {
		err := op.fn(ctx, s)
		if !storage.IsTransient(err) {
			t.Errorf("%s on a dead server: err = %v, want transient", op.name, err)
		}
		t.Logf("%s: %v", op.name, err)
	}
	srv.Restart()
	if got, err := storage.ReadAll(ctx, s, "obj"); err != nil || string(got) != "data" {
		t.Fatalf("after restart: %q, %v", got, err)
	}
}

type op struct {
	name string
	fn   func(context.Context, storage.Storage) error
}

// ops exercises every request kind on object "obj".
func ops() []op {
	return []op{
		{"stat", func(ctx context.Context, s storage.Storage) error { _, err := s.Stat(ctx, "obj"); return err }},
		{"get", func(ctx context.Context, s storage.Storage) error {
			_, err := storage.ReadAll(ctx, s, "obj")
			return err
		}},
		{"get range", func(ctx context.Context, s storage.Storage) error {
			return storage.ReadRange(ctx, s, "obj", 1, make([]byte, 2))
		}},
		{"put", func(ctx context.Context, s storage.Storage) error {
			return storage.PutBytes(ctx, s, "new", make([]byte, 1<<20), storage.PutOptions{})
		}},
		{"put conditional", func(ctx context.Context, s storage.Storage) error {
			return storage.PutBytes(ctx, s, "new2", []byte("x"), storage.PutOptions{IfNotExists: true})
		}},
		{"list", func(ctx context.Context, s storage.Storage) error {
			return s.List(ctx, "", func(storage.Info) error { return nil })
		}},
		{"delete", func(ctx context.Context, s storage.Storage) error { return s.Delete(ctx, "obj") }},
	}
}

// hangProxy forwards TCP connections to a server until hang is set; from
// then on it swallows all bytes in both directions, like a server (or
// network) that stopped answering without closing anything.
type hangProxy struct {
	l    net.Listener
	to   string
	hang atomic.Bool
	wg   sync.WaitGroup
	mu   sync.Mutex
	conn []net.Conn
}

func startHangProxy(t *testing.T, to string) *hangProxy {
	t.Helper()
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	p := &hangProxy{l: l, to: to}
	p.wg.Add(1)
	go p.serve()
	t.Cleanup(p.close)
	return p
}

func (p *hangProxy) addr() string { return p.l.Addr().String() }

func (p *hangProxy) serve() {
	defer p.wg.Done()
	for {
		c, err := p.l.Accept()
		if err != nil {
			return
		}
		p.track(c)
		var up net.Conn
		if p.to != "" {
			if up, err = net.Dial("tcp", p.to); err != nil {
				c.Close()
				continue
			}
			p.track(up)
		}
		p.wg.Add(2)
		go p.pipe(up, c)
		go p.pipe(c, up)
	}
}

func (p *hangProxy) track(c net.Conn) {
	p.mu.Lock()
	p.conn = append(p.conn, c)
	p.mu.Unlock()
}

// pipe copies src to dst, dropping everything once hung (or when there is
// no dst).
func (p *hangProxy) pipe(dst, src net.Conn) {
	defer p.wg.Done()
	if src == nil {
		return
	}
	buf := make([]byte, 32<<10)
	for {
		n, err := src.Read(buf)
		if n > 0 && dst != nil && !p.hang.Load() {
			if _, werr := dst.Write(buf[:n]); werr != nil {
				return
			}
		}
		if err != nil {
			return
		}
	}
}

func (p *hangProxy) close() {
	p.l.Close()
	p.mu.Lock()
	for _, c := range p.conn {
		c.Close()
	}
	p.mu.Unlock()
	p.wg.Wait()
}

// TestHungServer checks that a server that stops answering (connections
// stay open, nothing comes back) fails requests transiently within about
// Timeout instead of hanging.
func TestHungServer(t *testing.T) {
	srv := s3server.Start(t)
	ctx := context.Background()

	t.Run("open", func(t *testing.T) {
		p := startHangProxy(t, "")
		cfg := config(srv, "hung")
		cfg.Endpoint = p.addr()
		cfg.Timeout = faultTimeout
		_, err := s3.New(ctx, cfg)
		if !storage.IsTransient(err) {
			t.Fatalf("New against a silent listener: err = %v, want transient", err)
		}
	})

	const bigSize = 24 << 20 // more than socket buffers hold
	big := randBytes(9, bigSize)
	setup := open(t, config(srv, "hung"))
	if err := storage.PutBytes(ctx, setup, "obj", []byte("data"), storage.PutOptions{}); err != nil {
		t.Fatal(err)
	}
	if err := storage.PutBytes(ctx, setup, "big", big, storage.PutOptions{}); err != nil {
		t.Fatal(err)
	}

	for _, op := range ops() {
		t.Run(op.name, func(t *testing.T) {
			t.Parallel() // each waits out a timeout; overlap the waits
			p := startHangProxy(t, srv.Endpoint)
			cfg := config(srv, "hung")
			cfg.Endpoint = p.addr()
			cfg.Timeout = faultTimeout
			s := open(t, cfg)
			// A request that works first, so a kept-alive connection
			// goes silent too.
			if _, err := s.Stat(ctx, "obj"); err != nil {
				t.Fatalf("stat through proxy: %v", err)
			}
			p.hang.Store(true)
			err := op.fn(ctx, s)
			if !storage.IsTransient(err) {
				t.Fatalf("%s on a hung server: err = %v, want transient", op.name, err)
			}
			t.Logf("%v", err)
		})
	}

	t.Run("get body stalls", func(t *testing.T) {
		p := startHangProxy(t, srv.Endpoint)
		cfg := config(srv, "hung")
		cfg.Endpoint = p.addr()
		cfg.Timeout = faultTimeout
		s := open(t, cfg)
		body, err := s.Get(ctx, "big", 0, -1)
		if err != nil {
			t.Fatal(err)
		}
		defer body.Close()
		head := make([]byte, 1<<10)
		if _, err := io.ReadFull(body, head); err != nil {
			t.Fatalf("read head: %v", err)
		}
		p.hang.Store(true)
		n, err := io.Copy(io.Discard, body)
		if !storage.IsTransient(err) {
			t.Fatalf("read after %d more bytes: err = %v, want transient", n, err)
		}
		t.Logf("after %d more bytes: %v", n, err)
	})

	t.Run("big put stalls", func(t *testing.T) {
		p := startHangProxy(t, srv.Endpoint)
		cfg := config(srv, "hung")
		cfg.Endpoint = p.addr()
		cfg.Timeout = faultTimeout
		s := open(t, cfg)
		p.hang.Store(true)
		for _, size := range []int{s3.DefaultPartSize, bigSize} {
			err := storage.PutBytes(ctx, s, "bigput", big[:size], storage.PutOptions{})
			if !storage.IsTransient(err) {
				t.Fatalf("put %d bytes: err = %v, want transient", size, err)
			}
			t.Logf("put %d bytes: %v", size, err)
		}
	})
}

// TestSlowConsumer checks that a reader that pauses longer than Timeout
// between reads is not cut off: only the server's silence counts.
func TestSlowConsumer(t *testing.T) {
	srv := s3server.Start(t)
	ctx := context.Background()
	cfg := config(srv, "slow")
	cfg.Timeout = 200 * time.Millisecond
	s := open(t, cfg)
	want := randBytes(3, 1<<20)
	if err := storage.PutBytes(ctx, s, "obj", want, storage.PutOptions{}); err != nil {
		t.Fatal(err)
	}
	body, err := s.Get(ctx, "obj", 0, -1)
	if err != nil {
		t.Fatal(err)
	}
	defer body.Close()
	head := make([]byte, 10)
	if _, err := io.ReadFull(body, head); err != nil {
		t.Fatal(err)
	}
	time.Sleep(3 * cfg.Timeout) // the caller is busy; the server is not at fault
	rest, err := io.ReadAll(body)
	if err != nil {
		t.Fatalf("read after a pause: %v", err)
	}
	if !bytes.Equal(append(head, rest...), want) {
		t.Fatal("wrong bytes")
	}
}

// TestCorruptOnDisk checks what the backend reports for objects damaged
// behind the server's back: a removed file is missing, a truncated one is
// shorter (detecting that is the caller's checksums' job).
func TestCorruptOnDisk(t *testing.T) {
	srv := s3server.Start(t)
	ctx := context.Background()
	s := open(t, config(srv, "disk"))
	for _, name := range []string{"gone", "short"} {
		if err := storage.PutBytes(ctx, s, name, []byte("0123456789"), storage.PutOptions{}); err != nil {
			t.Fatal(err)
		}
	}
	if err := os.Remove(srv.ObjectPath(filepath.Join("disk", "gone"))); err != nil {
		t.Fatal(err)
	}
	if err := os.Truncate(srv.ObjectPath(filepath.Join("disk", "short")), 4); err != nil {
		t.Fatal(err)
	}
	if _, err := storage.ReadAll(ctx, s, "gone"); !errors.Is(err, storage.ErrNotExist) {
		t.Fatalf("removed object: err = %v, want ErrNotExist", err)
	}
	got, err := storage.ReadAll(ctx, s, "short")
	if err != nil || string(got) != "0123" {
		t.Fatalf("truncated object: %q, %v", got, err)
	}
}
