package regions

import (
	"context"
	"errors"
	"fmt"
	"sync"
	"time"

	"lifeboat/storage"
)

// Defaults for the read deadlines (see Options.HedgeFloor).
const (
	// DefaultHedgeFloor is the default Options.HedgeFloor.
	DefaultHedgeFloor = 2 * time.Second
	// DefaultHedgeCap is the default Options.HedgeCap.
	DefaultHedgeCap = 10 * time.Second
	// HedgeFactor multiplies a region's latency EWMA into its read
	// deadline.
	HedgeFactor = 4
)

// ErrHung reports a read that a region did not answer (or make progress
// on) within its deadline while another region could serve it. It comes
// marked storage.ErrTransient: it is a failure of the region, not of the
// object.
var ErrHung = errors.New("region did not answer within its deadline")

// errLost is the cancellation cause of a hedged request whose race another
// region won, or that the caller abandoned.
var errLost = errors.New("another region answered first")

// errCut is the cancellation cause of a request past its deadline.
var errCut = errors.New("request past its deadline")

// realAfterFunc is the default Options.AfterFunc.
func realAfterFunc(d time.Duration, f func()) func() bool { return time.AfterFunc(d, f).Stop }

// deadline is how long a read of r may go without an answer or progress
// before r counts as hung: HedgeFactor times its latency EWMA, within
// [HedgeFloor, HedgeCap].
func (s *Set) deadline(r *region) time.Duration {
	r.mu.Lock()
	ewma, measured := r.ewma, r.measured
	r.mu.Unlock()
	d := s.hedgeFloor
	if measured {
		d = max(d, HedgeFactor*ewma)
	}
	return min(d, s.hedgeCap)
}

// usable reports whether r may serve reads: its breaker is closed and it
// is not known to hang.
func (r *region) usable() bool {
	r.mu.Lock()
	defer r.mu.Unlock()
	return !r.open && !r.hung
}

// isHung reports whether r's last request went past its deadline without
// an answer since r last answered.
func (r *region) isHung() bool {
	r.mu.Lock()
	defer r.mu.Unlock()
	return r.hung
}

// anyUsable reports whether one of regs may serve reads.
func anyUsable(regs []*region) bool {
	for _, r := range regs {
		if r.usable() {
			return true
		}
	}
	return false
}

// hang records that a request to r (for name) went past its deadline d
// without an answer: r moves behind the regions that answer, at once, and
// the hang counts as one failure towards its breaker. It returns the
// error describing the hang.
func (s *Set) hang(r *region, name string, d time.Duration) error {
	err := storage.MarkTransient(fmt.Errorf("no answer within %v: %w", d, ErrHung))
	now := s.now()
	r.mu.Lock()
	r.hung, r.hungAt = true, now
	r.mu.Unlock()
	s.emit(EventHung, r, name, err)
	s.failed(r, err)
	return err
}

// counted records a request to r whose outcome says nothing about the
// region (it was cancelled by the set).
func (s *Set) counted(r *region) {
	r.mu.Lock()
	r.reads++
	r.mu.Unlock()
}

// watch times one request to a region: armed, it waits the region's
// deadline; when that passes the region is marked hung (once per request)
// and, if one of alts can serve instead, the request's context is
// cancelled. Disarmed, it waits for nothing (the caller is busy, or the
// request answered).
type watch struct {
	s      *Set
	r      *region
	alts   []*region
	d      time.Duration
	cancel context.CancelCauseFunc

	mu    sync.Mutex
	gen   int
	stop  func() bool
	fired bool // the deadline passed (r was marked hung)
	cut   bool // and the request was cancelled for it
}

// watch returns a context for one request to r and its (disarmed) watch.
// The caller must call done when the request is over.
func (s *Set) watch(ctx context.Context, r *region, alts []*region) (context.Context, *watch) {
	wctx, cancel := context.WithCancelCause(ctx)
	return wctx, &watch{s: s, r: r, alts: alts, d: s.deadline(r), cancel: cancel}
}

// arm (re)starts the deadline.
func (w *watch) arm() {
	w.mu.Lock()
	defer w.mu.Unlock()
	if w.stop != nil {
		w.stop()
	}
	w.gen++
	gen := w.gen
	w.stop = w.s.afterFunc(w.d, func() { w.expire(gen) })
}

// disarm stops the deadline.
func (w *watch) disarm() {
	w.mu.Lock()
	defer w.mu.Unlock()
	w.gen++
	if w.stop != nil {
		w.stop()
		w.stop = nil
	}
}

// expire handles the deadline of arming gen.
func (w *watch) expire(gen int) {
	w.mu.Lock()
	if gen != w.gen || w.cut {
		w.mu.Unlock()
		return
	}
	first := !w.fired
	w.fired = true
	w.mu.Unlock()
	// Whether another region can serve is decided before this one is
	// marked: the last region able to answer is waited for.
	cut := anyUsable(w.alts)
	if first {
		w.s.hang(w.r, "", w.d)
	}
	if cut {
		w.mu.Lock()
		w.cut = true
		w.mu.Unlock()
		w.cancel(errCut)
	}
}

// wasCut reports whether the request was cancelled for its deadline.
func (w *watch) wasCut() bool {
	w.mu.Lock()
	defer w.mu.Unlock()
	return w.cut
}

// err is the error of a request cut at its deadline.
func (w *watch) err(op, name string) error {
	return storage.MarkTransient(fmt.Errorf("region %s: %s %s: no answer within %v: %w", w.r.name, op, name, w.d, ErrHung))
}

// done ends the watch and releases its context.
func (w *watch) done() {
	w.disarm()
	w.cancel(errLost)
}

// outcome is the result of one request of a hedged read.
type outcome[T any] struct {
	i   int
	v   T
	err error
}

// hedged reads from regs (in preference order): it asks the first region
// and, whenever the last region asked fails, or goes past its deadline
// without answering (it is then marked hung, and keeps running), the next
// one as well. The first success wins, as does storage.ErrInvalidRange (an
// answer); the requests still running are cancelled, and a value they
// return after all is passed to discard. The winner's request context
// stays alive until the caller calls the returned release (a body is read
// under it). When every region failed, the error is readFailure's.
func hedged[T any](ctx context.Context, s *Set, op, name string, regs []*region,
	call func(ctx context.Context, r *region) (T, error), discard func(T)) (T, func(), error) {
	var zero T
	n := len(regs)
	results := make(chan outcome[T], n)
	expired := make(chan int, n)
	cancels := make([]context.CancelCauseFunc, 0, n)
	stops := make([]func() bool, 0, n)
	deadlines := make([]time.Duration, 0, n)
	finished := make([]bool, n)
	pending := 0
	var fails, seen []error
	var missing []string

	launch := func() {
		i := len(cancels)
		r := regs[i]
		cctx, cancel := context.WithCancelCause(ctx)
		d := s.deadline(r)
		cancels = append(cancels, cancel)
		deadlines = append(deadlines, d)
		pending++
		// The timer is set before the request goes out (tests with a
		// manual clock advance it once the request has arrived).
		stops = append(stops, s.afterFunc(d, func() { expired <- i }))
		start := s.now()
		go func() {
			v, err := call(cctx, r)
			if err != nil && ctx.Err() == nil && errors.Is(context.Cause(cctx), errLost) {
				s.counted(r) // cancelled by the set: no verdict on the region
			} else {
				s.observe(ctx, r, opRead, s.now().Sub(start), err)
			}
			results <- outcome[T]{i: i, v: v, err: err}
		}()
	}
	// finish cancels every request but keep and hands what the others
	// still return to discard.
	finish := func(keep int) {
		for i, cancel := range cancels {
			if i != keep {
				cancel(errLost)
			}
		}
		for _, stop := range stops {
			stop()
		}
		if left := pending; left > 0 {
			go func() {
				for range left {
					if o := <-results; o.err == nil {
						discard(o.v)
					}
				}
			}()
		}
	}
	next := func() bool {
		if len(cancels) < n {
			launch()
			return true
		}
		return false
	}

	launch()
	for {
		select {
		case o := <-results:
			pending--
			finished[o.i] = true
			stops[o.i]()
			r := regs[o.i]
			if o.err == nil {
				finish(o.i)
				s.failover(r, name, seen)
				cancel := cancels[o.i]
				return o.v, func() { cancel(errLost) }, nil
			}
			err := fmt.Errorf("region %s: %w", r.name, o.err)
			switch {
			case errors.Is(err, storage.ErrInvalidRange):
				finish(-1)
				return zero, nil, fmt.Errorf("regions %s %s: %w", op, name, err)
			case ctx.Err() != nil:
				finish(-1)
				return zero, nil, fmt.Errorf("regions %s %s: %w", op, name, ctxErr(ctx, err))
			case errors.Is(err, storage.ErrNotExist):
				missing = append(missing, r.name)
			default:
				fails = append(fails, err)
			}
			seen = append(seen, err)
			if !next() && pending == 0 {
				finish(-1)
				return zero, nil, readFailure(op, name, fails, missing)
			}
		case i := <-expired:
			if finished[i] {
				continue
			}
			r := regs[i]
			herr := s.hang(r, name, deadlines[i])
			seen = append(seen, fmt.Errorf("region %s: %w", r.name, herr))
			next()
		case <-ctx.Done():
			finish(-1)
			return zero, nil, fmt.Errorf("regions %s %s: %w", op, name, ctx.Err())
		}
	}
}
