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

// hangHook is a read waiting on a region, told when another read finds
// the region hung (so that it does not wait out its own deadline).
type hangHook interface{ regionHung() }

// wait registers h as waiting on r until unwait.
func (r *region) wait(h hangHook) {
	r.mu.Lock()
	if r.waiting == nil {
		r.waiting = map[hangHook]struct{}{}
	}
	r.waiting[h] = struct{}{}
	r.mu.Unlock()
}

func (r *region) unwait(h hangHook) {
	r.mu.Lock()
	delete(r.waiting, h)
	r.mu.Unlock()
}

// hang records that a request to r (for name) went past its deadline d
// without an answer: r moves behind the regions that answer, at once, the
// hang counts as one failure towards its breaker, and the other reads
// waiting on r are told. It returns the error describing the hang.
func (s *Set) hang(r *region, name string, d time.Duration) error {
	err := storage.MarkTransient(fmt.Errorf("no answer within %v: %w", d, ErrHung))
	now := s.now()
	r.mu.Lock()
	r.hung, r.hungAt = true, now
	waiting := make([]hangHook, 0, len(r.waiting))
	for h := range r.waiting {
		waiting = append(waiting, h)
	}
	r.mu.Unlock()
	s.emit(EventHung, r, name, err)
	s.failed(r, err)
	for _, h := range waiting {
		h.regionHung()
	}
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
// request answered). When another read finds the region hung, the request
// is cancelled at once (armed or not: a body from a hung region stalls)
// if one of alts can serve.
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
	w := &watch{s: s, r: r, alts: alts, d: s.deadline(r), cancel: cancel}
	r.wait(w)
	return wctx, w
}

// regionHung cuts the request when another read found its region hung.
func (w *watch) regionHung() {
	w.mu.Lock()
	if w.fired || w.cut {
		w.mu.Unlock()
		return
	}
	w.fired = true // the region is marked already
	w.mu.Unlock()
	if anyUsable(w.alts) {
		w.mu.Lock()
		w.cut = true
		w.mu.Unlock()
		w.cancel(errCut)
	}
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
	w.r.unwait(w)
	w.cancel(errLost)
}

// hedgeHook signals, once, that request i of a hedged read is past its
// deadline (hooked: because another read found its region hung).
type hedgeHook struct {
	once   sync.Once
	signal func(hooked bool)
}

func (h *hedgeHook) fire(hooked bool) { h.once.Do(func() { h.signal(hooked) }) }

func (h *hedgeHook) regionHung() { h.fire(true) }

// expiry is a hedged request past its deadline.
type expiry struct {
	i      int
	hooked bool // its region was found hung by another read
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
	expired := make(chan expiry, n)
	hooks := make([]*hedgeHook, 0, n)
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
		h := &hedgeHook{signal: func(hooked bool) { expired <- expiry{i, hooked} }}
		hooks = append(hooks, h)
		r.wait(h)
		stops = append(stops, s.afterFunc(d, func() { h.fire(false) }))
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
		for i, h := range hooks {
			regs[i].unwait(h)
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
			r.unwait(hooks[o.i])
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
		case ex := <-expired:
			if finished[ex.i] {
				continue
			}
			r := regs[ex.i]
			var herr error
			if ex.hooked {
				herr = storage.MarkTransient(fmt.Errorf("found hung by another read: %w", ErrHung))
			} else {
				herr = s.hang(r, name, deadlines[ex.i])
			}
			seen = append(seen, fmt.Errorf("region %s: %w", r.name, herr))
			next()
		case <-ctx.Done():
			finish(-1)
			return zero, nil, fmt.Errorf("regions %s %s: %w", op, name, ctx.Err())
		}
	}
}
