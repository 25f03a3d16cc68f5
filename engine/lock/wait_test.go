package lock

import (
	"context"
	"errors"
	"testing"
	"time"

	"lifeboat/internal/fakeclock"
	"lifeboat/storage"
	"lifeboat/storage/mem"
)

type waitResult struct {
	l   *Lock
	err error
}

// startWait runs AcquireWait in the background and returns its result
// channel and a channel of the errors it waited on.
func startWait(ctx context.Context, st storage.Storage, c *fakeclock.Clock, h Holder, opt WaitOptions) (<-chan waitResult, <-chan error) {
	waits := make(chan error, 100)
	opt.OnWait = func(err error) { waits <- err }
	res := make(chan waitResult, 1)
	go func() {
		l, err := AcquireWait(ctx, st, "repository", h, lease, c, opt)
		res <- waitResult{l, err}
	}()
	return res, waits
}

// While another host holds the lock, AcquireWait tries again every poll
// until the wait is over, then reports the holder.
func TestAcquireWaitGivesUp(t *testing.T) {
	st := mem.New()
	c := fakeclock.New(t0)
	a := mustAcquire(t, st, "repository", holder(1), c)
	abandon(a) // holds, without renewals competing for the clock
	res, waits := startWait(context.Background(), st, c, holder(2), WaitOptions{Wait: 12 * time.Second, Poll: 5 * time.Second})
	// Attempts at 0s, 5s, 10s and 12s (the end of the wait).
	for i := range 3 {
		if err := wait(t, waits, "a wait"); !errors.Is(err, ErrLocked) {
			t.Fatalf("wait %d: %v", i, err)
		}
		if !c.AwaitWaiter(10 * time.Second) {
			t.Fatalf("wait %d: AcquireWait never waited on the clock", i)
		}
		c.Advance(5 * time.Second)
	}
	r := wait(t, res, "AcquireWait")
	var le *LockedError
	if r.err == nil || !errors.As(r.err, &le) || le.Holder != holder(1) {
		t.Fatalf("AcquireWait = %v, %v; want the lock held by holder 1", r.l, r.err)
	}
	select {
	case err := <-waits:
		t.Fatalf("waited once more after the end of the wait: %v", err)
	default:
	}
	if got := c.Now().Sub(t0); got != 15*time.Second {
		t.Fatalf("clock moved to %v", got)
	}
}

// A lock that expires while AcquireWait waits is taken.
func TestAcquireWaitTakesExpiredLock(t *testing.T) {
	ctx := context.Background()
	st := mem.New()
	c := fakeclock.New(t0)
	a := mustAcquire(t, st, "repository", holder(1), c)
	abandon(a) // crashes
	res, waits := startWait(ctx, st, c, holder(2), WaitOptions{Wait: time.Hour, Poll: lease / 2})
	for range 2 {
		wait(t, waits, "a wait")
		if !c.AwaitWaiter(10 * time.Second) {
			t.Fatal("AcquireWait never waited on the clock")
		}
		c.Advance(lease / 2)
	}
	r := wait(t, res, "AcquireWait")
	if r.err != nil {
		t.Fatalf("AcquireWait after expiry: %v", r.err)
	}
	if r.l.Info().Holder != holder(2) {
		t.Fatalf("holder %v", r.l.Info().Holder)
	}
	if err := r.l.Release(ctx); err != nil {
		t.Fatal(err)
	}
}

// Without a wait there is one attempt; the wait ends with ctx.
func TestAcquireWaitNoWaitAndCancel(t *testing.T) {
	st := mem.New()
	c := fakeclock.New(t0)
	a := mustAcquire(t, st, "repository", holder(1), c)
	abandon(a)
	_, err := AcquireWait(context.Background(), st, "repository", holder(2), lease, c, WaitOptions{})
	if !errors.Is(err, ErrLocked) {
		t.Fatalf("without a wait: %v", err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	res, waits := startWait(ctx, st, c, holder(2), WaitOptions{Wait: time.Hour})
	wait(t, waits, "a wait")
	cancel()
	if r := wait(t, res, "AcquireWait"); !errors.Is(r.err, context.Canceled) {
		t.Fatalf("after cancel: %v", r.err)
	}
}

// The lock's context ends, with ErrLost as its cause, when the lock is
// lost, and not when it is released.
func TestLockContext(t *testing.T) {
	ctx := context.Background()
	st := mem.New()
	c := fakeclock.New(t0)
	a := mustAcquire(t, st, "repository", holder(1), c)
	actx, acancel := a.Context(ctx)
	defer acancel()
	abandon(a)
	c.Advance(lease)
	b := mustAcquire(t, st, "repository", holder(2), c)
	bctx, bcancel := b.Context(ctx)
	defer bcancel()
	if err := a.renew(); !errors.Is(err, ErrLost) {
		t.Fatalf("renew of the broken lock: %v", err)
	}
	wait(t, actx.Done(), "the lost lock's context")
	if cause := context.Cause(actx); !errors.Is(cause, ErrLost) {
		t.Fatalf("cause %v", cause)
	}
	if err := b.Release(ctx); err != nil {
		t.Fatal(err)
	}
	if err := bctx.Err(); err != nil {
		t.Fatalf("released lock's context ended: %v", err)
	}
}
