package regions

import (
	"bytes"
	"context"
	"errors"
	"io"
	"os"
	"slices"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"lifeboat/internal/fakeclock"
	"lifeboat/storage"
	"lifeboat/storage/mem"
	"lifeboat/storage/retry"
)

// testFloor is the read deadline floor of the hedging tests.
const testFloor = time.Second

// waitBound bounds every real-time wait of the hedging tests.
const waitBound = 10 * time.Second

// hangStore is a region that can hang: while hanging, every Get, Stat and
// List blocks until its context ends (a SIGSTOPped server: the connection
// is accepted and nothing comes back), or until the test releases it. With
// bodies set instead, Get answers but every Read of the body hangs.
type hangStore struct {
	storage.Storage
	hanging   atomic.Bool
	bodies    atomic.Bool
	gets      atomic.Int32 // every Get
	calls     atomic.Int32 // requests (and body reads) that hung
	cancelled atomic.Int32 // of them, ended by their context
	release   chan struct{}
	once      sync.Once
	// releaseErr is what a released request returns (nil: it proceeds).
	releaseErr error
}

func newHangStore() *hangStore {
	return &hangStore{Storage: mem.New(), release: make(chan struct{})}
}

// unblock releases every hung request, now and later.
func (h *hangStore) unblock() { h.once.Do(func() { close(h.release) }) }

func (h *hangStore) block(ctx context.Context) error {
	h.calls.Add(1)
	select {
	case <-ctx.Done():
		h.cancelled.Add(1)
		return ctx.Err()
	case <-h.release:
		return h.releaseErr
	}
}

func (h *hangStore) Get(ctx context.Context, name string, off, length int64) (io.ReadCloser, error) {
	h.gets.Add(1)
	if h.hanging.Load() {
		if err := h.block(ctx); err != nil {
			return nil, err
		}
	}
	body, err := h.Storage.Get(ctx, name, off, length)
	if err != nil || !h.bodies.Load() {
		return body, err
	}
	return &hangBody{h: h, ctx: ctx, rc: body}, nil
}

func (h *hangStore) Stat(ctx context.Context, name string) (storage.Info, error) {
	if h.hanging.Load() {
		if err := h.block(ctx); err != nil {
			return storage.Info{}, err
		}
	}
	return h.Storage.Stat(ctx, name)
}

func (h *hangStore) List(ctx context.Context, prefix string, fn func(storage.Info) error) error {
	if h.hanging.Load() {
		if err := h.block(ctx); err != nil {
			return err
		}
	}
	return h.Storage.List(ctx, prefix, fn)
}

// hangBody is a body whose every Read hangs until its request's context
// ends.
type hangBody struct {
	h   *hangStore
	ctx context.Context
	rc  io.ReadCloser
}

func (b *hangBody) Read(p []byte) (int, error) {
	if err := b.h.block(b.ctx); err != nil {
		return 0, err
	}
	return b.rc.Read(p)
}

func (b *hangBody) Close() error { return b.rc.Close() }

// manualAfterFunc is Options.AfterFunc on a manual clock.
func manualAfterFunc(c *fakeclock.Clock) func(time.Duration, func()) func() bool {
	return func(d time.Duration, f func()) func() bool {
		ch := c.WaitUntil(c.Now().Add(d))
		stop := make(chan struct{})
		var once sync.Once
		go func() {
			select {
			case <-ch:
				f()
			case <-stop:
			}
		}()
		return func() bool {
			stopped := false
			once.Do(func() { close(stop); stopped = true })
			return stopped
		}
	}
}

// hedgeFixture is a set of regions a (a hangStore), b and c (mem, so
// never hanging), priority in that order, on a manual clock.
type hedgeFixture struct {
	set   *Set
	hung  *hangStore
	b, c  storage.Storage
	clock *fakeclock.Clock
	ev    *events
}

func newHedgeFixture(t *testing.T, wrap func(storage.Storage) storage.Storage) *hedgeFixture {
	t.Helper()
	f := &hedgeFixture{
		hung:  newHangStore(),
		b:     mem.New(),
		c:     mem.New(),
		clock: fakeclock.New(time.Date(2030, 1, 2, 3, 4, 5, 0, time.UTC)),
		ev:    &events{},
	}
	var a storage.Storage = f.hung
	if wrap != nil {
		a = wrap(a)
	}
	set, err := New([]Region{
		{Name: "a", Storage: a},
		{Name: "b", Storage: f.b, Priority: 1},
		{Name: "c", Storage: f.c, Priority: 2},
	}, Options{
		Now:        f.clock.Now,
		AfterFunc:  manualAfterFunc(f.clock),
		HedgeFloor: testFloor,
		OnEvent:    f.ev.add,
	})
	if err != nil {
		t.Fatal(err)
	}
	f.set = set
	t.Cleanup(f.hung.unblock)
	return f
}

// waitFor polls cond until it holds, failing t after waitBound.
func waitFor(t *testing.T, what string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(waitBound)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("timed out waiting for %s", what)
		}
		time.Sleep(time.Millisecond)
	}
}

// result is the outcome of a call run in the background.
type result struct {
	data []byte
	err  error
}

// readAsync reads name through r in a goroutine.
func readAsync(r storage.Reader, name string) <-chan result {
	ch := make(chan result, 1)
	go func() {
		data, err := storage.ReadAll(context.Background(), r, name)
		ch <- result{data, err}
	}()
	return ch
}

func await(t *testing.T, ch <-chan result) result {
	t.Helper()
	select {
	case r := <-ch:
		return r
	case <-time.After(waitBound):
		t.Fatal("read did not finish")
		return result{}
	}
}

func (f *hedgeFixture) health(t *testing.T, name string) RegionHealth {
	t.Helper()
	for _, h := range f.set.Health() {
		if h.Name == name {
			return h
		}
	}
	t.Fatalf("no region %s", name)
	return RegionHealth{}
}

// put stores name in every region, before any of them hangs.
func (f *hedgeFixture) put(t *testing.T, name string, data []byte) {
	t.Helper()
	mustPut(t, f.set, name, data)
}

// hangAndAdvance waits until the hung region has n requests waiting, then
// moves the clock past the read deadline.
func (f *hedgeFixture) hangAndAdvance(t *testing.T, n int32) {
	t.Helper()
	waitFor(t, "the request to the hung region", func() bool { return f.hung.calls.Load() >= n })
	f.clock.Advance(testFloor)
}

func TestHedgedGetServedByNextRegion(t *testing.T) {
	f := newHedgeFixture(t, nil)
	want := []byte("the object")
	f.put(t, "obj", want)
	f.hung.hanging.Store(true)

	ch := readAsync(f.set, "obj")
	f.hangAndAdvance(t, 1)
	if r := await(t, ch); r.err != nil || !bytes.Equal(r.data, want) {
		t.Fatalf("get = %q, %v", r.data, r.err)
	}
	waitFor(t, "the hung request to be cancelled", func() bool { return f.hung.cancelled.Load() == 1 })
	if h := f.health(t, "a"); !h.Hung || h.ConsecutiveFailures != 1 {
		t.Fatalf("health a = %+v", h)
	}
	if f.ev.count(EventHung, "a") != 1 || f.ev.count(EventFailover, "b") != 1 {
		t.Fatalf("events: %+v", f.ev.got)
	}
	// The hung region went last at once, not after three failures.
	if got := replicaOrder(f.set); !slices.Equal(got, []string{"b", "c", "a"}) {
		t.Fatalf("replica order = %q", got)
	}
	// The next reads are not sent to it while it is suspect.
	for range 3 {
		if got := mustRead(t, f.set, "obj"); !bytes.Equal(got, want) {
			t.Fatalf("get = %q", got)
		}
		if _, err := f.set.Stat(context.Background(), "obj"); err != nil {
			t.Fatalf("stat: %v", err)
		}
	}
	if n := f.hung.calls.Load(); n != 1 {
		t.Fatalf("hung region got %d requests, want 1", n)
	}
}

func TestHedgedStatAndList(t *testing.T) {
	f := newHedgeFixture(t, nil)
	f.put(t, "obj", []byte("12345"))
	f.hung.hanging.Store(true)

	type statResult struct {
		info storage.Info
		err  error
	}
	ch := make(chan statResult, 1)
	go func() {
		info, err := f.set.Stat(context.Background(), "obj")
		ch <- statResult{info, err}
	}()
	f.hangAndAdvance(t, 1)
	select {
	case r := <-ch:
		if r.err != nil || r.info.Size != 5 {
			t.Fatalf("stat = %+v, %v", r.info, r.err)
		}
	case <-time.After(waitBound):
		t.Fatal("stat did not finish")
	}

	// A listing that reports nothing by the deadline is abandoned for the
	// next region (a is asked again: an answer clears its suspicion).
	f.set.succeeded(f.set.byName["a"])
	listed := make(chan result, 1)
	go func() {
		var names []string
		err := f.set.List(context.Background(), "", func(info storage.Info) error {
			names = append(names, info.Name)
			return nil
		})
		listed <- result{[]byte(names[0]), err}
	}()
	f.hangAndAdvance(t, 2)
	if r := await(t, listed); r.err != nil || string(r.data) != "obj" {
		t.Fatalf("list = %q, %v", r.data, r.err)
	}
	waitFor(t, "both hung requests to be cancelled", func() bool { return f.hung.cancelled.Load() == 2 })
	if h := f.health(t, "a"); !h.Hung {
		t.Fatalf("health a = %+v", h)
	}
}

func TestReplicaHungGivesUp(t *testing.T) {
	f := newHedgeFixture(t, nil)
	want := []byte("pack bytes")
	f.put(t, "pack", want)
	// Two workers took the replica list while a still answered.
	first, second := f.set.Replicas(), f.set.Replicas()
	if first[0].Region != "a" {
		t.Fatalf("first replica %s", first[0].Region)
	}
	f.hung.hanging.Store(true)

	ch := readAsync(first[0].Reader, "pack")
	f.hangAndAdvance(t, 1)
	r := await(t, ch)
	if !errors.Is(r.err, ErrHung) || !storage.IsTransient(r.err) {
		t.Fatalf("hung replica: err = %v, want a transient ErrHung", r.err)
	}
	waitFor(t, "the hung request to be cancelled", func() bool { return f.hung.cancelled.Load() == 1 })
	if got := mustRead(t, first[1].Reader, "pack"); !bytes.Equal(got, want) {
		t.Fatalf("replica %s = %q", first[1].Region, got)
	}
	// The second worker's stale list still starts with a: it is not asked.
	if _, err := second[0].Reader.Get(context.Background(), "pack", 0, -1); !errors.Is(err, ErrHung) {
		t.Fatalf("stale replica a: err = %v", err)
	}
	if _, err := second[0].Reader.Stat(context.Background(), "pack"); !errors.Is(err, ErrHung) {
		t.Fatalf("stale replica a stat: err = %v", err)
	}
	if n := f.hung.calls.Load(); n != 1 {
		t.Fatalf("hung region got %d requests, want 1", n)
	}
	// New lists have it last.
	if got := replicaOrder(f.set); !slices.Equal(got, []string{"b", "c", "a"}) {
		t.Fatalf("replica order = %q", got)
	}
}

func TestReplicaBodyHang(t *testing.T) {
	f := newHedgeFixture(t, nil)
	f.put(t, "pack", []byte("pack bytes"))
	f.hung.bodies.Store(true)
	reps := f.set.Replicas()
	body, err := reps[0].Reader.Get(context.Background(), "pack", 0, -1)
	if err != nil {
		t.Fatalf("get: %v", err)
	}
	defer body.Close()
	ch := make(chan result, 1)
	go func() {
		data, err := io.ReadAll(body)
		ch <- result{data, err}
	}()
	f.hangAndAdvance(t, 1)
	if r := await(t, ch); !errors.Is(r.err, ErrHung) || !storage.IsTransient(r.err) {
		t.Fatalf("hung body: %q, %v", r.data, r.err)
	}
	if h := f.health(t, "a"); !h.Hung {
		t.Fatalf("health a = %+v", h)
	}
	if got := replicaOrder(f.set); got[len(got)-1] != "a" {
		t.Fatalf("replica order = %q", got)
	}
}

func TestLastReplicaWaited(t *testing.T) {
	// Both regions hang; the first is abandoned, the last one able to
	// serve is waited for, and answers in the end.
	clock := fakeclock.New(time.Date(2030, 1, 2, 3, 4, 5, 0, time.UTC))
	x, y := newHangStore(), newHangStore()
	set, err := New([]Region{{Name: "x", Storage: x}, {Name: "y", Storage: y, Priority: 1}},
		Options{Now: clock.Now, AfterFunc: manualAfterFunc(clock), HedgeFloor: testFloor})
	if err != nil {
		t.Fatal(err)
	}
	mustPut(t, set, "obj", []byte("data"))
	x.hanging.Store(true)
	y.hanging.Store(true)
	reps := set.Replicas()

	ch := readAsync(reps[0].Reader, "obj")
	waitFor(t, "the request to x", func() bool { return x.calls.Load() == 1 })
	clock.Advance(testFloor)
	if r := await(t, ch); !errors.Is(r.err, ErrHung) {
		t.Fatalf("x: err = %v", r.err)
	}
	ch = readAsync(reps[1].Reader, "obj")
	waitFor(t, "the request to y", func() bool { return y.calls.Load() == 1 })
	clock.Advance(testFloor)
	waitFor(t, "y to be marked hung", func() bool { return set.Health()[1].Hung })
	y.unblock() // y answers after all
	x.unblock()
	if r := await(t, ch); r.err != nil || string(r.data) != "data" {
		t.Fatalf("y = %q, %v", r.data, r.err)
	}
	if y.cancelled.Load() != 0 {
		t.Fatal("the last replica was cancelled")
	}
	if set.Health()[1].Hung {
		t.Fatal("y answered but is still marked hung")
	}
}

func TestRetryDoesNotRetryHang(t *testing.T) {
	// The region is wrapped in retry as buildStorage does with several
	// regions. Should the set wait for the hung request, the test ends
	// the hang the way a backend's no-progress watchdog would.
	f := newHedgeFixture(t, func(st storage.Storage) storage.Storage {
		return retry.New(st, retry.Options{
			Attempts:        2,
			NoRetryTimeouts: true,
			Sleep:           func(context.Context, time.Duration) error { return nil },
		})
	})
	f.hung.releaseErr = storage.MarkTransient(os.ErrDeadlineExceeded)
	want := []byte("the object")
	f.put(t, "obj", want)
	f.hung.hanging.Store(true)
	gets := f.hung.gets.Load()

	ch := readAsync(f.set, "obj")
	f.hangAndAdvance(t, 1)
	var r result
	select {
	case r = <-ch:
	case <-time.After(waitBound / 2):
		f.hung.unblock()
		r = await(t, ch)
	}
	if r.err != nil || !bytes.Equal(r.data, want) {
		t.Fatalf("get = %q, %v", r.data, r.err)
	}
	if n := f.hung.gets.Load() - gets; n != 1 {
		t.Fatalf("hung region asked %d times, want 1 (no retry of the hang)", n)
	}
}

func TestHungRegionTrialAfterCooldown(t *testing.T) {
	f := newHedgeFixture(t, nil)
	f.put(t, "obj", []byte("x"))
	f.hung.hanging.Store(true)
	ch := readAsync(f.set, "obj")
	f.hangAndAdvance(t, 1)
	if r := await(t, ch); r.err != nil {
		t.Fatal(r.err)
	}
	// The region recovers; after the cooldown one read tries it first,
	// and its answer clears the suspicion.
	f.hung.hanging.Store(false)
	mustRead(t, f.set, "obj")
	if !f.health(t, "a").Hung {
		t.Fatal("a tried before its cooldown")
	}
	f.clock.Advance(DefaultBreakerCooldown)
	mustRead(t, f.set, "obj")
	if h := f.health(t, "a"); h.Hung || h.ConsecutiveFailures != 0 {
		t.Fatalf("after the trial: %+v", h)
	}
	if got := replicaOrder(f.set); got[0] != "a" {
		t.Fatalf("replica order = %q", got)
	}
}

func TestDeadlineFromLatency(t *testing.T) {
	for _, tc := range []struct {
		name     string
		ewma     time.Duration
		measured bool
		want     time.Duration
	}{
		{"unmeasured", 0, false, testFloor},
		{"fast", 10 * time.Millisecond, true, testFloor},
		{"slow", time.Second, true, HedgeFactor * time.Second},
		{"capped", time.Minute, true, DefaultHedgeCap},
	} {
		t.Run(tc.name, func(t *testing.T) {
			f := newHedgeFixture(t, nil)
			r := f.set.byName["b"]
			r.ewma, r.measured = tc.ewma, tc.measured
			if got := f.set.deadline(r); got != tc.want {
				t.Fatalf("deadline = %v, want %v", got, tc.want)
			}
		})
	}
}

func TestListUnionSkipsHungRegion(t *testing.T) {
	f := newHedgeFixture(t, nil)
	f.put(t, "one", []byte("1"))
	mustPut(t, f.c, "two", []byte("2")) // only in c
	f.hung.hanging.Store(true)
	ch := make(chan result, 1)
	go func() {
		var names []string
		err := f.set.ListUnion(context.Background(), "", func(info storage.Info) error {
			names = append(names, info.Name)
			return nil
		})
		slices.Sort(names)
		ch <- result{[]byte(strings.Join(names, ",")), err}
	}()
	f.hangAndAdvance(t, 1)
	if r := await(t, ch); r.err != nil || string(r.data) != "one,two" {
		t.Fatalf("list union = %q, %v", r.data, r.err)
	}
	waitFor(t, "the hung listing to be cancelled", func() bool { return f.hung.cancelled.Load() == 1 })
	if h := f.health(t, "a"); !h.Hung {
		t.Fatalf("health a = %+v", h)
	}
}

func TestHangCutsOtherWaitingReads(t *testing.T) {
	// Two workers read from a; the second started later. When the first
	// finds a hung, the second is cut at once, not at its own deadline.
	f := newHedgeFixture(t, nil)
	f.put(t, "p1", []byte("one"))
	f.put(t, "p2", []byte("two"))
	f.hung.hanging.Store(true)
	reps := f.set.Replicas()
	first := readAsync(reps[0].Reader, "p1")
	waitFor(t, "the first request", func() bool { return f.hung.calls.Load() == 1 })
	f.clock.Advance(testFloor / 2)
	second := readAsync(reps[0].Reader, "p2")
	waitFor(t, "the second request", func() bool { return f.hung.calls.Load() == 2 })
	f.clock.Advance(testFloor / 2) // the first request's deadline only
	for i, ch := range []<-chan result{first, second} {
		if r := await(t, ch); !errors.Is(r.err, ErrHung) {
			t.Fatalf("read %d: err = %v, want ErrHung", i+1, r.err)
		}
	}
	if n := f.ev.count(EventHung, "a"); n != 1 {
		t.Fatalf("%d hung events, want 1", n)
	}
	// A hedged Get waiting on a is told too: it asks b at once.
	f.set.succeeded(f.set.byName["a"])
	reps = f.set.Replicas()
	waiting := readAsync(reps[0].Reader, "p1")
	waitFor(t, "the replica request", func() bool { return f.hung.calls.Load() == 3 })
	f.clock.Advance(testFloor / 2)
	got := readAsync(f.set, "p2")
	waitFor(t, "the hedged request", func() bool { return f.hung.calls.Load() == 4 })
	f.clock.Advance(testFloor / 2)
	if r := await(t, waiting); !errors.Is(r.err, ErrHung) {
		t.Fatalf("replica read: err = %v", r.err)
	}
	if r := await(t, got); r.err != nil || string(r.data) != "two" {
		t.Fatalf("hedged get = %q, %v", r.data, r.err)
	}
}
