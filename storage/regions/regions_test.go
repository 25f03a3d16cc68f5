package regions

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"lifeboat/storage"
	"lifeboat/storage/fault"
	"lifeboat/storage/mem"
	"lifeboat/storage/storagetest"
)

// fakeClock is a manually advanced clock.
type fakeClock struct {
	mu sync.Mutex
	t  time.Time
}

func newClock() *fakeClock {
	return &fakeClock{t: time.Date(2030, 1, 2, 3, 4, 5, 0, time.UTC)}
}

func (c *fakeClock) Now() time.Time {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.t
}

func (c *fakeClock) Advance(d time.Duration) {
	c.mu.Lock()
	c.t = c.t.Add(d)
	c.mu.Unlock()
}

// events collects OnEvent calls.
type events struct {
	mu  sync.Mutex
	got []Event
}

func (e *events) add(ev Event) {
	e.mu.Lock()
	e.got = append(e.got, ev)
	e.mu.Unlock()
}

// count returns how many events of kind concern region.
func (e *events) count(kind EventKind, region string) int {
	e.mu.Lock()
	defer e.mu.Unlock()
	n := 0
	for _, ev := range e.got {
		if ev.Kind == kind && ev.Region == region {
			n++
		}
	}
	return n
}

// fixture is a set of three fault-wrapped mem regions a, b, c (priority in
// that order) with a fake clock and an event log.
type fixture struct {
	set    *Set
	faults map[string]*fault.Storage
	clock  *fakeClock
	ev     *events
}

func newFixture(t *testing.T, opt Options) *fixture {
	t.Helper()
	f := &fixture{faults: map[string]*fault.Storage{}, clock: newClock(), ev: &events{}}
	var regs []Region
	for i, name := range []string{"a", "b", "c"} {
		fs := fault.New(mem.New())
		f.faults[name] = fs
		regs = append(regs, Region{Name: name, Storage: fs, Priority: i})
	}
	if opt.Now == nil {
		opt.Now = f.clock.Now
	}
	opt.OnEvent = f.ev.add
	set, err := New(regs, opt)
	if err != nil {
		t.Fatalf("new: %v", err)
	}
	f.set = set
	return f
}

// inner returns region name's storage under its fault wrapper.
func (f *fixture) inner(name string) storage.Storage { return f.faults[name].Unwrap() }

func (f *fixture) health(t *testing.T, name string) RegionHealth {
	t.Helper()
	for _, h := range f.set.Health() {
		if h.Name == name {
			return h
		}
	}
	t.Fatalf("no health for region %s", name)
	return RegionHealth{}
}

func replicaOrder(s *Set) []string {
	var names []string
	for _, r := range s.Replicas() {
		names = append(names, r.Region)
	}
	return names
}

func mustPut(t *testing.T, s storage.Storage, name string, data []byte) {
	t.Helper()
	if err := storage.PutBytes(context.Background(), s, name, data, storage.PutOptions{}); err != nil {
		t.Fatalf("put %s: %v", name, err)
	}
}

func mustRead(t *testing.T, r storage.Reader, name string) []byte {
	t.Helper()
	b, err := storage.ReadAll(context.Background(), r, name)
	if err != nil {
		t.Fatalf("read %s: %v", name, err)
	}
	return b
}

func hasObject(t *testing.T, s storage.Storage, name string) bool {
	t.Helper()
	_, err := s.Stat(context.Background(), name)
	if err != nil && !errors.Is(err, storage.ErrNotExist) {
		t.Fatalf("stat %s: %v", name, err)
	}
	return err == nil
}

func TestConformance(t *testing.T) {
	for _, tc := range []struct {
		name     string
		quorum   int
		bufLimit int64
	}{
		{"quorum all", 0, MaxBufferedPut},
		{"quorum 2", 2, MaxBufferedPut},
		{"sequential puts", 2, 1000},
	} {
		t.Run(tc.name, func(t *testing.T) {
			storagetest.Run(t, func(t *testing.T) storage.Storage {
				var regs []Region
				for i, name := range []string{"a", "b", "c"} {
					regs = append(regs, Region{Name: name, Storage: mem.New(), Priority: i % 2})
				}
				s, err := New(regs, Options{WriteQuorum: tc.quorum})
				if err != nil {
					t.Fatalf("new: %v", err)
				}
				s.bufLimit = tc.bufLimit
				return s
			})
		})
	}
}

func TestNewValidates(t *testing.T) {
	m := mem.New()
	for _, tc := range []struct {
		name    string
		regions []Region
		opt     Options
		ok      bool
	}{
		{"ok", []Region{{Name: "a", Storage: m}, {Name: "b", Storage: m}}, Options{WriteQuorum: 2}, true},
		{"no regions", nil, Options{}, false},
		{"empty name", []Region{{Name: "", Storage: m}}, Options{}, false},
		{"nil storage", []Region{{Name: "a"}}, Options{}, false},
		{"duplicate", []Region{{Name: "a", Storage: m}, {Name: "a", Storage: m}}, Options{}, false},
		{"negative quorum", []Region{{Name: "a", Storage: m}}, Options{WriteQuorum: -1}, false},
		{"quorum too big", []Region{{Name: "a", Storage: m}}, Options{WriteQuorum: 2}, false},
		{"negative threshold", []Region{{Name: "a", Storage: m}}, Options{BreakerThreshold: -1}, false},
		{"negative cooldown", []Region{{Name: "a", Storage: m}}, Options{BreakerCooldown: -time.Second}, false},
	} {
		t.Run(tc.name, func(t *testing.T) {
			s, err := New(tc.regions, tc.opt)
			if (err == nil) != tc.ok {
				t.Fatalf("New: err = %v, want ok=%v", err, tc.ok)
			}
			if tc.ok {
				if got := s.Names(); !slices.Equal(got, []string{"a", "b"}) {
					t.Fatalf("Names = %q", got)
				}
				if st, ok := s.Region("b"); !ok || st != m {
					t.Fatalf("Region(b) = %v, %v", st, ok)
				}
				if _, ok := s.Region("zz"); ok {
					t.Fatal("Region(zz) found")
				}
			}
		})
	}
}

func TestPutQuorum(t *testing.T) {
	for _, tc := range []struct {
		name    string
		quorum  int
		inject  error
		wantErr bool
	}{
		{"quorum 2 of 3", 2, nil, false},
		{"quorum 1 of 3", 1, nil, false},
		{"quorum all", 0, nil, true},
		{"quorum 3 no space", 3, storage.ErrNoSpace, true},
	} {
		t.Run(tc.name, func(t *testing.T) {
			f := newFixture(t, Options{WriteQuorum: tc.quorum})
			f.faults["b"].FailOn(fault.OpPut, nil, tc.inject, -1)
			err := storage.PutBytes(context.Background(), f.set, "obj", []byte("hello"), storage.PutOptions{})
			want := tc.inject
			if want == nil {
				want = fault.ErrInjected
			}
			if tc.wantErr {
				if !errors.Is(err, ErrQuorum) || !errors.Is(err, want) {
					t.Fatalf("put: err = %v, want ErrQuorum and %v", err, want)
				}
				if !strings.Contains(err.Error(), "region b:") {
					t.Fatalf("error does not name region b: %v", err)
				}
			} else if err != nil {
				t.Fatalf("put: %v", err)
			}
			// The copies that were written stay; b is behind either way.
			for _, name := range []string{"a", "c"} {
				if !bytes.Equal(mustRead(t, f.inner(name), "obj"), []byte("hello")) {
					t.Fatalf("region %s lacks the object", name)
				}
			}
			behind := f.set.Behind()
			if len(behind) != 1 || !slices.Equal(behind["b"].Names, []string{"obj"}) {
				t.Fatalf("Behind = %+v, want b: [obj]", behind)
			}
			if f.ev.count(EventRegionFailed, "b") != 1 {
				t.Fatalf("want one region-failed event for b, got %+v", f.ev.got)
			}
			// Once b accepts the object again it has caught up.
			f.faults["b"].Reset()
			mustPut(t, f.set, "obj", []byte("hello"))
			if behind := f.set.Behind(); len(behind) != 0 {
				t.Fatalf("Behind after a good put = %+v", behind)
			}
		})
	}
}

func TestPutAllFailNotBehind(t *testing.T) {
	f := newFixture(t, Options{WriteQuorum: 1})
	for _, fs := range f.faults {
		fs.FailOn(fault.OpPut, nil, storage.ErrReadOnly, -1)
	}
	err := storage.PutBytes(context.Background(), f.set, "obj", []byte("x"), storage.PutOptions{})
	if !errors.Is(err, ErrQuorum) || !errors.Is(err, storage.ErrReadOnly) {
		t.Fatalf("put: err = %v, want ErrQuorum and ErrReadOnly", err)
	}
	if behind := f.set.Behind(); len(behind) != 0 {
		t.Fatalf("no region has the object, yet Behind = %+v", behind)
	}
	// ErrReadOnly is an answer, not a health failure.
	if h := f.health(t, "a"); h.ConsecutiveFailures != 0 || h.Writes != 1 {
		t.Fatalf("health a = %+v", h)
	}
}

func TestBehindBounded(t *testing.T) {
	f := newFixture(t, Options{WriteQuorum: 2})
	f.faults["c"].FailOn(fault.OpPut, nil, nil, -1)
	r := f.set.regions[2]
	for i := range MaxBehindNames + 5 {
		r.markBehind(fmt.Sprintf("n/%06d", i))
	}
	r.markBehind("n/000000") // already recorded: not counted twice
	lag := f.set.Behind()["c"]
	if len(lag.Names) != MaxBehindNames || lag.Overflow != 5 {
		t.Fatalf("Behind c: %d names, overflow %d", len(lag.Names), lag.Overflow)
	}
	if !slices.IsSorted(lag.Names) {
		t.Fatal("Behind names not sorted")
	}
}

func TestSequentialPut(t *testing.T) {
	f := newFixture(t, Options{WriteQuorum: 2})
	f.set.bufLimit = 10
	// b consumes the body and fails; c must get a rewound body.
	f.faults["b"].FailOn(fault.OpPut, nil, nil, -1)
	want := bytes.Repeat([]byte("0123456789"), 10)
	r := bytes.NewReader(want)
	if _, err := r.Seek(50, io.SeekStart); err != nil {
		t.Fatal(err)
	}
	if err := f.set.Put(context.Background(), "big", r, int64(len(want)), storage.PutOptions{}); err != nil {
		t.Fatalf("put: %v", err)
	}
	for _, name := range []string{"a", "c"} {
		if got := mustRead(t, f.inner(name), "big"); !bytes.Equal(got, want) {
			t.Fatalf("region %s: got %q", name, got)
		}
	}
	if got := f.set.Behind()["b"].Names; !slices.Equal(got, []string{"big"}) {
		t.Fatalf("Behind b = %q", got)
	}
}

func TestPutShortBody(t *testing.T) {
	f := newFixture(t, Options{})
	err := f.set.Put(context.Background(), "obj", bytes.NewReader([]byte("abc")), 10, storage.PutOptions{})
	if !errors.Is(err, io.ErrUnexpectedEOF) {
		t.Fatalf("put: err = %v, want io.ErrUnexpectedEOF", err)
	}
	for name, fs := range f.faults {
		if fs.Calls(fault.OpPut) != 0 {
			t.Fatalf("region %s was written", name)
		}
	}
	if err := f.set.Put(context.Background(), "obj", bytes.NewReader(nil), -1, storage.PutOptions{}); err == nil {
		t.Fatal("negative size accepted")
	}
}

func TestConditionalCreate(t *testing.T) {
	ctx := context.Background()
	ine := storage.PutOptions{IfNotExists: true}
	t.Run("arbiter has it", func(t *testing.T) {
		f := newFixture(t, Options{})
		mustPut(t, f.inner("a"), "lock", []byte("old"))
		err := storage.PutBytes(ctx, f.set, "lock", []byte("new"), ine)
		if !errors.Is(err, storage.ErrExist) {
			t.Fatalf("put: err = %v, want ErrExist", err)
		}
		if n := f.faults["b"].Calls(fault.OpPut) + f.faults["c"].Calls(fault.OpPut); n != 0 {
			t.Fatalf("other regions got %d puts", n)
		}
	})
	t.Run("another region has it", func(t *testing.T) {
		f := newFixture(t, Options{})
		mustPut(t, f.inner("b"), "lock", []byte("old"))
		err := storage.PutBytes(ctx, f.set, "lock", []byte("new"), ine)
		if !errors.Is(err, storage.ErrExist) || !strings.Contains(err.Error(), "region b:") {
			t.Fatalf("put: err = %v, want ErrExist from region b", err)
		}
		// The copies this put created are undone.
		for _, name := range []string{"a", "c"} {
			if hasObject(t, f.inner(name), "lock") {
				t.Fatalf("region %s keeps the refused create", name)
			}
		}
		if got := mustRead(t, f.inner("b"), "lock"); string(got) != "old" {
			t.Fatalf("region b: %q", got)
		}
		if behind := f.set.Behind(); len(behind) != 0 {
			t.Fatalf("Behind = %+v", behind)
		}
	})
	t.Run("quorum missed", func(t *testing.T) {
		f := newFixture(t, Options{})
		f.faults["c"].FailOn(fault.OpPut, nil, nil, -1)
		err := storage.PutBytes(ctx, f.set, "lock", []byte("new"), ine)
		if !errors.Is(err, ErrQuorum) || errors.Is(err, storage.ErrExist) {
			t.Fatalf("put: err = %v, want ErrQuorum", err)
		}
		for _, name := range []string{"a", "b"} {
			if hasObject(t, f.inner(name), "lock") {
				t.Fatalf("region %s keeps the failed create", name)
			}
		}
		// Nothing is left behind, so a retry can succeed.
		f.faults["c"].Reset()
		if err := storage.PutBytes(ctx, f.set, "lock", []byte("new"), ine); err != nil {
			t.Fatalf("retry: %v", err)
		}
	})
	t.Run("arbiter down", func(t *testing.T) {
		f := newFixture(t, Options{WriteQuorum: 2})
		f.faults["a"].FailOn(fault.OpPut, nil, nil, -1)
		if err := storage.PutBytes(ctx, f.set, "lock", []byte("new"), ine); err != nil {
			t.Fatalf("put: %v", err)
		}
		err := storage.PutBytes(ctx, f.set, "lock", []byte("newer"), ine)
		if !errors.Is(err, storage.ErrExist) {
			t.Fatalf("second put: err = %v, want ErrExist", err)
		}
		if got := mustRead(t, f.set, "lock"); string(got) != "new" {
			t.Fatalf("read %q", got)
		}
	})
}

func TestGetFailover(t *testing.T) {
	ctx := context.Background()
	for _, tc := range []struct {
		name  string
		setup func(t *testing.T, f *fixture)
		fails int // failures recorded against region a
	}{
		{"region a errors", func(t *testing.T, f *fixture) {
			f.faults["a"].FailOn(fault.OpGet, nil, nil, -1)
			f.faults["a"].FailOn(fault.OpStat, nil, nil, -1)
		}, 2},
		{"region a lacks the object", func(t *testing.T, f *fixture) {
			if err := f.inner("a").Delete(ctx, "obj"); err != nil {
				t.Fatal(err)
			}
		}, 0},
	} {
		t.Run(tc.name, func(t *testing.T) {
			f := newFixture(t, Options{})
			mustPut(t, f.set, "obj", []byte("content"))
			tc.setup(t, f)
			if got := mustRead(t, f.set, "obj"); string(got) != "content" {
				t.Fatalf("get = %q", got)
			}
			info, err := f.set.Stat(ctx, "obj")
			if err != nil || info.Size != 7 {
				t.Fatalf("stat = %+v, %v", info, err)
			}
			if h := f.health(t, "b"); h.Failovers != 2 || h.Reads != 2 {
				t.Fatalf("health b = %+v", h)
			}
			if h := f.health(t, "a"); h.ConsecutiveFailures != tc.fails || h.Reads != 2 || !h.Healthy {
				t.Fatalf("health a = %+v", h)
			}
			if n := f.ev.count(EventFailover, "b"); n != 2 {
				t.Fatalf("%d failover events, want 2", n)
			}
			if f.faults["c"].Calls(fault.OpGet) != 0 {
				t.Fatal("region c was read although b answered")
			}
		})
	}
}

func TestNotExist(t *testing.T) {
	ctx := context.Background()
	f := newFixture(t, Options{})
	if _, err := f.set.Get(ctx, "nothing", 0, -1); !errors.Is(err, storage.ErrNotExist) {
		t.Fatalf("get: err = %v, want ErrNotExist", err)
	}
	if _, err := f.set.Stat(ctx, "nothing"); !errors.Is(err, storage.ErrNotExist) {
		t.Fatalf("stat: err = %v, want ErrNotExist", err)
	}
	// Missing in two regions and failing in the third: unknown, not missing.
	f.faults["b"].FailOn(fault.OpGet, nil, storage.MarkTransient(fault.ErrInjected), -1)
	_, err := f.set.Get(ctx, "nothing", 0, -1)
	if errors.Is(err, storage.ErrNotExist) || !errors.Is(err, ErrUnavailable) || !storage.IsTransient(err) {
		t.Fatalf("get: err = %v, want ErrUnavailable (transient), not ErrNotExist", err)
	}
	if !strings.Contains(err.Error(), "region b:") {
		t.Fatalf("error does not name region b: %v", err)
	}
	// An invalid range is an answer: no failover.
	mustPut(t, f.set, "obj", []byte("abc"))
	calls := f.faults["b"].Calls(fault.OpGet)
	if _, err := f.set.Get(ctx, "obj", 10, -1); !errors.Is(err, storage.ErrInvalidRange) {
		t.Fatalf("get past end: err = %v, want ErrInvalidRange", err)
	}
	if f.faults["b"].Calls(fault.OpGet) != calls {
		t.Fatal("an invalid range failed over to region b")
	}
}

func TestBreaker(t *testing.T) {
	f := newFixture(t, Options{BreakerThreshold: 2, BreakerCooldown: time.Minute})
	mustPut(t, f.set, "obj", []byte("content"))
	a := f.faults["a"]
	rule := a.FailOn(fault.OpGet, nil, nil, -1)
	read := func() {
		t.Helper()
		if got := mustRead(t, f.set, "obj"); string(got) != "content" {
			t.Fatalf("get = %q", got)
		}
	}
	read()
	if h := f.health(t, "a"); !h.Healthy || h.ConsecutiveFailures != 1 || !errors.Is(h.LastError, fault.ErrInjected) {
		t.Fatalf("after 1 failure: %+v", h)
	}
	read()
	if h := f.health(t, "a"); h.Healthy || h.ConsecutiveFailures != 2 {
		t.Fatalf("after 2 failures: %+v", h)
	}
	if f.ev.count(EventBreakerOpen, "a") != 1 {
		t.Fatal("no breaker-open event")
	}
	if got := replicaOrder(f.set); !slices.Equal(got, []string{"b", "c", "a"}) {
		t.Fatalf("replicas = %q, want open region a last", got)
	}
	// While open, a is not tried.
	calls := a.Calls(fault.OpGet)
	read()
	if a.Calls(fault.OpGet) != calls {
		t.Fatal("open region a was tried during the cooldown")
	}
	// After the cooldown, one trial; it fails and restarts the cooldown.
	f.clock.Advance(time.Minute)
	read()
	if a.Calls(fault.OpGet) != calls+1 {
		t.Fatal("region a was not tried after the cooldown")
	}
	read()
	if a.Calls(fault.OpGet) != calls+1 {
		t.Fatal("region a was tried again before a new cooldown")
	}
	if h := f.health(t, "a"); h.Healthy {
		t.Fatalf("failed trial closed the breaker: %+v", h)
	}
	// The region recovers: the next trial succeeds and closes the breaker.
	rule.Remove()
	f.clock.Advance(time.Minute)
	read()
	if h := f.health(t, "a"); !h.Healthy || h.ConsecutiveFailures != 0 {
		t.Fatalf("after a good trial: %+v", h)
	}
	if f.ev.count(EventBreakerClose, "a") != 1 {
		t.Fatal("no breaker-close event")
	}
	if got := replicaOrder(f.set); !slices.Equal(got, []string{"a", "b", "c"}) {
		t.Fatalf("replicas = %q after recovery", got)
	}
	// A region whose breaker opened on bad content answers: it is still
	// written (a repair is what heals it), and a good write closes the
	// breaker.
	f.set.ReportBad("c", "obj", errors.New("hash mismatch"))
	f.set.ReportBad("c", "obj", nil)
	if h := f.health(t, "c"); h.Healthy || h.BadContent != 2 {
		t.Fatalf("after 2 bad reports: %+v", h)
	}
	if err := f.set.Repair(context.Background(), "c", "obj", []byte("content")); err != nil {
		t.Fatalf("repair of a region that served bad content: %v", err)
	}
	if h := f.health(t, "c"); !h.Healthy {
		t.Fatalf("good write did not close the breaker: %+v", h)
	}
	// A region whose breaker opened because it stopped answering is not
	// written during its cooldown; after it, a write is its trial, and a
	// successful one closes the breaker.
	crule := f.faults["c"].FailOn(fault.OpPut, nil, nil, -1)
	for range 2 {
		if err := storage.PutBytes(context.Background(), f.set, "failing", []byte("x"), storage.PutOptions{}); !errors.Is(err, ErrQuorum) {
			t.Fatalf("put with c failing (quorum all) = %v, want ErrQuorum", err)
		}
	}
	if h := f.health(t, "c"); h.Healthy {
		t.Fatalf("after 2 failed writes: %+v", h)
	}
	crule.Remove()
	if err := storage.PutBytes(context.Background(), f.set, "skipped", []byte("x"), storage.PutOptions{}); !errors.Is(err, ErrQuorum) {
		t.Fatalf("put during the cooldown (quorum all) = %v, want ErrQuorum", err)
	}
	if err := f.set.Repair(context.Background(), "c", "obj", []byte("content")); !errors.Is(err, ErrUnavailable) {
		t.Fatalf("repair during the cooldown = %v, want ErrUnavailable", err)
	}
	f.clock.Advance(time.Minute)
	mustPut(t, f.set, "other", []byte("x"))
	if h := f.health(t, "c"); !h.Healthy {
		t.Fatalf("write did not close the breaker: %+v", h)
	}
}

func TestOrder(t *testing.T) {
	clock := newClock()
	slow := &clockStorage{Storage: mem.New(), clock: clock, step: 100 * time.Millisecond}
	regs := []Region{
		{Name: "slow", Storage: slow, Priority: 1},
		{Name: "fast", Storage: mem.New(), Priority: 1},
		{Name: "low", Storage: mem.New(), Priority: 5},
		{Name: "first", Storage: mem.New(), Priority: 0},
	}
	s, err := New(regs, Options{Now: clock.Now})
	if err != nil {
		t.Fatal(err)
	}
	if got := replicaOrder(s); !slices.Equal(got, []string{"first", "slow", "fast", "low"}) {
		t.Fatalf("by priority: %q", got)
	}
	mustPut(t, s, "obj", []byte("x"))
	// Reading through the replica measures the slow region alone: the put
	// measured 0, so the average moves a quarter of the way to 100ms.
	if got := mustRead(t, s.Replicas()[1].Reader, "obj"); string(got) != "x" {
		t.Fatalf("read %q", got)
	}
	if got := replicaOrder(s); !slices.Equal(got, []string{"first", "fast", "slow", "low"}) {
		t.Fatalf("by latency: %q", got)
	}
	if h := s.Health()[0]; h.LatencyEWMA != 25*time.Millisecond {
		t.Fatalf("slow latency = %v", h.LatencyEWMA)
	}
}

// clockStorage advances a fake clock on every Get: a slow region.
type clockStorage struct {
	storage.Storage
	clock *fakeClock
	step  time.Duration
}

func (c *clockStorage) Get(ctx context.Context, name string, off, length int64) (io.ReadCloser, error) {
	c.clock.Advance(c.step)
	return c.Storage.Get(ctx, name, off, length)
}

func TestRepair(t *testing.T) {
	ctx := context.Background()
	f := newFixture(t, Options{})
	good := []byte("good content")
	mustPut(t, f.set, "pack", good)
	mustPut(t, f.inner("a"), "pack", []byte("BAD content!"))
	reps := f.set.Replicas()
	if reps[0].Region != "a" {
		t.Fatalf("first replica %s", reps[0].Region)
	}
	if got := mustRead(t, reps[0].Reader, "pack"); bytes.Equal(got, good) {
		t.Fatal("test bug: copy in a is not bad")
	}
	f.set.ReportBad("a", "pack", errors.New("hash mismatch"))
	if got := mustRead(t, reps[1].Reader, "pack"); !bytes.Equal(got, good) {
		t.Fatalf("replica %s: %q", reps[1].Region, got)
	}
	if err := f.set.Repair(ctx, "a", "pack", good); err != nil {
		t.Fatalf("repair: %v", err)
	}
	if got := mustRead(t, f.inner("a"), "pack"); !bytes.Equal(got, good) {
		t.Fatalf("after repair a has %q", got)
	}
	if f.ev.count(EventRepair, "a") != 1 || f.ev.count(EventBadContent, "a") != 1 {
		t.Fatalf("events: %+v", f.ev.got)
	}
	if h := f.health(t, "a"); h.BadContent != 1 || h.ConsecutiveFailures != 0 {
		t.Fatalf("health a = %+v", h)
	}
	if err := f.set.Repair(ctx, "zz", "pack", good); !errors.Is(err, ErrUnknownRegion) {
		t.Fatalf("repair unknown region: err = %v", err)
	}
	// A replica reader reads its region only.
	if _, err := f.set.Replicas()[0].Reader.Get(ctx, "missing", 0, -1); !errors.Is(err, storage.ErrNotExist) {
		t.Fatalf("replica get missing: %v", err)
	}
}

// timeoutStorage gives every call its own deadline, as a real backend's
// per-request timeout would.
type timeoutStorage struct {
	storage.Storage
	d time.Duration
}

func (s *timeoutStorage) Get(ctx context.Context, name string, off, length int64) (io.ReadCloser, error) {
	ctx, cancel := context.WithTimeout(ctx, s.d)
	defer cancel()
	body, err := s.Storage.Get(ctx, name, off, length)
	if err != nil {
		return nil, err
	}
	// The mem body does not depend on ctx, so it outlives cancel.
	return body, nil
}

func (s *timeoutStorage) Stat(ctx context.Context, name string) (storage.Info, error) {
	ctx, cancel := context.WithTimeout(ctx, s.d)
	defer cancel()
	return s.Storage.Stat(ctx, name)
}

func (s *timeoutStorage) List(ctx context.Context, prefix string, fn func(storage.Info) error) error {
	ctx, cancel := context.WithTimeout(ctx, s.d)
	defer cancel()
	return s.Storage.List(ctx, prefix, fn)
}

func (s *timeoutStorage) Put(ctx context.Context, name string, r io.ReadSeeker, size int64, opt storage.PutOptions) error {
	ctx, cancel := context.WithTimeout(ctx, s.d)
	defer cancel()
	return s.Storage.Put(ctx, name, r, size, opt)
}

func TestBlackholedRegion(t *testing.T) {
	hole := fault.New(mem.New())
	regs := []Region{
		{Name: "hole", Storage: &timeoutStorage{Storage: hole, d: 200 * time.Millisecond}},
		{Name: "ok", Storage: mem.New(), Priority: 1},
	}
	s, err := New(regs, Options{WriteQuorum: 1, Now: newClock().Now})
	if err != nil {
		t.Fatal(err)
	}
	mustPut(t, s, "obj", []byte("content"))
	for _, op := range []fault.Op{fault.OpGet, fault.OpStat, fault.OpList, fault.OpPut} {
		hole.Blackhole(op, nil)
	}
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	if got, err := storage.ReadAll(ctx, s, "obj"); err != nil || string(got) != "content" {
		t.Fatalf("get = %q, %v", got, err)
	}
	if info, err := s.Stat(ctx, "obj"); err != nil || info.Size != 7 {
		t.Fatalf("stat = %+v, %v", info, err)
	}
	var names []string
	if err := s.List(ctx, "", func(info storage.Info) error { names = append(names, info.Name); return nil }); err != nil || !slices.Equal(names, []string{"obj"}) {
		t.Fatalf("list = %q, %v", names, err)
	}
	if err := storage.PutBytes(ctx, s, "new", []byte("x"), storage.PutOptions{}); err != nil {
		t.Fatalf("put: %v", err)
	}
	h := s.Health()[0]
	// Three failed reads opened the breaker; the write then skipped it.
	if h.Healthy || h.ConsecutiveFailures != 3 || !errors.Is(h.LastError, context.DeadlineExceeded) {
		t.Fatalf("health hole = %+v", h)
	}
	if got := s.Behind()["hole"].Names; !slices.Equal(got, []string{"new"}) {
		t.Fatalf("Behind hole = %q", got)
	}
	// The breaker is open: reads no longer wait for the hole.
	calls := hole.Calls(fault.OpGet)
	mustRead(t, s, "obj")
	if hole.Calls(fault.OpGet) != calls {
		t.Fatal("open region was read")
	}
}

func TestCallerCancelIsNotRegionFailure(t *testing.T) {
	hole := fault.New(mem.New())
	regs := []Region{{Name: "hole", Storage: hole}, {Name: "ok", Storage: mem.New(), Priority: 1}}
	s, err := New(regs, Options{Now: newClock().Now})
	if err != nil {
		t.Fatal(err)
	}
	mustPut(t, s, "obj", []byte("content"))
	hole.Blackhole(fault.OpGet, nil)
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Millisecond)
	defer cancel()
	if _, err := s.Get(ctx, "obj", 0, -1); !errors.Is(err, context.DeadlineExceeded) {
		t.Fatalf("get: err = %v, want the caller's deadline", err)
	}
	if h := s.Health()[0]; h.ConsecutiveFailures != 0 || h.LastError != nil {
		t.Fatalf("caller's deadline counted against the region: %+v", h)
	}
}

func TestList(t *testing.T) {
	ctx := context.Background()
	collect := func(t *testing.T, list func(context.Context, string, func(storage.Info) error) error) ([]string, error) {
		t.Helper()
		var names []string
		err := list(ctx, "", func(info storage.Info) error {
			names = append(names, info.Name)
			return nil
		})
		slices.Sort(names)
		return names, err
	}
	t.Run("failover", func(t *testing.T) {
		f := newFixture(t, Options{})
		mustPut(t, f.set, "x", []byte("1"))
		f.faults["a"].FailOn(fault.OpList, nil, nil, -1)
		names, err := collect(t, f.set.List)
		if err != nil || !slices.Equal(names, []string{"x"}) {
			t.Fatalf("list = %q, %v", names, err)
		}
		if f.health(t, "b").Failovers != 1 {
			t.Fatal("no failover recorded")
		}
	})
	t.Run("mid-listing failure", func(t *testing.T) {
		f := newFixture(t, Options{})
		mustPut(t, f.set, "x", []byte("1"))
		f.faults["a"].FailAfter(fault.OpList, nil, nil, -1)
		names, err := collect(t, f.set.List)
		if !errors.Is(err, fault.ErrInjected) || !slices.Equal(names, []string{"x"}) {
			t.Fatalf("list = %q, %v; want x once and the error", names, err)
		}
	})
	t.Run("all fail", func(t *testing.T) {
		f := newFixture(t, Options{})
		for _, fs := range f.faults {
			fs.FailOn(fault.OpList, nil, nil, -1)
		}
		if _, err := collect(t, f.set.List); !errors.Is(err, ErrUnavailable) {
			t.Fatalf("list: err = %v", err)
		}
		if _, err := collect(t, f.set.ListUnion); !errors.Is(err, ErrUnavailable) {
			t.Fatalf("list union: err = %v", err)
		}
	})
	t.Run("union", func(t *testing.T) {
		f := newFixture(t, Options{})
		mustPut(t, f.inner("a"), "x", []byte("1"))
		mustPut(t, f.inner("a"), "y", []byte("22"))
		mustPut(t, f.inner("b"), "y", []byte("333"))
		mustPut(t, f.inner("b"), "z", []byte("4"))
		mustPut(t, f.inner("c"), "w", []byte("5"))
		f.faults["c"].FailOn(fault.OpList, nil, nil, -1)
		sizes := map[string]int64{}
		err := f.set.ListUnion(ctx, "", func(info storage.Info) error {
			if _, dup := sizes[info.Name]; dup {
				return fmt.Errorf("duplicate %s", info.Name)
			}
			sizes[info.Name] = info.Size
			return nil
		})
		want := map[string]int64{"x": 1, "y": 2, "z": 1}
		if err != nil || len(sizes) != len(want) {
			t.Fatalf("union = %v, %v; want %v", sizes, err, want)
		}
		for k, v := range want {
			if sizes[k] != v {
				t.Fatalf("union = %v, want %v", sizes, want)
			}
		}
		if f.health(t, "c").ConsecutiveFailures != 1 {
			t.Fatal("failing region not recorded")
		}
		stop := errors.New("stop")
		if err := f.set.ListUnion(ctx, "", func(storage.Info) error { return stop }); !errors.Is(err, stop) {
			t.Fatalf("union stop: err = %v", err)
		}
		if err := f.set.ListUnion(ctx, "/bad", func(storage.Info) error { return nil }); !errors.Is(err, storage.ErrInvalidName) {
			t.Fatalf("union bad prefix: err = %v", err)
		}
	})
}

func TestDelete(t *testing.T) {
	ctx := context.Background()
	f := newFixture(t, Options{})
	if err := f.set.Delete(ctx, "nothing"); !errors.Is(err, storage.ErrNotExist) {
		t.Fatalf("delete missing: err = %v", err)
	}
	mustPut(t, f.inner("b"), "one", []byte("x"))
	if err := f.set.Delete(ctx, "one"); err != nil {
		t.Fatalf("delete from one region: %v", err)
	}
	if hasObject(t, f.inner("b"), "one") {
		t.Fatal("not deleted")
	}
	mustPut(t, f.set, "obj", []byte("x"))
	f.faults["c"].FailOn(fault.OpDelete, nil, storage.ErrPermission, -1)
	err := f.set.Delete(ctx, "obj")
	if !errors.Is(err, storage.ErrPermission) || !strings.Contains(err.Error(), "region c:") || errors.Is(err, storage.ErrNotExist) {
		t.Fatalf("delete with a failing region: err = %v", err)
	}
	if f.ev.count(EventRegionFailed, "c") != 1 {
		t.Fatal("no region-failed event")
	}
	if hasObject(t, f.inner("a"), "obj") || !hasObject(t, f.inner("c"), "obj") {
		t.Fatal("delete did not reach the healthy regions")
	}
}

// capStorage overrides a storage's capabilities.
type capStorage struct {
	storage.Storage
	caps storage.Capabilities
}

func (c capStorage) Capabilities() storage.Capabilities { return c.caps }

func TestCapabilities(t *testing.T) {
	for _, tc := range []struct {
		name string
		caps []storage.Capabilities
		want storage.Capabilities
	}{
		{"all", []storage.Capabilities{{ConditionalCreate: true, Local: true, Concurrency: 2, ReadOnly: true}, {ConditionalCreate: true, Local: true, Concurrency: 8, ReadOnly: true}},
			storage.Capabilities{ConditionalCreate: true, Local: true, Concurrency: 8, ReadOnly: true}},
		{"mixed", []storage.Capabilities{{ConditionalCreate: true, Local: true, Concurrency: 16}, {Concurrency: 4, ReadOnly: true}},
			storage.Capabilities{Concurrency: 16}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			var regs []Region
			for i, c := range tc.caps {
				regs = append(regs, Region{Name: fmt.Sprint(i), Storage: capStorage{Storage: mem.New(), caps: c}})
			}
			s, err := New(regs, Options{})
			if err != nil {
				t.Fatal(err)
			}
			want := tc.want
			want.Regions = s // the set is its own region set
			if got := s.Capabilities(); got != want {
				t.Fatalf("capabilities = %+v, want %+v", got, want)
			}
		})
	}
}

// closeStorage fails Close.
type closeStorage struct{ storage.Storage }

func (closeStorage) Close() error { return storage.ErrPermission }

func TestClose(t *testing.T) {
	s, err := New([]Region{{Name: "a", Storage: mem.New()}, {Name: "b", Storage: closeStorage{mem.New()}}}, Options{})
	if err != nil {
		t.Fatal(err)
	}
	if err := s.Close(); !errors.Is(err, storage.ErrPermission) || !strings.Contains(err.Error(), "region b:") {
		t.Fatalf("close: err = %v", err)
	}
}

// TestConcurrentFlaky hammers a set whose first region fails now and then,
// checking every read returns the right bytes (run with -race).
func TestConcurrentFlaky(t *testing.T) {
	// Breakers stay closed here (an open one would skip writes and, with b
	// failing too, miss the quorum); TestBreaker covers them.
	f := newFixture(t, Options{WriteQuorum: 2, BreakerThreshold: 1 << 20, BreakerCooldown: time.Millisecond})
	f.faults["a"].FailOn(fault.OpGet, nil, storage.MarkTransient(fault.ErrInjected), 1).PerName()
	f.faults["b"].FailOn(fault.OpPut, fault.Prefix("w3/"), nil, -1)
	ctx := context.Background()
	var wg sync.WaitGroup
	errs := make(chan error, 8)
	for w := range 8 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := range 30 {
				name := fmt.Sprintf("w%d/%d", w, i)
				want := []byte(name + strings.Repeat("!", i))
				if err := storage.PutBytes(ctx, f.set, name, want, storage.PutOptions{}); err != nil {
					errs <- err
					return
				}
				got, err := storage.ReadAll(ctx, f.set, name)
				if err != nil || !bytes.Equal(got, want) {
					errs <- fmt.Errorf("read %s: %q, %v", name, got, err)
					return
				}
				if i%5 == 0 {
					f.set.ReportBad("c", name, nil)
					f.clock.Advance(time.Millisecond)
				}
				_ = f.set.Replicas()
				_ = f.set.Health()
				if w == 3 {
					continue // keep b's missing objects
				}
				if err := f.set.Delete(ctx, name); err != nil {
					errs <- err
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
	if got := len(f.set.Behind()["b"].Names); got != 30 {
		t.Fatalf("Behind b has %d names, want 30", got)
	}
}
