package lock

import (
	"context"
	"errors"
	"fmt"
	"io"
	"path/filepath"
	"sync"
	"testing"
	"time"

	"lifeboat/internal/fakeclock"
	"lifeboat/storage"
	"lifeboat/storage/fault"
	"lifeboat/storage/local"
	"lifeboat/storage/mem"
	"lifeboat/storage/regions"
)

var t0 = time.Date(2024, 5, 6, 7, 8, 9, 0, time.UTC)

const lease = 30 * time.Second

func holder(n int) Holder {
	return Holder{Host: fmt.Sprintf("host%d", n), PID: 100 + n, ID: fmt.Sprintf("id%d", n)}
}

func wait[T any](t *testing.T, ch <-chan T, what string) T {
	t.Helper()
	select {
	case v := <-ch:
		return v
	case <-time.After(20 * time.Second):
		t.Fatalf("timed out waiting for %s", what)
		panic("unreachable")
	}
}

// renewals routes testHookRenewed to a channel for the test's duration.
func renewals(t *testing.T) chan error {
	t.Helper()
	ch := make(chan error, 100)
	testHookRenewed = func(_ *Lock, err error) { ch <- err }
	t.Cleanup(func() { testHookRenewed = nil })
	return ch
}

// abandon stops a lock's renewals without releasing it: its holder crashed.
func abandon(l *Lock) { l.stopRenewals() }

func mustAcquire(t *testing.T, st storage.Storage, name string, h Holder, c Clock) *Lock {
	t.Helper()
	l, err := Acquire(context.Background(), st, name, h, lease, c)
	if err != nil {
		t.Fatal(err)
	}
	return l
}

func TestAcquireRelease(t *testing.T) {
	ctx := context.Background()
	st := mem.New()
	c := fakeclock.New(t0)
	a := mustAcquire(t, st, "repository", holder(1), c)
	info, err := Inspect(ctx, st, "repository")
	if err != nil || info == nil || info.Holder != holder(1) || !info.Acquired.Equal(t0) || !info.Expires.Equal(t0.Add(lease)) {
		t.Fatalf("Inspect = %+v, %v", info, err)
	}
	_, err = Acquire(ctx, st, "repository", holder(2), lease, c)
	var le *LockedError
	if !errors.Is(err, ErrLocked) || !errors.As(err, &le) || le.Holder != holder(1) || !le.Expires.Equal(t0.Add(lease)) {
		t.Fatalf("second Acquire: %v", err)
	}
	// Another lock name is independent.
	other := mustAcquire(t, st, "other", holder(2), c)
	if err := a.Release(ctx); err != nil {
		t.Fatal(err)
	}
	select {
	case <-a.Done():
	default:
		t.Fatal("Done not closed by Release")
	}
	if a.Err() != nil {
		t.Fatalf("Err after Release: %v", a.Err())
	}
	if info, err := Inspect(ctx, st, "repository"); err != nil || info != nil {
		t.Fatalf("Inspect after Release = %+v, %v", info, err)
	}
	b := mustAcquire(t, st, "repository", holder(2), c)
	if err := b.Release(ctx); err != nil {
		t.Fatal(err)
	}
	if err := other.Release(ctx); err != nil {
		t.Fatal(err)
	}
	// Released locks leave one small record each.
	n := 0
	if err := st.List(ctx, Prefix, func(storage.Info) error { n++; return nil }); err != nil {
		t.Fatal(err)
	}
	if n != 2 {
		t.Fatalf("%d lock objects left", n)
	}
}

// A crashed holder blocks others until its lease expires, and no longer.
func TestExpiredLeaseIsBroken(t *testing.T) {
	ctx := context.Background()
	st := mem.New()
	c := fakeclock.New(t0)
	a := mustAcquire(t, st, "repository", holder(1), c)
	abandon(a)
	c.Advance(lease - time.Second)
	if _, err := Acquire(ctx, st, "repository", holder(2), lease, c); !errors.Is(err, ErrLocked) {
		t.Fatalf("before expiry: %v", err)
	}
	c.Advance(time.Second)
	b := mustAcquire(t, st, "repository", holder(2), c)
	if info, _ := Inspect(ctx, st, "repository"); info == nil || info.Holder != holder(2) {
		t.Fatalf("holder after break: %+v", info)
	}
	// The crashed holder, back, cannot release or renew what it lost.
	if err := a.renew(); !errors.Is(err, ErrLost) {
		t.Fatalf("renew by the old holder: %v", err)
	}
	if err := a.Release(ctx); !errors.Is(err, ErrLost) {
		t.Fatalf("release by the old holder: %v", err)
	}
	if info, _ := Inspect(ctx, st, "repository"); info == nil || info.Holder != holder(2) {
		t.Fatalf("holder after the old holder's attempts: %+v", info)
	}
	if err := b.Release(ctx); err != nil {
		t.Fatal(err)
	}
}

func TestRenewalExtendsLease(t *testing.T) {
	ctx := context.Background()
	ren := renewals(t)
	st := mem.New()
	c := fakeclock.New(t0)
	a := mustAcquire(t, st, "repository", holder(1), c)
	for i := 1; i <= 3; i++ {
		// The renewer must be waiting on the clock before it moves.
		if !c.AwaitWaiter(10 * time.Second) {
			t.Fatalf("renewal %d: the renewer never waited on the clock", i)
		}
		c.Advance(lease / 3)
		if err := wait(t, ren, "renewal"); err != nil {
			t.Fatalf("renewal %d: %v", i, err)
		}
		want := t0.Add(time.Duration(i)*lease/3 + lease)
		if got := a.Info().Expires; !got.Equal(want) {
			t.Fatalf("renewal %d: expires %v, want %v", i, got, want)
		}
	}
	// Well past the original lease, the lock is still held.
	c.Advance(lease / 6)
	if _, err := Acquire(ctx, st, "repository", holder(2), lease, c); !errors.Is(err, ErrLocked) {
		t.Fatalf("Acquire while renewed: %v", err)
	}
	// Renewals replace the previous generation: one object remains.
	n := 0
	if err := st.List(ctx, Prefix, func(storage.Info) error { n++; return nil }); err != nil {
		t.Fatal(err)
	}
	if n != 1 {
		t.Fatalf("%d lock objects", n)
	}
	if err := a.Release(ctx); err != nil {
		t.Fatal(err)
	}
}

// A holder whose renewals fail until the lease ends knows it lost the lock.
func TestLostWhenRenewalsFail(t *testing.T) {
	ren := renewals(t)
	f := fault.New(mem.New())
	c := fakeclock.New(t0)
	a := mustAcquire(t, f, "repository", holder(1), c)
	f.FailOn(fault.OpPut, fault.Prefix(Prefix), storage.MarkTransient(fault.ErrInjected), -1)
	c.Advance(lease / 3)
	if err := wait(t, ren, "failed renewal"); !errors.Is(err, fault.ErrInjected) {
		t.Fatalf("renewal: %v", err)
	}
	select {
	case <-a.Done():
		t.Fatal("lost after one failed renewal, with most of the lease left")
	default:
	}
	c.Advance(lease)
	wait(t, a.Done(), "lock lost")
	if !errors.Is(a.Err(), ErrLost) {
		t.Fatalf("Err = %v", a.Err())
	}
	if err := a.Release(context.Background()); !errors.Is(err, ErrLost) {
		t.Fatalf("Release of a lost lock: %v", err)
	}
}

func TestUndecodableLockCanBeBroken(t *testing.T) {
	ctx := context.Background()
	st := mem.New()
	if err := storage.PutBytes(ctx, st, objectName("repository", 7), []byte("garbage"), storage.PutOptions{}); err != nil {
		t.Fatal(err)
	}
	l := mustAcquire(t, st, "repository", holder(1), fakeclock.New(t0))
	if l.seq != 8 {
		t.Fatalf("generation %d, want 8", l.seq)
	}
	if err := l.Release(ctx); err != nil {
		t.Fatal(err)
	}
}

func TestAcquireArguments(t *testing.T) {
	st := mem.New()
	for _, name := range []string{"", "a/b", "..", "a b", string(make([]byte, 65))} {
		if _, err := Acquire(context.Background(), st, name, holder(1), lease, nil); err == nil {
			t.Fatalf("name %q accepted", name)
		}
	}
	if _, err := Acquire(context.Background(), st, "x", holder(1), 0, nil); err == nil {
		t.Fatal("zero lease accepted")
	}
}

// storages returns the backends the concurrency test runs on.
func storages(t *testing.T) map[string]storage.Storage {
	t.Helper()
	loc, err := local.New(filepath.Join(t.TempDir(), "local"))
	if err != nil {
		t.Fatal(err)
	}
	var rs []regions.Region
	for i := range 3 {
		rs = append(rs, regions.Region{Name: fmt.Sprintf("r%d", i), Storage: mem.New(), Priority: i})
	}
	set, err := regions.New(rs, regions.Options{})
	if err != nil {
		t.Fatal(err)
	}
	return map[string]storage.Storage{"mem": mem.New(), "local": loc, "regions": set}
}

// Eight acquirers race for a free lock, then for an expired one: exactly
// one wins each time, the others see ErrLocked.
func TestConcurrentAcquireOneWins(t *testing.T) {
	for name, st := range storages(t) {
		t.Run(name, func(t *testing.T) {
			c := fakeclock.New(t0)
			for round := range 6 {
				lockName := fmt.Sprintf("round%d", round)
				race := func(base int) *Lock {
					t.Helper()
					var wg sync.WaitGroup
					locks := make([]*Lock, 8)
					errs := make([]error, 8)
					start := make(chan struct{})
					for i := range 8 {
						wg.Add(1)
						go func() {
							defer wg.Done()
							<-start
							locks[i], errs[i] = Acquire(context.Background(), st, lockName, holder(base+i), lease, c)
						}()
					}
					close(start)
					wg.Wait()
					var winner *Lock
					for i := range 8 {
						switch {
						case errs[i] == nil && winner == nil:
							winner = locks[i]
						case errs[i] == nil:
							t.Fatalf("round %d: two acquirers won", round)
						case !errors.Is(errs[i], ErrLocked):
							t.Fatalf("round %d: acquirer %d: %v", round, i, errs[i])
						}
					}
					if winner == nil {
						t.Fatalf("round %d: nobody won", round)
					}
					return winner
				}
				first := race(0)
				abandon(first) // crashes
				c.Advance(lease)
				second := race(8)
				if info, err := Inspect(context.Background(), st, lockName); err != nil || info == nil || info.Holder != second.Info().Holder {
					t.Fatalf("round %d: Inspect %+v, %v", round, info, err)
				}
				if err := second.Release(context.Background()); err != nil {
					t.Fatal(err)
				}
			}
		})
	}
}

func TestDecodeInfoErrors(t *testing.T) {
	for _, data := range []string{
		"", "{", `{"version":2,"name":"x"}`, `{"version":1,"name":""}`, `{"version":1,"name":"a/b"}`,
		`{"version":1,"name":"x"} {}`, `{"version":1,"name":"x","expires":"soon"}`,
	} {
		if _, err := DecodeInfo([]byte(data)); !errors.Is(err, ErrBadLock) {
			t.Fatalf("DecodeInfo(%q) = %v", data, err)
		}
	}
}

func FuzzDecodeInfo(f *testing.F) {
	good, _ := EncodeInfo(&Info{Version: Version, Name: "repository", Holder: holder(1), Acquired: t0, Renewed: t0, Expires: t0.Add(lease)})
	f.Add(good)
	f.Add([]byte(`{"version":1,"name":"x","released":true}`))
	f.Fuzz(func(t *testing.T, data []byte) {
		info, err := DecodeInfo(data)
		if err != nil {
			if !errors.Is(err, ErrBadLock) {
				t.Fatalf("error does not wrap ErrBadLock: %v", err)
			}
			return
		}
		enc, err := EncodeInfo(info)
		if err != nil {
			t.Fatal(err)
		}
		if _, err := DecodeInfo(enc); err != nil {
			t.Fatalf("re-decoding: %v", err)
		}
	})
}

// retryOnce retries a Put once after a transient error, without looking
// at what the first attempt did (as a plain retry layer would).
type retryOnce struct{ storage.Storage }

func (r retryOnce) Put(ctx context.Context, name string, body io.ReadSeeker, size int64, opt storage.PutOptions) error {
	err := r.Storage.Put(ctx, name, body, size, opt)
	if storage.IsTransient(err) {
		if _, serr := body.Seek(0, io.SeekStart); serr != nil {
			return serr
		}
		err = r.Storage.Put(ctx, name, body, size, opt)
	}
	return err
}

// A create whose answer was lost and that a retry then finds existing is
// the lock's own: it counts as created.
func TestLostAnswerToOwnCreate(t *testing.T) {
	ctx := context.Background()
	f := fault.New(mem.New())
	f.FailAfter(fault.OpPut, fault.Prefix(Prefix), storage.MarkTransient(fault.ErrInjected), 1)
	l, err := Acquire(ctx, retryOnce{f}, "repository", holder(1), lease, fakeclock.New(t0))
	if err != nil {
		t.Fatalf("Acquire: %v", err)
	}
	if l.seq != 1 {
		t.Fatalf("generation %d, want 1", l.seq)
	}
	if err := l.Release(ctx); err != nil {
		t.Fatal(err)
	}
}
