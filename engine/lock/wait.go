package lock

import (
	"context"
	"errors"
	"fmt"
	"time"

	"lifeboat/storage"
)

// DefaultPoll is the time between attempts of AcquireWait unless
// WaitOptions.Poll says otherwise.
const DefaultPoll = 10 * time.Second

// WaitOptions tune AcquireWait.
type WaitOptions struct {
	// Wait is how long to keep trying while someone else holds the lock
	// (0: one attempt).
	Wait time.Duration
	// Poll is the time between attempts (0: DefaultPoll).
	Poll time.Duration
	// OnWait, if set, is called with the error of every attempt that
	// found the lock held and is followed by a wait.
	OnWait func(err error)
}

// AcquireWait is Acquire, tried again every opt.Poll while someone else
// holds the lock, for up to opt.Wait measured on clock (nil: the system
// clock). It fails at once on any error but ErrLocked; when the wait is
// over it returns the last attempt's error (a *LockedError naming the
// holder, or contention), which wraps ErrLocked. ctx bounds the whole wait.
func AcquireWait(ctx context.Context, st storage.Storage, name string, holder Holder, lease time.Duration, clock Clock, opt WaitOptions) (*Lock, error) {
	if clock == nil {
		clock = systemClock{}
	}
	poll := opt.Poll
	if poll <= 0 {
		poll = DefaultPoll
	}
	deadline := clock.Now().Add(max(opt.Wait, 0))
	for {
		l, err := Acquire(ctx, st, name, holder, lease, clock)
		if err == nil || !errors.Is(err, ErrLocked) {
			return l, err
		}
		now := clock.Now()
		if !now.Before(deadline) {
			if opt.Wait > 0 {
				err = fmt.Errorf("waited %v: %w", opt.Wait, err)
			}
			return nil, err
		}
		if opt.OnWait != nil {
			opt.OnWait(err)
		}
		next := now.Add(poll)
		if next.After(deadline) {
			next = deadline
		}
		select {
		case <-clock.WaitUntil(next):
		case <-ctx.Done():
			return nil, fmt.Errorf("lock %s: waiting: %w", name, ctx.Err())
		}
	}
}

// Context returns a context derived from ctx that is canceled, with the
// lock's error (wrapping ErrLost) as its cause, when the lock is lost,
// so that work done under the lock stops. The returned function releases
// the context's resources; it does not release the lock.
func (l *Lock) Context(ctx context.Context) (context.Context, context.CancelFunc) {
	lctx, cancel := context.WithCancelCause(ctx)
	go func() {
		select {
		case <-l.Done():
			if err := l.Err(); err != nil {
				cancel(err)
			}
		case <-lctx.Done():
		}
	}()
	return lctx, func() { cancel(nil) }
}
