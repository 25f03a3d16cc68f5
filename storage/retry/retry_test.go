package retry_test

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"net"
	"os"
	"slices"
	"sync"
	"testing"
	"time"

	"lifeboat/storage"
	"lifeboat/storage/fault"
	"lifeboat/storage/mem"
	"lifeboat/storage/retry"
	"lifeboat/storage/storagetest"
)

var (
	ctx       = context.Background()
	transient = storage.MarkTransient(fault.ErrInjected)
)

// recorder collects the retries and sleeps of a wrapper.
type recorder struct {
	mu     sync.Mutex
	sleeps []time.Duration
	tries  []string
}

func (r *recorder) options() retry.Options {
	return retry.Options{
		Sleep: func(ctx context.Context, d time.Duration) error {
			r.mu.Lock()
			r.sleeps = append(r.sleeps, d)
			r.mu.Unlock()
			return ctx.Err()
		},
		Rand: func() float64 { return 0.5 },
		OnRetry: func(op, name string, attempt int, err error) {
			r.mu.Lock()
			r.tries = append(r.tries, fmt.Sprintf("%s %s %d", op, name, attempt))
			r.mu.Unlock()
		},
	}
}

func noSleep(ctx context.Context, _ time.Duration) error { return ctx.Err() }

func TestConformance(t *testing.T) {
	storagetest.Run(t, func(t *testing.T) storage.Storage {
		return retry.New(mem.New(), retry.Options{Sleep: noSleep})
	})
}

// TestConformanceOverFaults runs the suite with every operation on every
// name failing transiently once before reaching the storage, and every
// Put and Delete losing its first successful reply.
func TestConformanceOverFaults(t *testing.T) {
	storagetest.Run(t, func(t *testing.T) storage.Storage {
		f := fault.New(mem.New())
		for op := fault.OpGet; op <= fault.OpDelete; op++ {
			f.FailOn(op, nil, transient, 1).PerName()
		}
		f.FailAfter(fault.OpPut, nil, transient, 1).PerName()
		return retry.New(f, retry.Options{Sleep: noSleep})
	})
}

func TestRetriesUntilSuccess(t *testing.T) {
	f := fault.New(mem.New())
	f.FailOn(fault.OpPut, nil, transient, 2)
	var rec recorder
	s := retry.New(f, rec.options())
	want := bytes.Repeat([]byte("lifeboat"), 1000)
	body := &seekCounter{Reader: bytes.NewReader(want)}
	if err := s.Put(ctx, "obj", body, int64(len(want)), storage.PutOptions{}); err != nil {
		t.Fatalf("put: %v", err)
	}
	got, err := storage.ReadAll(ctx, s, "obj")
	if err != nil || !bytes.Equal(got, want) {
		t.Fatalf("get after retried put: %d bytes, %v", len(got), err)
	}
	if f.Calls(fault.OpPut) != 3 || body.seeks != 2 {
		t.Fatalf("calls = %d, seeks = %d; want 3, 2", f.Calls(fault.OpPut), body.seeks)
	}
	if want := []string{"put obj 1", "put obj 2"}; !slices.Equal(rec.tries, want) {
		t.Fatalf("OnRetry calls = %q, want %q", rec.tries, want)
	}
	if want := []time.Duration{50 * time.Millisecond, 100 * time.Millisecond}; !slices.Equal(rec.sleeps, want) {
		t.Fatalf("sleeps = %v, want %v", rec.sleeps, want)
	}
}

type seekCounter struct {
	*bytes.Reader
	seeks int
}

func (r *seekCounter) Seek(off int64, whence int) (int64, error) {
	r.seeks++
	return r.Reader.Seek(off, whence)
}

func TestBackoff(t *testing.T) {
	for _, tc := range []struct {
		name string
		opt  retry.Options
		rand float64
		want []time.Duration
	}{
		{"defaults", retry.Options{}, 0.999999999, []time.Duration{100, 200, 400}},
		{"capped", retry.Options{Attempts: 7, Base: 100 * time.Millisecond, Max: 300 * time.Millisecond}, 0.999999999, []time.Duration{100, 200, 300, 300, 300, 300}},
		{"jitter zero", retry.Options{Attempts: 3}, 0, []time.Duration{0, 0}},
		{"half", retry.Options{Attempts: 4, Base: time.Second, Max: time.Minute}, 0.5, []time.Duration{500, 1000, 2000}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			f := fault.New(mem.New())
			f.FailOn(fault.OpStat, nil, transient, -1)
			var sleeps []time.Duration
			opt := tc.opt
			opt.Rand = func() float64 { return tc.rand }
			opt.Sleep = func(_ context.Context, d time.Duration) error {
				sleeps = append(sleeps, d.Round(time.Millisecond)/time.Millisecond)
				return nil
			}
			s := retry.New(f, opt)
			_, err := s.Stat(ctx, "x")
			if !storage.IsTransient(err) || !errors.Is(err, fault.ErrInjected) {
				t.Fatalf("stat: err = %v, want the transient failure", err)
			}
			if !slices.Equal(sleeps, tc.want) {
				t.Fatalf("sleeps (ms) = %v, want %v", sleeps, tc.want)
			}
			if f.Calls(fault.OpStat) != len(tc.want)+1 {
				t.Fatalf("calls = %d, want %d", f.Calls(fault.OpStat), len(tc.want)+1)
			}
		})
	}
}

func TestNonTransientNotRetried(t *testing.T) {
	for _, tc := range []struct {
		name string
		err  error
	}{
		{"plain", fault.ErrInjected},
		{"permission", fmt.Errorf("denied: %w", storage.ErrPermission)},
		{"no space", storage.ErrNoSpace},
		{"not exist", storage.ErrNotExist},
		{"exist", storage.ErrExist},
	} {
		t.Run(tc.name, func(t *testing.T) {
			f := fault.New(mem.New())
			for op := fault.OpGet; op <= fault.OpDelete; op++ {
				f.FailOn(op, nil, tc.err, -1)
			}
			var rec recorder
			s := retry.New(f, rec.options())
			_, err := s.Get(ctx, "x", 0, -1)
			if !errors.Is(err, tc.err) {
				t.Errorf("get: err = %v", err)
			}
			_, err = s.Stat(ctx, "x")
			if !errors.Is(err, tc.err) {
				t.Errorf("stat: err = %v", err)
			}
			if err := s.List(ctx, "", func(storage.Info) error { return nil }); !errors.Is(err, tc.err) {
				t.Errorf("list: err = %v", err)
			}
			if err := storage.PutBytes(ctx, s, "x", []byte("x"), storage.PutOptions{}); !errors.Is(err, tc.err) {
				t.Errorf("put: err = %v", err)
			}
			if err := s.Delete(ctx, "x"); !errors.Is(err, tc.err) {
				t.Errorf("delete: err = %v", err)
			}
			for op := fault.OpGet; op <= fault.OpDelete; op++ {
				if f.Calls(op) != 1 {
					t.Errorf("%s called %d times", op, f.Calls(op))
				}
			}
			if len(rec.tries) != 0 {
				t.Errorf("retried: %q", rec.tries)
			}
		})
	}
}

// TestMissingNotRetried uses real ErrNotExist errors from the backend.
func TestMissingNotRetried(t *testing.T) {
	f := fault.New(mem.New())
	s := retry.New(f, retry.Options{Sleep: noSleep})
	if _, err := s.Get(ctx, "missing", 0, -1); !errors.Is(err, storage.ErrNotExist) {
		t.Fatalf("get: %v", err)
	}
	if err := s.Delete(ctx, "missing"); !errors.Is(err, storage.ErrNotExist) {
		t.Fatalf("delete: %v", err)
	}
	if f.Calls(fault.OpGet) != 1 || f.Calls(fault.OpDelete) != 1 {
		t.Fatalf("calls = %d get, %d delete", f.Calls(fault.OpGet), f.Calls(fault.OpDelete))
	}
}

func TestCancelStopsRetrying(t *testing.T) {
	f := fault.New(mem.New())
	f.FailOn(fault.OpStat, nil, transient, -1)
	cctx, cancel := context.WithCancel(ctx)
	defer cancel()
	// The default Sleep would wait an hour; cancelling must end it at once.
	s := retry.New(f, retry.Options{
		Attempts: 10, Base: time.Hour, Max: time.Hour,
		OnRetry: func(string, string, int, error) { cancel() },
	})
	_, err := s.Stat(cctx, "x")
	if !errors.Is(err, context.Canceled) || !errors.Is(err, fault.ErrInjected) {
		t.Fatalf("stat: err = %v, want context.Canceled and the last failure", err)
	}
	if f.Calls(fault.OpStat) != 1 {
		t.Fatalf("calls = %d, want 1", f.Calls(fault.OpStat))
	}

	// A context cancelled while the call runs ends the retries too.
	f.Reset()
	cctx2, cancel2 := context.WithCancel(ctx)
	f.Blackhole(fault.OpGet, nil)
	go cancel2()
	if _, err := retry.New(f, retry.Options{Sleep: noSleep}).Get(cctx2, "x", 0, -1); !errors.Is(err, context.Canceled) {
		t.Fatalf("get: err = %v, want context.Canceled", err)
	}
	if f.Calls(fault.OpGet) != 1 {
		t.Fatalf("get calls = %d, want 1", f.Calls(fault.OpGet))
	}
}

func TestGetRetriesOnlyOpening(t *testing.T) {
	f := fault.New(mem.New())
	storagetest.PutString(t, f, "obj", "0123456789")
	f.FailOn(fault.OpGet, nil, transient, 1)
	f.Truncate(nil, 4)
	s := retry.New(f, retry.Options{Sleep: noSleep})
	body, err := s.Get(ctx, "obj", 0, -1)
	if err != nil {
		t.Fatalf("get: %v", err)
	}
	got, err := io.ReadAll(body)
	body.Close()
	if !errors.Is(err, io.ErrUnexpectedEOF) || string(got) != "0123" {
		t.Fatalf("read = %q, %v; want the truncated body", got, err)
	}
	if f.Calls(fault.OpGet) != 2 {
		t.Fatalf("get calls = %d, want 2 (one failed opening, one success)", f.Calls(fault.OpGet))
	}
}

func TestPutRewindFails(t *testing.T) {
	f := fault.New(mem.New())
	f.FailOn(fault.OpPut, nil, transient, 1)
	s := retry.New(f, retry.Options{Sleep: noSleep})
	err := s.Put(ctx, "obj", noRewind{bytes.NewReader([]byte("abc"))}, 3, storage.PutOptions{})
	if err == nil || storage.IsTransient(err) {
		t.Fatalf("put with an unrewindable body: err = %v, want a final error", err)
	}
	if f.Calls(fault.OpPut) != 1 {
		t.Fatalf("put calls = %d, want 1", f.Calls(fault.OpPut))
	}
}

type noRewind struct{ io.Reader }

func (noRewind) Seek(int64, int) (int64, error) { return 0, errors.New("cannot seek") }

func TestConditionalPutLostReply(t *testing.T) {
	f := fault.New(mem.New())
	s := retry.New(f, retry.Options{Sleep: noSleep})

	// Our own write went through but the reply was lost: success.
	f.FailAfter(fault.OpPut, nil, transient, 1)
	if err := storage.PutBytes(ctx, s, "lock/a", []byte("mine"), storage.PutOptions{IfNotExists: true}); err != nil {
		t.Fatalf("conditional put after a lost reply: %v", err)
	}
	if f.Calls(fault.OpPut) != 2 {
		t.Fatalf("put calls = %d, want 2", f.Calls(fault.OpPut))
	}

	// Someone else's object (different bytes, or a prefix of ours): ErrExist.
	for _, other := range []string{"theirs", "mi", "mine!"} {
		storagetest.PutString(t, f, "lock/b", other)
		f.Reset()
		f.FailOn(fault.OpPut, nil, transient, 1)
		err := storage.PutBytes(ctx, s, "lock/b", []byte("mine"), storage.PutOptions{IfNotExists: true})
		if !errors.Is(err, storage.ErrExist) {
			t.Fatalf("conditional put over %q: err = %v, want ErrExist", other, err)
		}
	}

	// Without a transient failure first, an identical object is ErrExist.
	f.Reset()
	if err := storage.PutBytes(ctx, s, "lock/a", []byte("mine"), storage.PutOptions{IfNotExists: true}); !errors.Is(err, storage.ErrExist) {
		t.Fatalf("plain conditional put over an identical object: err = %v, want ErrExist", err)
	}
}

// flakyList reports the first objects of a listing and then fails
// transiently, once.
type flakyList struct {
	storage.Storage
	failed bool
	calls  int
}

func (f *flakyList) List(ctx context.Context, prefix string, fn func(storage.Info) error) error {
	f.calls++
	n := 0
	return f.Storage.List(ctx, prefix, func(info storage.Info) error {
		if n == 2 && !f.failed {
			f.failed = true
			return transient
		}
		n++
		return fn(info)
	})
}

func TestListRetryReportsEachNameOnce(t *testing.T) {
	inner := &flakyList{Storage: mem.New()}
	for i := range 5 {
		storagetest.PutString(t, inner, fmt.Sprintf("o/%d", i), "x")
	}
	s := retry.New(inner, retry.Options{Sleep: noSleep})
	var got []string
	if err := s.List(ctx, "o/", func(info storage.Info) error {
		got = append(got, info.Name)
		return nil
	}); err != nil {
		t.Fatalf("list: %v", err)
	}
	if want := []string{"o/0", "o/1", "o/2", "o/3", "o/4"}; !slices.Equal(got, want) || inner.calls != 2 {
		t.Fatalf("list reported %q in %d calls, want %q in 2", got, inner.calls, want)
	}

	// A transient error from the callback is the caller's: not retried.
	inner.calls = 0
	err := s.List(ctx, "o/", func(storage.Info) error { return transient })
	if !errors.Is(err, fault.ErrInjected) || inner.calls != 1 {
		t.Fatalf("callback error: err = %v after %d calls", err, inner.calls)
	}
}

func TestUnwrapAndCapabilities(t *testing.T) {
	inner := mem.New()
	s := retry.New(inner, retry.Options{})
	u, ok := s.(storage.Unwrapper)
	if !ok || u.Unwrap() != inner {
		t.Fatal("retry storage does not unwrap to its inner storage")
	}
	if s.Capabilities() != inner.Capabilities() {
		t.Fatal("capabilities differ from the inner storage's")
	}
}

func TestNoRetryTimeouts(t *testing.T) {
	timeout := storage.MarkTransient(fmt.Errorf("server made no progress: %w", os.ErrDeadlineExceeded))
	for _, tc := range []struct {
		name      string
		noRetry   bool
		err       error
		wantCalls int
	}{
		{"timeout retried by default", false, timeout, 3},
		{"timeout not retried in a set", true, timeout, 1},
		{"per-request deadline not retried in a set", true, storage.MarkTransient(context.DeadlineExceeded), 1},
		{"other transient still retried", true, transient, 3},
	} {
		t.Run(tc.name, func(t *testing.T) {
			f := fault.New(mem.New())
			f.FailOn(fault.OpGet, nil, tc.err, -1)
			s := retry.New(f, retry.Options{Attempts: 3, Sleep: noSleep, NoRetryTimeouts: tc.noRetry})
			if _, err := s.Get(ctx, "obj", 0, -1); !errors.Is(err, tc.err) {
				t.Fatalf("get: err = %v, want %v", err, tc.err)
			}
			if got := f.Calls(fault.OpGet); got != tc.wantCalls {
				t.Fatalf("%d calls, want %d", got, tc.wantCalls)
			}
		})
	}
}

func TestIsTimeout(t *testing.T) {
	for _, tc := range []struct {
		err  error
		want bool
	}{
		{fmt.Errorf("watchdog: %w", os.ErrDeadlineExceeded), true},
		{context.DeadlineExceeded, true},
		{&net.OpError{Op: "read", Err: os.ErrDeadlineExceeded}, true},
		{transient, false},
		{context.Canceled, false},
		{storage.ErrNotExist, false},
	} {
		if got := retry.IsTimeout(tc.err); got != tc.want {
			t.Errorf("IsTimeout(%v) = %v, want %v", tc.err, got, tc.want)
		}
	}
}

// flakyVersions fails each version operation transiently once, a listing
// after its first two versions.
type flakyVersions struct {
	storage.Versions
	listFailed, getFailed, deleteFailed bool
	calls                               int
}

func (f *flakyVersions) ListVersions(ctx context.Context, prefix string, fn func(storage.VersionInfo) error) error {
	f.calls++
	n := 0
	return f.Versions.ListVersions(ctx, prefix, func(vi storage.VersionInfo) error {
		if n == 2 && !f.listFailed {
			f.listFailed = true
			return transient
		}
		n++
		return fn(vi)
	})
}

func (f *flakyVersions) GetVersion(ctx context.Context, name, id string, off, length int64) (io.ReadCloser, error) {
	if !f.getFailed {
		f.getFailed = true
		return nil, transient
	}
	return f.Versions.GetVersion(ctx, name, id, off, length)
}

func (f *flakyVersions) DeleteVersion(ctx context.Context, name, id string) error {
	if !f.deleteFailed {
		f.deleteFailed = true
		return transient
	}
	return f.Versions.DeleteVersion(ctx, name, id)
}

type withVersions struct {
	storage.Storage
	v storage.Versions
}

func (w withVersions) Capabilities() storage.Capabilities {
	c := w.Storage.Capabilities()
	c.Versions = w.v
	return c
}

// TestVersionsRetried: the version operations of a versioned storage are
// retried like the others, and a retried listing reports each version
// once.
func TestVersionsRetried(t *testing.T) {
	inner := mem.NewVersioned(mem.VersionedOptions{})
	for i := range 3 {
		storagetest.PutString(t, inner, "a", fmt.Sprint(i))
		storagetest.PutString(t, inner, "b", fmt.Sprint(i))
	}
	fv := &flakyVersions{Versions: inner.Capabilities().Versions}
	s := retry.New(withVersions{inner, fv}, retry.Options{Sleep: noSleep})
	v := s.Capabilities().Versions
	vs := storagetest.ListAllVersions(t, v, "")
	if len(vs) != 6 || fv.calls != 2 {
		t.Fatalf("listed %d versions in %d calls, want 6 in 2", len(vs), fv.calls)
	}
	body, err := v.GetVersion(ctx, "a", vs[2].VersionID, 0, -1)
	if err != nil {
		t.Fatalf("get version: %v", err)
	}
	body.Close()
	if err := v.DeleteVersion(ctx, "a", vs[2].VersionID); err != nil {
		t.Fatalf("delete version: %v", err)
	}
	if n := len(storagetest.ListAllVersions(t, v, "")); n != 5 {
		t.Fatalf("%d versions after deleting one, want 5", n)
	}
}
